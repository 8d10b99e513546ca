//! The register of interested parties and their requirements (4.2) as it is read.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::parties::{InterestedParty, PartyCategory, PartyRequirement, PartyStatus, RequirementStatus};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn party_category_schema() -> utoipa::openapi::schema::Object {
    string_enum(PartyCategory::NAMES)
}
pub fn party_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(PartyStatus::NAMES)
}
pub fn requirement_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(RequirementStatus::NAMES)
}

/// A need or expectation of an interested party (4.2 b) and whether the ISMS addresses it (4.2 c).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RequirementView {
    /// Stable id; risks link to it (`POST /api/v1/risks/{id}/sources`).
    pub requirement_id: Uuid,
    pub description: String,
    pub addressed_by_isms: bool,
    /// How the ISMS addresses the requirement; present exactly when `addressed_by_isms`.
    pub how_addressed: Option<String>,
    /// Context issues (4.1) the requirement relates to.
    pub context_issue_ids: Vec<Uuid>,
    #[schema(schema_with = requirement_status_schema)]
    pub status: RequirementStatus,
    pub withdrawal_reason: Option<String>,
}

impl From<&PartyRequirement> for RequirementView {
    fn from(current: &PartyRequirement) -> Self {
        let requirement = &current.requirement;
        Self {
            requirement_id: requirement.requirement_id,
            description: requirement.description.clone(),
            addressed_by_isms: requirement.addressed_by_isms,
            how_addressed: requirement.how_addressed.clone(),
            context_issue_ids: requirement.context_issue_ids.clone(),
            status: current.status(),
            withdrawal_reason: current.withdrawal.as_ref().map(|w| w.reason.clone()),
        }
    }
}

/// An interested party relevant to the ISMS (4.2 a) with its requirements.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InterestedPartyRecord {
    pub id: Uuid,
    pub name: String,
    #[schema(schema_with = party_category_schema)]
    pub category: PartyCategory,
    pub description: String,
    #[schema(schema_with = party_status_schema)]
    pub status: PartyStatus,
    pub retirement_reason: Option<String>,
    /// Every requirement in the order it was added, withdrawn ones included.
    pub requirements: Vec<RequirementView>,
    /// Active requirements the ISMS does not address (what 4.2 c leaves open).
    pub unaddressed_requirements: usize,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for InterestedParty {
    const NOUN: &'static str = "interested party";
    const COLLECTION: &'static str = "interested-parties";
    type Record = InterestedPartyRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.interested_parties
    }

    fn record(entry: &Entry<Self>, _today: NaiveDate) -> InterestedPartyRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_default();
        InterestedPartyRecord {
            id: entry.uuid(),
            name: details.name,
            category: details.category,
            description: details.description,
            status: state.status,
            retirement_reason: state.retirement.as_ref().map(|r| r.reason.clone()),
            requirements: state.requirements.iter().map(RequirementView::from).collect(),
            unaddressed_requirements: state.requirements.iter().filter(|r| r.is_unaddressed()).count(),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

impl Registers {
    /// The party and requirement (4.2) a requirement id names, withdrawn requirements included,
    /// so links made before a withdrawal still resolve (the traceability matrix shows them as
    /// withdrawn). `None` for an id no party has.
    pub fn requirement(&self, id: Uuid) -> Option<(&Entry<InterestedParty>, &PartyRequirement)> {
        self.interested_parties.values().find_map(|entry| entry.state.requirement(id).map(|found| (entry, found)))
    }
}

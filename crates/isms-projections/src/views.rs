//! The response shapes of the registers, documented for OpenAPI. They are computed from domain
//! state at read time; `today` is the date the read is made for (the `as_of` date when
//! time-travelling), so `overdue` reads as it would have on that day.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::criteria::{LevelBand, RiskCriteria, ScaleLevel};
use isms_domain::nonconformity::{Nonconformity, NonconformitySource, NonconformityStatus, Severity};
use isms_domain::risk::{Risk, RiskKind, RiskStatus, TreatmentOption};
use isms_store::{Envelope, Position};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::registers::Entry;
use crate::{Register, Registers};

pub mod context;
// Section: interested parties, scope, assets.
pub mod assets;
pub mod parties;
pub mod scope;

// Section: Annex A catalog and Statement of Applicability.
pub mod soa;

// Section: objectives, operational planning, monitoring and measurement.
pub mod metrics;
pub mod objectives;
pub mod operations;

// Section: internal audit, incidents, documented information.
pub mod audits;
pub mod documents;
pub mod incidents;

// Section: people and training, suppliers, certification cycle.
pub mod certification;
pub mod people;
pub mod suppliers;
pub mod training;

// Section: management review and reports.
pub mod management_review;

// Section: operations (config, backup, lifecycle).

// Section: observability and limits.

// Section: event feed and webhooks.

// Section: HR provisioning and training integrations.
pub mod access_removal;

// Section: ticketing integrations.
pub mod ticketing;

// Section: personal data erasure.

// Section: reliability suite.

// The rules of the request bodies' text fields.
pub mod text;

impl Register for Risk {
    const NOUN: &'static str = "risk";
    const COLLECTION: &'static str = "risks";
    type Record = RiskRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.risks
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> RiskRecord {
        RiskRecord::from_entry(entry, today)
    }
}

impl Register for Nonconformity {
    const NOUN: &'static str = "nonconformity";
    const COLLECTION: &'static str = "nonconformities";
    type Record = NonconformityRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.nonconformities
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> NonconformityRecord {
        NonconformityRecord::from_entry(entry, today)
    }
}

/// A string schema restricted to the names a domain enum serializes to.
pub fn string_enum(names: &[&str]) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names.iter().copied())).build()
}
pub fn risk_kind_schema() -> Object {
    string_enum(RiskKind::NAMES)
}
pub fn risk_status_schema() -> Object {
    string_enum(RiskStatus::NAMES)
}
pub fn treatment_option_schema() -> Object {
    string_enum(TreatmentOption::NAMES)
}
pub fn nc_source_schema() -> Object {
    string_enum(NonconformitySource::NAMES)
}
pub fn severity_schema() -> Object {
    string_enum(Severity::NAMES)
}
pub fn nc_status_schema() -> Object {
    string_enum(NonconformityStatus::NAMES)
}

/// The current assessment of a risk. Score and level are computed by the server.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AssessmentView {
    pub likelihood: u8,
    pub impact: u8,
    pub score: u16,
    pub level: String,
    pub rationale: String,
    /// The risk-criteria version the score was computed with.
    pub criteria_version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TreatmentView {
    #[schema(schema_with = treatment_option_schema)]
    pub option: TreatmentOption,
    /// Annex A (ISO/IEC 27001:2022) control identifiers.
    #[schema(value_type = Vec<String>, example = json!(["5.15", "8.8"]))]
    pub controls: Vec<isms_domain::values::ControlRef>,
    pub actions: Vec<String>,
    pub owner: String,
    pub due_date: Option<NaiveDate>,
    /// True when the due date has passed and the risk is still waiting for acceptance.
    pub overdue: bool,
    pub residual_likelihood: u8,
    pub residual_impact: u8,
    pub residual_score: u16,
    pub residual_level: String,
    pub criteria_version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AcceptanceView {
    pub accepted_by: String,
    pub residual_score: u16,
    pub acceptance_threshold: u16,
    pub justification: Option<String>,
    pub criteria_version: u64,
}

/// A risk or opportunity in the risk register.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RiskRecord {
    pub id: Uuid,
    #[schema(schema_with = risk_kind_schema)]
    pub kind: RiskKind,
    pub title: String,
    pub description: String,
    pub category: String,
    pub owner: String,
    pub asset_refs: Vec<String>,
    pub threat: Option<String>,
    pub vulnerability: Option<String>,
    #[schema(schema_with = risk_status_schema)]
    pub status: RiskStatus,
    pub assessment: Option<AssessmentView>,
    pub treatment: Option<TreatmentView>,
    pub acceptance: Option<AcceptanceView>,
    pub closure_reason: Option<String>,
    /// Context issues (4.1) this risk arises from.
    pub context_issue_ids: Vec<Uuid>,
    /// Interested-party requirements (4.2) this risk arises from.
    pub requirement_ids: Vec<Uuid>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    /// Global (per-tenant) log position of the record's last event.
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl RiskRecord {
    pub fn from_entry(entry: &Entry<Risk>, today: NaiveDate) -> Self {
        let state = &entry.state;
        let identification = state.identification.clone().unwrap_or_else(|| isms_domain::risk::RiskIdentified {
            kind: RiskKind::Risk,
            title: String::new(),
            description: String::new(),
            category: String::new(),
            owner: String::new(),
            asset_refs: Vec::new(),
            threat: None,
            vulnerability: None,
        });
        let awaiting_acceptance = state.status == RiskStatus::TreatmentPlanned;
        Self {
            id: entry.uuid(),
            kind: identification.kind,
            title: identification.title,
            description: identification.description,
            category: identification.category,
            owner: identification.owner,
            asset_refs: identification.asset_refs,
            threat: identification.threat,
            vulnerability: identification.vulnerability,
            status: state.status,
            assessment: state.assessment.as_ref().map(|a| AssessmentView {
                likelihood: a.rating.likelihood,
                impact: a.rating.impact,
                score: a.rating.score,
                level: a.rating.level.clone(),
                rationale: a.rationale.clone(),
                criteria_version: a.criteria_version,
            }),
            treatment: state.treatment.as_ref().map(|t| TreatmentView {
                option: t.option,
                controls: t.controls.clone(),
                actions: t.actions.clone(),
                owner: t.owner.clone(),
                due_date: t.due_date,
                overdue: awaiting_acceptance && t.due_date.is_some_and(|due| due < today),
                residual_likelihood: t.residual.likelihood,
                residual_impact: t.residual.impact,
                residual_score: t.residual.score,
                residual_level: t.residual.level.clone(),
                criteria_version: t.criteria_version,
            }),
            acceptance: state.acceptance.as_ref().map(|a| AcceptanceView {
                accepted_by: a.accepted_by.clone(),
                residual_score: a.residual_score,
                acceptance_threshold: a.acceptance_threshold,
                justification: a.justification.clone(),
                criteria_version: a.criteria_version,
            }),
            closure_reason: state.closure.as_ref().map(|c| c.reason.clone()),
            context_issue_ids: state.sources.context_issue_ids.clone(),
            requirement_ids: state.sources.requirement_ids.clone(),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CorrectiveActionView {
    pub id: Uuid,
    pub description: String,
    pub owner: String,
    pub due_date: NaiveDate,
    /// Key of the ticket that tracks the work in an external system (Jira, ServiceNow).
    pub ticket_key: Option<String>,
    pub ticket: Option<ticketing::ActionTicketView>,
    pub completed: bool,
    pub completed_by: Option<String>,
    pub completion_note: Option<String>,
    /// Not completed and past its due date.
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EffectivenessView {
    pub effective: bool,
    pub reviewed_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClosureView {
    pub closed_by: String,
    pub note: String,
}

/// A nonconformity with its correction and corrective actions (ISO/IEC 27001 10.2).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NonconformityRecord {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    #[schema(schema_with = nc_source_schema)]
    pub source: NonconformitySource,
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    pub reference: Option<String>,
    pub detected_at: DateTime<Utc>,
    #[schema(schema_with = nc_status_schema)]
    pub status: NonconformityStatus,
    pub correction: Option<String>,
    pub root_cause: Option<String>,
    pub corrective_actions: Vec<CorrectiveActionView>,
    pub effectiveness: Option<EffectivenessView>,
    pub closure: Option<ClosureView>,
    /// Any corrective action is overdue.
    pub overdue: bool,
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl NonconformityRecord {
    pub fn from_entry(entry: &Entry<Nonconformity>, today: NaiveDate) -> Self {
        let state = &entry.state;
        let raised = state.raised.clone().unwrap_or_else(|| isms_domain::nonconformity::NonconformityRaised {
            title: String::new(),
            description: String::new(),
            source: NonconformitySource::Other,
            severity: Severity::Minor,
            reference: None,
            detected_at: entry.created_at,
        });
        let corrective_actions: Vec<CorrectiveActionView> = state
            .actions
            .iter()
            .map(|a| CorrectiveActionView {
                id: a.plan.action_id,
                description: a.plan.description.clone(),
                owner: a.plan.owner.clone(),
                due_date: a.plan.due_date,
                ticket_key: a.ticket.as_ref().map(|t| t.key.clone()).or_else(|| a.plan.ticket_key.clone()),
                ticket: ticketing::action_ticket(a),
                completed: a.completion.is_some(),
                completed_by: a.completion.as_ref().map(|c| c.completed_by.clone()),
                completion_note: a.completion.as_ref().map(|c| c.note.clone()),
                overdue: a.completion.is_none() && a.plan.due_date < today,
            })
            .collect();
        Self {
            id: entry.uuid(),
            title: raised.title,
            description: raised.description,
            source: raised.source,
            severity: raised.severity,
            reference: raised.reference,
            detected_at: raised.detected_at,
            status: state.status,
            correction: state.correction.as_ref().map(|c| c.description.clone()),
            root_cause: state.root_cause.as_ref().map(|r| r.analysis.clone()),
            overdue: state.status != NonconformityStatus::Closed && corrective_actions.iter().any(|a| a.overdue),
            corrective_actions,
            effectiveness: state.effectiveness.as_ref().map(|e| EffectivenessView {
                effective: e.effective,
                reviewed_by: e.reviewed_by.clone(),
                note: e.note.clone(),
            }),
            closure: state
                .closure
                .as_ref()
                .map(|c| ClosureView { closed_by: c.closed_by.clone(), note: c.note.clone() }),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// One step of a likelihood or impact scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleLevelBody {
    /// 1, 2, 3, ... in order (a scale has at most 10 levels).
    #[schema(example = 1, minimum = 1, maximum = 10)]
    pub value: u8,
    #[schema(example = "rare")]
    pub label: String,
}

/// Scores from `min_score` to `max_score` inclusive are of `level`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelBandBody {
    #[schema(example = "low")]
    pub level: String,
    /// Scores are likelihood x impact: 1 to 100 at most.
    #[schema(example = 1, minimum = 1, maximum = 100)]
    pub min_score: u16,
    #[schema(example = 4, minimum = 1, maximum = 100)]
    pub max_score: u16,
}

/// Risk criteria (6.1.2 a): score = likelihood x impact; the level comes from the bands;
/// residual scores above `acceptance_threshold` need a justification to be accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskCriteriaBody {
    /// 2 to 10 levels, as `impact_scale`.
    #[schema(min_items = 2, max_items = 10)]
    pub likelihood_scale: Vec<ScaleLevelBody>,
    #[schema(min_items = 2, max_items = 10)]
    pub impact_scale: Vec<ScaleLevelBody>,
    pub level_bands: Vec<LevelBandBody>,
    /// A possible score (1 to the largest likelihood x impact).
    #[schema(example = 8, minimum = 1, maximum = 100)]
    pub acceptance_threshold: u16,
}

impl From<RiskCriteriaBody> for RiskCriteria {
    fn from(body: RiskCriteriaBody) -> Self {
        let scale = |levels: Vec<ScaleLevelBody>| {
            levels.into_iter().map(|l| ScaleLevel { value: l.value, label: l.label }).collect()
        };
        RiskCriteria {
            likelihood_scale: scale(body.likelihood_scale),
            impact_scale: scale(body.impact_scale),
            level_bands: body
                .level_bands
                .into_iter()
                .map(|b| LevelBand { level: b.level, min_score: b.min_score, max_score: b.max_score })
                .collect(),
            acceptance_threshold: body.acceptance_threshold,
        }
    }
}

impl From<&RiskCriteria> for RiskCriteriaBody {
    fn from(criteria: &RiskCriteria) -> Self {
        let scale = |levels: &[ScaleLevel]| {
            levels.iter().map(|l| ScaleLevelBody { value: l.value, label: l.label.clone() }).collect()
        };
        Self {
            likelihood_scale: scale(&criteria.likelihood_scale),
            impact_scale: scale(&criteria.impact_scale),
            level_bands: criteria
                .level_bands
                .iter()
                .map(|b| LevelBandBody { level: b.level.clone(), min_score: b.min_score, max_score: b.max_score })
                .collect(),
            acceptance_threshold: criteria.acceptance_threshold,
        }
    }
}

/// The risk criteria in force and their version (0 = the built-in default).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RiskCriteriaRecord {
    pub version: u64,
    #[serde(flatten)]
    pub criteria: RiskCriteriaBody,
}

/// How much earlier than its recording a fact must have happened to count as backdated. Dates
/// are taken as the start of their day in UTC, so anything dated the day it is recorded (in
/// any time zone) stays under the threshold; a fact from the day before or earlier is flagged.
pub const BACKDATED_AFTER_HOURS: i64 = 24;

/// Whether a fact was recorded more than [`BACKDATED_AFTER_HOURS`] after it happened.
pub fn is_backdated(effective_at: Option<DateTime<Utc>>, recorded_at: DateTime<Utc>) -> bool {
    effective_at.is_some_and(|effective| recorded_at - effective > chrono::Duration::hours(BACKDATED_AFTER_HOURS))
}

/// An event as stored in the log, with its place in the tenant's hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventRecord {
    /// Per-tenant position, gapless from 1.
    pub position: Position,
    pub stream_type: String,
    pub stream_id: String,
    /// Version within the stream, from 1.
    pub version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    /// When the ledger learned the fact (time travel and `as_of` use this time).
    pub recorded_at: DateTime<Utc>,
    /// When the fact happened in the business, for events that state it (an incident's
    /// detection, a review's meeting day; dates as 00:00 UTC); `null` otherwise. Hashed only
    /// when present.
    pub effective_at: Option<DateTime<Utc>>,
    /// Derived, not stored or hashed: `effective_at` is more than 24 hours before `recorded_at`.
    pub backdated: bool,
    pub tenant: String,
    /// The `sub` of the token that issued the command (for an integration, its client id).
    pub actor: String,
    /// The integration the command came through (`scim`, `training`, `jira`, `servicenow`);
    /// absent when a person called the API. Hashed only when present.
    pub source: Option<String>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Hash of the previous event of this tenant (64 zeros for position 1).
    pub prev_hash: String,
    /// SHA-256 (hex) of the canonical JSON of this envelope without `hash`.
    pub hash: String,
}

impl From<Envelope> for EventRecord {
    fn from(e: Envelope) -> Self {
        Self {
            position: e.position,
            stream_type: e.stream_type,
            stream_id: e.stream_id,
            version: e.version,
            event_id: e.event_id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            recorded_at: e.recorded_at,
            effective_at: e.effective_at,
            backdated: is_backdated(e.effective_at, e.recorded_at),
            tenant: e.tenant.to_string(),
            actor: e.actor,
            source: e.source,
            correlation_id: e.correlation_id,
            causation_id: e.causation_id,
            idempotency_key: e.idempotency_key,
            data: e.data,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

//! Interested parties and their requirements (ISO/IEC 27001 4.2): who is relevant to the ISMS
//! (a), what they need and expect (b), and which of those requirements the ISMS addresses (c).
//!
//! A requirement lives inside its party and keeps its id for good: risks (6.1.1) link to it, so
//! a requirement that no longer applies is withdrawn, never removed.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

/// The kinds of party the seed's context table names (顧客, 取引先, 社会...), plus `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PartyCategory {
    Customer,
    Regulator,
    Employee,
    Supplier,
    Shareholder,
    Partner,
    Community,
    #[default]
    Other,
}

impl PartyCategory {
    pub const NAMES: &'static [&'static str] =
        &["customer", "regulator", "employee", "supplier", "shareholder", "partner", "community", "other"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PartyStatus {
    #[default]
    Active,
    Retired,
}

impl PartyStatus {
    pub const NAMES: &'static [&'static str] = &["active", "retired"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RequirementStatus {
    #[default]
    Active,
    Withdrawn,
}

impl RequirementStatus {
    pub const NAMES: &'static [&'static str] = &["active", "withdrawn"];
}

/// Who the party is; registering and revising both state it whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyDetails {
    pub name: String,
    pub category: PartyCategory,
    pub description: String,
}

/// One need or expectation of a party, restated whole when revised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub requirement_id: Uuid,
    pub description: String,
    /// 4.2 c: whether the ISMS addresses this requirement.
    pub addressed_by_isms: bool,
    /// How the ISMS addresses it; present exactly when `addressed_by_isms`.
    pub how_addressed: Option<String>,
    /// The context issues (4.1) the requirement relates to, for the traceability matrix.
    pub context_issue_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementWithdrawn {
    pub requirement_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterestedPartyRetired {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum InterestedPartyEvent {
    InterestedPartyRegistered(PartyDetails),
    InterestedPartyRevised(PartyDetails),
    InterestedPartyRequirementAdded(Requirement),
    InterestedPartyRequirementRevised(Requirement),
    InterestedPartyRequirementWithdrawn(RequirementWithdrawn),
    InterestedPartyRetired(InterestedPartyRetired),
}

/// A requirement as it stands: its latest statement and, once withdrawn, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyRequirement {
    pub requirement: Requirement,
    pub withdrawal: Option<RequirementWithdrawn>,
}

impl PartyRequirement {
    pub fn status(&self) -> RequirementStatus {
        if self.withdrawal.is_some() {
            RequirementStatus::Withdrawn
        } else {
            RequirementStatus::Active
        }
    }

    /// An active requirement the ISMS does not (yet) address: what 4.2 c leaves open.
    pub fn is_unaddressed(&self) -> bool {
        self.withdrawal.is_none() && !self.requirement.addressed_by_isms
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InterestedParty {
    pub details: Option<PartyDetails>,
    pub status: PartyStatus,
    pub retirement: Option<InterestedPartyRetired>,
    /// In the order they were added.
    pub requirements: Vec<PartyRequirement>,
}

impl InterestedParty {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    pub fn requirement(&self, requirement_id: Uuid) -> Option<&PartyRequirement> {
        self.requirements.iter().find(|r| r.requirement.requirement_id == requirement_id)
    }

    fn ensure_active(&self) -> Result<(), DomainError> {
        if self.status == PartyStatus::Retired {
            return Err(DomainError::new(ErrorCode::InterestedPartyRetired, "the interested party is retired"));
        }
        Ok(())
    }

    /// The requirement to change, which must exist and not be withdrawn.
    fn active_requirement(&self, requirement_id: Uuid) -> Result<&PartyRequirement, DomainError> {
        let found = self.requirement(requirement_id).ok_or_else(|| {
            DomainError::new(
                ErrorCode::RequirementNotFound,
                format!("no requirement {requirement_id} on this interested party"),
            )
        })?;
        if found.withdrawal.is_some() {
            return Err(DomainError::new(ErrorCode::RequirementWithdrawn, "the requirement is withdrawn"));
        }
        Ok(found)
    }

    /// 4.2 c is answered only when a requirement the ISMS addresses says how; one it does not
    /// address must not claim a way of addressing it.
    fn check_addressing(requirement: &Requirement) -> Result<(), DomainError> {
        match (requirement.addressed_by_isms, &requirement.how_addressed) {
            (true, None) => Err(DomainError::at(
                ErrorCode::HowAddressedRequired,
                "/how_addressed",
                "a requirement addressed by the ISMS needs how_addressed (4.2 c)",
            )),
            (false, Some(_)) => Err(DomainError::at(
                ErrorCode::HowAddressedNotApplicable,
                "/how_addressed",
                "how_addressed is only for requirements addressed by the ISMS",
            )),
            _ => Ok(()),
        }
    }

    pub fn register(&self, details: PartyDetails) -> Result<Vec<InterestedPartyEvent>, DomainError> {
        Ok(vec![InterestedPartyEvent::InterestedPartyRegistered(details)])
    }

    pub fn revise(&self, details: PartyDetails) -> Result<Vec<InterestedPartyEvent>, DomainError> {
        self.ensure_active()?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the current party"));
        }
        Ok(vec![InterestedPartyEvent::InterestedPartyRevised(details)])
    }

    /// Adds a requirement; its id is drawn by the caller, outside the decision, so a retried
    /// decision adds the same requirement.
    pub fn add_requirement(&self, requirement: Requirement) -> Result<Vec<InterestedPartyEvent>, DomainError> {
        self.ensure_active()?;
        Self::check_addressing(&requirement)?;
        Ok(vec![InterestedPartyEvent::InterestedPartyRequirementAdded(requirement)])
    }

    pub fn revise_requirement(&self, requirement: Requirement) -> Result<Vec<InterestedPartyEvent>, DomainError> {
        self.ensure_active()?;
        let current = self.active_requirement(requirement.requirement_id)?;
        Self::check_addressing(&requirement)?;
        if current.requirement == requirement {
            return Err(DomainError::new(
                ErrorCode::NothingChanged,
                "the revision is identical to the current requirement",
            ));
        }
        Ok(vec![InterestedPartyEvent::InterestedPartyRequirementRevised(requirement)])
    }

    pub fn withdraw_requirement(
        &self,
        requirement_id: Uuid,
        reason: String,
    ) -> Result<Vec<InterestedPartyEvent>, DomainError> {
        self.ensure_active()?;
        self.active_requirement(requirement_id)?;
        Ok(vec![InterestedPartyEvent::InterestedPartyRequirementWithdrawn(RequirementWithdrawn {
            requirement_id,
            reason,
        })])
    }

    pub fn retire(&self, reason: String) -> Result<Vec<InterestedPartyEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![InterestedPartyEvent::InterestedPartyRetired(InterestedPartyRetired { reason })])
    }
}

impl Aggregate for InterestedParty {
    type Event = InterestedPartyEvent;
    const STREAM_TYPE: &'static str = "interested_party";

    fn apply(&mut self, event: &InterestedPartyEvent) {
        match event {
            InterestedPartyEvent::InterestedPartyRegistered(details)
            | InterestedPartyEvent::InterestedPartyRevised(details) => self.details = Some(details.clone()),
            InterestedPartyEvent::InterestedPartyRequirementAdded(requirement) => {
                self.requirements.push(PartyRequirement { requirement: requirement.clone(), withdrawal: None });
            }
            InterestedPartyEvent::InterestedPartyRequirementRevised(requirement) => {
                let id = requirement.requirement_id;
                if let Some(current) = self.requirements.iter_mut().find(|r| r.requirement.requirement_id == id) {
                    current.requirement = requirement.clone();
                }
            }
            InterestedPartyEvent::InterestedPartyRequirementWithdrawn(withdrawn) => {
                let id = withdrawn.requirement_id;
                if let Some(current) = self.requirements.iter_mut().find(|r| r.requirement.requirement_id == id) {
                    current.withdrawal = Some(withdrawn.clone());
                }
            }
            InterestedPartyEvent::InterestedPartyRetired(retired) => {
                self.retirement = Some(retired.clone());
                self.status = PartyStatus::Retired;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(name: &str) -> PartyDetails {
        PartyDetails { name: name.into(), category: PartyCategory::Customer, description: String::new() }
    }

    fn requirement(id: u128, how: Option<&str>) -> Requirement {
        Requirement {
            requirement_id: Uuid::from_u128(id),
            description: "情報の機密性、契約の履行".into(),
            addressed_by_isms: how.is_some(),
            how_addressed: how.map(str::to_owned),
            context_issue_ids: Vec::new(),
        }
    }

    fn given(events: &[InterestedPartyEvent]) -> InterestedParty {
        let mut party = InterestedParty::default();
        events.iter().for_each(|e| party.apply(e));
        party
    }

    fn registered() -> InterestedPartyEvent {
        InterestedPartyEvent::InterestedPartyRegistered(details("顧客"))
    }

    #[test]
    fn a_retired_party_takes_no_command() {
        let party = given(&[
            registered(),
            InterestedPartyEvent::InterestedPartyRequirementAdded(requirement(1, None)),
            InterestedPartyEvent::InterestedPartyRetired(InterestedPartyRetired { reason: "contract ended".into() }),
        ]);
        let refusals = [
            party.revise(details("other")),
            party.add_requirement(requirement(2, None)),
            party.revise_requirement(requirement(1, Some("NDA handling procedure"))),
            party.withdraw_requirement(Uuid::from_u128(1), "obsolete".into()),
            party.retire("again".into()),
        ];
        for refusal in refusals {
            assert_eq!(refusal.unwrap_err().code, ErrorCode::InterestedPartyRetired);
        }
    }

    #[test]
    fn an_unknown_requirement_is_not_found() {
        let party = given(&[registered()]);
        assert_eq!(party.revise_requirement(requirement(9, None)).unwrap_err().code, ErrorCode::RequirementNotFound);
        let withdrawal = party.withdraw_requirement(Uuid::from_u128(9), "gone".into());
        assert_eq!(withdrawal.unwrap_err().code, ErrorCode::RequirementNotFound);
    }

    #[test]
    fn a_withdrawn_requirement_is_neither_revised_nor_withdrawn_again() {
        let party = given(&[
            registered(),
            InterestedPartyEvent::InterestedPartyRequirementAdded(requirement(1, None)),
            InterestedPartyEvent::InterestedPartyRequirementWithdrawn(RequirementWithdrawn {
                requirement_id: Uuid::from_u128(1),
                reason: "no longer a customer requirement".into(),
            }),
        ]);
        assert_eq!(party.requirements[0].status(), RequirementStatus::Withdrawn);
        let revision = party.revise_requirement(requirement(1, Some("training")));
        assert_eq!(revision.unwrap_err().code, ErrorCode::RequirementWithdrawn);
        let again = party.withdraw_requirement(Uuid::from_u128(1), "again".into());
        assert_eq!(again.unwrap_err().code, ErrorCode::RequirementWithdrawn);
    }

    #[test]
    fn an_addressed_requirement_says_how_and_only_then() {
        let party = given(&[registered()]);
        let mut silent = requirement(1, None);
        silent.addressed_by_isms = true;
        let error = party.add_requirement(silent).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::HowAddressedRequired, Some("/how_addressed")));
        let mut claimed = requirement(1, Some("training"));
        claimed.addressed_by_isms = false;
        assert_eq!(party.add_requirement(claimed).unwrap_err().code, ErrorCode::HowAddressedNotApplicable);
        assert!(party.add_requirement(requirement(1, Some("機密情報の取扱いに関する教育"))).is_ok());
    }

    #[test]
    fn revisions_must_change_something() {
        let party = given(&[registered(), InterestedPartyEvent::InterestedPartyRequirementAdded(requirement(1, None))]);
        assert_eq!(party.revise(details("顧客")).unwrap_err().code, ErrorCode::NothingChanged);
        assert_eq!(party.revise_requirement(requirement(1, None)).unwrap_err().code, ErrorCode::NothingChanged);
        let events = party.revise_requirement(requirement(1, Some("NDA handling procedure"))).unwrap();
        let revised = given(&[
            registered(),
            InterestedPartyEvent::InterestedPartyRequirementAdded(requirement(1, None)),
            events[0].clone(),
        ]);
        assert!(!revised.requirements[0].is_unaddressed());
    }
}

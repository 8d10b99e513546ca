//! Nonconformity and corrective action (ISO/IEC 27001 10.2): raise, correct (a), find the root
//! cause (b), plan and complete corrective actions (c), verify their effectiveness (d), close.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::{Actor, Aggregate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonconformitySource {
    InternalAudit,
    ExternalAudit,
    Incident,
    ManagementReview,
    Monitoring,
    Complaint,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Major,
    Minor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NonconformityStatus {
    #[default]
    Open,
    ActionsPlanned,
    AwaitingVerification,
    Verified,
    Closed,
}

impl NonconformitySource {
    pub const NAMES: &'static [&'static str] =
        &["internal_audit", "external_audit", "incident", "management_review", "monitoring", "complaint", "other"];
}
impl Severity {
    pub const NAMES: &'static [&'static str] = &["major", "minor"];
}
impl NonconformityStatus {
    pub const NAMES: &'static [&'static str] =
        &["open", "actions_planned", "awaiting_verification", "verified", "closed"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonconformityRaised {
    pub title: String,
    pub description: String,
    pub source: NonconformitySource,
    pub severity: Severity,
    /// The clause (`10.2`) or Annex A control (`8.8`) that is not met, as written by the auditor.
    pub reference: Option<String>,
    pub detected_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionRecorded {
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCauseRecorded {
    pub analysis: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveActionPlanned {
    pub action_id: Uuid,
    pub description: String,
    pub owner: String,
    pub due_date: NaiveDate,
    pub ticket_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveActionCompleted {
    pub action_id: Uuid,
    pub completed_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectivenessReviewed {
    pub effective: bool,
    pub reviewed_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonconformityClosed {
    pub closed_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum NonconformityEvent {
    NonconformityRaised(NonconformityRaised),
    CorrectionRecorded(CorrectionRecorded),
    RootCauseRecorded(RootCauseRecorded),
    CorrectiveActionPlanned(CorrectiveActionPlanned),
    CorrectiveActionCompleted(CorrectiveActionCompleted),
    EffectivenessReviewed(EffectivenessReviewed),
    NonconformityClosed(NonconformityClosed),
}

/// One corrective action and its completion, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrectiveAction {
    pub plan: CorrectiveActionPlanned,
    pub completion: Option<CorrectiveActionCompleted>,
}

/// A new corrective action as requested; the id is chosen by the caller of [`Nonconformity::plan_actions`].
#[derive(Debug, Clone)]
pub struct NewCorrectiveAction {
    pub description: String,
    pub owner: String,
    pub due_date: NaiveDate,
    pub ticket_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Nonconformity {
    pub raised: Option<NonconformityRaised>,
    pub status: NonconformityStatus,
    pub correction: Option<CorrectionRecorded>,
    pub root_cause: Option<RootCauseRecorded>,
    pub actions: Vec<CorrectiveAction>,
    /// The latest effectiveness review; a new action plan clears it because the new actions
    /// have not been verified.
    pub effectiveness: Option<EffectivenessReviewed>,
    pub closure: Option<NonconformityClosed>,
}

impl Nonconformity {
    pub fn exists(&self) -> bool {
        self.raised.is_some()
    }

    fn ensure_open(&self) -> Result<(), DomainError> {
        if self.status == NonconformityStatus::Closed {
            return Err(DomainError::new(ErrorCode::NonconformityClosed, "the nonconformity is closed"));
        }
        Ok(())
    }

    fn all_actions_completed(&self) -> bool {
        self.actions.iter().all(|a| a.completion.is_some())
    }

    pub fn raise(&self, command: NonconformityRaised) -> Result<Vec<NonconformityEvent>, DomainError> {
        Ok(vec![NonconformityEvent::NonconformityRaised(command)])
    }

    pub fn record_correction(&self, description: String) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        Ok(vec![NonconformityEvent::CorrectionRecorded(CorrectionRecorded { description })])
    }

    pub fn record_root_cause(&self, analysis: String) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        Ok(vec![NonconformityEvent::RootCauseRecorded(RootCauseRecorded { analysis })])
    }

    /// Plans corrective actions; `new_id` supplies each action's id (ids are not the domain's
    /// choice to make, so tests can be deterministic).
    pub fn plan_actions(
        &self,
        actions: Vec<NewCorrectiveAction>,
        mut new_id: impl FnMut() -> Uuid,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        let major = self.raised.as_ref().is_some_and(|r| r.severity == Severity::Major);
        if major && self.root_cause.is_none() {
            return Err(DomainError::new(
                ErrorCode::RootCauseRequired,
                "a major nonconformity needs its root cause recorded before corrective actions (10.2 b)",
            ));
        }
        if actions.is_empty() {
            return Err(DomainError::at(ErrorCode::ValidationFailed, "/actions", "at least one action is required"));
        }
        Ok(actions
            .into_iter()
            .map(|a| {
                NonconformityEvent::CorrectiveActionPlanned(CorrectiveActionPlanned {
                    action_id: new_id(),
                    description: a.description,
                    owner: a.owner,
                    due_date: a.due_date,
                    ticket_key: a.ticket_key,
                })
            })
            .collect())
    }

    pub fn complete_action(
        &self,
        action_id: Uuid,
        note: String,
        actor: &Actor,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        let action = self.actions.iter().find(|a| a.plan.action_id == action_id).ok_or_else(|| {
            DomainError::new(
                ErrorCode::CorrectiveActionNotFound,
                format!("no corrective action {action_id} on this nonconformity"),
            )
        })?;
        if action.completion.is_some() {
            return Err(DomainError::new(
                ErrorCode::CorrectiveActionAlreadyCompleted,
                "the action is already completed",
            ));
        }
        Ok(vec![NonconformityEvent::CorrectiveActionCompleted(CorrectiveActionCompleted {
            action_id,
            completed_by: actor.subject.clone(),
            note,
        })])
    }

    /// 10.2 d, with four eyes: nobody reviews the effectiveness of an action they owned.
    pub fn review_effectiveness(
        &self,
        effective: bool,
        note: String,
        actor: &Actor,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        if self.actions.is_empty() {
            return Err(DomainError::new(ErrorCode::NoCorrectiveActions, "there are no corrective actions to review"));
        }
        if !self.all_actions_completed() {
            return Err(DomainError::new(
                ErrorCode::CorrectiveActionsIncomplete,
                "every corrective action must be completed before its effectiveness is reviewed",
            ));
        }
        if let Some(action) = self.actions.iter().find(|a| a.plan.owner == actor.subject) {
            return Err(DomainError::new(
                ErrorCode::FourEyesViolation,
                format!(
                    "'{}' owns corrective action {}: someone else must review effectiveness",
                    actor.subject, action.plan.action_id
                ),
            ));
        }
        Ok(vec![NonconformityEvent::EffectivenessReviewed(EffectivenessReviewed {
            effective,
            reviewed_by: actor.subject.clone(),
            note,
        })])
    }

    pub fn close(&self, note: String, actor: &Actor) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        if !self.all_actions_completed() {
            return Err(DomainError::new(
                ErrorCode::CorrectiveActionsIncomplete,
                "every corrective action must be completed before closing",
            ));
        }
        if !self.effectiveness.as_ref().is_some_and(|e| e.effective) {
            return Err(DomainError::new(
                ErrorCode::EffectivenessNotVerified,
                "the corrective actions must be verified as effective before closing (10.2 d)",
            ));
        }
        Ok(vec![NonconformityEvent::NonconformityClosed(NonconformityClosed {
            closed_by: actor.subject.clone(),
            note,
        })])
    }

    fn status_after_actions_change(&self) -> NonconformityStatus {
        if self.actions.is_empty() {
            NonconformityStatus::Open
        } else if self.all_actions_completed() {
            NonconformityStatus::AwaitingVerification
        } else {
            NonconformityStatus::ActionsPlanned
        }
    }
}

impl Aggregate for Nonconformity {
    type Event = NonconformityEvent;
    const STREAM_TYPE: &'static str = "nonconformity";

    fn apply(&mut self, event: &NonconformityEvent) {
        match event {
            NonconformityEvent::NonconformityRaised(raised) => {
                self.raised = Some(raised.clone());
                self.status = NonconformityStatus::Open;
            }
            NonconformityEvent::CorrectionRecorded(correction) => self.correction = Some(correction.clone()),
            NonconformityEvent::RootCauseRecorded(root_cause) => self.root_cause = Some(root_cause.clone()),
            NonconformityEvent::CorrectiveActionPlanned(planned) => {
                self.actions.push(CorrectiveAction { plan: planned.clone(), completion: None });
                self.effectiveness = None;
                self.status = self.status_after_actions_change();
            }
            NonconformityEvent::CorrectiveActionCompleted(completed) => {
                if let Some(action) = self.actions.iter_mut().find(|a| a.plan.action_id == completed.action_id) {
                    action.completion = Some(completed.clone());
                }
                self.status = self.status_after_actions_change();
            }
            NonconformityEvent::EffectivenessReviewed(review) => {
                self.effectiveness = Some(review.clone());
                // Not effective sends the nonconformity back to planning: new actions are due.
                self.status = if review.effective { NonconformityStatus::Verified } else { NonconformityStatus::Open };
            }
            NonconformityEvent::NonconformityClosed(closed) => {
                self.closure = Some(closed.clone());
                self.status = NonconformityStatus::Closed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raised(severity: Severity) -> NonconformityEvent {
        NonconformityEvent::NonconformityRaised(NonconformityRaised {
            title: "Backups not tested".into(),
            description: String::new(),
            source: NonconformitySource::InternalAudit,
            severity,
            reference: Some("8.13".into()),
            detected_at: DateTime::<Utc>::UNIX_EPOCH,
        })
    }

    fn given(events: &[NonconformityEvent]) -> Nonconformity {
        let mut nc = Nonconformity::default();
        events.iter().for_each(|e| nc.apply(e));
        nc
    }

    fn then(nc: &mut Nonconformity, events: Vec<NonconformityEvent>) {
        events.iter().for_each(|e| nc.apply(e));
    }

    fn action(owner: &str) -> NewCorrectiveAction {
        NewCorrectiveAction {
            description: "schedule restore tests".into(),
            owner: owner.into(),
            due_date: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
            ticket_key: Some("OPS-1".into()),
        }
    }

    fn actor(subject: &str) -> Actor {
        Actor { subject: subject.into(), is_admin: false }
    }

    fn id() -> Uuid {
        Uuid::from_u128(7)
    }

    #[test]
    fn a_major_nonconformity_needs_a_root_cause_before_actions() {
        let mut nc = given(&[raised(Severity::Major)]);
        assert_eq!(nc.plan_actions(vec![action("bob")], id).unwrap_err().code, ErrorCode::RootCauseRequired);
        let events = nc.record_root_cause("no schedule".into()).unwrap();
        then(&mut nc, events);
        assert!(nc.plan_actions(vec![action("bob")], id).is_ok());
        // A minor one may plan at once.
        assert!(given(&[raised(Severity::Minor)]).plan_actions(vec![action("bob")], id).is_ok());
    }

    #[test]
    fn cannot_close_before_actions_are_completed_and_verified_effective() {
        let mut nc = given(&[raised(Severity::Minor)]);
        let events = nc.plan_actions(vec![action("bob")], id).unwrap();
        then(&mut nc, events);
        assert_eq!(nc.close(String::new(), &actor("carol")).unwrap_err().code, ErrorCode::CorrectiveActionsIncomplete);
        assert_eq!(
            nc.review_effectiveness(true, String::new(), &actor("carol")).unwrap_err().code,
            ErrorCode::CorrectiveActionsIncomplete
        );
        let events = nc.complete_action(id(), "done".into(), &actor("bob")).unwrap();
        then(&mut nc, events);
        assert_eq!(nc.close(String::new(), &actor("carol")).unwrap_err().code, ErrorCode::EffectivenessNotVerified);
        let events = nc.review_effectiveness(true, String::new(), &actor("carol")).unwrap();
        then(&mut nc, events);
        let events = nc.close("closed".into(), &actor("carol")).unwrap();
        then(&mut nc, events);
        assert_eq!(nc.status, NonconformityStatus::Closed);
        assert_eq!(nc.record_correction("late".into()).unwrap_err().code, ErrorCode::NonconformityClosed);
    }

    #[test]
    fn effectiveness_is_verified_by_someone_other_than_an_action_owner() {
        let mut nc = given(&[raised(Severity::Minor)]);
        let events = nc.plan_actions(vec![action("bob")], id).unwrap();
        then(&mut nc, events);
        let events = nc.complete_action(id(), String::new(), &actor("bob")).unwrap();
        then(&mut nc, events);
        assert_eq!(
            nc.review_effectiveness(true, String::new(), &actor("bob")).unwrap_err().code,
            ErrorCode::FourEyesViolation
        );
    }

    #[test]
    fn not_effective_reopens_planning() {
        let mut nc = given(&[raised(Severity::Minor)]);
        let events = nc.plan_actions(vec![action("bob")], id).unwrap();
        then(&mut nc, events);
        let events = nc.complete_action(id(), String::new(), &actor("bob")).unwrap();
        then(&mut nc, events);
        let events = nc.review_effectiveness(false, "still failing".into(), &actor("carol")).unwrap();
        then(&mut nc, events);
        assert_eq!(nc.status, NonconformityStatus::Open);
        assert_eq!(nc.close(String::new(), &actor("carol")).unwrap_err().code, ErrorCode::EffectivenessNotVerified);
        let events = nc.plan_actions(vec![action("dave")], || Uuid::from_u128(8)).unwrap();
        then(&mut nc, events);
        assert_eq!(nc.status, NonconformityStatus::ActionsPlanned);
    }

    #[test]
    fn unknown_or_completed_actions_are_refused() {
        let mut nc = given(&[raised(Severity::Minor)]);
        assert_eq!(
            nc.complete_action(id(), String::new(), &actor("bob")).unwrap_err().code,
            ErrorCode::CorrectiveActionNotFound
        );
        let events = nc.plan_actions(vec![action("bob")], id).unwrap();
        then(&mut nc, events);
        let events = nc.complete_action(id(), String::new(), &actor("bob")).unwrap();
        then(&mut nc, events);
        assert_eq!(
            nc.complete_action(id(), String::new(), &actor("bob")).unwrap_err().code,
            ErrorCode::CorrectiveActionAlreadyCompleted
        );
    }

    #[test]
    fn review_needs_actions() {
        let nc = given(&[raised(Severity::Minor)]);
        assert_eq!(
            nc.review_effectiveness(true, String::new(), &actor("c")).unwrap_err().code,
            ErrorCode::NoCorrectiveActions
        );
    }
}

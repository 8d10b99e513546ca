//! Nonconformity and corrective action (ISO/IEC 27001 10.2): raise, correct (a), find the root
//! cause (b), plan and complete corrective actions (c), verify their effectiveness (d), close.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::ticketing::{TicketRef, TicketStatusChange};
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
    /// What a ticketing bridge needs to open the ticket (issue 5, "ticketing out"): the
    /// nonconformity's title and the system and project the planner wants the ticket in.
    /// Absent in events recorded before the bridge existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonconformity_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_project: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveActionCompleted {
    pub action_id: Uuid,
    pub completed_by: String,
    pub note: String,
    /// Set when a ticketing system reported the work done: who moved the ticket and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<TicketStatusChange>,
}

/// A ticketing bridge (or a person) reported the ticket that tracks a corrective action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectiveActionTicketLinked {
    pub action_id: Uuid,
    pub ticket: TicketRef,
    pub linked_by: String,
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
    CorrectiveActionTicketLinked(CorrectiveActionTicketLinked),
    EffectivenessReviewed(EffectivenessReviewed),
    NonconformityClosed(NonconformityClosed),
}

/// One corrective action and its completion, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrectiveAction {
    pub plan: CorrectiveActionPlanned,
    pub completion: Option<CorrectiveActionCompleted>,
    /// The ticket reported for the action, which replaces the plan's `ticket_key`.
    pub ticket: Option<TicketRef>,
}

impl CorrectiveAction {
    /// Whether the ticket `key` of `system` tracks this action: the linked ticket, or else the
    /// key given when planning (whose system, when not given, is any).
    pub fn tracked_by(&self, system: &str, key: &str) -> bool {
        match (&self.ticket, &self.plan.ticket_key) {
            (Some(ticket), _) => ticket.is(system, key),
            (None, Some(planned)) => {
                planned.eq_ignore_ascii_case(key) && self.plan.ticket_system.as_deref().is_none_or(|s| s == system)
            }
            (None, None) => false,
        }
    }
}

/// A new corrective action as requested; the id is chosen by the caller of [`Nonconformity::plan_actions`].
#[derive(Debug, Clone)]
pub struct NewCorrectiveAction {
    pub description: String,
    pub owner: String,
    pub due_date: NaiveDate,
    pub ticket_key: Option<String>,
    pub ticket_system: Option<String>,
    pub ticket_project: Option<String>,
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
        let title = self.raised.as_ref().map(|r| r.title.clone());
        Ok(actions
            .into_iter()
            .map(|a| {
                NonconformityEvent::CorrectiveActionPlanned(CorrectiveActionPlanned {
                    action_id: new_id(),
                    description: a.description,
                    owner: a.owner,
                    due_date: a.due_date,
                    ticket_key: a.ticket_key,
                    nonconformity_title: title.clone(),
                    ticket_system: a.ticket_system,
                    ticket_project: a.ticket_project,
                })
            })
            .collect())
    }

    fn action(&self, action_id: Uuid) -> Result<&CorrectiveAction, DomainError> {
        self.actions.iter().find(|a| a.plan.action_id == action_id).ok_or_else(|| {
            DomainError::new(
                ErrorCode::CorrectiveActionNotFound,
                format!("no corrective action {action_id} on this nonconformity"),
            )
        })
    }

    pub fn complete_action(
        &self,
        action_id: Uuid,
        note: String,
        actor: &Actor,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.complete(action_id, note, actor, None)
    }

    /// Completes an action because its ticket reached a status mapped to completion; the
    /// ticket must be the one that tracks the action.
    pub fn complete_action_from_ticket(
        &self,
        action_id: Uuid,
        change: TicketStatusChange,
        actor: &Actor,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        if !self.action(action_id)?.tracked_by(&change.system, &change.key) {
            return Err(DomainError::new(
                ErrorCode::TicketNotLinked,
                format!("{} ticket {} does not track corrective action {action_id}", change.system, change.key),
            ));
        }
        let by = change.changed_by.as_deref().map(|by| format!(" by {by}")).unwrap_or_default();
        let from = change.from_status.as_deref().map(|from| format!(" from {from}")).unwrap_or_default();
        let note = format!("{} ticket {} moved{from} to {}{by}", change.system, change.key, change.to_status);
        self.complete(action_id, note, actor, Some(change))
    }

    fn complete(
        &self,
        action_id: Uuid,
        note: String,
        actor: &Actor,
        ticket: Option<TicketStatusChange>,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        let action = self.action(action_id)?;
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
            ticket,
        })])
    }

    /// Records the ticket that tracks an action (reported by a ticketing bridge). A later link
    /// replaces an earlier one; the same ticket again changes nothing.
    pub fn link_ticket(
        &self,
        action_id: Uuid,
        ticket: TicketRef,
        actor: &Actor,
    ) -> Result<Vec<NonconformityEvent>, DomainError> {
        self.ensure_open()?;
        if self.action(action_id)?.ticket.as_ref() == Some(&ticket) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the action is already linked to this ticket"));
        }
        Ok(vec![NonconformityEvent::CorrectiveActionTicketLinked(CorrectiveActionTicketLinked {
            action_id,
            ticket,
            linked_by: actor.subject.clone(),
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
                self.actions.push(CorrectiveAction { plan: planned.clone(), completion: None, ticket: None });
                self.effectiveness = None;
                self.status = self.status_after_actions_change();
            }
            NonconformityEvent::CorrectiveActionCompleted(completed) => {
                if let Some(action) = self.actions.iter_mut().find(|a| a.plan.action_id == completed.action_id) {
                    action.completion = Some(completed.clone());
                }
                self.status = self.status_after_actions_change();
            }
            NonconformityEvent::CorrectiveActionTicketLinked(linked) => {
                if let Some(action) = self.actions.iter_mut().find(|a| a.plan.action_id == linked.action_id) {
                    action.ticket = Some(linked.ticket.clone());
                }
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
            ticket_system: None,
            ticket_project: None,
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

    fn ticket(key: &str) -> TicketRef {
        TicketRef { system: "jira".into(), key: key.into(), url: None }
    }

    fn done(key: &str) -> TicketStatusChange {
        TicketStatusChange {
            system: "jira".into(),
            key: key.into(),
            from_status: Some("In Progress".into()),
            to_status: "Done".into(),
            changed_by: Some("Jane Doe".into()),
            changed_at: None,
            delivery_id: "d-1".into(),
        }
    }

    #[test]
    fn planning_carries_what_a_ticketing_bridge_needs() {
        let nc = given(&[raised(Severity::Minor)]);
        let mut wanted = action("bob");
        wanted.ticket_system = Some("jira".into());
        wanted.ticket_project = Some("OPS".into());
        let events = nc.plan_actions(vec![wanted], id).unwrap();
        let NonconformityEvent::CorrectiveActionPlanned(planned) = &events[0] else { panic!("{events:?}") };
        assert_eq!(planned.nonconformity_title.as_deref(), Some("Backups not tested"));
        assert_eq!((planned.ticket_system.as_deref(), planned.ticket_project.as_deref()), (Some("jira"), Some("OPS")));
    }

    #[test]
    fn a_linked_ticket_replaces_the_planned_key_and_the_same_link_changes_nothing() {
        let mut nc = given(&[raised(Severity::Minor)]);
        let events = nc.plan_actions(vec![action("bob")], id).unwrap();
        then(&mut nc, events);
        assert!(nc.actions[0].tracked_by("jira", "ops-1"));
        let events = nc.link_ticket(id(), ticket("OPS-77"), &actor("jira-bridge")).unwrap();
        then(&mut nc, events);
        assert!(nc.actions[0].tracked_by("jira", "OPS-77"));
        assert!(!nc.actions[0].tracked_by("jira", "OPS-1"));
        let again = nc.link_ticket(id(), ticket("OPS-77"), &actor("jira-bridge")).unwrap_err();
        assert_eq!(again.code, ErrorCode::NothingChanged);
        let unknown = nc.link_ticket(Uuid::from_u128(99), ticket("OPS-78"), &actor("jira-bridge")).unwrap_err();
        assert_eq!(unknown.code, ErrorCode::CorrectiveActionNotFound);
    }

    #[test]
    fn a_closed_nonconformity_takes_no_ticket_link() {
        let mut nc = given(&[raised(Severity::Minor)]);
        for events in [
            nc.plan_actions(vec![action("bob")], id).unwrap(),
            vec![NonconformityEvent::CorrectiveActionCompleted(CorrectiveActionCompleted {
                action_id: id(),
                completed_by: "bob".into(),
                note: String::new(),
                ticket: None,
            })],
            vec![NonconformityEvent::NonconformityClosed(NonconformityClosed {
                closed_by: "c".into(),
                note: "".into(),
            })],
        ] {
            then(&mut nc, events);
        }
        let error = nc.link_ticket(id(), ticket("OPS-2"), &actor("jira-bridge")).unwrap_err();
        assert_eq!(error.code, ErrorCode::NonconformityClosed);
    }

    #[test]
    fn only_the_tracking_ticket_completes_an_action_and_only_once() {
        let mut nc = given(&[raised(Severity::Minor)]);
        let events = nc.plan_actions(vec![action("bob")], id).unwrap();
        then(&mut nc, events);
        let other = nc.complete_action_from_ticket(id(), done("OPS-2"), &actor("jira")).unwrap_err();
        assert_eq!(other.code, ErrorCode::TicketNotLinked);
        let events = nc.complete_action_from_ticket(id(), done("OPS-1"), &actor("jira")).unwrap();
        let NonconformityEvent::CorrectiveActionCompleted(completed) = &events[0] else { panic!("{events:?}") };
        assert_eq!(completed.completed_by, "jira");
        assert_eq!(completed.note, "jira ticket OPS-1 moved from In Progress to Done by Jane Doe");
        assert_eq!(completed.ticket.as_ref().and_then(|t| t.changed_by.as_deref()), Some("Jane Doe"));
        then(&mut nc, events);
        assert_eq!(nc.status, NonconformityStatus::AwaitingVerification);
        let twice = nc.complete_action_from_ticket(id(), done("OPS-1"), &actor("jira")).unwrap_err();
        assert_eq!(twice.code, ErrorCode::CorrectiveActionAlreadyCompleted);
    }

    #[test]
    fn events_recorded_before_the_ticketing_fields_still_read() {
        let old = serde_json::json!({"event_type": "CorrectiveActionPlanned", "data": {"action_id": id(),
            "description": "x", "owner": "bob", "due_date": "2027-01-31", "ticket_key": null}});
        let NonconformityEvent::CorrectiveActionPlanned(planned) = serde_json::from_value(old).unwrap() else {
            panic!("not a plan")
        };
        assert_eq!((planned.ticket_system, planned.nonconformity_title), (None, None));
    }
}

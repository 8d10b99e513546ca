//! Operational planning and control (ISO/IEC 27001 8.1): the plans and controls through which
//! the organization carries out its objectives (6.2) and risk treatments (6.1.3, 8.3).
//!
//! A plan moves only forward: planned, in operation, completed; a plan that is no longer
//! carried out is retired rather than deleted.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::{Actor, Aggregate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OperationalPlanStatus {
    #[default]
    Planned,
    InOperation,
    Completed,
    Retired,
}

impl OperationalPlanStatus {
    pub const NAMES: &'static [&'static str] = &["planned", "in_operation", "completed", "retired"];

    /// Whether the plan is still to be carried out (and so can fall behind its due date).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Planned | Self::InOperation)
    }

    /// The wire name, for messages (`NAMES` lists the variants in declaration order).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// What a plan is; planning and revising restate it whole.
/// (`Default` is only a placeholder for views of a stream without its first event.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalPlanDetails {
    pub title: String,
    pub description: String,
    pub owner: String,
    pub starts_on: NaiveDate,
    pub due_date: NaiveDate,
    /// The objectives (6.2) the plan carries out; the caller checks they exist.
    pub objective_ids: Vec<Uuid>,
    /// The risks (6.1) whose treatment the plan carries out; the caller checks they exist.
    pub risk_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalPlanPutIntoOperation {
    pub started_on: NaiveDate,
    pub started_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalPlanCompleted {
    pub completed_on: NaiveDate,
    pub completed_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalPlanRetired {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum OperationalPlanEvent {
    OperationalPlanDrawnUp(OperationalPlanDetails),
    OperationalPlanRevised(OperationalPlanDetails),
    OperationalPlanPutIntoOperation(OperationalPlanPutIntoOperation),
    OperationalPlanCompleted(OperationalPlanCompleted),
    OperationalPlanRetired(OperationalPlanRetired),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperationalPlan {
    pub details: Option<OperationalPlanDetails>,
    pub status: OperationalPlanStatus,
    pub operation: Option<OperationalPlanPutIntoOperation>,
    pub completion: Option<OperationalPlanCompleted>,
    pub retirement: Option<OperationalPlanRetired>,
}

impl OperationalPlan {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    /// The rules every version of a plan keeps.
    fn check(details: &OperationalPlanDetails) -> Result<(), DomainError> {
        if details.due_date < details.starts_on {
            return Err(DomainError::at(
                ErrorCode::OperationalPlanDueBeforeStart,
                "/due_date",
                format!("the due date {} is before the start date {}", details.due_date, details.starts_on),
            ));
        }
        // 8.1 plans exist to carry out 6.1 and 6.2; a plan linked to neither has no place here.
        if details.objective_ids.is_empty() && details.risk_ids.is_empty() {
            return Err(DomainError::at(
                ErrorCode::OperationalPlanLinksRequired,
                "/objective_ids",
                "an operational plan carries out at least one objective or risk treatment",
            ));
        }
        Ok(())
    }

    fn ensure_open(&self) -> Result<(), DomainError> {
        if !self.status.is_open() {
            return Err(DomainError::new(
                ErrorCode::OperationalPlanClosed,
                format!("the operational plan is {}", self.status.name()),
            ));
        }
        Ok(())
    }

    fn ensure_status(&self, expected: OperationalPlanStatus, command: &str) -> Result<(), DomainError> {
        self.ensure_open()?;
        if self.status != expected {
            return Err(DomainError::new(
                ErrorCode::OperationalPlanTransitionNotAllowed,
                format!("a plan is {command} only when {}; this one is {}", expected.name(), self.status.name()),
            ));
        }
        Ok(())
    }

    pub fn draw_up(&self, details: OperationalPlanDetails) -> Result<Vec<OperationalPlanEvent>, DomainError> {
        Self::check(&details)?;
        Ok(vec![OperationalPlanEvent::OperationalPlanDrawnUp(details)])
    }

    pub fn revise(&self, details: OperationalPlanDetails) -> Result<Vec<OperationalPlanEvent>, DomainError> {
        self.ensure_open()?;
        Self::check(&details)?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the plan"));
        }
        Ok(vec![OperationalPlanEvent::OperationalPlanRevised(details)])
    }

    pub fn put_into_operation(
        &self,
        note: String,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<Vec<OperationalPlanEvent>, DomainError> {
        self.ensure_status(OperationalPlanStatus::Planned, "put into operation")?;
        Ok(vec![OperationalPlanEvent::OperationalPlanPutIntoOperation(OperationalPlanPutIntoOperation {
            started_on: today,
            started_by: actor.subject.clone(),
            note,
        })])
    }

    /// Only a plan in operation is completed: completing one never carried out would record
    /// work that did not happen.
    pub fn complete(
        &self,
        note: String,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<Vec<OperationalPlanEvent>, DomainError> {
        self.ensure_status(OperationalPlanStatus::InOperation, "completed")?;
        Ok(vec![OperationalPlanEvent::OperationalPlanCompleted(OperationalPlanCompleted {
            completed_on: today,
            completed_by: actor.subject.clone(),
            note,
        })])
    }

    pub fn retire(&self, reason: String) -> Result<Vec<OperationalPlanEvent>, DomainError> {
        self.ensure_open()?;
        Ok(vec![OperationalPlanEvent::OperationalPlanRetired(OperationalPlanRetired { reason })])
    }
}

impl Aggregate for OperationalPlan {
    type Event = OperationalPlanEvent;
    const STREAM_TYPE: &'static str = "operational_plan";

    fn apply(&mut self, event: &OperationalPlanEvent) {
        match event {
            OperationalPlanEvent::OperationalPlanDrawnUp(details)
            | OperationalPlanEvent::OperationalPlanRevised(details) => self.details = Some(details.clone()),
            OperationalPlanEvent::OperationalPlanPutIntoOperation(operation) => {
                self.status = OperationalPlanStatus::InOperation;
                self.operation = Some(operation.clone());
            }
            OperationalPlanEvent::OperationalPlanCompleted(completion) => {
                self.status = OperationalPlanStatus::Completed;
                self.completion = Some(completion.clone());
            }
            OperationalPlanEvent::OperationalPlanRetired(retirement) => {
                self.status = OperationalPlanStatus::Retired;
                self.retirement = Some(retirement.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn details(start: &str, due: &str) -> OperationalPlanDetails {
        OperationalPlanDetails {
            title: "Quarterly access review".into(),
            description: String::new(),
            owner: "bob".into(),
            starts_on: date(start),
            due_date: date(due),
            objective_ids: vec![Uuid::nil()],
            risk_ids: vec![],
        }
    }

    fn given(events: &[OperationalPlanEvent]) -> OperationalPlan {
        let mut plan = OperationalPlan::default();
        events.iter().for_each(|e| plan.apply(e));
        plan
    }

    fn bob() -> Actor {
        Actor { subject: "bob".into(), is_admin: false }
    }

    fn drawn_up() -> OperationalPlanEvent {
        OperationalPlanEvent::OperationalPlanDrawnUp(details("2027-01-01", "2027-12-31"))
    }

    fn started() -> OperationalPlanEvent {
        given(&[drawn_up()]).put_into_operation(String::new(), &bob(), date("2027-01-02")).unwrap().remove(0)
    }

    #[test]
    fn the_due_date_is_not_before_the_start_date() {
        let error = OperationalPlan::default().draw_up(details("2027-02-01", "2027-01-31")).unwrap_err();
        assert_eq!(
            (error.code, error.pointer.as_deref()),
            (ErrorCode::OperationalPlanDueBeforeStart, Some("/due_date"))
        );
        assert!(OperationalPlan::default().draw_up(details("2027-02-01", "2027-02-01")).is_ok());
        let revised = given(&[drawn_up()]).revise(details("2027-02-01", "2027-01-31"));
        assert_eq!(revised.unwrap_err().code, ErrorCode::OperationalPlanDueBeforeStart);
    }

    #[test]
    fn a_plan_carries_out_at_least_one_objective_or_risk() {
        let mut unlinked = details("2027-01-01", "2027-12-31");
        unlinked.objective_ids.clear();
        let error = OperationalPlan::default().draw_up(unlinked.clone()).unwrap_err();
        assert_eq!(
            (error.code, error.pointer.as_deref()),
            (ErrorCode::OperationalPlanLinksRequired, Some("/objective_ids"))
        );
        unlinked.risk_ids.push(Uuid::nil());
        assert!(OperationalPlan::default().draw_up(unlinked).is_ok());
    }

    #[test]
    fn a_revision_must_change_something() {
        let plan = given(&[drawn_up()]);
        assert_eq!(plan.revise(details("2027-01-01", "2027-12-31")).unwrap_err().code, ErrorCode::NothingChanged);
        assert!(plan.revise(details("2027-01-01", "2027-11-30")).is_ok());
    }

    #[test]
    fn transitions_only_go_forward() {
        let today = date("2027-03-01");
        let planned = given(&[drawn_up()]);
        let early = planned.complete(String::new(), &bob(), today).unwrap_err();
        assert_eq!(early.code, ErrorCode::OperationalPlanTransitionNotAllowed);
        let operating = given(&[drawn_up(), started()]);
        assert_eq!(operating.status, OperationalPlanStatus::InOperation);
        let twice = operating.put_into_operation(String::new(), &bob(), today).unwrap_err();
        assert_eq!(twice.code, ErrorCode::OperationalPlanTransitionNotAllowed);
        let events = operating.complete("done".into(), &bob(), today).unwrap();
        let OperationalPlanEvent::OperationalPlanCompleted(completed) = &events[0] else { panic!() };
        assert_eq!((completed.completed_by.as_str(), completed.completed_on), ("bob", today));
    }

    #[test]
    fn a_completed_or_retired_plan_is_closed() {
        let today = date("2027-03-01");
        let completed = given(&[drawn_up(), started()]).complete(String::new(), &bob(), today).unwrap().remove(0);
        let retired = OperationalPlanEvent::OperationalPlanRetired(OperationalPlanRetired { reason: "x".into() });
        for closed in [given(&[drawn_up(), started(), completed]), given(&[drawn_up(), retired])] {
            let code = |r: Result<Vec<OperationalPlanEvent>, DomainError>| r.unwrap_err().code;
            assert_eq!(code(closed.revise(details("2027-01-01", "2027-06-30"))), ErrorCode::OperationalPlanClosed);
            assert_eq!(code(closed.put_into_operation(String::new(), &bob(), today)), ErrorCode::OperationalPlanClosed);
            assert_eq!(code(closed.complete(String::new(), &bob(), today)), ErrorCode::OperationalPlanClosed);
            assert_eq!(code(closed.retire("again".into())), ErrorCode::OperationalPlanClosed);
        }
    }
}

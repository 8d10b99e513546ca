//! Management review (ISO/IEC 27001 9.3): top management reviews the ISMS at planned intervals.
//! A review is scheduled, its inputs (9.3.2) are recorded, it is held, its decisions and actions
//! (9.3.3) are recorded, and it is closed — never without every input of 9.3.2 on record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::{Actor, Aggregate};

/// The inputs 9.3.2 requires a management review to consider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewInputCategory {
    /// a) the status of actions from previous management reviews.
    PreviousActions,
    /// b) changes in external and internal issues relevant to the ISMS.
    ChangesInIssues,
    /// c) changes in needs and expectations of interested parties.
    ChangesInInterestedPartyNeeds,
    /// d) 1) nonconformities and corrective actions.
    NonconformityTrends,
    /// d) 2) monitoring and measurement results.
    MonitoringResults,
    /// d) 3) audit results.
    AuditResults,
    /// d) 4) fulfilment of information security objectives.
    ObjectivesFulfilment,
    /// e) feedback from interested parties.
    InterestedPartyFeedback,
    /// f) results of risk assessment and status of the risk treatment plan.
    RiskAssessmentResults,
    /// g) opportunities for continual improvement.
    ImprovementOpportunities,
}

impl ReviewInputCategory {
    pub const ALL: [ReviewInputCategory; 10] = [
        Self::PreviousActions,
        Self::ChangesInIssues,
        Self::ChangesInInterestedPartyNeeds,
        Self::NonconformityTrends,
        Self::MonitoringResults,
        Self::AuditResults,
        Self::ObjectivesFulfilment,
        Self::InterestedPartyFeedback,
        Self::RiskAssessmentResults,
        Self::ImprovementOpportunities,
    ];
    pub const NAMES: &'static [&'static str] = &[
        "previous_actions",
        "changes_in_issues",
        "changes_in_interested_party_needs",
        "nonconformity_trends",
        "monitoring_results",
        "audit_results",
        "objectives_fulfilment",
        "interested_party_feedback",
        "risk_assessment_results",
        "improvement_opportunities",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|c| *c == self).unwrap_or(0)]
    }

    /// The 9.3.2 item it answers, for people who think in clause letters.
    pub fn clause(self) -> &'static str {
        match self {
            Self::PreviousActions => "9.3.2 a",
            Self::ChangesInIssues => "9.3.2 b",
            Self::ChangesInInterestedPartyNeeds => "9.3.2 c",
            Self::NonconformityTrends => "9.3.2 d 1",
            Self::MonitoringResults => "9.3.2 d 2",
            Self::AuditResults => "9.3.2 d 3",
            Self::ObjectivesFulfilment => "9.3.2 d 4",
            Self::InterestedPartyFeedback => "9.3.2 e",
            Self::RiskAssessmentResults => "9.3.2 f",
            Self::ImprovementOpportunities => "9.3.2 g",
        }
    }
}

/// 9.3.3: decisions on continual improvement and on any need for changes to the ISMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    ContinualImprovement,
    ChangeToIsms,
    Resources,
}

impl DecisionKind {
    pub const NAMES: &'static [&'static str] = &["continual_improvement", "change_to_isms", "resources"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    #[default]
    Scheduled,
    Held,
    Closed,
}

impl ReviewStatus {
    pub const NAMES: &'static [&'static str] = &["scheduled", "held", "closed"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementReviewScheduled {
    pub title: String,
    pub scheduled_on: NaiveDate,
    /// The review covers what happened since this date (the previous review's meeting, or the
    /// start of the ISMS for the first one).
    pub period_start_on: NaiveDate,
    pub chair: String,
}

/// What management was shown for one input. A prefilled input stores the summary exactly as
/// generated from the registers, so a replay shows what was presented, not today's numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInputRecorded {
    pub category: ReviewInputCategory,
    pub summary: String,
    /// Records the input draws on (risk, nonconformity, audit ids, ...).
    pub record_ids: Vec<Uuid>,
    pub prefilled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementReviewHeld {
    pub held_on: NaiveDate,
    pub attendees: Vec<String>,
    pub minutes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDecisionRecorded {
    pub decision_id: Uuid,
    pub kind: DecisionKind,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewActionAssigned {
    pub action_id: Uuid,
    pub description: String,
    pub owner: String,
    pub due_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewActionCompleted {
    pub action_id: Uuid,
    pub completed_by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementReviewClosed {
    pub closed_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum ManagementReviewEvent {
    ManagementReviewScheduled(ManagementReviewScheduled),
    ReviewInputRecorded(ReviewInputRecorded),
    ManagementReviewHeld(ManagementReviewHeld),
    ReviewDecisionRecorded(ReviewDecisionRecorded),
    ReviewActionAssigned(ReviewActionAssigned),
    ReviewActionCompleted(ReviewActionCompleted),
    ManagementReviewClosed(ManagementReviewClosed),
}

/// One action of the review's output and its completion, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewAction {
    pub assigned: ReviewActionAssigned,
    pub completion: Option<ReviewActionCompleted>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManagementReview {
    pub schedule: Option<ManagementReviewScheduled>,
    pub status: ReviewStatus,
    /// The latest input per category (a category may be restated before closing).
    pub inputs: std::collections::BTreeMap<ReviewInputCategory, ReviewInputRecorded>,
    pub meeting: Option<ManagementReviewHeld>,
    pub decisions: Vec<ReviewDecisionRecorded>,
    pub actions: Vec<ReviewAction>,
    pub closure: Option<ManagementReviewClosed>,
}

/// An output action as requested; its id is drawn by the caller.
#[derive(Debug, Clone)]
pub struct NewReviewAction {
    pub description: String,
    pub owner: String,
    pub due_date: NaiveDate,
}

impl ManagementReview {
    pub fn exists(&self) -> bool {
        self.schedule.is_some()
    }

    pub fn missing_inputs(&self) -> Vec<ReviewInputCategory> {
        ReviewInputCategory::ALL.into_iter().filter(|c| !self.inputs.contains_key(c)).collect()
    }

    fn ensure_not_closed(&self) -> Result<(), DomainError> {
        if self.status == ReviewStatus::Closed {
            return Err(DomainError::new(ErrorCode::ManagementReviewClosed, "the management review is closed"));
        }
        Ok(())
    }

    pub fn schedule(&self, command: ManagementReviewScheduled) -> Result<Vec<ManagementReviewEvent>, DomainError> {
        if command.period_start_on > command.scheduled_on {
            return Err(DomainError::at(
                ErrorCode::DatesOutOfOrder,
                "/period_start_on",
                "the reviewed period must start on or before the review date",
            ));
        }
        Ok(vec![ManagementReviewEvent::ManagementReviewScheduled(command)])
    }

    pub fn record_inputs(&self, inputs: Vec<ReviewInputRecorded>) -> Result<Vec<ManagementReviewEvent>, DomainError> {
        self.ensure_not_closed()?;
        if inputs.is_empty() {
            return Err(DomainError::at(ErrorCode::ValidationFailed, "/inputs", "at least one input is required"));
        }
        Ok(inputs.into_iter().map(ManagementReviewEvent::ReviewInputRecorded).collect())
    }

    pub fn hold(&self, meeting: ManagementReviewHeld) -> Result<Vec<ManagementReviewEvent>, DomainError> {
        self.ensure_not_closed()?;
        if self.status == ReviewStatus::Held {
            return Err(DomainError::new(ErrorCode::ManagementReviewAlreadyHeld, "the review was already held"));
        }
        if meeting.attendees.is_empty() {
            return Err(DomainError::at(ErrorCode::ValidationFailed, "/attendees", "at least one attendee"));
        }
        Ok(vec![ManagementReviewEvent::ManagementReviewHeld(meeting)])
    }

    /// 9.3.3 outputs are decided in the meeting, so they are recorded only once it was held.
    pub fn record_outputs(
        &self,
        decisions: Vec<(Uuid, DecisionKind, String)>,
        actions: Vec<(Uuid, NewReviewAction)>,
    ) -> Result<Vec<ManagementReviewEvent>, DomainError> {
        self.ensure_not_closed()?;
        if self.status != ReviewStatus::Held {
            return Err(DomainError::new(
                ErrorCode::ManagementReviewNotHeld,
                "decisions and actions are recorded after the review was held",
            ));
        }
        if decisions.is_empty() && actions.is_empty() {
            return Err(DomainError::at(
                ErrorCode::ReviewOutputsRequired,
                "/decisions",
                "record a decision or an action",
            ));
        }
        let decisions = decisions.into_iter().map(|(decision_id, kind, description)| {
            ManagementReviewEvent::ReviewDecisionRecorded(ReviewDecisionRecorded { decision_id, kind, description })
        });
        let actions = actions.into_iter().map(|(action_id, action)| {
            ManagementReviewEvent::ReviewActionAssigned(ReviewActionAssigned {
                action_id,
                description: action.description,
                owner: action.owner,
                due_date: action.due_date,
            })
        });
        Ok(decisions.chain(actions).collect())
    }

    /// Actions outlive their review: they are completed whenever the work is done, also after
    /// the review was closed (the next review reports their status, 9.3.2 a).
    pub fn complete_action(
        &self,
        action_id: Uuid,
        note: String,
        actor: &Actor,
    ) -> Result<Vec<ManagementReviewEvent>, DomainError> {
        let action = self.actions.iter().find(|a| a.assigned.action_id == action_id).ok_or_else(|| {
            DomainError::new(ErrorCode::ReviewActionNotFound, format!("no action {action_id} in this review"))
        })?;
        if action.completion.is_some() {
            return Err(DomainError::new(ErrorCode::ReviewActionAlreadyCompleted, "the action is already completed"));
        }
        Ok(vec![ManagementReviewEvent::ReviewActionCompleted(ReviewActionCompleted {
            action_id,
            completed_by: actor.subject.clone(),
            note,
        })])
    }

    pub fn close(&self, actor: &Actor) -> Result<Vec<ManagementReviewEvent>, DomainError> {
        self.ensure_not_closed()?;
        if self.status != ReviewStatus::Held {
            return Err(DomainError::new(ErrorCode::ManagementReviewNotHeld, "a review is closed after it was held"));
        }
        let missing = self.missing_inputs();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|c| c.as_str()).collect();
            return Err(DomainError::new(
                ErrorCode::ManagementReviewInputsMissing,
                format!("every input of 9.3.2 must be recorded before closing; missing: {}", names.join(", ")),
            ));
        }
        if self.decisions.is_empty() {
            return Err(DomainError::new(
                ErrorCode::ManagementReviewDecisionsMissing,
                "a review closes with its decisions on record (9.3.3)",
            ));
        }
        Ok(vec![ManagementReviewEvent::ManagementReviewClosed(ManagementReviewClosed {
            closed_by: actor.subject.clone(),
        })])
    }
}

impl Aggregate for ManagementReview {
    type Event = ManagementReviewEvent;
    const STREAM_TYPE: &'static str = "management_review";

    fn apply(&mut self, event: &ManagementReviewEvent) {
        match event {
            ManagementReviewEvent::ManagementReviewScheduled(scheduled) => self.schedule = Some(scheduled.clone()),
            ManagementReviewEvent::ReviewInputRecorded(input) => {
                self.inputs.insert(input.category, input.clone());
            }
            ManagementReviewEvent::ManagementReviewHeld(held) => {
                self.meeting = Some(held.clone());
                self.status = ReviewStatus::Held;
            }
            ManagementReviewEvent::ReviewDecisionRecorded(decision) => self.decisions.push(decision.clone()),
            ManagementReviewEvent::ReviewActionAssigned(assigned) => {
                self.actions.push(ReviewAction { assigned: assigned.clone(), completion: None })
            }
            ManagementReviewEvent::ReviewActionCompleted(completed) => {
                if let Some(action) = self.actions.iter_mut().find(|a| a.assigned.action_id == completed.action_id) {
                    action.completion = Some(completed.clone());
                }
            }
            ManagementReviewEvent::ManagementReviewClosed(closed) => {
                self.closure = Some(closed.clone());
                self.status = ReviewStatus::Closed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn scheduled() -> ManagementReviewEvent {
        ManagementReviewEvent::ManagementReviewScheduled(ManagementReviewScheduled {
            title: "2026 H2 review".into(),
            scheduled_on: date(30),
            period_start_on: date(1),
            chair: "ceo".into(),
        })
    }

    fn input(category: ReviewInputCategory) -> ReviewInputRecorded {
        ReviewInputRecorded { category, summary: "ok".into(), record_ids: vec![], prefilled: false }
    }

    fn held() -> ManagementReviewEvent {
        ManagementReviewEvent::ManagementReviewHeld(ManagementReviewHeld {
            held_on: date(30),
            attendees: vec!["ceo".into()],
            minutes: String::new(),
        })
    }

    fn given(events: Vec<ManagementReviewEvent>) -> ManagementReview {
        let mut review = ManagementReview::default();
        events.iter().for_each(|e| review.apply(e));
        review
    }

    /// Decides on the current state and applies the resulting events.
    fn then(
        review: &mut ManagementReview,
        decide: impl FnOnce(&ManagementReview) -> Result<Vec<ManagementReviewEvent>, DomainError>,
    ) {
        let events = decide(review).unwrap();
        events.iter().for_each(|e| review.apply(e));
    }

    fn actor() -> Actor {
        Actor { subject: "ceo".into(), is_admin: false }
    }

    fn decision() -> Vec<(Uuid, DecisionKind, String)> {
        vec![(Uuid::from_u128(1), DecisionKind::ContinualImprovement, "more training".into())]
    }

    #[test]
    fn closing_needs_every_input_of_9_3_2() {
        let mut review = given(vec![scheduled(), held()]);
        then(&mut review, |r| r.record_outputs(decision(), vec![]));
        let all_but_one: Vec<_> = ReviewInputCategory::ALL[1..].iter().map(|c| input(*c)).collect();
        then(&mut review, |r| r.record_inputs(all_but_one));
        let error = review.close(&actor()).unwrap_err();
        assert_eq!(error.code, ErrorCode::ManagementReviewInputsMissing);
        assert!(error.detail.contains("previous_actions"));
        then(&mut review, |r| r.record_inputs(vec![input(ReviewInputCategory::PreviousActions)]));
        then(&mut review, |r| r.close(&actor()));
        assert_eq!(review.status, ReviewStatus::Closed);
        assert_eq!(
            review.record_inputs(vec![input(ReviewInputCategory::AuditResults)]).unwrap_err().code,
            ErrorCode::ManagementReviewClosed
        );
    }

    #[test]
    fn outputs_and_closure_come_after_the_meeting() {
        let review = given(vec![scheduled()]);
        assert_eq!(review.record_outputs(decision(), vec![]).unwrap_err().code, ErrorCode::ManagementReviewNotHeld);
        assert_eq!(review.close(&actor()).unwrap_err().code, ErrorCode::ManagementReviewNotHeld);
        let held_review = given(vec![scheduled(), held()]);
        let Err(error) = held_review.hold(ManagementReviewHeld {
            held_on: date(30),
            attendees: vec!["ceo".into()],
            minutes: String::new(),
        }) else {
            panic!("a second meeting record must be refused")
        };
        assert_eq!(error.code, ErrorCode::ManagementReviewAlreadyHeld);
    }

    #[test]
    fn closing_needs_a_decision() {
        let mut review = given(vec![scheduled(), held()]);
        let inputs = ReviewInputCategory::ALL.iter().map(|c| input(*c)).collect();
        then(&mut review, |r| r.record_inputs(inputs));
        assert_eq!(review.close(&actor()).unwrap_err().code, ErrorCode::ManagementReviewDecisionsMissing);
    }

    #[test]
    fn actions_complete_once_even_after_closing() {
        let mut review = given(vec![scheduled(), held()]);
        let action =
            NewReviewAction { description: "budget for training".into(), owner: "cfo".into(), due_date: date(30) };
        then(&mut review, |r| r.record_outputs(decision(), vec![(Uuid::from_u128(9), action)]));
        let inputs = ReviewInputCategory::ALL.iter().map(|c| input(*c)).collect();
        then(&mut review, |r| r.record_inputs(inputs));
        then(&mut review, |r| r.close(&actor()));
        assert_eq!(
            review.complete_action(Uuid::from_u128(8), String::new(), &actor()).unwrap_err().code,
            ErrorCode::ReviewActionNotFound
        );
        then(&mut review, |r| r.complete_action(Uuid::from_u128(9), "done".into(), &actor()));
        assert_eq!(
            review.complete_action(Uuid::from_u128(9), String::new(), &actor()).unwrap_err().code,
            ErrorCode::ReviewActionAlreadyCompleted
        );
    }

    #[test]
    fn the_period_starts_before_the_review() {
        let review = ManagementReview::default();
        let command = ManagementReviewScheduled {
            title: "t".into(),
            scheduled_on: date(1),
            period_start_on: date(2),
            chair: "c".into(),
        };
        assert_eq!(review.schedule(command).unwrap_err().pointer.as_deref(), Some("/period_start_on"));
    }

    #[test]
    fn category_names_match_serde() {
        for (category, name) in ReviewInputCategory::ALL.iter().zip(ReviewInputCategory::NAMES) {
            assert_eq!(serde_json::to_value(category).unwrap(), *name);
            assert_eq!(category.as_str(), *name);
        }
    }
}

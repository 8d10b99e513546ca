//! Information security objectives and the planning to achieve them (ISO/IEC 27001 6.2): what
//! will be done, with what resources, by whom, by when, and how the results are evaluated.
//!
//! An objective is set, revised while it is pursued, followed by progress records, and ends with
//! an outcome (achieved or not) or a withdrawal. Nothing is edited in place, so the register
//! shows what the objective was at any point of the year.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::{Actor, Aggregate};

/// A measured or target number. The log's hash chain is verified by re-reading events, so
/// every number must come back from its JSON text as the very same `f64`: bounding the
/// magnitude and the decimals keeps each value on the exact path of every JSON parser.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Quantity(f64);

impl Quantity {
    pub const MAX_ABS: f64 = 1_000_000_000.0;
    pub const MAX_DECIMALS: usize = 6;

    pub fn parse(pointer: &str, value: f64) -> Result<Self, DomainError> {
        // Rust prints the shortest text that reads back as the same f64, without exponent.
        let decimals = value.to_string().split_once('.').map_or(0, |(_, fraction)| fraction.len());
        if !value.is_finite() || value.abs() > Self::MAX_ABS || decimals > Self::MAX_DECIMALS {
            return Err(DomainError::at(
                ErrorCode::InvalidQuantity,
                pointer,
                format!(
                    "must be a number between -{max} and {max} with at most {} decimal places",
                    Self::MAX_DECIMALS,
                    max = Self::MAX_ABS
                ),
            ));
        }
        Ok(Self(value))
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

/// Facts are about the past: progress and measurements cannot be dated after the day they are
/// recorded.
pub fn ensure_not_future(pointer: &str, date: NaiveDate, today: NaiveDate) -> Result<(), DomainError> {
    if date > today {
        return Err(DomainError::at(ErrorCode::DateInFuture, pointer, format!("{date} is after today ({today})")));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveStatus {
    #[default]
    Active,
    Achieved,
    NotAchieved,
    Withdrawn,
}

impl ObjectiveStatus {
    pub const NAMES: &'static [&'static str] = &["active", "achieved", "not_achieved", "withdrawn"];
}

/// How an objective ended when it was evaluated (6.2 g).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectiveOutcome {
    Achieved,
    NotAchieved,
}

impl ObjectiveOutcome {
    pub const NAMES: &'static [&'static str] = &["achieved", "not_achieved"];
}

/// What an objective is; setting and revising restate it whole, so the history shows every
/// version in full.
/// (`Default` is only a placeholder for views of a stream without its first event.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveDetails {
    pub title: String,
    /// The measurable target in words (6.2 b), e.g. "every employee trained by March".
    pub target: String,
    /// The target as a number, where it can be measured as one.
    pub target_value: Option<Quantity>,
    pub unit: Option<String>,
    /// Who is responsible (6.2 h).
    pub owner: String,
    /// What resources will be required (6.2 i).
    pub resources: String,
    /// When it will be completed (6.2 j).
    pub due_date: NaiveDate,
    /// How the results will be evaluated (6.2 k).
    pub evaluation_method: String,
    /// What will be done (6.2 g).
    pub plan: String,
    /// The risks and opportunities (6.1) the objective addresses; the caller checks they exist.
    pub risk_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveProgressRecorded {
    pub progress_id: Uuid,
    /// The day the progress refers to.
    pub observed_on: NaiveDate,
    pub note: String,
    /// The value reached, in the objective's unit.
    pub value: Option<Quantity>,
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveConcluded {
    pub outcome: ObjectiveOutcome,
    pub note: String,
    pub concluded_by: String,
    pub concluded_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveWithdrawn {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum ObjectiveEvent {
    ObjectiveSet(ObjectiveDetails),
    ObjectiveRevised(ObjectiveDetails),
    ObjectiveProgressRecorded(ObjectiveProgressRecorded),
    ObjectiveConcluded(ObjectiveConcluded),
    ObjectiveWithdrawn(ObjectiveWithdrawn),
}

/// A progress report as requested; its id is drawn by the caller, outside any retried decision.
#[derive(Debug, Clone)]
pub struct RecordProgress {
    pub progress_id: Uuid,
    pub observed_on: NaiveDate,
    pub note: String,
    pub value: Option<Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Objective {
    pub details: Option<ObjectiveDetails>,
    pub status: ObjectiveStatus,
    pub progress: Vec<ObjectiveProgressRecorded>,
    pub conclusion: Option<ObjectiveConcluded>,
    pub withdrawal: Option<ObjectiveWithdrawn>,
}

impl Objective {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    /// Once the outcome is known or the objective is withdrawn, its record is final.
    fn ensure_active(&self) -> Result<(), DomainError> {
        match self.status {
            ObjectiveStatus::Active => Ok(()),
            ObjectiveStatus::Withdrawn => {
                Err(DomainError::new(ErrorCode::ObjectiveWithdrawn, "the objective is withdrawn"))
            }
            ObjectiveStatus::Achieved | ObjectiveStatus::NotAchieved => Err(DomainError::new(
                ErrorCode::ObjectiveConcluded,
                "the objective's outcome is already recorded; set a new objective instead",
            )),
        }
    }

    /// A unit with no number to qualify says nothing.
    fn check(details: &ObjectiveDetails) -> Result<(), DomainError> {
        if details.unit.is_some() && details.target_value.is_none() {
            return Err(DomainError::at(ErrorCode::UnitNeedsTarget, "/unit", "a unit needs a target_value"));
        }
        Ok(())
    }

    pub fn set(&self, details: ObjectiveDetails) -> Result<Vec<ObjectiveEvent>, DomainError> {
        Self::check(&details)?;
        Ok(vec![ObjectiveEvent::ObjectiveSet(details)])
    }

    pub fn revise(&self, details: ObjectiveDetails) -> Result<Vec<ObjectiveEvent>, DomainError> {
        self.ensure_active()?;
        Self::check(&details)?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the objective"));
        }
        Ok(vec![ObjectiveEvent::ObjectiveRevised(details)])
    }

    pub fn record_progress(
        &self,
        command: RecordProgress,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<Vec<ObjectiveEvent>, DomainError> {
        self.ensure_active()?;
        ensure_not_future("/observed_on", command.observed_on, today)?;
        let numeric = self.details.as_ref().is_some_and(|d| d.target_value.is_some());
        if command.value.is_some() && !numeric {
            return Err(DomainError::at(
                ErrorCode::ObjectiveHasNoNumericTarget,
                "/value",
                "the objective has no numeric target_value to measure a value against",
            ));
        }
        Ok(vec![ObjectiveEvent::ObjectiveProgressRecorded(ObjectiveProgressRecorded {
            progress_id: command.progress_id,
            observed_on: command.observed_on,
            note: command.note,
            value: command.value,
            recorded_by: actor.subject.clone(),
        })])
    }

    /// Records the outcome, once. Not achieving an objective is an input to improvement (10),
    /// so it must say why.
    pub fn conclude(
        &self,
        outcome: ObjectiveOutcome,
        note: String,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<Vec<ObjectiveEvent>, DomainError> {
        self.ensure_active()?;
        if outcome == ObjectiveOutcome::NotAchieved && note.trim().is_empty() {
            return Err(DomainError::at(
                ErrorCode::ObjectiveOutcomeNoteRequired,
                "/note",
                "an objective not achieved needs a note saying why",
            ));
        }
        Ok(vec![ObjectiveEvent::ObjectiveConcluded(ObjectiveConcluded {
            outcome,
            note,
            concluded_by: actor.subject.clone(),
            concluded_on: today,
        })])
    }

    pub fn withdraw(&self, reason: String) -> Result<Vec<ObjectiveEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![ObjectiveEvent::ObjectiveWithdrawn(ObjectiveWithdrawn { reason })])
    }
}

impl Aggregate for Objective {
    type Event = ObjectiveEvent;
    const STREAM_TYPE: &'static str = "objective";

    fn apply(&mut self, event: &ObjectiveEvent) {
        match event {
            ObjectiveEvent::ObjectiveSet(details) | ObjectiveEvent::ObjectiveRevised(details) => {
                self.details = Some(details.clone());
            }
            ObjectiveEvent::ObjectiveProgressRecorded(progress) => self.progress.push(progress.clone()),
            ObjectiveEvent::ObjectiveConcluded(concluded) => {
                self.status = match concluded.outcome {
                    ObjectiveOutcome::Achieved => ObjectiveStatus::Achieved,
                    ObjectiveOutcome::NotAchieved => ObjectiveStatus::NotAchieved,
                };
                self.conclusion = Some(concluded.clone());
            }
            ObjectiveEvent::ObjectiveWithdrawn(withdrawn) => {
                self.status = ObjectiveStatus::Withdrawn;
                self.withdrawal = Some(withdrawn.clone());
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

    fn details(title: &str) -> ObjectiveDetails {
        ObjectiveDetails {
            title: title.into(),
            target: "95% of staff trained".into(),
            target_value: Some(Quantity::parse("/", 95.0).unwrap()),
            unit: Some("%".into()),
            owner: "alice".into(),
            resources: "e-learning licence".into(),
            due_date: date("2027-03-31"),
            evaluation_method: "LMS completion report".into(),
            plan: "Annual awareness course".into(),
            risk_ids: vec![Uuid::nil()],
        }
    }

    fn given(events: &[ObjectiveEvent]) -> Objective {
        let mut objective = Objective::default();
        events.iter().for_each(|e| objective.apply(e));
        objective
    }

    fn alice() -> Actor {
        Actor { subject: "alice".into(), is_admin: false }
    }

    fn progress(on: &str, value: Option<f64>) -> RecordProgress {
        RecordProgress {
            progress_id: Uuid::now_v7(),
            observed_on: date(on),
            note: "half the staff done".into(),
            value: value.map(|v| Quantity::parse("/value", v).unwrap()),
        }
    }

    fn concluded(outcome: ObjectiveOutcome) -> ObjectiveEvent {
        let objective = given(&[ObjectiveEvent::ObjectiveSet(details("Awareness"))]);
        objective.conclude(outcome, "see report".into(), &alice(), date("2027-04-01")).unwrap().remove(0)
    }

    #[test]
    fn quantities_read_back_exactly_from_json() {
        for ok in [0.0, 95.0, -3.25, 0.000001, 999_999_999.5, 123_456.789_012, 0.1, 2.675] {
            let quantity = Quantity::parse("/v", ok).unwrap();
            let text = serde_json::to_string(&quantity).unwrap();
            let read: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(read.as_f64(), Some(ok), "{text}");
        }
        for bad in [f64::NAN, f64::INFINITY, 1e10, 0.1234567, 1.0 / 3.0] {
            assert_eq!(Quantity::parse("/v", bad).unwrap_err().code, ErrorCode::InvalidQuantity, "{bad}");
        }
    }

    #[test]
    fn a_unit_needs_a_target_value() {
        let mut unitless = details("Awareness");
        unitless.target_value = None;
        let error = Objective::default().set(unitless).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::UnitNeedsTarget, Some("/unit")));
    }

    #[test]
    fn a_revision_must_change_something() {
        let objective = given(&[ObjectiveEvent::ObjectiveSet(details("Awareness"))]);
        assert_eq!(objective.revise(details("Awareness")).unwrap_err().code, ErrorCode::NothingChanged);
        assert!(objective.revise(details("Awareness 2027")).is_ok());
    }

    #[test]
    fn progress_cannot_be_dated_after_today() {
        let objective = given(&[ObjectiveEvent::ObjectiveSet(details("Awareness"))]);
        let error = objective.record_progress(progress("2026-12-02", None), &alice(), date("2026-12-01")).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DateInFuture, Some("/observed_on")));
        let events = objective.record_progress(progress("2026-12-01", Some(50.0)), &alice(), date("2026-12-01"));
        let ObjectiveEvent::ObjectiveProgressRecorded(recorded) = &events.unwrap()[0] else { panic!() };
        assert_eq!(recorded.recorded_by, "alice");
    }

    #[test]
    fn a_progress_value_needs_a_numeric_target() {
        let mut words_only = details("Awareness");
        (words_only.target_value, words_only.unit) = (None, None);
        let objective = given(&[ObjectiveEvent::ObjectiveSet(words_only)]);
        let error = objective.record_progress(progress("2026-12-01", Some(50.0)), &alice(), date("2026-12-01"));
        assert_eq!(error.unwrap_err().code, ErrorCode::ObjectiveHasNoNumericTarget);
        assert!(objective.record_progress(progress("2026-12-01", None), &alice(), date("2026-12-01")).is_ok());
    }

    #[test]
    fn not_achieved_needs_a_note() {
        let objective = given(&[ObjectiveEvent::ObjectiveSet(details("Awareness"))]);
        let today = date("2027-04-01");
        let error = objective.conclude(ObjectiveOutcome::NotAchieved, " ".into(), &alice(), today).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::ObjectiveOutcomeNoteRequired, Some("/note")));
        assert!(objective.conclude(ObjectiveOutcome::Achieved, String::new(), &alice(), today).is_ok());
    }

    #[test]
    fn the_outcome_is_final_and_recorded_once() {
        let objective =
            given(&[ObjectiveEvent::ObjectiveSet(details("Awareness")), concluded(ObjectiveOutcome::NotAchieved)]);
        assert_eq!(objective.status, ObjectiveStatus::NotAchieved);
        let today = date("2027-04-02");
        let again = objective.conclude(ObjectiveOutcome::Achieved, String::new(), &alice(), today);
        assert_eq!(again.unwrap_err().code, ErrorCode::ObjectiveConcluded);
        let progress = objective.record_progress(progress("2027-04-01", None), &alice(), today);
        assert_eq!(progress.unwrap_err().code, ErrorCode::ObjectiveConcluded);
        assert_eq!(objective.revise(details("Other")).unwrap_err().code, ErrorCode::ObjectiveConcluded);
        assert_eq!(objective.withdraw("late".into()).unwrap_err().code, ErrorCode::ObjectiveConcluded);
    }

    #[test]
    fn a_withdrawn_objective_takes_nothing_more() {
        let objective = given(&[
            ObjectiveEvent::ObjectiveSet(details("Awareness")),
            ObjectiveEvent::ObjectiveWithdrawn(ObjectiveWithdrawn { reason: "merged".into() }),
        ]);
        let today = date("2027-04-02");
        assert_eq!(objective.revise(details("Other")).unwrap_err().code, ErrorCode::ObjectiveWithdrawn);
        let progress = objective.record_progress(progress("2027-04-01", None), &alice(), today);
        assert_eq!(progress.unwrap_err().code, ErrorCode::ObjectiveWithdrawn);
        let outcome = objective.conclude(ObjectiveOutcome::Achieved, String::new(), &alice(), today);
        assert_eq!(outcome.unwrap_err().code, ErrorCode::ObjectiveWithdrawn);
        assert_eq!(objective.withdraw("again".into()).unwrap_err().code, ErrorCode::ObjectiveWithdrawn);
    }
}

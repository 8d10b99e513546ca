//! Training (ISO/IEC 27001 7.2 competence, 7.3 awareness): the course catalog, and the
//! assignments and completions recorded on each person's stream.
//!
//! A completion counts for the course's validity (e.g. 12 months). The validity in force when
//! the completion is recorded is kept with it, so revising a course later does not rewrite how
//! long past completions counted.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::certification::ensure_not_after_today;
use crate::error::{DomainError, ErrorCode};
use crate::people::{Person, PersonEvent};
use crate::Aggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainingTopic {
    /// Security awareness for everyone (7.3); counted by the awareness coverage report.
    #[default]
    Awareness,
    RoleSpecific,
    Technical,
    Privacy,
    Other,
}

impl TrainingTopic {
    pub const NAMES: &'static [&'static str] = &["awareness", "role_specific", "technical", "privacy", "other"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainingCourseStatus {
    #[default]
    Active,
    Retired,
}

impl TrainingCourseStatus {
    pub const NAMES: &'static [&'static str] = &["active", "retired"];
}

/// A course; the same shape defines and revises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingCourseDetails {
    pub title: String,
    pub topic: TrainingTopic,
    /// How many months a completion counts; `None`: it does not expire.
    pub validity_months: Option<u16>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingCourseRetired {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum TrainingCourseEvent {
    TrainingCourseDefined(TrainingCourseDetails),
    TrainingCourseRevised(TrainingCourseDetails),
    TrainingCourseRetired(TrainingCourseRetired),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrainingCourse {
    pub details: Option<TrainingCourseDetails>,
    pub status: TrainingCourseStatus,
    pub retirement: Option<TrainingCourseRetired>,
}

impl TrainingCourse {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    /// A retired course takes no revision, retirement or new assignment.
    pub fn ensure_active(&self) -> Result<(), DomainError> {
        if self.status == TrainingCourseStatus::Retired {
            return Err(DomainError::new(ErrorCode::TrainingCourseRetired, "the training course is retired"));
        }
        Ok(())
    }

    pub fn define(&self, details: TrainingCourseDetails) -> Result<Vec<TrainingCourseEvent>, DomainError> {
        Ok(vec![TrainingCourseEvent::TrainingCourseDefined(details)])
    }

    pub fn revise(&self, details: TrainingCourseDetails) -> Result<Vec<TrainingCourseEvent>, DomainError> {
        self.ensure_active()?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the current course"));
        }
        Ok(vec![TrainingCourseEvent::TrainingCourseRevised(details)])
    }

    pub fn retire(&self, reason: String) -> Result<Vec<TrainingCourseEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![TrainingCourseEvent::TrainingCourseRetired(TrainingCourseRetired { reason })])
    }
}

impl Aggregate for TrainingCourse {
    type Event = TrainingCourseEvent;
    const STREAM_TYPE: &'static str = "training_course";

    fn apply(&mut self, event: &TrainingCourseEvent) {
        match event {
            TrainingCourseEvent::TrainingCourseDefined(details)
            | TrainingCourseEvent::TrainingCourseRevised(details) => {
                self.details = Some(details.clone());
            }
            TrainingCourseEvent::TrainingCourseRetired(retired) => {
                self.retirement = Some(retired.clone());
                self.status = TrainingCourseStatus::Retired;
            }
        }
    }
}

/// A course assigned to a person, due by a date (an event of the person's stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingAssigned {
    pub assignment_id: Uuid,
    pub course_id: Uuid,
    pub due_date: NaiveDate,
}

/// A completed course (an event of the person's stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingCompleted {
    pub course_id: Uuid,
    pub completed_on: NaiveDate,
    /// The sender's id of this completion (e.g. the learning platform's record id); a
    /// completion id already recorded for the person is refused, which makes resending safe.
    pub completion_id: String,
    /// Percent, when the course is scored.
    pub score: Option<u8>,
    /// The course's validity when the completion was recorded.
    pub validity_months: Option<u16>,
}

/// A completion as reported; the validity comes from the course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionReport {
    pub course_id: Uuid,
    pub completed_on: NaiveDate,
    pub completion_id: String,
    pub score: Option<u8>,
}

impl Person {
    /// Assigns `course` (whose id is `assigned.course_id`). An open assignment of the same
    /// course would only duplicate the reminder.
    pub fn assign_training(
        &self,
        assigned: TrainingAssigned,
        course: &TrainingCourse,
    ) -> Result<Vec<PersonEvent>, DomainError> {
        self.ensure_active()?;
        course.ensure_active()?;
        if let Some(open) =
            self.assignments.iter().find(|a| a.assigned.course_id == assigned.course_id && a.fulfilled_by.is_none())
        {
            return Err(DomainError::new(
                ErrorCode::TrainingAlreadyAssigned,
                format!("assignment {} of this course is still open", open.assigned.assignment_id),
            ));
        }
        Ok(vec![PersonEvent::TrainingAssigned(assigned)])
    }

    /// Records a completion. A person who left may still have training they completed while
    /// employed recorded late, but nothing completed after leaving.
    pub fn complete_training(
        &self,
        report: CompletionReport,
        course: &TrainingCourse,
        today: NaiveDate,
    ) -> Result<Vec<PersonEvent>, DomainError> {
        ensure_not_after_today("/completed_on", report.completed_on, today)?;
        if let Some(left_on) = self.left_on.filter(|left_on| report.completed_on > *left_on) {
            return Err(DomainError::new(
                ErrorCode::PersonLeft,
                format!("'{}' left on {left_on}, before the completion date", self.user_name),
            ));
        }
        if self.completions.iter().any(|c| c.completion_id == report.completion_id) {
            return Err(DomainError::new(
                ErrorCode::TrainingCompletionAlreadyRecorded,
                format!("completion '{}' is already recorded for this person", report.completion_id),
            ));
        }
        Ok(vec![PersonEvent::TrainingCompleted(TrainingCompleted {
            course_id: report.course_id,
            completed_on: report.completed_on,
            completion_id: report.completion_id,
            score: report.score,
            validity_months: course.details.as_ref().and_then(|d| d.validity_months),
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::tests::{given, joined};
    use crate::people::PersonLeft;

    fn course(validity_months: Option<u16>) -> TrainingCourse {
        let mut course = TrainingCourse::default();
        course.apply(&TrainingCourseEvent::TrainingCourseDefined(TrainingCourseDetails {
            title: "Security awareness 2026".into(),
            topic: TrainingTopic::Awareness,
            validity_months,
            description: String::new(),
        }));
        course
    }

    fn retired(mut course: TrainingCourse) -> TrainingCourse {
        course.apply(&TrainingCourseEvent::TrainingCourseRetired(TrainingCourseRetired { reason: "replaced".into() }));
        course
    }

    fn date(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    fn assignment(id: u128) -> TrainingAssigned {
        TrainingAssigned { assignment_id: Uuid::from_u128(id), course_id: Uuid::from_u128(100), due_date: date(6, 30) }
    }

    fn report(completion_id: &str, completed_on: NaiveDate) -> CompletionReport {
        CompletionReport {
            course_id: Uuid::from_u128(100),
            completed_on,
            completion_id: completion_id.into(),
            score: None,
        }
    }

    #[test]
    fn a_retired_course_takes_no_revision_retirement_or_assignment() {
        let course = retired(course(Some(12)));
        let details = course.details.clone().unwrap();
        assert_eq!(course.revise(details).unwrap_err().code, ErrorCode::TrainingCourseRetired);
        assert_eq!(course.retire("again".into()).unwrap_err().code, ErrorCode::TrainingCourseRetired);
        let person = given(&[joined()]);
        assert_eq!(person.assign_training(assignment(1), &course).unwrap_err().code, ErrorCode::TrainingCourseRetired);
    }

    #[test]
    fn a_course_revision_must_change_something() {
        let course = course(Some(12));
        let mut details = course.details.clone().unwrap();
        assert_eq!(course.revise(details.clone()).unwrap_err().code, ErrorCode::NothingChanged);
        details.validity_months = Some(24);
        assert!(course.revise(details).is_ok());
    }

    #[test]
    fn a_person_who_left_takes_no_assignment_nor_training_completed_after_leaving() {
        let left = PersonEvent::PersonLeft(PersonLeft { left_on: date(3, 31) });
        let person = given(&[joined(), left]);
        assert_eq!(person.assign_training(assignment(1), &course(Some(12))).unwrap_err().code, ErrorCode::PersonLeft);
        let late = person.complete_training(report("lms-2", date(4, 2)), &course(Some(12)), date(5, 1));
        assert_eq!(late.unwrap_err().code, ErrorCode::PersonLeft);
        // Training done while employed may still be recorded after the person left.
        assert!(person.complete_training(report("lms-1", date(3, 1)), &course(Some(12)), date(5, 1)).is_ok());
    }

    #[test]
    fn an_open_assignment_of_the_same_course_is_not_duplicated_until_completed() {
        let mut person = given(&[joined(), PersonEvent::TrainingAssigned(assignment(1))]);
        let error = person.assign_training(assignment(2), &course(Some(12))).unwrap_err();
        assert_eq!(error.code, ErrorCode::TrainingAlreadyAssigned);
        let events = person.complete_training(report("lms-1", date(5, 1)), &course(Some(12)), date(5, 1)).unwrap();
        events.iter().for_each(|e| person.apply(e));
        assert_eq!(person.assignments[0].fulfilled_by.as_deref(), Some("lms-1"));
        assert!(person.assign_training(assignment(2), &course(Some(12))).is_ok());
    }

    #[test]
    fn a_repeated_completion_id_is_refused() {
        let mut person = given(&[joined()]);
        let events = person.complete_training(report("lms-1", date(5, 1)), &course(Some(12)), date(5, 1)).unwrap();
        assert!(matches!(&events[0], PersonEvent::TrainingCompleted(c) if c.validity_months == Some(12)));
        events.iter().for_each(|e| person.apply(e));
        let again = person.complete_training(report("lms-1", date(5, 1)), &course(Some(12)), date(5, 2));
        assert_eq!(again.unwrap_err().code, ErrorCode::TrainingCompletionAlreadyRecorded);
    }

    #[test]
    fn a_completion_cannot_lie_in_the_future() {
        let person = given(&[joined()]);
        let error = person.complete_training(report("lms-1", date(5, 2)), &course(None), date(5, 1)).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DateInFuture, Some("/completed_on")));
    }
}

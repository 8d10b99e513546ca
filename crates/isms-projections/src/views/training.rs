//! Training (7.2, 7.3) as it is read: the course catalog, a person's assignments and
//! completions, and awareness coverage per department.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use isms_domain::people::{Assignment, Person, PersonStatus};
use isms_domain::training::{TrainingCompleted, TrainingCourse, TrainingCourseStatus, TrainingTopic};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn training_topic_schema() -> utoipa::openapi::schema::Object {
    string_enum(TrainingTopic::NAMES)
}
pub fn training_course_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(TrainingCourseStatus::NAMES)
}

/// A training course of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrainingCourseRecord {
    pub id: Uuid,
    pub title: String,
    #[schema(schema_with = training_topic_schema)]
    pub topic: TrainingTopic,
    /// How many months a completion counts; null: it does not expire.
    pub validity_months: Option<u16>,
    pub description: String,
    #[schema(schema_with = training_course_status_schema)]
    pub status: TrainingCourseStatus,
    pub retirement_reason: Option<String>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for TrainingCourse {
    const NOUN: &'static str = "training course";
    const COLLECTION: &'static str = "training-courses";
    type Record = TrainingCourseRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.training_courses
    }

    fn record(entry: &Entry<Self>, _today: NaiveDate) -> TrainingCourseRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_else(|| isms_domain::training::TrainingCourseDetails {
            title: String::new(),
            topic: TrainingTopic::Other,
            validity_months: None,
            description: String::new(),
        });
        TrainingCourseRecord {
            id: entry.uuid(),
            title: details.title,
            topic: details.topic,
            validity_months: details.validity_months,
            description: details.description,
            status: state.status,
            retirement_reason: state.retirement.as_ref().map(|r| r.reason.clone()),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// A course assigned to a person.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrainingAssignmentView {
    pub assignment_id: Uuid,
    pub course_id: Uuid,
    pub due_date: NaiveDate,
    /// The completion that fulfilled the assignment (a later completion of the same course).
    pub completion_id: Option<String>,
    /// Not completed, past its due date, and the person has not left.
    pub overdue: bool,
}

/// A completed course.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TrainingCompletionView {
    /// The sender's id of the completion.
    pub completion_id: String,
    pub course_id: Uuid,
    pub completed_on: NaiveDate,
    pub score: Option<u8>,
    /// The course's validity when the completion was recorded.
    pub validity_months: Option<u16>,
    /// The day the completion stops counting; null when it does not expire.
    pub expires_on: Option<NaiveDate>,
    /// Counts on the day read (completed and not yet expired).
    pub current: bool,
}

fn expires_on(completion: &TrainingCompleted) -> Option<NaiveDate> {
    let months = completion.validity_months?;
    completion.completed_on.checked_add_months(Months::new(months.into()))
}

/// Whether a completion counts on `today`.
pub fn completion_current(completion: &TrainingCompleted, today: NaiveDate) -> bool {
    completion.completed_on <= today && expires_on(completion).is_none_or(|expires| today < expires)
}

/// Whether an assignment is overdue on `today` for a person with `status`.
pub fn assignment_overdue(assignment: &Assignment, status: PersonStatus, today: NaiveDate) -> bool {
    status == PersonStatus::Active && assignment.fulfilled_by.is_none() && assignment.assigned.due_date < today
}

pub fn assignment_views(person: &Person, today: NaiveDate) -> Vec<TrainingAssignmentView> {
    person
        .assignments
        .iter()
        .map(|a| TrainingAssignmentView {
            assignment_id: a.assigned.assignment_id,
            course_id: a.assigned.course_id,
            due_date: a.assigned.due_date,
            completion_id: a.fulfilled_by.clone(),
            overdue: assignment_overdue(a, person.status, today),
        })
        .collect()
}

pub fn completion_views(person: &Person, today: NaiveDate) -> Vec<TrainingCompletionView> {
    person
        .completions
        .iter()
        .map(|c| TrainingCompletionView {
            completion_id: c.completion_id.clone(),
            course_id: c.course_id,
            completed_on: c.completed_on,
            score: c.score,
            validity_months: c.validity_months,
            expires_on: expires_on(c),
            current: completion_current(c, today),
        })
        .collect()
}

/// Awareness counts of a group of people (7.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AwarenessCounts {
    /// People who have not left.
    pub active_people: usize,
    /// Active people holding a current completion of an `awareness` course.
    pub with_current_awareness: usize,
    /// `with_current_awareness` of `active_people`, in percent with one decimal; null without
    /// active people.
    pub coverage_percent: Option<f64>,
    /// Overdue assignments of `awareness` courses held by active people.
    pub overdue_assignments: usize,
}

impl AwarenessCounts {
    fn add(&mut self, aware: bool, overdue: usize) {
        self.active_people += 1;
        self.with_current_awareness += usize::from(aware);
        self.overdue_assignments += overdue;
        self.coverage_percent =
            Some((self.with_current_awareness as f64 * 1000.0 / self.active_people as f64).round() / 10.0);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DepartmentAwareness {
    pub department: String,
    #[serde(flatten)]
    pub counts: AwarenessCounts,
}

/// Awareness coverage per department (7.3) on a day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AwarenessReport {
    /// The day completions and due dates were judged for.
    pub reported_for: NaiveDate,
    /// Departments with active people, by name.
    pub departments: Vec<DepartmentAwareness>,
    pub totals: AwarenessCounts,
}

impl Registers {
    fn is_awareness_course(&self, course_id: Uuid) -> bool {
        self.training_courses
            .get(&course_id)
            .and_then(|c| c.state.details.as_ref())
            .is_some_and(|d| d.topic == TrainingTopic::Awareness)
    }

    /// Who among the active people, per department, holds a current awareness completion.
    pub fn awareness_report(&self, today: NaiveDate) -> AwarenessReport {
        let mut departments: BTreeMap<String, AwarenessCounts> = BTreeMap::new();
        let mut totals = AwarenessCounts::default();
        for person in self.people.values().map(|entry| &entry.state) {
            let Some(profile) = person.profile.as_ref().filter(|_| person.status == PersonStatus::Active) else {
                continue;
            };
            let aware = person
                .completions
                .iter()
                .any(|c| self.is_awareness_course(c.course_id) && completion_current(c, today));
            let overdue = person
                .assignments
                .iter()
                .filter(|a| {
                    self.is_awareness_course(a.assigned.course_id) && assignment_overdue(a, person.status, today)
                })
                .count();
            departments.entry(profile.department.clone()).or_default().add(aware, overdue);
            totals.add(aware, overdue);
        }
        AwarenessReport {
            reported_for: today,
            departments: departments
                .into_iter()
                .map(|(department, counts)| DepartmentAwareness { department, counts })
                .collect(),
            totals,
        }
    }
}

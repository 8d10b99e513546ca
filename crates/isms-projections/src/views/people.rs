//! The people register (7.2, 7.3) as it is read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::people::{Person, PersonStatus};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access_removal::{access_removal_view, AccessRemovalView};
use super::string_enum;
use super::training::{assignment_views, completion_views, TrainingAssignmentView, TrainingCompletionView};
use crate::{Entry, Register, Registers};

pub fn person_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(PersonStatus::NAMES)
}

/// A person in the ISMS, with their training.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonRecord {
    pub id: Uuid,
    pub user_name: String,
    /// The person's id in the HR system.
    pub external_id: Option<String>,
    pub display_name: String,
    pub email: Option<String>,
    pub department: String,
    pub role: String,
    pub manager_id: Option<Uuid>,
    #[schema(schema_with = person_status_schema)]
    pub status: PersonStatus,
    pub left_on: Option<NaiveDate>,
    pub training_assignments: Vec<TrainingAssignmentView>,
    pub training_completions: Vec<TrainingCompletionView>,
    /// Any training assignment is overdue.
    pub overdue_training: bool,
    /// The access-removal checklist of the latest departure (A.5.18, A.6.5); null before any.
    pub access_removal: Option<AccessRemovalView>,
    /// The checklist is past its due date with an item open.
    pub access_removal_overdue: bool,
    /// When the identity provider deleted the user (SCIM); the person stays in the register.
    pub deprovisioned_on: Option<NaiveDate>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Person {
    const NOUN: &'static str = "person";
    const COLLECTION: &'static str = "people";
    type Record = PersonRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.people
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> PersonRecord {
        let state = &entry.state;
        let profile = state.profile.clone().unwrap_or_else(|| isms_domain::people::PersonProfile {
            display_name: String::new(),
            email: None,
            department: String::new(),
            role: String::new(),
            manager_id: None,
        });
        let training_assignments = assignment_views(state, today);
        let access_removal = access_removal_view(state, today);
        PersonRecord {
            id: entry.uuid(),
            user_name: state.user_name.clone(),
            external_id: state.external_id.clone(),
            display_name: profile.display_name,
            email: profile.email,
            department: profile.department,
            role: profile.role,
            manager_id: profile.manager_id,
            status: state.status,
            left_on: state.left_on,
            overdue_training: training_assignments.iter().any(|a| a.overdue),
            training_assignments,
            training_completions: completion_views(state, today),
            access_removal_overdue: access_removal.as_ref().is_some_and(|c| c.overdue),
            access_removal,
            deprovisioned_on: state.deprovisioned_on,
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

impl Registers {
    /// The person who goes by `user_name` (case-insensitively) and has not left.
    pub fn active_person_named(&self, user_name: &str) -> Option<Uuid> {
        self.people
            .iter()
            .find(|(_, entry)| {
                entry.state.exists()
                    && entry.state.status == PersonStatus::Active
                    && entry.state.user_name.to_lowercase() == user_name.to_lowercase()
            })
            .map(|(id, _)| *id)
    }

    /// For the readiness report: people with an overdue training assignment on `today`.
    pub fn people_with_overdue_training(&self, today: NaiveDate) -> Vec<PersonRecord> {
        self.records_where::<Person>(today, |record| record.overdue_training)
    }

    /// The live records of register `R`, as read on `today`, that `keep` accepts.
    pub(crate) fn records_where<R: Register>(
        &self,
        today: NaiveDate,
        keep: impl Fn(&R::Record) -> bool,
    ) -> Vec<R::Record> {
        R::register(self)
            .values()
            .filter(|entry| R::exists(&entry.state))
            .map(|entry| R::record(entry, today))
            .filter(|record| keep(record))
            .collect()
    }
}

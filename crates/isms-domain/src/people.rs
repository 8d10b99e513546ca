//! People in the ISMS (ISO/IEC 27001 7.2 competence, 7.3 awareness): who works here, where,
//! in which role, and (in [`crate::training`]) which training they were assigned and completed.
//!
//! The events are the joiner / mover / leaver facts an HR system knows, named so that a SCIM
//! integration can emit exactly them: `PersonJoined`, `PersonChanged`, `PersonLeft`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access_removal::{
    AccessRemovalChecklist, AccessRemovalItemCompleted, AccessRemovalOpened, AccessRemovalPlan,
};
use crate::error::{DomainError, ErrorCode};
use crate::personal::ERASED;
use crate::provisioning::{PersonDeprovisioned, PersonRejoined};
use crate::training::{TrainingAssigned, TrainingCompleted};
use crate::Aggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    #[default]
    Active,
    Left,
}

impl PersonStatus {
    pub const NAMES: &'static [&'static str] = &["active", "left"];
}

/// What a mover changes: the whole profile is restated, so the history shows every version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonProfile {
    pub display_name: String,
    pub email: Option<String>,
    pub department: String,
    pub role: String,
    /// Another person of this register.
    pub manager_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonJoined {
    /// Unique (case-insensitively, as SCIM's `userName`) among the people who have not left.
    pub user_name: String,
    /// The person's id in the HR system that feeds this register.
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub profile: PersonProfile,
}

/// The fields of people events (top-level keys of their `data`) that identify the person: the
/// command path seals them with the person's key, and erasure makes them read `[erased]`. A new
/// identifying field is one more name here (and one more line in [`Person::forget`]).
pub const PERSONAL_FIELDS: &[&str] = &["user_name", "external_id", "display_name", "email"];

/// The event type of [`PersonEvent::PersonErased`].
pub const PERSON_ERASED: &str = "PersonErased";

/// The person's personal data was erased: their key is destroyed, so every sealed field of
/// their events reads `[erased]` from now on, in every state read before or after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonErased {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonLeft {
    pub left_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum PersonEvent {
    PersonJoined(PersonJoined),
    PersonChanged(PersonProfile),
    PersonLeft(PersonLeft),
    TrainingAssigned(TrainingAssigned),
    TrainingCompleted(TrainingCompleted),
    /// Opened with `PersonLeft`, in the same append (A.5.18, A.6.5, A.5.11).
    AccessRemovalOpened(AccessRemovalOpened),
    AccessRemovalItemCompleted(AccessRemovalItemCompleted),
    /// A leaver re-activated by the identity provider (a rehire keeps the person's history).
    PersonRejoined(PersonRejoined),
    /// Removed from the identity provider's directory (SCIM DELETE): the record stays in the
    /// register, the provisioning API no longer serves it.
    PersonDeprovisioned(PersonDeprovisioned),
    PersonErased(PersonErased),
}

/// A training assignment and the completion that fulfilled it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub assigned: TrainingAssigned,
    pub fulfilled_by: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Person {
    pub user_name: String,
    pub external_id: Option<String>,
    pub profile: Option<PersonProfile>,
    pub status: PersonStatus,
    pub left_on: Option<NaiveDate>,
    pub assignments: Vec<Assignment>,
    pub completions: Vec<TrainingCompleted>,
    /// The access-removal checklist of the latest departure.
    pub access_removal: Option<AccessRemovalChecklist>,
    pub deprovisioned_on: Option<NaiveDate>,
    pub erased: bool,
}

impl Person {
    pub fn exists(&self) -> bool {
        self.profile.is_some()
    }

    pub(crate) fn ensure_active(&self) -> Result<(), DomainError> {
        match self.left_on {
            Some(left_on) => {
                Err(DomainError::new(ErrorCode::PersonLeft, format!("'{}' left on {left_on}", self.user_name)))
            }
            None => Ok(()),
        }
    }

    /// `holder` is the person who already goes by this user name (among those who have not
    /// left), looked up by the caller in the live register.
    pub fn join(&self, joined: PersonJoined, holder: Option<Uuid>) -> Result<Vec<PersonEvent>, DomainError> {
        if let Some(holder) = holder {
            return Err(DomainError::new(
                ErrorCode::PersonUserNameTaken,
                format!("user name '{}' belongs to person {holder}, who has not left", joined.user_name),
            ));
        }
        Ok(vec![PersonEvent::PersonJoined(joined)])
    }

    /// A mover: department, role, manager (or name and email) change. `own_id` keeps a person
    /// from managing themselves.
    pub fn change(&self, own_id: Uuid, profile: PersonProfile) -> Result<Vec<PersonEvent>, DomainError> {
        self.ensure_active()?;
        if profile.manager_id == Some(own_id) {
            return Err(DomainError::at(
                ErrorCode::ValidationFailed,
                "/manager_id",
                "a person cannot manage themselves",
            ));
        }
        if self.profile.as_ref() == Some(&profile) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the change is identical to the current profile"));
        }
        Ok(vec![PersonEvent::PersonChanged(profile)])
    }

    /// A leaver; the access-removal checklist `plan` opens in the same append, so no
    /// departure is ever recorded without one.
    pub fn leave(&self, left_on: NaiveDate, plan: AccessRemovalPlan) -> Result<Vec<PersonEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![PersonEvent::PersonLeft(PersonLeft { left_on }), PersonEvent::AccessRemovalOpened(plan.open())])
    }

    /// Erases the person's personal data. Only a leaver: the register drives access reviews
    /// and training, and an active account nobody can identify would defeat both.
    pub fn erase(&self) -> Result<Vec<PersonEvent>, DomainError> {
        if self.erased {
            return Err(DomainError::new(
                ErrorCode::PersonAlreadyErased,
                "the person's personal data is already erased",
            ));
        }
        if self.left_on.is_none() {
            return Err(DomainError::new(
                ErrorCode::PersonNotLeft,
                "only a person who left can be erased: record the departure first",
            ));
        }
        Ok(vec![PersonEvent::PersonErased(PersonErased {})])
    }

    /// Overwrites every personal field of the state (see [`PERSONAL_FIELDS`]), so nothing
    /// folded before the erasure survives in a projection.
    fn forget(&mut self) {
        self.erased = true;
        self.user_name = ERASED.into();
        self.external_id = self.external_id.as_ref().map(|_| ERASED.into());
        if let Some(profile) = &mut self.profile {
            profile.display_name = ERASED.into();
            profile.email = profile.email.as_ref().map(|_| ERASED.into());
        }
    }
}

impl Aggregate for Person {
    type Event = PersonEvent;
    const STREAM_TYPE: &'static str = "person";

    fn apply(&mut self, event: &PersonEvent) {
        match event {
            PersonEvent::PersonJoined(joined) => {
                self.user_name = joined.user_name.clone();
                self.external_id = joined.external_id.clone();
                self.profile = Some(joined.profile.clone());
            }
            PersonEvent::PersonChanged(profile) => self.profile = Some(profile.clone()),
            PersonEvent::PersonLeft(left) => {
                self.status = PersonStatus::Left;
                self.left_on = Some(left.left_on);
            }
            PersonEvent::TrainingAssigned(assigned) => {
                self.assignments.push(Assignment { assigned: assigned.clone(), fulfilled_by: None });
            }
            PersonEvent::TrainingCompleted(completed) => {
                // A completion fulfils every open assignment of its course: a yearly
                // re-assignment is met by the next completion.
                for assignment in &mut self.assignments {
                    if assignment.assigned.course_id == completed.course_id && assignment.fulfilled_by.is_none() {
                        assignment.fulfilled_by = Some(completed.completion_id.clone());
                    }
                }
                self.completions.push(completed.clone());
            }
            PersonEvent::AccessRemovalOpened(opened) => {
                self.access_removal = Some(AccessRemovalChecklist { opened: opened.clone(), completed: Vec::new() });
            }
            PersonEvent::AccessRemovalItemCompleted(completed) => {
                if let Some(checklist) = &mut self.access_removal {
                    checklist.completed.push(completed.clone());
                }
            }
            PersonEvent::PersonRejoined(_) => {
                self.status = PersonStatus::Active;
                self.left_on = None;
            }
            PersonEvent::PersonDeprovisioned(deprovisioned) => {
                self.deprovisioned_on = Some(deprovisioned.deprovisioned_on);
            }
            PersonEvent::PersonErased(_) => self.forget(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn profile(department: &str) -> PersonProfile {
        PersonProfile {
            display_name: "Hanako Sato".into(),
            email: Some("hanako@example.com".into()),
            department: department.into(),
            role: "engineer".into(),
            manager_id: None,
        }
    }

    pub(crate) fn joined() -> PersonEvent {
        PersonEvent::PersonJoined(PersonJoined {
            user_name: "hanako".into(),
            external_id: Some("HR-1".into()),
            profile: profile("development"),
        })
    }

    pub(crate) fn given(events: &[PersonEvent]) -> Person {
        let mut person = Person::default();
        events.iter().for_each(|e| person.apply(e));
        person
    }

    fn left() -> PersonEvent {
        PersonEvent::PersonLeft(PersonLeft { left_on: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap() })
    }

    #[test]
    fn a_user_name_held_by_someone_who_has_not_left_is_refused() {
        let PersonEvent::PersonJoined(joining) = joined() else { unreachable!() };
        let holder = Uuid::from_u128(1);
        assert_eq!(
            Person::default().join(joining.clone(), Some(holder)).unwrap_err().code,
            ErrorCode::PersonUserNameTaken
        );
        assert_eq!(Person::default().join(joining.clone(), None).unwrap(), vec![PersonEvent::PersonJoined(joining)]);
    }

    #[test]
    fn a_person_who_left_takes_no_change_and_cannot_leave_twice() {
        let person = given(&[joined(), left()]);
        assert_eq!(person.change(Uuid::from_u128(9), profile("sales")).unwrap_err().code, ErrorCode::PersonLeft);
        let plan = crate::access_removal::tests::plan(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        assert_eq!(
            person.leave(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(), plan).unwrap_err().code,
            ErrorCode::PersonLeft
        );
        assert_eq!(person.status, PersonStatus::Left);
    }

    #[test]
    fn a_mover_changes_something_and_is_not_their_own_manager() {
        let own = Uuid::from_u128(9);
        let person = given(&[joined()]);
        assert_eq!(person.change(own, profile("development")).unwrap_err().code, ErrorCode::NothingChanged);
        let mut own_manager = profile("sales");
        own_manager.manager_id = Some(own);
        let error = person.change(own, own_manager).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::ValidationFailed, Some("/manager_id")));
        let events = person.change(own, profile("sales")).unwrap();
        let mut moved = given(&[joined()]);
        events.iter().for_each(|e| moved.apply(e));
        assert_eq!(moved.profile.unwrap().department, "sales");
    }

    #[test]
    fn only_a_leaver_is_erased_and_only_once() {
        assert_eq!(given(&[joined()]).erase().unwrap_err().code, ErrorCode::PersonNotLeft);
        let leaver = given(&[joined(), left()]);
        let events = leaver.erase().unwrap();
        assert_eq!(events, vec![PersonEvent::PersonErased(PersonErased {})]);
        let erased = given(&[joined(), left(), events[0].clone()]);
        assert_eq!(erased.erase().unwrap_err().code, ErrorCode::PersonAlreadyErased);
    }

    #[test]
    fn erasure_overwrites_every_personal_field_of_the_state() {
        let joined_json = serde_json::to_value(joined()).unwrap();
        let erased = given(&[joined(), left(), PersonEvent::PersonErased(PersonErased {})]);
        let state = serde_json::to_string(&erased).unwrap();
        for field in PERSONAL_FIELDS {
            let value = joined_json["data"][field].as_str().unwrap();
            assert!(!state.contains(value), "{field} survives erasure in {state}");
        }
        assert_eq!(erased.user_name, ERASED);
        assert_eq!(erased.profile.unwrap().display_name, ERASED);
        assert_eq!(
            serde_json::to_value(PersonEvent::PersonErased(PersonErased {})).unwrap()["event_type"],
            PERSON_ERASED
        );
    }

    #[test]
    fn joined_events_are_flat_as_an_hr_system_sends_them() {
        let json = serde_json::to_value(joined()).unwrap();
        assert_eq!(json["event_type"], "PersonJoined");
        assert_eq!(json["data"]["user_name"], "hanako");
        assert_eq!(json["data"]["department"], "development");
        let back: PersonEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, joined());
    }
}

//! Provisioning by an identity provider (SCIM 2.0, RFC 7643/7644): the provider states the
//! whole desired state of a user (profile and `active`), and the ledger records the joiner /
//! mover / leaver facts that lead there.
//!
//! Two facts exist only because a directory drives the register:
//! - `PersonRejoined`: a leaver re-activated (`active: true` again). A rehire keeps the person
//!   and their history (training, the earlier checklist) rather than starting a second record
//!   under the same id, which is what the provider's id of the user demands.
//! - `PersonDeprovisioned`: the user deleted from the directory. The person stays in the
//!   register (an ISMS keeps leavers: A.6.5 duties outlast employment); only the provisioning
//!   API stops serving them, as RFC 7644 3.6 asks after a DELETE.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access_removal::AccessRemovalPlan;
use crate::error::{DomainError, ErrorCode};
use crate::people::{Person, PersonEvent, PersonProfile};
use crate::Aggregate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRejoined {
    pub rejoined_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDeprovisioned {
    pub deprovisioned_on: NaiveDate,
}

/// What the identity provider says the person now is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredPerson {
    pub profile: PersonProfile,
    pub active: bool,
}

impl Person {
    fn ensure_provisioned(&self) -> Result<(), DomainError> {
        match self.deprovisioned_on {
            Some(on) => Err(DomainError::new(
                ErrorCode::PersonDeprovisioned,
                format!("'{}' was removed from the directory on {on}", self.user_name),
            )),
            None => Ok(()),
        }
    }

    /// Re-activates a leaver. `holder` is whoever took the user name meanwhile (and has not left).
    pub fn rejoin(&self, rejoined_on: NaiveDate, holder: Option<Uuid>) -> Result<Vec<PersonEvent>, DomainError> {
        self.ensure_provisioned()?;
        if self.left_on.is_none() {
            return Err(DomainError::new(ErrorCode::PersonNotLeft, format!("'{}' has not left", self.user_name)));
        }
        if let Some(holder) = holder {
            return Err(DomainError::new(
                ErrorCode::PersonUserNameTaken,
                format!("user name '{}' now belongs to person {holder}, who has not left", self.user_name),
            ));
        }
        Ok(vec![PersonEvent::PersonRejoined(PersonRejoined { rejoined_on })])
    }

    /// The events that bring the person to `desired`, in the order they happen: a re-activation
    /// first (a leaver takes no change), then the mover, then the departure with its checklist.
    /// A leaver who stays inactive takes no profile change: the provider's later edits of a
    /// deactivated user are not facts of the ISMS. `NothingChanged` when already there.
    pub fn reconcile(
        &self,
        own_id: Uuid,
        desired: DesiredPerson,
        today: NaiveDate,
        plan: AccessRemovalPlan,
        holder: Option<Uuid>,
    ) -> Result<Vec<PersonEvent>, DomainError> {
        self.ensure_provisioned()?;
        let mut state = self.clone();
        let mut events = Vec::new();
        let mut record = |state: &mut Person, new: Vec<PersonEvent>| {
            new.iter().for_each(|event| state.apply(event));
            events.extend(new);
        };
        if desired.active && state.left_on.is_some() {
            let rejoined = state.rejoin(today, holder)?;
            record(&mut state, rejoined);
        }
        if state.left_on.is_none() && state.profile.as_ref() != Some(&desired.profile) {
            let changed = state.change(own_id, desired.profile)?;
            record(&mut state, changed);
        }
        if !desired.active && state.left_on.is_none() {
            let left = state.leave(today, plan)?;
            record(&mut state, left);
        }
        if events.is_empty() {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the person is already in the state asked for"));
        }
        Ok(events)
    }

    /// Removes the person from the directory; a person still active leaves first (with the
    /// checklist). A second removal is refused, so the caller can answer it as already done.
    pub fn deprovision(&self, today: NaiveDate, plan: AccessRemovalPlan) -> Result<Vec<PersonEvent>, DomainError> {
        self.ensure_provisioned()?;
        let mut events = if self.left_on.is_none() { self.leave(today, plan)? } else { Vec::new() };
        events.push(PersonEvent::PersonDeprovisioned(PersonDeprovisioned { deprovisioned_on: today }));
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_removal::tests::plan;
    use crate::people::tests::{given, joined, profile};
    use crate::people::PersonStatus;

    fn date(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    fn event_types(events: &[PersonEvent]) -> Vec<String> {
        events.iter().map(|e| serde_json::to_value(e).unwrap()["event_type"].as_str().unwrap().to_owned()).collect()
    }

    fn apply(person: &mut Person, events: &[PersonEvent]) {
        events.iter().for_each(|e| person.apply(e));
    }

    fn desired(department: &str, active: bool) -> DesiredPerson {
        DesiredPerson { profile: profile(department), active }
    }

    #[test]
    fn reconciling_records_mover_then_leaver_and_nothing_when_already_there() {
        let own = Uuid::from_u128(9);
        let mut person = given(&[joined()]);
        let same = person.reconcile(own, desired("development", true), date(5, 1), plan(date(5, 1)), None);
        assert_eq!(same.unwrap_err().code, ErrorCode::NothingChanged);
        let events = person.reconcile(own, desired("sales", false), date(5, 1), plan(date(5, 1)), None).unwrap();
        assert_eq!(event_types(&events), ["PersonChanged", "PersonLeft", "AccessRemovalOpened"]);
        apply(&mut person, &events);
        // A deactivated user edited in the directory stays as they left.
        let edited = person.reconcile(own, desired("marketing", false), date(5, 2), plan(date(5, 2)), None);
        assert_eq!(edited.unwrap_err().code, ErrorCode::NothingChanged);
    }

    #[test]
    fn reactivation_rejoins_a_leaver_unless_the_user_name_was_taken() {
        let own = Uuid::from_u128(9);
        let mut person = given(&[joined()]);
        let left = person.leave(date(3, 31), plan(date(3, 31))).unwrap();
        apply(&mut person, &left);
        let taken = person.reconcile(own, desired("development", true), date(5, 1), plan(date(5, 1)), Some(own));
        assert_eq!(taken.unwrap_err().code, ErrorCode::PersonUserNameTaken);
        let events = person.reconcile(own, desired("sales", true), date(5, 1), plan(date(5, 1)), None).unwrap();
        assert_eq!(event_types(&events), ["PersonRejoined", "PersonChanged"]);
        apply(&mut person, &events);
        assert_eq!((person.status, person.left_on), (PersonStatus::Active, None));
        assert_eq!(person.rejoin(date(5, 2), None).unwrap_err().code, ErrorCode::PersonNotLeft);
    }

    #[test]
    fn deprovisioning_leaves_first_once_and_ends_provisioning() {
        let own = Uuid::from_u128(9);
        let mut person = given(&[joined()]);
        let events = person.deprovision(date(5, 1), plan(date(5, 1))).unwrap();
        assert_eq!(event_types(&events), ["PersonLeft", "AccessRemovalOpened", "PersonDeprovisioned"]);
        apply(&mut person, &events);
        assert_eq!(person.deprovision(date(5, 2), plan(date(5, 2))).unwrap_err().code, ErrorCode::PersonDeprovisioned);
        let revived = person.reconcile(own, desired("development", true), date(5, 2), plan(date(5, 2)), None);
        assert_eq!(revived.unwrap_err().code, ErrorCode::PersonDeprovisioned);

        let mut left = given(&[joined()]);
        let leaving = left.leave(date(3, 31), plan(date(3, 31))).unwrap();
        apply(&mut left, &leaving);
        let events = left.deprovision(date(5, 1), plan(date(5, 1))).unwrap();
        assert_eq!(event_types(&events), ["PersonDeprovisioned"], "a leaver does not leave twice");
    }
}

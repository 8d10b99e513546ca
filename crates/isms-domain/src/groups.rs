//! Directory groups pushed by an identity provider (SCIM 2.0 `Groups`): who belongs to which
//! team or role group, as evidence for access reviews (A.5.15, A.5.18). Members are people of
//! the register. A group is its own stream, so its membership history reads like any record's.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreated {
    /// Unique (case-insensitively) among the groups not deleted: providers match groups by it.
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRenamed {
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembers {
    pub person_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDeleted {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum GroupEvent {
    GroupCreated(GroupCreated),
    GroupRenamed(GroupRenamed),
    GroupMembersAdded(GroupMembers),
    GroupMembersRemoved(GroupMembers),
    GroupDeleted(GroupDeleted),
}

/// One change a provider asks for; a SCIM PATCH carries several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Rename(String),
    AddMembers(Vec<Uuid>),
    RemoveMembers(Vec<Uuid>),
    /// The whole member list restated (PUT, or PATCH `replace` of `members`).
    ReplaceMembers(Vec<Uuid>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Group {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: BTreeSet<Uuid>,
    pub created: bool,
    pub deleted: bool,
}

impl Group {
    /// Created and not deleted.
    pub fn exists(&self) -> bool {
        self.created && !self.deleted
    }

    fn ensure_not_deleted(&self) -> Result<(), DomainError> {
        if self.deleted {
            return Err(DomainError::new(
                ErrorCode::GroupDeleted,
                format!("group '{}' was deleted", self.display_name),
            ));
        }
        Ok(())
    }

    fn ensure_name_free(name: &str, holder: Option<Uuid>) -> Result<(), DomainError> {
        match holder {
            Some(holder) => Err(DomainError::new(
                ErrorCode::GroupNameTaken,
                format!("group name '{name}' belongs to group {holder}"),
            )),
            None => Ok(()),
        }
    }

    /// `holder` is the group that already goes by this name, looked up by the caller.
    pub fn create(&self, created: GroupCreated, holder: Option<Uuid>) -> Result<Vec<GroupEvent>, DomainError> {
        Self::ensure_name_free(&created.display_name, holder)?;
        Ok(vec![GroupEvent::GroupCreated(created)])
    }

    /// The events of `changes` that change something, in order; `NothingChanged` when none does.
    /// `holder` is the group holding the new name of a rename, if any.
    pub fn change(&self, changes: Vec<GroupChange>, holder: Option<Uuid>) -> Result<Vec<GroupEvent>, DomainError> {
        self.ensure_not_deleted()?;
        let mut state = self.clone();
        let mut events = Vec::new();
        for change in changes {
            let event = match change {
                GroupChange::Rename(name) if name != state.display_name => {
                    Self::ensure_name_free(&name, holder)?;
                    Some(GroupEvent::GroupRenamed(GroupRenamed { display_name: name }))
                }
                GroupChange::Rename(_) => None,
                GroupChange::AddMembers(ids) => state.newcomers(ids).map(GroupEvent::GroupMembersAdded),
                GroupChange::RemoveMembers(ids) => state.current(ids).map(GroupEvent::GroupMembersRemoved),
                GroupChange::ReplaceMembers(ids) => {
                    let wanted: BTreeSet<Uuid> = ids.iter().copied().collect();
                    let gone: Vec<Uuid> = state.members.difference(&wanted).copied().collect();
                    if let Some(removed) = state.current(gone) {
                        let removed = GroupEvent::GroupMembersRemoved(removed);
                        state.apply(&removed);
                        events.push(removed);
                    }
                    state.newcomers(ids).map(GroupEvent::GroupMembersAdded)
                }
            };
            if let Some(event) = event {
                state.apply(&event);
                events.push(event);
            }
        }
        if events.is_empty() {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the group is already as asked"));
        }
        Ok(events)
    }

    /// The ids of `ids` not yet members (each once), if any.
    fn newcomers(&self, ids: Vec<Uuid>) -> Option<GroupMembers> {
        let mut seen = BTreeSet::new();
        let person_ids: Vec<Uuid> =
            ids.into_iter().filter(|id| !self.members.contains(id) && seen.insert(*id)).collect();
        (!person_ids.is_empty()).then_some(GroupMembers { person_ids })
    }

    /// The ids of `ids` that are members (each once), if any.
    fn current(&self, ids: Vec<Uuid>) -> Option<GroupMembers> {
        let mut seen = BTreeSet::new();
        let person_ids: Vec<Uuid> =
            ids.into_iter().filter(|id| self.members.contains(id) && seen.insert(*id)).collect();
        (!person_ids.is_empty()).then_some(GroupMembers { person_ids })
    }

    pub fn delete(&self) -> Result<Vec<GroupEvent>, DomainError> {
        self.ensure_not_deleted()?;
        Ok(vec![GroupEvent::GroupDeleted(GroupDeleted {})])
    }
}

/// Membership facts are recorded as the provider pushes them: no business time of their own.
impl crate::effective::EffectiveTime for GroupEvent {}

impl Aggregate for Group {
    type Event = GroupEvent;
    const STREAM_TYPE: &'static str = "group";

    fn apply(&mut self, event: &GroupEvent) {
        match event {
            GroupEvent::GroupCreated(created) => {
                self.created = true;
                self.display_name = created.display_name.clone();
                self.external_id = created.external_id.clone();
                self.members = created.members.iter().copied().collect();
            }
            GroupEvent::GroupRenamed(renamed) => self.display_name = renamed.display_name.clone(),
            GroupEvent::GroupMembersAdded(added) => self.members.extend(added.person_ids.iter().copied()),
            GroupEvent::GroupMembersRemoved(removed) => {
                removed.person_ids.iter().for_each(|id| {
                    self.members.remove(id);
                });
            }
            GroupEvent::GroupDeleted(_) => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engineers() -> Group {
        let mut group = Group::default();
        group.apply(&GroupEvent::GroupCreated(GroupCreated {
            display_name: "Engineering".into(),
            external_id: None,
            members: vec![Uuid::from_u128(1)],
        }));
        group
    }

    #[test]
    fn a_group_name_held_by_another_group_is_refused() {
        let created = GroupCreated { display_name: "Engineering".into(), external_id: None, members: vec![] };
        let error = Group::default().create(created, Some(Uuid::from_u128(5))).unwrap_err();
        assert_eq!(error.code, ErrorCode::GroupNameTaken);
        let rename = engineers().change(vec![GroupChange::Rename("Sales".into())], Some(Uuid::from_u128(5)));
        assert_eq!(rename.unwrap_err().code, ErrorCode::GroupNameTaken);
    }

    #[test]
    fn member_changes_record_only_what_changes() {
        let group = engineers();
        let again = group.change(vec![GroupChange::AddMembers(vec![Uuid::from_u128(1)])], None);
        assert_eq!(again.unwrap_err().code, ErrorCode::NothingChanged);
        let events = group
            .change(
                vec![
                    GroupChange::AddMembers(vec![Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(2)]),
                    GroupChange::RemoveMembers(vec![Uuid::from_u128(1), Uuid::from_u128(3)]),
                ],
                None,
            )
            .unwrap();
        assert_eq!(
            events,
            [
                GroupEvent::GroupMembersAdded(GroupMembers { person_ids: vec![Uuid::from_u128(2)] }),
                GroupEvent::GroupMembersRemoved(GroupMembers { person_ids: vec![Uuid::from_u128(1)] }),
            ]
        );
        let replaced = group.change(vec![GroupChange::ReplaceMembers(vec![Uuid::from_u128(4)])], None).unwrap();
        assert_eq!(replaced.len(), 2);
    }

    #[test]
    fn a_deleted_group_takes_no_change_nor_second_deletion() {
        let mut group = engineers();
        group.apply(&group.delete().unwrap()[0]);
        assert!(!group.exists());
        assert_eq!(group.delete().unwrap_err().code, ErrorCode::GroupDeleted);
        let change = group.change(vec![GroupChange::Rename("x".into())], None);
        assert_eq!(change.unwrap_err().code, ErrorCode::GroupDeleted);
    }
}

//! The access-removal checklist of a leaver (ISO/IEC 27001:2022 A.5.18 access rights, A.6.5
//! responsibilities after termination, A.5.11 return of assets): what must be done after a
//! person leaves, by when, and who did each item when.
//!
//! The checklist opens in the same append as `PersonLeft`, so a departure is never recorded
//! without one, and it lives on the person's stream: the person's history shows the departure
//! and its follow-up together. `overdue` is derived when read, never stored.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::people::{Person, PersonEvent};

/// What one item of the checklist asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRemovalItemKind {
    /// Accounts in every system disabled (A.5.18).
    AccountsDisabled,
    /// Access rights, group memberships and privileged access removed (A.5.18, A.8.2).
    AccessRightsRemoved,
    /// One asset the person owns returned or handed over to a new owner (A.5.11).
    AssetReturned,
    /// The person reminded of the confidentiality duties that outlast employment (A.6.5, A.6.6).
    ConfidentialityReminded,
}

impl AccessRemovalItemKind {
    pub const NAMES: &'static [&'static str] =
        &["accounts_disabled", "access_rights_removed", "asset_returned", "confidentiality_reminded"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRemovalItem {
    pub item_id: Uuid,
    pub kind: AccessRemovalItemKind,
    /// For `asset_returned`: the asset of the inventory.
    pub asset_id: Option<Uuid>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRemovalOpened {
    /// The leave date plus the tenant's allowance (configuration `access_removal.due_days`).
    pub due_date: NaiveDate,
    pub items: Vec<AccessRemovalItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRemovalItemCompleted {
    pub item_id: Uuid,
    /// The `sub` of whoever confirmed the item.
    pub completed_by: String,
    pub completed_at: DateTime<Utc>,
    pub note: String,
}

/// A checklist and the completions recorded against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRemovalChecklist {
    pub opened: AccessRemovalOpened,
    pub completed: Vec<AccessRemovalItemCompleted>,
}

impl AccessRemovalChecklist {
    pub fn completion(&self, item_id: Uuid) -> Option<&AccessRemovalItemCompleted> {
        self.completed.iter().find(|c| c.item_id == item_id)
    }

    pub fn open_items(&self) -> impl Iterator<Item = &AccessRemovalItem> {
        self.opened.items.iter().filter(|item| self.completion(item.item_id).is_none())
    }

    /// Past its due date on `today` with an item still open.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        today > self.opened.due_date && self.open_items().next().is_some()
    }
}

/// The checklist a departure will open, prepared outside the decision: its item ids are drawn
/// once, so a decision re-run after a concurrent write opens the same items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRemovalPlan {
    due_date: NaiveDate,
    items: Vec<AccessRemovalItem>,
}

impl AccessRemovalPlan {
    /// The standard items plus one `asset_returned` item per asset `(id, name)` the person owns.
    pub fn new(left_on: NaiveDate, due_days: u32, owned_assets: &[(Uuid, String)]) -> Self {
        let standard = [
            (AccessRemovalItemKind::AccountsDisabled, "Disable the person's accounts in every system"),
            (
                AccessRemovalItemKind::AccessRightsRemoved,
                "Remove access rights, group memberships and privileged access",
            ),
            (
                AccessRemovalItemKind::ConfidentialityReminded,
                "Remind the person of confidentiality duties after leaving",
            ),
        ];
        let mut items: Vec<AccessRemovalItem> = standard
            .into_iter()
            .map(|(kind, description)| AccessRemovalItem {
                item_id: Uuid::now_v7(),
                kind,
                asset_id: None,
                description: description.to_owned(),
            })
            .collect();
        items.extend(owned_assets.iter().map(|(asset_id, name)| AccessRemovalItem {
            item_id: Uuid::now_v7(),
            kind: AccessRemovalItemKind::AssetReturned,
            asset_id: Some(*asset_id),
            description: format!("Return or hand over the asset '{name}'"),
        }));
        let due_date = left_on.checked_add_days(Days::new(u64::from(due_days))).unwrap_or(left_on);
        Self { due_date, items }
    }

    pub(crate) fn open(self) -> AccessRemovalOpened {
        AccessRemovalOpened { due_date: self.due_date, items: self.items }
    }
}

impl Person {
    /// Confirms one item of the open checklist as done.
    pub fn complete_access_removal_item(
        &self,
        completed: AccessRemovalItemCompleted,
    ) -> Result<Vec<PersonEvent>, DomainError> {
        let Some(checklist) = &self.access_removal else {
            return Err(DomainError::new(
                ErrorCode::AccessRemovalNotOpened,
                format!("'{}' has no access-removal checklist: it opens when the person leaves", self.user_name),
            ));
        };
        if !checklist.opened.items.iter().any(|item| item.item_id == completed.item_id) {
            return Err(DomainError::new(
                ErrorCode::AccessRemovalItemNotFound,
                format!("item {} is not on the access-removal checklist", completed.item_id),
            ));
        }
        if let Some(earlier) = checklist.completion(completed.item_id) {
            return Err(DomainError::new(
                ErrorCode::AccessRemovalItemAlreadyCompleted,
                format!(
                    "item {} was completed by {} at {}",
                    completed.item_id, earlier.completed_by, earlier.completed_at
                ),
            ));
        }
        Ok(vec![PersonEvent::AccessRemovalItemCompleted(completed)])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::people::tests::{given, joined};
    use crate::Aggregate;

    pub(crate) fn plan(left_on: NaiveDate) -> AccessRemovalPlan {
        AccessRemovalPlan::new(left_on, 5, &[(Uuid::from_u128(77), "Laptop HS-01".into())])
    }

    fn date(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    fn completion(item_id: Uuid) -> AccessRemovalItemCompleted {
        AccessRemovalItemCompleted {
            item_id,
            completed_by: "it-admin".into(),
            completed_at: Utc::now(),
            note: String::new(),
        }
    }

    fn left_with_checklist() -> Person {
        let mut person = given(&[joined()]);
        let events = person.leave(date(3, 31), plan(date(3, 31))).unwrap();
        events.iter().for_each(|e| person.apply(e));
        person
    }

    #[test]
    fn leaving_opens_a_checklist_due_after_the_allowance_with_one_item_per_owned_asset() {
        let person = left_with_checklist();
        let checklist = person.access_removal.as_ref().unwrap();
        assert_eq!(checklist.opened.due_date, date(4, 5));
        let kinds: Vec<_> = checklist.opened.items.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            [
                AccessRemovalItemKind::AccountsDisabled,
                AccessRemovalItemKind::AccessRightsRemoved,
                AccessRemovalItemKind::ConfidentialityReminded,
                AccessRemovalItemKind::AssetReturned
            ]
        );
        assert_eq!(checklist.opened.items[3].asset_id, Some(Uuid::from_u128(77)));
        assert!(!checklist.overdue(date(4, 5)));
        assert!(checklist.overdue(date(4, 6)));
    }

    #[test]
    fn an_item_is_completed_once_and_only_on_an_open_checklist() {
        let active = given(&[joined()]);
        let error = active.complete_access_removal_item(completion(Uuid::from_u128(1))).unwrap_err();
        assert_eq!(error.code, ErrorCode::AccessRemovalNotOpened);

        let mut person = left_with_checklist();
        let unknown = person.complete_access_removal_item(completion(Uuid::from_u128(1))).unwrap_err();
        assert_eq!(unknown.code, ErrorCode::AccessRemovalItemNotFound);

        let items: Vec<Uuid> = person.access_removal.as_ref().unwrap().opened.items.iter().map(|i| i.item_id).collect();
        for item in &items {
            let events = person.complete_access_removal_item(completion(*item)).unwrap();
            events.iter().for_each(|e| person.apply(e));
        }
        let again = person.complete_access_removal_item(completion(items[0])).unwrap_err();
        assert_eq!(again.code, ErrorCode::AccessRemovalItemAlreadyCompleted);
        assert!(
            !person.access_removal.as_ref().unwrap().overdue(date(12, 31)),
            "a completed checklist is never overdue"
        );
    }
}

//! A leaver's access-removal checklist (A.5.18, A.6.5, A.5.11) as it is read: each item with
//! who completed it when, and `overdue` derived from the day read.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::access_removal::AccessRemovalItemKind;
use isms_domain::people::Person;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::people::PersonRecord;
use super::string_enum;
use crate::Registers;

pub fn access_removal_item_kind_schema() -> utoipa::openapi::schema::Object {
    string_enum(AccessRemovalItemKind::NAMES)
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccessRemovalItemView {
    pub item_id: Uuid,
    #[schema(schema_with = access_removal_item_kind_schema)]
    pub kind: AccessRemovalItemKind,
    /// For `asset_returned`: the asset of the inventory the person owned when leaving.
    pub asset_id: Option<Uuid>,
    pub description: String,
    pub completed: bool,
    /// The `sub` of whoever confirmed the item.
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// The checklist opened by the person's latest departure.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccessRemovalView {
    /// The leave date plus the configured allowance (`access_removal.due_days`).
    pub due_date: NaiveDate,
    /// Every item is completed.
    pub complete: bool,
    /// Derived: past the due date with an item still open.
    pub overdue: bool,
    pub items: Vec<AccessRemovalItemView>,
}

pub fn access_removal_view(person: &Person, today: NaiveDate) -> Option<AccessRemovalView> {
    let checklist = person.access_removal.as_ref()?;
    let items = checklist
        .opened
        .items
        .iter()
        .map(|item| {
            let completion = checklist.completion(item.item_id);
            AccessRemovalItemView {
                item_id: item.item_id,
                kind: item.kind,
                asset_id: item.asset_id,
                description: item.description.clone(),
                completed: completion.is_some(),
                completed_by: completion.map(|c| c.completed_by.clone()),
                completed_at: completion.map(|c| c.completed_at),
                note: completion.map(|c| c.note.clone()),
            }
        })
        .collect::<Vec<_>>();
    Some(AccessRemovalView {
        due_date: checklist.opened.due_date,
        complete: items.iter().all(|i| i.completed),
        overdue: checklist.overdue(today),
        items,
    })
}

impl Registers {
    /// For the readiness report: leavers whose access removal is overdue on `today`.
    pub fn people_with_overdue_access_removal(&self, today: NaiveDate) -> Vec<PersonRecord> {
        self.records_where::<Person>(today, |record| record.access_removal_overdue)
    }
}

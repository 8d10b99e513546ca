//! The context register (4.1) as it is read.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::context::{ContextIssue, ContextIssueStatus, IssueCategory};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn issue_category_schema() -> utoipa::openapi::schema::Object {
    string_enum(IssueCategory::NAMES)
}
pub fn context_issue_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(ContextIssueStatus::NAMES)
}

/// An internal or external issue relevant to the ISMS (4.1).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContextIssueRecord {
    pub id: Uuid,
    #[schema(schema_with = issue_category_schema)]
    pub category: IssueCategory,
    pub title: String,
    pub description: String,
    /// How the issue affects the ISMS's intended outcomes.
    pub effect_on_isms: String,
    #[schema(schema_with = context_issue_status_schema)]
    pub status: ContextIssueStatus,
    pub retirement_reason: Option<String>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for ContextIssue {
    const NOUN: &'static str = "context issue";
    const COLLECTION: &'static str = "context-issues";
    type Record = ContextIssueRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.context_issues
    }

    fn record(entry: &Entry<Self>, _today: NaiveDate) -> ContextIssueRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_else(|| isms_domain::context::ContextIssueDetails {
            category: IssueCategory::Internal,
            title: String::new(),
            description: String::new(),
            effect_on_isms: String::new(),
        });
        ContextIssueRecord {
            id: entry.uuid(),
            category: details.category,
            title: details.title,
            description: details.description,
            effect_on_isms: details.effect_on_isms,
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

//! The register of documented information (7.5) as it is read.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::documents::{Document, DocumentStatus, DocumentType, VersionStatus};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn document_type_schema() -> utoipa::openapi::schema::Object {
    string_enum(DocumentType::NAMES)
}
pub fn document_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(DocumentStatus::NAMES)
}
pub fn version_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(VersionStatus::NAMES)
}

/// One version of a document and how far it got.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DocumentVersionView {
    pub version_id: Uuid,
    pub label: String,
    pub change_summary: String,
    /// URL, repository path or content hash.
    pub content_ref: String,
    pub author: String,
    #[schema(schema_with = version_status_schema)]
    pub status: VersionStatus,
    pub submitted_by: Option<String>,
    pub approved_by: Option<String>,
    pub approval_note: Option<String>,
    pub rejected_by: Option<String>,
    pub rejection_reason: Option<String>,
    pub published_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub publication_note: Option<String>,
}

/// A controlled document (7.5.3) with its versions, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DocumentRecord {
    pub id: Uuid,
    pub title: String,
    #[schema(schema_with = document_type_schema)]
    pub document_type: DocumentType,
    pub owner: String,
    pub review_interval_months: u32,
    /// `draft` until a first version is published.
    #[schema(schema_with = document_status_schema)]
    pub status: DocumentStatus,
    /// The version in force.
    pub published_version_id: Option<Uuid>,
    /// The version in draft, review or approval (at most one).
    pub pending_version_id: Option<Uuid>,
    pub versions: Vec<DocumentVersionView>,
    /// The last publication date plus the review interval.
    pub review_due_on: Option<NaiveDate>,
    /// The review date is before the date read (today, or the `as_of` date).
    pub review_overdue: bool,
    pub withdrawal_reason: Option<String>,
    pub withdrawn_by: Option<String>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Document {
    const NOUN: &'static str = "document";
    const COLLECTION: &'static str = "documents";
    type Record = DocumentRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.documents
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> DocumentRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_else(|| isms_domain::documents::DocumentRegistered {
            title: String::new(),
            document_type: DocumentType::Other,
            owner: String::new(),
            review_interval_months: 0,
        });
        let review_due_on = state.review_due_on();
        DocumentRecord {
            id: entry.uuid(),
            title: details.title,
            document_type: details.document_type,
            owner: details.owner,
            review_interval_months: details.review_interval_months,
            status: state.status(),
            published_version_id: state.published().map(|v| v.drafted.version_id),
            pending_version_id: state.pending().map(|v| v.drafted.version_id),
            versions: state
                .versions
                .iter()
                .map(|v| DocumentVersionView {
                    version_id: v.drafted.version_id,
                    label: v.drafted.label.clone(),
                    change_summary: v.drafted.change_summary.clone(),
                    content_ref: v.drafted.content_ref.clone(),
                    author: v.drafted.author.clone(),
                    status: v.status,
                    submitted_by: v.submission.as_ref().map(|s| s.by.clone()),
                    approved_by: v.approval.as_ref().map(|s| s.by.clone()),
                    approval_note: v.approval.as_ref().map(|s| s.note.clone()),
                    rejected_by: v.rejection.as_ref().map(|s| s.by.clone()),
                    rejection_reason: v.rejection.as_ref().map(|s| s.note.clone()),
                    published_by: v.publication.as_ref().map(|p| p.published_by.clone()),
                    published_at: v.publication.as_ref().map(|p| p.published_at),
                    publication_note: v.publication.as_ref().map(|p| p.note.clone()),
                })
                .collect(),
            review_due_on,
            review_overdue: review_due_on.is_some_and(|due| due < today),
            withdrawal_reason: state.withdrawal.as_ref().map(|w| w.reason.clone()),
            withdrawn_by: state.withdrawal.as_ref().map(|w| w.withdrawn_by.clone()),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

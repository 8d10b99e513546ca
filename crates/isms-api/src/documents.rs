//! Documented information (ISO/IEC 27001 7.5): documents and their versions.
//!
//! A document has at most one version in the works, so the version commands act on "the
//! pending version" and need no version id in the path; `If-Match` guards against acting on
//! a version other than the one the caller read.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::documents::{review_interval, Document, DocumentRegistered, DocumentStatus, DocumentType};
use isms_domain::values::{free_text, required_text, MAX_TEXT};
use isms_domain::Actor;
use isms_projections::views::documents::{document_status_schema, document_type_schema, DocumentRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(register_document)
        .service(list_documents)
        .service(get_document)
        .service(document_history)
        .service(draft_document_version)
        .service(submit_document_version)
        .service(approve_document_version)
        .service(reject_document_version)
        .service(publish_document_version)
        .service(withdraw_document);
}

/// Register a document under control (7.5.3).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Backup and restore procedure",
    "document_type": "procedure",
    "owner": "bob",
    "review_interval_months": 12
}))]
pub struct RegisterDocumentRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[schema(schema_with = document_type_schema)]
    pub document_type: DocumentType,
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    /// 1 to 60 months between publication and the next review.
    #[schema(minimum = 1, maximum = 60)]
    pub review_interval_months: u32,
}

/// Draft a new version; the caller is its author.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "label": "1.1",
    "change_summary": "Adds a quarterly restore test with sign-off.",
    "content_ref": "https://wiki.example.com/isms/backup-procedure?version=1.1"
}))]
pub struct DraftDocumentVersionRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub label: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub change_summary: String,
    /// Where the content lives (URL, repository path) or its hash (`sha256:...`).
    #[schema(value_type = crate::fields::SingleLine)]
    pub content_ref: String,
}

/// A step of the pending version's review, with an optional note.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Checked against A.8.13 and the backup tool's capabilities."}))]
pub struct DocumentVersionNoteRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Why the pending version is rejected, or why the document is withdrawn.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Superseded by the IT operations manual."}))]
pub struct DocumentReasonRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the document register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentFilter {
    #[param(schema_with = document_type_schema)]
    pub document_type: Option<DocumentType>,
    pub owner: Option<String>,
    #[param(schema_with = document_status_schema)]
    pub status: Option<DocumentStatus>,
    /// Documents whose review date is before the date read.
    pub review_overdue: Option<bool>,
}

/// A page of the document register.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentPage {
    pub items: Vec<DocumentRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Register a document
#[utoipa::path(
    tag = "documents", operation_id = "register_document",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = RegisterDocumentRequest,
    responses((status = 201, description = "Document registered", body = DocumentRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents")]
pub async fn register_document(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<RegisterDocumentRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let title = fields.line("/title", &request.title);
    let owner = fields.line("/owner", &request.owner);
    let months = fields.take(review_interval("/review_interval_months", request.review_interval_months));
    let details = fields.finish(|| {
        Some(DocumentRegistered {
            title: title?,
            document_type: request.document_type,
            owner: owner?,
            review_interval_months: months?,
        })
    })?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |document: &Document| document.register(details.clone())).await
}

/// List the document register
///
/// `review_overdue` is derived for the date read.
#[utoipa::path(
    tag = "documents", operation_id = "list_documents",
    params(ListParams, DocumentFilter),
    responses((status = 200, description = "A page of documents", body = DocumentPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/documents")]
pub async fn list_documents(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<DocumentFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Document>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.document_type.is_none_or(|t| t == record.document_type)
            && filter.owner.as_ref().is_none_or(|o| *o == record.owner)
            && filter.status.is_none_or(|s| s == record.status)
            && filter.review_overdue.is_none_or(|o| o == record.review_overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DocumentPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Document,
    record: DocumentRecord,
    tag: "documents",
    noun: "Document id",
    get: get_document => ("/documents/{id}", "get_document", "Read one document", "The document"),
    history: document_history => ("/documents/{id}/history", "get_document_history", "Read a document's history"),
}

/// Draft a document version
///
/// One draft at a time (409 `document_draft_already_open`); labels are unique per document.
#[utoipa::path(
    tag = "documents", operation_id = "draft_document_version",
    params(("id" = Uuid, Path, description = "Document id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = DraftDocumentVersionRequest,
    responses((status = 200, description = "Version drafted", body = DocumentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents/{id}/versions")]
pub async fn draft_document_version(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<DraftDocumentVersionRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Document>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let label = fields.line("/label", &request.label);
    let summary = fields.text("/change_summary", &request.change_summary);
    let content_ref = fields.line("/content_ref", &request.content_ref);
    let (label, summary, content_ref) = fields.finish(|| Some((label?, summary?, content_ref?)))?;
    // Drawn once, outside the decision, so a re-decided command drafts the same version.
    let (version_id, actor) = (Uuid::now_v7(), context.actor.clone());
    run(&ledger, context, &id, Creation::ExistingStream, |document: &Document| {
        document.draft_version(version_id, label.clone(), summary.clone(), content_ref.clone(), &actor)
    })
    .await
}

/// What a step of the pending version does.
#[derive(Clone, Copy)]
enum VersionStep {
    Submit,
    Approve,
    Publish,
}

/// Submits, approves or publishes the pending version.
async fn step_pending_version(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: &str,
    guards: CommandGuards,
    body: CommandBody<DocumentVersionNoteRequest>,
    step: VersionStep,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Document>(id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let (actor, at): (Actor, _) = (context.actor.clone(), Utc::now());
    run(&ledger, context, &id, Creation::ExistingStream, |document: &Document| match step {
        VersionStep::Submit => document.submit(note.clone(), &actor),
        VersionStep::Approve => document.approve(note.clone(), &actor),
        VersionStep::Publish => document.publish(note.clone(), &actor, at),
    })
    .await
}

/// Submit the pending version for review
#[utoipa::path(
    tag = "documents", operation_id = "submit_document_version",
    params(("id" = Uuid, Path, description = "Document id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = DocumentVersionNoteRequest,
    responses((status = 200, description = "Version in review", body = DocumentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents/{id}/submission")]
pub async fn submit_document_version(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<DocumentVersionNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    step_pending_version(auth, ledger, &id, guards, body, VersionStep::Submit).await
}

/// Approve the pending version
///
/// The version in review is approved by someone other than its author (409
/// `approver_is_author`, 7.5.2 c).
#[utoipa::path(
    tag = "documents", operation_id = "approve_document_version",
    params(("id" = Uuid, Path, description = "Document id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = DocumentVersionNoteRequest,
    responses((status = 200, description = "Version approved", body = DocumentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents/{id}/approval")]
pub async fn approve_document_version(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<DocumentVersionNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    step_pending_version(auth, ledger, &id, guards, body, VersionStep::Approve).await
}

/// Publish the approved version
///
/// The version published before becomes `superseded`; the review date restarts.
#[utoipa::path(
    tag = "documents", operation_id = "publish_document_version",
    params(("id" = Uuid, Path, description = "Document id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = DocumentVersionNoteRequest,
    responses((status = 200, description = "Version published", body = DocumentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents/{id}/publication")]
pub async fn publish_document_version(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<DocumentVersionNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    step_pending_version(auth, ledger, &id, guards, body, VersionStep::Publish).await
}

/// Reject the pending version
///
/// Ends the version in draft, review or approval, so that a new draft may follow.
#[utoipa::path(
    tag = "documents", operation_id = "reject_document_version",
    params(("id" = Uuid, Path, description = "Document id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = DocumentReasonRequest,
    responses((status = 200, description = "Version rejected", body = DocumentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents/{id}/rejection")]
pub async fn reject_document_version(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<DocumentReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Document>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |document: &Document| document.reject(reason.clone(), &actor))
        .await
}

/// Withdraw a document
///
/// A withdrawn document stays in the register and takes no more commands.
#[utoipa::path(
    tag = "documents", operation_id = "withdraw_document",
    params(("id" = Uuid, Path, description = "Document id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = DocumentReasonRequest,
    responses((status = 200, description = "Document withdrawn", body = DocumentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/documents/{id}/withdrawal")]
pub async fn withdraw_document(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<DocumentReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Document>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |document: &Document| {
        document.withdraw(reason.clone(), &actor)
    })
    .await
}

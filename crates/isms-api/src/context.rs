//! The context of the organization (ISO/IEC 27001 4.1): internal and external issues.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::context::{ContextIssue, ContextIssueDetails, ContextIssueStatus, IssueCategory};
use isms_projections::views::context::{context_issue_status_schema, issue_category_schema, ContextIssueRecord};
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
        .service(record_context_issue)
        .service(list_context_issues)
        .service(get_context_issue)
        .service(context_issue_history)
        .service(revise_context_issue)
        .service(retire_context_issue);
}

/// Record (or, in a revision, restate) an internal or external issue.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "category": "external",
    "title": "顧客の機密情報の漏洩",
    "description": "Customers entrust us with confidential design data.",
    "effect_on_isms": "Confidentiality of customer information is a contractual obligation."
}))]
pub struct ContextIssueRequest {
    #[schema(schema_with = issue_category_schema)]
    pub category: IssueCategory,
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
    /// How the issue affects the ISMS's ability to achieve its intended outcomes.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub effect_on_isms: String,
}

impl ContextIssueRequest {
    fn validate(&self) -> Result<ContextIssueDetails, ApiError> {
        let mut fields = Fields::default();
        let title = fields.line("/title", &self.title);
        let description = fields.text("/description", &self.description);
        let effect_on_isms = fields.required_text("/effect_on_isms", &self.effect_on_isms);
        fields.finish(|| {
            Some(ContextIssueDetails {
                category: self.category,
                title: title?,
                description: description?,
                effect_on_isms: effect_on_isms?,
            })
        })
    }
}

/// Retire an issue that no longer affects the ISMS.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The contract that required it ended."}))]
pub struct RetireContextIssueRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the context register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContextIssueFilter {
    #[param(schema_with = issue_category_schema)]
    pub category: Option<IssueCategory>,
    #[param(schema_with = context_issue_status_schema)]
    pub status: Option<ContextIssueStatus>,
}

/// A page of the context register.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContextIssuePage {
    pub items: Vec<ContextIssueRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Record a context issue
#[utoipa::path(
    tag = "context", operation_id = "record_context_issue",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = ContextIssueRequest,
    responses((status = 201, description = "Issue recorded", body = ContextIssueRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/context-issues")]
pub async fn record_context_issue(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<ContextIssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |issue: &ContextIssue| issue.record(details.clone())).await
}

/// List the context register
#[utoipa::path(
    tag = "context", operation_id = "list_context_issues",
    params(ListParams, ContextIssueFilter),
    responses((status = 200, description = "A page of context issues", body = ContextIssuePage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/context-issues")]
pub async fn list_context_issues(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<ContextIssueFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<ContextIssue>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.category.is_none_or(|c| c == record.category) && filter.status.is_none_or(|s| s == record.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ContextIssuePage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: ContextIssue,
    record: ContextIssueRecord,
    tag: "context",
    noun: "Context issue id",
    get: get_context_issue => ("/context-issues/{id}", "get_context_issue", "Read one context issue", "The context issue"),
    history: context_issue_history => (
        "/context-issues/{id}/history", "get_context_issue_history", "Read a context issue's history"
    ),
}

/// Revise a context issue
///
/// Restates the whole issue; the history keeps every earlier version.
#[utoipa::path(
    tag = "context", operation_id = "revise_context_issue",
    params(("id" = Uuid, Path, description = "Context issue id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ContextIssueRequest,
    responses((status = 200, description = "Issue revised", body = ContextIssueRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/context-issues/{id}/revisions")]
pub async fn revise_context_issue(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ContextIssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<ContextIssue>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    run(&ledger, context, &id, Creation::ExistingStream, |issue: &ContextIssue| issue.revise(details.clone())).await
}

/// Retire a context issue
#[utoipa::path(
    tag = "context", operation_id = "retire_context_issue",
    params(("id" = Uuid, Path, description = "Context issue id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RetireContextIssueRequest,
    responses((status = 200, description = "Issue retired", body = ContextIssueRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/context-issues/{id}/retirement")]
pub async fn retire_context_issue(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RetireContextIssueRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<ContextIssue>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason =
        single_field(isms_domain::values::required_text("/reason", &body.value.reason, isms_domain::values::MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |issue: &ContextIssue| issue.retire(reason.clone())).await
}

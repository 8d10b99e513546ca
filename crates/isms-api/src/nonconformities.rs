//! Nonconformities and corrective actions (ISO/IEC 27001 10.2).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::nonconformity::{
    NewCorrectiveAction, Nonconformity, NonconformityRaised, NonconformitySource, NonconformityStatus, Severity,
};
use isms_domain::values::{free_text, required_line, required_text, MAX_LINE, MAX_TEXT};
use isms_projections::views::{nc_source_schema, nc_status_schema, severity_schema, NonconformityRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{list_records, run, stream_id, ListParams};
use crate::request::{command_context, record_id, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(raise_nonconformity)
        .service(list_nonconformities)
        .service(get_nonconformity)
        .service(nonconformity_history)
        .service(record_correction)
        .service(record_root_cause)
        .service(plan_corrective_actions)
        .service(complete_corrective_action)
        .service(review_effectiveness)
        .service(close_nonconformity);
}

/// Raise a nonconformity.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Backups are never test-restored",
    "description": "No restore test in the last 12 months (A.8.13).",
    "source": "internal_audit",
    "severity": "major",
    "reference": "8.13",
    "detected_at": "2026-11-20T10:00:00Z"
}))]
pub struct RaiseNonconformityRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
    #[schema(schema_with = nc_source_schema)]
    pub source: NonconformitySource,
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    /// Clause (e.g. `9.2`) or Annex A control (e.g. `8.13`) not met.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub reference: Option<String>,
    pub detected_at: DateTime<Utc>,
}

/// Record the immediate correction (10.2 a).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Ran a restore test of the finance share; it succeeded."}))]
pub struct RecordCorrectionRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
}

/// Record the root cause (10.2 b).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"analysis": "No owner or schedule for restore tests."}))]
pub struct RecordRootCauseRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub analysis: String,
}

/// One corrective action to plan.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCorrectiveActionRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    pub due_date: NaiveDate,
    /// Key of the ticket tracking the work elsewhere (Jira, ServiceNow).
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub ticket_key: Option<String>,
    /// The ticketing system a bridge should open the ticket in (`jira`, `servicenow`); blank
    /// is none.
    #[schema(pattern = r"^[ \t\n\r]*([A-Za-z0-9_-]{1,32}[ \t\n\r]*)?$")]
    pub ticket_system: Option<String>,
    /// The project the ticket belongs in (a Jira project key, a ServiceNow assignment group).
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub ticket_project: Option<String>,
}

/// Plan corrective actions (10.2 c).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"actions": [{"description": "Quarterly restore test with sign-off", "owner": "bob", "due_date": "2027-01-31", "ticket_key": "OPS-42"}]}))]
pub struct PlanCorrectiveActionsRequest {
    #[schema(min_items = 1)]
    pub actions: Vec<NewCorrectiveActionRequest>,
}

/// Complete a corrective action.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "First quarterly test done on 2026-12-01."}))]
pub struct CompleteActionRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Review the effectiveness of the corrective actions (10.2 d).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"effective": true, "note": "Two consecutive restore tests passed."}))]
pub struct EffectivenessReviewRequest {
    /// `false` sends the nonconformity back to planning.
    pub effective: bool,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Close a nonconformity.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Verified effective; closing."}))]
pub struct CloseNonconformityRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Filters and paging for the nonconformity register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NonconformityListQuery {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    #[param(schema_with = nc_status_schema)]
    pub status: Option<NonconformityStatus>,
    #[param(schema_with = severity_schema)]
    pub severity: Option<Severity>,
    #[param(schema_with = nc_source_schema)]
    pub source: Option<NonconformitySource>,
    /// Only records with (or without) an overdue corrective action.
    pub overdue: Option<bool>,
    pub as_of: Option<DateTime<Utc>>,
    pub as_of_position: Option<u64>,
    /// Only records that took effect at or after this instant (RFC 3339): for a
    /// nonconformity, its detection time (`detected_at`).
    pub effective_from: Option<DateTime<Utc>>,
    /// Only records that took effect at or before this instant (RFC 3339).
    pub effective_to: Option<DateTime<Utc>>,
}

/// A page of the nonconformity register.
#[derive(Debug, Serialize, ToSchema)]
pub struct NonconformityPage {
    pub items: Vec<NonconformityRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Raise a nonconformity
#[utoipa::path(
    tag = "nonconformities", operation_id = "raise_nonconformity",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = RaiseNonconformityRequest,
    responses((status = 201, description = "Nonconformity raised", body = NonconformityRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities")]
pub async fn raise_nonconformity(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<RaiseNonconformityRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let title = fields.take(required_line("/title", &request.title, MAX_LINE));
    let description = fields.take(free_text("/description", &request.description, MAX_TEXT));
    let reference = fields.optional_line("/reference", request.reference.as_deref());
    let raised = fields.finish(|| {
        Some(NonconformityRaised {
            title: title?,
            description: description?,
            source: request.source,
            severity: request.severity,
            reference: reference?,
            detected_at: request.detected_at,
        })
    })?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |nc: &Nonconformity| nc.raise(raised.clone())).await
}

/// List the nonconformity register
///
/// `overdue` is derived from the corrective actions' due dates. Add `as_of` or
/// `as_of_position` (scope `audit:read`) to read the register as it stood then.
#[utoipa::path(
    tag = "nonconformities", operation_id = "list_nonconformities",
    params(NonconformityListQuery),
    responses((status = 200, description = "A page of nonconformities", body = NonconformityPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/nonconformities")]
pub async fn list_nonconformities(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    query: web::Query<NonconformityListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let params = ListParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
        as_of: query.as_of,
        as_of_position: query.as_of_position,
        effective_from: query.effective_from,
        effective_to: query.effective_to,
    };
    let page = list_records::<Nonconformity>(&request, &auth.principal, ledger, &params, move |nc, record| {
        let Some(raised) = nc.raised.as_ref() else { return false };
        query.status.is_none_or(|s| s == nc.status)
            && query.severity.is_none_or(|s| s == raised.severity)
            && query.source.is_none_or(|s| s == raised.source)
            && query.overdue.is_none_or(|overdue| overdue == record.overdue)
    })
    .await?;
    let (items, next_cursor, resolved) = (page.items, page.next_cursor, page.resolved);
    Ok(HttpResponse::Ok().json(NonconformityPage {
        items,
        next_cursor,
        as_of: resolved.as_of,
        position: resolved.position,
    }))
}

crate::register::record_reads! {
    register: Nonconformity,
    record: NonconformityRecord,
    tag: "nonconformities",
    noun: "Nonconformity id",
    get: get_nonconformity => ("/nonconformities/{id}", "get_nonconformity", "Read one nonconformity", "The nonconformity"),
    history: nonconformity_history => ("/nonconformities/{id}/history", "get_nonconformity_history", "Read a nonconformity's history"),
}

/// Record the correction
///
/// The immediate action taken to control and correct the nonconformity (10.2 a).
#[utoipa::path(
    tag = "nonconformities", operation_id = "record_correction",
    params(("id" = Uuid, Path, description = "Nonconformity id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RecordCorrectionRequest,
    responses((status = 200, description = "Correction recorded", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities/{id}/correction")]
pub async fn record_correction(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RecordCorrectionRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Nonconformity>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let text = single_field(required_text("/description", &body.value.description, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| nc.record_correction(text.clone())).await
}

/// Record the root cause
///
/// Required before corrective actions on a major nonconformity (10.2 b).
#[utoipa::path(
    tag = "nonconformities", operation_id = "record_root_cause",
    params(("id" = Uuid, Path, description = "Nonconformity id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RecordRootCauseRequest,
    responses((status = 200, description = "Root cause recorded", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities/{id}/root-cause")]
pub async fn record_root_cause(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RecordRootCauseRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Nonconformity>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let text = single_field(required_text("/analysis", &body.value.analysis, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| nc.record_root_cause(text.clone())).await
}

/// Plan corrective actions
///
/// Each action gets an id; planning after a "not effective" review starts a new round.
#[utoipa::path(
    tag = "nonconformities", operation_id = "plan_corrective_actions",
    params(("id" = Uuid, Path, description = "Nonconformity id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PlanCorrectiveActionsRequest,
    responses((status = 200, description = "Actions planned", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities/{id}/corrective-actions")]
pub async fn plan_corrective_actions(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanCorrectiveActionsRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Nonconformity>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let actions: Vec<Option<NewCorrectiveAction>> = body
        .value
        .actions
        .iter()
        .enumerate()
        .map(|(i, action)| {
            let description =
                fields.take(required_text(&format!("/actions/{i}/description"), &action.description, MAX_TEXT));
            let owner = fields.take(required_line(&format!("/actions/{i}/owner"), &action.owner, MAX_LINE));
            let ticket_key = fields.optional_line(&format!("/actions/{i}/ticket_key"), action.ticket_key.as_deref());
            let ticket_system = match action.ticket_system.as_deref().filter(|s| !s.trim().is_empty()) {
                Some(system) => fields
                    .take(isms_domain::ticketing::ticket_system(&format!("/actions/{i}/ticket_system"), system))
                    .map(Some),
                None => Some(None),
            };
            let ticket_project =
                fields.optional_line(&format!("/actions/{i}/ticket_project"), action.ticket_project.as_deref());
            Some(NewCorrectiveAction {
                description: description?,
                owner: owner?,
                due_date: action.due_date,
                ticket_key: ticket_key?,
                ticket_system: ticket_system?,
                ticket_project: ticket_project?,
            })
        })
        .collect();
    let actions = fields.finish(|| actions.into_iter().collect::<Option<Vec<_>>>())?;
    // Ids are drawn once, outside the decision, so a retried decision plans the same actions.
    let ids: Vec<Uuid> = actions.iter().map(|_| Uuid::now_v7()).collect();
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| {
        let mut next = ids.iter().copied();
        nc.plan_actions(actions.clone(), || next.next().unwrap_or_else(Uuid::now_v7))
    })
    .await
}

/// Complete a corrective action
#[utoipa::path(
    tag = "nonconformities", operation_id = "complete_corrective_action",
    params(("id" = Uuid, Path, description = "Nonconformity id"), ("action_id" = Uuid, Path, description = "Corrective action id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CompleteActionRequest,
    responses((status = 200, description = "Action completed", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities/{id}/corrective-actions/{action_id}/completion")]
pub async fn complete_corrective_action(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    path: web::Path<(String, String)>,
    guards: CommandGuards,
    body: CommandBody<CompleteActionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, action_id) = path.into_inner();
    let id = stream_id::<Nonconformity>(&id)?;
    let action_id = record_id(&action_id, "corrective action")?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| {
        nc.complete_action(action_id, note.clone(), &actor)
    })
    .await
}

/// Review effectiveness
///
/// After every action is completed, someone who owns none of them verifies whether they
/// worked (10.2 d). Not effective reopens planning.
#[utoipa::path(
    tag = "nonconformities", operation_id = "review_effectiveness",
    params(("id" = Uuid, Path, description = "Nonconformity id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = EffectivenessReviewRequest,
    responses((status = 200, description = "Effectiveness reviewed", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities/{id}/effectiveness-review")]
pub async fn review_effectiveness(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<EffectivenessReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Nonconformity>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let effective = body.value.effective;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| {
        nc.review_effectiveness(effective, note.clone(), &actor)
    })
    .await
}

/// Close a nonconformity
///
/// Only when every corrective action is completed and verified effective.
#[utoipa::path(
    tag = "nonconformities", operation_id = "close_nonconformity",
    params(("id" = Uuid, Path, description = "Nonconformity id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CloseNonconformityRequest,
    responses((status = 200, description = "Nonconformity closed", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/nonconformities/{id}/closure")]
pub async fn close_nonconformity(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<CloseNonconformityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Nonconformity>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| nc.close(note.clone(), &actor)).await
}

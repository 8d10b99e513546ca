//! Operational planning and control (ISO/IEC 27001 8.1): the plans that carry out objectives
//! and risk treatments.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::objectives::Objective;
use isms_domain::operations::{OperationalPlan, OperationalPlanDetails, OperationalPlanEvent, OperationalPlanStatus};
use isms_domain::risk::Risk;
use isms_domain::values::{free_text, required_text, MAX_TEXT};
use isms_domain::{Actor, DomainError};
use isms_projections::views::operations::{operational_plan_status_schema, OperationalPlanRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::objectives::distinct;
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(draw_up_operational_plan)
        .service(list_operational_plans)
        .service(get_operational_plan)
        .service(operational_plan_history)
        .service(revise_operational_plan)
        .service(put_operational_plan_into_operation)
        .service(complete_operational_plan)
        .service(retire_operational_plan);
}

/// Draw up (or, in a revision, restate) an operational plan.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "機密情報の取扱い教育の運用",
    "description": "Enrol every employee, send monthly reminders, report completion to the ISMS committee.",
    "owner": "bob",
    "starts_on": "2027-01-04",
    "due_date": "2027-03-31",
    "objective_ids": ["0193a0c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e"],
    "risk_ids": []
}))]
pub struct OperationalPlanRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    pub starts_on: NaiveDate,
    /// Not before `starts_on`.
    pub due_date: NaiveDate,
    /// The objectives the plan carries out; each must exist. At least one objective or risk.
    #[serde(default)]
    pub objective_ids: Vec<Uuid>,
    /// The risks whose treatment the plan carries out; each must exist.
    #[serde(default)]
    pub risk_ids: Vec<Uuid>,
}

impl OperationalPlanRequest {
    fn validate(&self) -> Result<OperationalPlanDetails, ApiError> {
        let mut fields = Fields::default();
        let title = fields.line("/title", &self.title);
        let description = fields.text("/description", &self.description);
        let owner = fields.line("/owner", &self.owner);
        fields.finish(|| {
            Some(OperationalPlanDetails {
                title: title?,
                description: description?,
                owner: owner?,
                starts_on: self.starts_on,
                due_date: self.due_date,
                objective_ids: distinct(&self.objective_ids),
                risk_ids: distinct(&self.risk_ids),
            })
        })
    }

    fn ensure_links_exist(&self, ledger: &Ledger, principal: &crate::auth::Principal) -> Result<(), ApiError> {
        ensure_exist::<Objective>(ledger, principal, "/objective_ids", &self.objective_ids)?;
        ensure_exist::<Risk>(ledger, principal, "/risk_ids", &self.risk_ids)
    }
}

/// Put a plan into operation or complete it, with an optional note.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Course published; enrolment mails sent."}))]
pub struct PlanStepRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Retire a plan that is no longer carried out.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Replaced by the HR onboarding process."}))]
pub struct RetireOperationalPlanRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the operational planning register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationalPlanFilter {
    #[param(schema_with = operational_plan_status_schema)]
    pub status: Option<OperationalPlanStatus>,
    pub owner: Option<String>,
    /// Only plans that carry out this objective.
    pub objective_id: Option<Uuid>,
    /// Only plans that carry out this risk's treatment.
    pub risk_id: Option<Uuid>,
    /// Only plans past (or not past) their due date while still open.
    pub overdue: Option<bool>,
}

/// A page of the operational planning register.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationalPlanPage {
    pub items: Vec<OperationalPlanRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Draw up an operational plan
#[utoipa::path(
    tag = "operational-plans", operation_id = "draw_up_operational_plan",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = OperationalPlanRequest,
    responses((status = 201, description = "Plan drawn up", body = OperationalPlanRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/operational-plans")]
pub async fn draw_up_operational_plan(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<OperationalPlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    body.value.ensure_links_exist(&ledger, &auth.principal)?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |plan: &OperationalPlan| plan.draw_up(details.clone())).await
}

/// List the operational planning register
///
/// `overdue` is derived for the reading date (the `as_of` date when time-travelling).
#[utoipa::path(
    tag = "operational-plans", operation_id = "list_operational_plans",
    params(ListParams, OperationalPlanFilter),
    responses((status = 200, description = "A page of operational plans", body = OperationalPlanPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/operational-plans")]
pub async fn list_operational_plans(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<OperationalPlanFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<OperationalPlan>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.status.is_none_or(|status| status == record.status)
            && filter.owner.as_ref().is_none_or(|owner| *owner == record.owner)
            && filter.objective_id.is_none_or(|objective| record.objective_ids.contains(&objective))
            && filter.risk_id.is_none_or(|risk| record.risk_ids.contains(&risk))
            && filter.overdue.is_none_or(|overdue| overdue == record.overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(OperationalPlanPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: OperationalPlan,
    record: OperationalPlanRecord,
    tag: "operational-plans",
    noun: "Operational plan id",
    get: get_operational_plan => ("/operational-plans/{id}", "get_operational_plan", "Read one operational plan", "The operational plan"),
    history: operational_plan_history => ("/operational-plans/{id}/history", "get_operational_plan_history", "Read an operational plan's history"),
}

/// Revise an operational plan
///
/// Restates the whole plan while it is planned or in operation.
#[utoipa::path(
    tag = "operational-plans", operation_id = "revise_operational_plan",
    params(("id" = Uuid, Path, description = "Operational plan id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = OperationalPlanRequest,
    responses((status = 200, description = "Plan revised", body = OperationalPlanRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/operational-plans/{id}/revisions")]
pub async fn revise_operational_plan(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<OperationalPlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<OperationalPlan>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    body.value.ensure_links_exist(&ledger, &auth.principal)?;
    run(&ledger, context, &id, Creation::ExistingStream, |plan: &OperationalPlan| plan.revise(details.clone())).await
}

/// Put an operational plan into operation
///
/// Only a planned plan; the caller and today's date are recorded.
#[utoipa::path(
    tag = "operational-plans", operation_id = "put_operational_plan_into_operation",
    params(("id" = Uuid, Path, description = "Operational plan id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PlanStepRequest,
    responses((status = 200, description = "Plan in operation", body = OperationalPlanRecord,
        headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/operational-plans/{id}/operation")]
pub async fn put_operational_plan_into_operation(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanStepRequest>,
) -> Result<HttpResponse, ApiError> {
    take_step(auth, ledger, id, guards, body, OperationalPlan::put_into_operation).await
}

/// Complete an operational plan
///
/// Only a plan in operation; the caller and today's date are recorded.
#[utoipa::path(
    tag = "operational-plans", operation_id = "complete_operational_plan",
    params(("id" = Uuid, Path, description = "Operational plan id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PlanStepRequest,
    responses((status = 200, description = "Plan completed", body = OperationalPlanRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/operational-plans/{id}/completion")]
pub async fn complete_operational_plan(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanStepRequest>,
) -> Result<HttpResponse, ApiError> {
    take_step(auth, ledger, id, guards, body, OperationalPlan::complete).await
}

/// A lifecycle decision of a plan: `put_into_operation` or `complete`.
type PlanStep = fn(&OperationalPlan, String, &Actor, NaiveDate) -> Result<Vec<OperationalPlanEvent>, DomainError>;

/// Moves a plan one step along its lifecycle, recording the caller, today and the note.
async fn take_step(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanStepRequest>,
    step: PlanStep,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<OperationalPlan>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let (actor, today) = (context.actor.clone(), Utc::now().date_naive());
    run(&ledger, context, &id, Creation::ExistingStream, |plan: &OperationalPlan| {
        step(plan, note.clone(), &actor, today)
    })
    .await
}

/// Retire an operational plan
#[utoipa::path(
    tag = "operational-plans", operation_id = "retire_operational_plan",
    params(("id" = Uuid, Path, description = "Operational plan id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RetireOperationalPlanRequest,
    responses((status = 200, description = "Plan retired", body = OperationalPlanRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/operational-plans/{id}/retirement")]
pub async fn retire_operational_plan(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RetireOperationalPlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<OperationalPlan>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |plan: &OperationalPlan| plan.retire(reason.clone())).await
}

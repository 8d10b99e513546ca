//! Information security objectives and planning to achieve them (ISO/IEC 27001 6.2).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::objectives::{
    Objective, ObjectiveDetails, ObjectiveOutcome, ObjectiveStatus, Quantity, RecordProgress,
};
use isms_domain::risk::Risk;
use isms_domain::values::{free_text, required_text, MAX_TEXT};
use isms_projections::views::objectives::{objective_outcome_schema, objective_status_schema, ObjectiveRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(set_objective)
        .service(list_objectives)
        .service(get_objective)
        .service(objective_history)
        .service(revise_objective)
        .service(record_objective_progress)
        .service(conclude_objective)
        .service(withdraw_objective);
}

/// A number from a request, checked to be one the log stores exactly.
pub(crate) fn quantity(fields: &mut Fields, pointer: &str, value: Option<f64>) -> Option<Option<Quantity>> {
    match value {
        None => Some(None),
        Some(value) => fields.take(Quantity::parse(pointer, value)).map(Some),
    }
}

/// A list of links without repeats (the first occurrence kept), so restating the same links in
/// another spelling is recognised as no change.
pub(crate) fn distinct(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// Set (or, in a revision, restate) an objective and the plan to achieve it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "機密情報の取扱いに関する教育の徹底",
    "target": "Every employee completes the annual confidential-information course.",
    "target_value": 100,
    "unit": "%",
    "owner": "alice",
    "resources": "E-learning platform; two hours per employee",
    "due_date": "2027-03-31",
    "evaluation_method": "Completion report from the learning platform, reviewed by the ISMS committee",
    "plan": "Publish the course in January, remind monthly, escalate to line managers in March.",
    "risk_ids": ["0193a0c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e"]
}))]
pub struct ObjectiveRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    /// The measurable target in words.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub target: String,
    /// The target as a number, where it can be measured as one (at most 6 decimals).
    /// Within ±1,000,000,000 with at most 6 decimal places (`Quantity`).
    #[schema(minimum = -1_000_000_000.0, maximum = 1_000_000_000.0)]
    pub target_value: Option<f64>,
    /// The unit of `target_value`; only with a `target_value`.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub unit: Option<String>,
    /// Who is responsible.
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    /// What resources will be required.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub resources: String,
    /// When it will be completed.
    pub due_date: NaiveDate,
    /// How the results will be evaluated.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub evaluation_method: String,
    /// What will be done.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub plan: String,
    /// The risks and opportunities the objective addresses; each must exist.
    #[serde(default)]
    pub risk_ids: Vec<Uuid>,
}

impl ObjectiveRequest {
    fn validate(&self) -> Result<ObjectiveDetails, ApiError> {
        let mut fields = Fields::default();
        let title = fields.line("/title", &self.title);
        let target = fields.required_text("/target", &self.target);
        let target_value = quantity(&mut fields, "/target_value", self.target_value);
        let unit = fields.optional_line("/unit", self.unit.as_deref());
        let owner = fields.line("/owner", &self.owner);
        let resources = fields.required_text("/resources", &self.resources);
        let evaluation_method = fields.required_text("/evaluation_method", &self.evaluation_method);
        let plan = fields.required_text("/plan", &self.plan);
        fields.finish(|| {
            Some(ObjectiveDetails {
                title: title?,
                target: target?,
                target_value: target_value?,
                unit: unit?,
                owner: owner?,
                resources: resources?,
                due_date: self.due_date,
                evaluation_method: evaluation_method?,
                plan: plan?,
                risk_ids: distinct(&self.risk_ids),
            })
        })
    }
}

/// Report progress towards an objective.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"observed_on": "2026-11-20", "note": "62 of 80 employees have completed the course.",
                          "value": 77.5}))]
pub struct ObjectiveProgressRequest {
    /// The day the progress refers to; not after today.
    pub observed_on: NaiveDate,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub note: String,
    /// The value reached, in the objective's unit; only for an objective with a `target_value`.
    /// Within ±1,000,000,000 with at most 6 decimal places (`Quantity`).
    #[schema(minimum = -1_000_000_000.0, maximum = 1_000_000_000.0)]
    pub value: Option<f64>,
}

/// Record whether the objective was achieved.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "not_achieved",
                          "note": "Two teams missed the deadline; carried into next year's objective."}))]
pub struct ObjectiveOutcomeRequest {
    #[schema(schema_with = objective_outcome_schema)]
    pub outcome: ObjectiveOutcome,
    /// Required when the objective was not achieved.
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Withdraw an objective that is no longer pursued.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Merged into the company-wide awareness objective."}))]
pub struct WithdrawObjectiveRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the objectives register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ObjectiveFilter {
    pub owner: Option<String>,
    #[param(schema_with = objective_status_schema)]
    pub status: Option<ObjectiveStatus>,
    /// Only objectives past (or not past) their due date without an outcome.
    pub overdue: Option<bool>,
    /// Only objectives that address this risk or opportunity.
    pub risk_id: Option<Uuid>,
}

/// A page of the objectives register.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectivePage {
    pub items: Vec<ObjectiveRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Set an objective
#[utoipa::path(
    tag = "objectives", operation_id = "set_objective",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = ObjectiveRequest,
    responses((status = 201, description = "Objective set", body = ObjectiveRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/objectives")]
pub async fn set_objective(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<ObjectiveRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    ensure_exist::<Risk>(&ledger, &auth.principal, "/risk_ids", &body.value.risk_ids)?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |objective: &Objective| objective.set(details.clone())).await
}

/// List the objectives register
///
/// `overdue` is derived for the reading date (the `as_of` date when time-travelling).
#[utoipa::path(
    tag = "objectives", operation_id = "list_objectives",
    params(ListParams, ObjectiveFilter),
    responses((status = 200, description = "A page of objectives", body = ObjectivePage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/objectives")]
pub async fn list_objectives(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<ObjectiveFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Objective>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.owner.as_ref().is_none_or(|owner| *owner == record.owner)
            && filter.status.is_none_or(|status| status == record.status)
            && filter.overdue.is_none_or(|overdue| overdue == record.overdue)
            && filter.risk_id.is_none_or(|risk| record.risk_ids.contains(&risk))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ObjectivePage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Objective,
    record: ObjectiveRecord,
    tag: "objectives",
    noun: "Objective id",
    get: get_objective => ("/objectives/{id}", "get_objective", "Read one objective", "The objective"),
    history: objective_history => ("/objectives/{id}/history", "get_objective_history", "Read an objective's history"),
}

/// Revise an objective
///
/// Restates the whole objective while it is active; the history keeps every earlier version.
#[utoipa::path(
    tag = "objectives", operation_id = "revise_objective",
    params(("id" = Uuid, Path, description = "Objective id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ObjectiveRequest,
    responses((status = 200, description = "Objective revised", body = ObjectiveRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/objectives/{id}/revisions")]
pub async fn revise_objective(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ObjectiveRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Objective>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    ensure_exist::<Risk>(&ledger, &auth.principal, "/risk_ids", &body.value.risk_ids)?;
    run(&ledger, context, &id, Creation::ExistingStream, |objective: &Objective| objective.revise(details.clone()))
        .await
}

/// Record progress towards an objective
///
/// Each progress report gets an id and names the caller as its author.
#[utoipa::path(
    tag = "objectives", operation_id = "record_objective_progress",
    params(("id" = Uuid, Path, description = "Objective id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ObjectiveProgressRequest,
    responses((status = 200, description = "Progress recorded", body = ObjectiveRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/objectives/{id}/progress")]
pub async fn record_objective_progress(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ObjectiveProgressRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Objective>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let note = fields.required_text("/note", &body.value.note);
    let value = quantity(&mut fields, "/value", body.value.value);
    // The id is drawn once, outside the decision, so a retried decision records the same report.
    let command = fields.finish(|| {
        Some(RecordProgress {
            progress_id: Uuid::now_v7(),
            observed_on: body.value.observed_on,
            note: note?,
            value: value?,
        })
    })?;
    let (actor, today) = (context.actor.clone(), Utc::now().date_naive());
    run(&ledger, context, &id, Creation::ExistingStream, |objective: &Objective| {
        objective.record_progress(command.clone(), &actor, today)
    })
    .await
}

/// Record an objective's outcome
///
/// Once, while the objective is active; `not_achieved` needs a note.
#[utoipa::path(
    tag = "objectives", operation_id = "conclude_objective",
    params(("id" = Uuid, Path, description = "Objective id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ObjectiveOutcomeRequest,
    responses((status = 200, description = "Outcome recorded", body = ObjectiveRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/objectives/{id}/outcome")]
pub async fn conclude_objective(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ObjectiveOutcomeRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Objective>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let (outcome, actor, today) = (body.value.outcome, context.actor.clone(), Utc::now().date_naive());
    run(&ledger, context, &id, Creation::ExistingStream, |objective: &Objective| {
        objective.conclude(outcome, note.clone(), &actor, today)
    })
    .await
}

/// Withdraw an objective
#[utoipa::path(
    tag = "objectives", operation_id = "withdraw_objective",
    params(("id" = Uuid, Path, description = "Objective id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = WithdrawObjectiveRequest,
    responses((status = 200, description = "Objective withdrawn", body = ObjectiveRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/objectives/{id}/withdrawal")]
pub async fn withdraw_objective(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<WithdrawObjectiveRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Objective>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |objective: &Objective| objective.withdraw(reason.clone()))
        .await
}

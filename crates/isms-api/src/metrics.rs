//! Monitoring, measurement, analysis and evaluation (ISO/IEC 27001 9.1).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::metrics::{
    EvaluateMetric, Frequency, Metric, MetricDefinition, MetricStatus, RecordMeasurement, TargetDirection,
};
use isms_domain::objectives::{Objective, Quantity};
use isms_domain::operations::OperationalPlan;
use isms_domain::values::{required_text, MAX_TEXT};
use isms_projections::views::metrics::{
    frequency_schema, metric_status_schema, target_direction_schema, MetricRecord, MetricSeries,
};
use isms_projections::Register;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::objectives::distinct;
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards, TimeTravel};
use crate::responses::record_response;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(define_metric)
        .service(list_metrics)
        .service(get_metric)
        .service(metric_history)
        .service(metric_series)
        .service(revise_metric)
        .service(record_measurement)
        .service(evaluate_metric)
        .service(retire_metric);
}

/// Define (or, in a revision, restate) a metric.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Course completion rate",
    "what_is_measured": "Share of employees who completed the confidential-information course",
    "method": "Completion export from the learning platform divided by the HR headcount",
    "frequency": "monthly",
    "measured_by": "bob",
    "analysed_by": "carol",
    "unit": "%",
    "target_value": 100,
    "direction": "at_least",
    "objective_ids": ["0193a0c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e"],
    "operational_plan_ids": []
}))]
pub struct MetricRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub name: String,
    /// What is monitored and measured.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub what_is_measured: String,
    /// How it is measured, analysed and evaluated.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub method: String,
    #[schema(schema_with = frequency_schema)]
    pub frequency: Frequency,
    /// Who measures.
    #[schema(value_type = crate::fields::SingleLine)]
    pub measured_by: String,
    /// Who analyses and evaluates; the only one besides an administrator who records evaluations.
    #[schema(value_type = crate::fields::SingleLine)]
    pub analysed_by: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub unit: String,
    /// At most 6 decimals.
    /// Within ±1,000,000,000 with at most 6 decimal places (`Quantity`).
    #[schema(minimum = -1_000_000_000.0, maximum = 1_000_000_000.0)]
    pub target_value: f64,
    #[schema(schema_with = target_direction_schema)]
    pub direction: TargetDirection,
    /// The objectives the metric measures; each must exist.
    #[serde(default)]
    pub objective_ids: Vec<Uuid>,
    /// The operational plans the metric measures; each must exist.
    #[serde(default)]
    pub operational_plan_ids: Vec<Uuid>,
}

impl MetricRequest {
    fn validate(&self) -> Result<MetricDefinition, ApiError> {
        let mut fields = Fields::default();
        let name = fields.line("/name", &self.name);
        let what_is_measured = fields.required_text("/what_is_measured", &self.what_is_measured);
        let method = fields.required_text("/method", &self.method);
        let measured_by = fields.line("/measured_by", &self.measured_by);
        let analysed_by = fields.line("/analysed_by", &self.analysed_by);
        let unit = fields.line("/unit", &self.unit);
        let target_value = fields.take(Quantity::parse("/target_value", self.target_value));
        fields.finish(|| {
            Some(MetricDefinition {
                name: name?,
                what_is_measured: what_is_measured?,
                method: method?,
                frequency: self.frequency,
                measured_by: measured_by?,
                analysed_by: analysed_by?,
                unit: unit?,
                target_value: target_value?,
                direction: self.direction,
                objective_ids: distinct(&self.objective_ids),
                operational_plan_ids: distinct(&self.operational_plan_ids),
            })
        })
    }

    fn ensure_links_exist(&self, ledger: &Ledger, principal: &crate::auth::Principal) -> Result<(), ApiError> {
        ensure_exist::<Objective>(ledger, principal, "/objective_ids", &self.objective_ids)?;
        ensure_exist::<OperationalPlan>(ledger, principal, "/operational_plan_ids", &self.operational_plan_ids)
    }
}

/// Record a measurement.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"value": 77.5, "measured_on": "2026-11-20", "note": "62 of 80 employees"}))]
pub struct MeasurementRequest {
    /// In the metric's unit; at most 6 decimals.
    /// Within ±1,000,000,000 with at most 6 decimal places (`Quantity`).
    #[schema(minimum = -1_000_000_000.0, maximum = 1_000_000_000.0)]
    pub value: f64,
    /// Not after today.
    pub measured_on: NaiveDate,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Evaluate a period. Whether the target was met is computed by the server.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"period_start_on": "2026-11-01", "period_end_on": "2026-11-30",
                          "conclusion": "Below target; reminders to the two late teams."}))]
pub struct EvaluationRequest {
    pub period_start_on: NaiveDate,
    /// Not before `period_start_on`.
    pub period_end_on: NaiveDate,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub conclusion: String,
}

/// Retire a metric that is no longer measured.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Replaced by the quarterly awareness survey."}))]
pub struct RetireMetricRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the metrics register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricFilter {
    /// Only metrics that measure this objective.
    pub objective_id: Option<Uuid>,
    /// Only metrics that measure this operational plan.
    pub operational_plan_id: Option<Uuid>,
    #[param(schema_with = metric_status_schema)]
    pub status: Option<MetricStatus>,
    /// Only metrics whose measurement is (or is not) overdue for their frequency.
    pub measurement_overdue: Option<bool>,
}

/// The dates a series is limited to, both inclusive.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A page of the metrics register.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricPage {
    pub items: Vec<MetricRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Define a metric
#[utoipa::path(
    tag = "metrics", operation_id = "define_metric",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = MetricRequest,
    responses((status = 201, description = "Metric defined", body = MetricRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/metrics")]
pub async fn define_metric(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<MetricRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let definition = body.value.validate()?;
    body.value.ensure_links_exist(&ledger, &auth.principal)?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |metric: &Metric| metric.define(definition.clone())).await
}

/// List the metrics register
///
/// `measurement_overdue` is derived for the reading date (the `as_of` date when time-travelling).
#[utoipa::path(
    tag = "metrics", operation_id = "list_metrics",
    params(ListParams, MetricFilter),
    responses((status = 200, description = "A page of metrics", body = MetricPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/metrics")]
pub async fn list_metrics(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<MetricFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Metric>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.objective_id.is_none_or(|objective| record.objective_ids.contains(&objective))
            && filter.operational_plan_id.is_none_or(|plan| record.operational_plan_ids.contains(&plan))
            && filter.status.is_none_or(|status| status == record.status)
            && filter.measurement_overdue.is_none_or(|overdue| overdue == record.measurement_overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MetricPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Metric,
    record: MetricRecord,
    tag: "metrics",
    noun: "Metric id",
    get: get_metric => ("/metrics/{id}", "get_metric", "Read one metric", "The metric"),
    history: metric_history => ("/metrics/{id}/history", "get_metric_history", "Read a metric's history"),
}

/// Read a metric's series
///
/// The measurements in date order with the target, optionally limited to `from`..`to`
/// (inclusive), as of the requested point.
#[utoipa::path(
    tag = "metrics", operation_id = "get_metric_series",
    params(("id" = Uuid, Path, description = "Metric id"), SeriesRange, TimeTravel),
    responses((status = 200, description = "The metric's measurements over time", body = MetricSeries,
        headers(("ETag" = String), ("Isms-Position" = u64), ("Isms-As-Of" = String))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/metrics/{id}/series")]
pub async fn metric_series(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    range: web::Query<SeriesRange>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Metric>(&id)?;
    if range.from.zip(range.to).is_some_and(|(from, to)| to < from) {
        return Err(ApiError::bad_request("from_after_to", "'to' must not be before 'from'"));
    }
    let point = travel.point(&request, &auth.principal)?;
    let (entry, resolved) = ledger.record::<Metric>(&auth.principal.tenant, &id, point)?;
    let entry = entry
        .filter(|e| Metric::exists(&e.state))
        .ok_or_else(|| ApiError::not_found(format!("no {} with id {id}", Metric::NOUN)))?;
    let series = MetricSeries::from_entry(&entry, range.from, range.to);
    Ok(record_response(&series, entry.version, &resolved))
}

/// Revise a metric
///
/// Restates the whole metric while it is active; past evaluations keep the target they were
/// evaluated against.
#[utoipa::path(
    tag = "metrics", operation_id = "revise_metric",
    params(("id" = Uuid, Path, description = "Metric id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = MetricRequest,
    responses((status = 200, description = "Metric revised", body = MetricRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/metrics/{id}/revisions")]
pub async fn revise_metric(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<MetricRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Metric>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let definition = body.value.validate()?;
    body.value.ensure_links_exist(&ledger, &auth.principal)?;
    run(&ledger, context, &id, Creation::ExistingStream, |metric: &Metric| metric.revise(definition.clone())).await
}

/// Record a measurement
///
/// Each measurement gets an id and names the caller as its author.
#[utoipa::path(
    tag = "metrics", operation_id = "record_measurement",
    params(("id" = Uuid, Path, description = "Metric id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = MeasurementRequest,
    responses((status = 200, description = "Measurement recorded", body = MetricRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/metrics/{id}/measurements")]
pub async fn record_measurement(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<MeasurementRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Metric>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let value = fields.take(Quantity::parse("/value", body.value.value));
    let note = fields.text("/note", &body.value.note);
    // The id is drawn once, outside the decision, so a retried decision records the same measurement.
    let command = fields.finish(|| {
        Some(RecordMeasurement {
            measurement_id: Uuid::now_v7(),
            value: value?,
            measured_on: body.value.measured_on,
            note: note?,
        })
    })?;
    let (actor, today) = (context.actor.clone(), Utc::now().date_naive());
    run(&ledger, context, &id, Creation::ExistingStream, |metric: &Metric| {
        metric.record_measurement(command.clone(), &actor, today)
    })
    .await
}

/// Evaluate a metric over a period
///
/// Only the metric's analyser or an administrator. `met` is computed from the period's last
/// measurement against the target in force.
#[utoipa::path(
    tag = "metrics", operation_id = "evaluate_metric",
    params(("id" = Uuid, Path, description = "Metric id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = EvaluationRequest,
    responses((status = 200, description = "Evaluation recorded", body = MetricRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/metrics/{id}/evaluations")]
pub async fn evaluate_metric(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<EvaluationRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Metric>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let conclusion = single_field(required_text("/conclusion", &body.value.conclusion, MAX_TEXT))?;
    // The id is drawn once, outside the decision, so a retried decision records the same evaluation.
    let command = EvaluateMetric {
        evaluation_id: Uuid::now_v7(),
        period_start_on: body.value.period_start_on,
        period_end_on: body.value.period_end_on,
        conclusion,
    };
    let (actor, today) = (context.actor.clone(), Utc::now().date_naive());
    run(&ledger, context, &id, Creation::ExistingStream, |metric: &Metric| {
        metric.evaluate(command.clone(), &actor, today)
    })
    .await
}

/// Retire a metric
#[utoipa::path(
    tag = "metrics", operation_id = "retire_metric",
    params(("id" = Uuid, Path, description = "Metric id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RetireMetricRequest,
    responses((status = 200, description = "Metric retired", body = MetricRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/metrics/{id}/retirement")]
pub async fn retire_metric(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RetireMetricRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Metric>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |metric: &Metric| metric.retire(reason.clone())).await
}

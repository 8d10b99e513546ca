//! The certification cycle with a certification body: gap diagnosis, stage 1 and stage 2
//! audits, the certificate (valid three years), yearly surveillance, recertification.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::certification::{
    AuditCompleted, CertificateIssued, CertificationCycle, CertificationCycleEvent, CertificationCycleOpened,
    CertificationCycleStatus, GapDiagnosisCompleted, Stage1Result, Stage2Result, SurveillanceResult, ISO_27001_2022,
};
use isms_domain::values::{free_text, required_line, required_text, MAX_LINE, MAX_TEXT};
use isms_domain::DomainError;
use isms_projections::views::certification::{
    certification_cycle_status_schema, stage1_result_schema, stage2_result_schema, surveillance_result_schema,
    CertificationCycleRecord,
};
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
        .service(open_certification_cycle)
        .service(list_certification_cycles)
        .service(get_certification_cycle)
        .service(certification_cycle_history)
        .service(record_gap_diagnosis)
        .service(plan_stage1_audit)
        .service(complete_stage1_audit)
        .service(plan_stage2_audit)
        .service(complete_stage2_audit)
        .service(issue_certificate)
        .service(record_surveillance_audit)
        .service(close_certification_cycle);
}

fn default_standard() -> String {
    ISO_27001_2022.to_owned()
}

/// Open a certification cycle with a certification body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "certification_body": "JMAQA",
    "standard": "ISO/IEC 27001:2022",
    "scope_reference": "ISMS scope statement v3 (head office and development division)"
}))]
pub struct OpenCertificationCycleRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub certification_body: String,
    /// Defaults to `ISO/IEC 27001:2022`.
    #[serde(default = "default_standard")]
    #[schema(value_type = crate::fields::SingleLine)]
    pub standard: String,
    /// The scope statement the certificate will cover.
    #[schema(value_type = crate::fields::SingleLine)]
    pub scope_reference: String,
}

/// The result of a gap diagnosis against the standard.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "completed_on": "2025-10-01",
    "summary": "Internal audit and management review not yet run."
}))]
pub struct GapDiagnosisRequest {
    pub completed_on: NaiveDate,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub summary: String,
}

/// The date a stage audit is planned for; planning again reschedules it (or, after a failed
/// audit, starts another attempt).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"planned_on": "2026-01-20"}))]
pub struct PlanStageAuditRequest {
    pub planned_on: NaiveDate,
}

/// The outcome of the stage 1 audit (mainly the documented ISMS).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "completed_on": "2026-01-20",
    "result": "ready_for_stage2",
    "findings_summary": "Two areas of concern in the risk treatment plan."
}))]
pub struct Stage1CompletionRequest {
    pub completed_on: NaiveDate,
    #[schema(schema_with = stage1_result_schema)]
    pub result: Stage1Result,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub findings_summary: String,
}

/// The outcome of the stage 2 audit (the ISMS in operation).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "completed_on": "2026-03-05",
    "result": "recommended",
    "findings_summary": "One minor nonconformity (A.5.18 access reviews)."
}))]
pub struct Stage2CompletionRequest {
    pub completed_on: NaiveDate,
    #[schema(schema_with = stage2_result_schema)]
    pub result: Stage2Result,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub findings_summary: String,
}

/// The certificate the body issued.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"certificate_number": "IS 123456", "issued_on": "2026-04-01"}))]
pub struct IssueCertificateRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub certificate_number: String,
    pub issued_on: NaiveDate,
}

/// The next yearly surveillance audit, completed.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "completed_on": "2027-03-20",
    "result": "maintained",
    "findings_summary": "No nonconformities."
}))]
pub struct SurveillanceAuditRequest {
    pub completed_on: NaiveDate,
    #[schema(schema_with = surveillance_result_schema)]
    pub result: SurveillanceResult,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub findings_summary: String,
}

/// Close a cycle (e.g. recertified in the next cycle, or certification withdrawn).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Recertified in the next cycle."}))]
pub struct CloseCertificationCycleRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the certification cycles.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificationCycleFilter {
    #[param(schema_with = certification_cycle_status_schema)]
    pub status: Option<CertificationCycleStatus>,
    /// Only cycles with (or without) overdue items.
    pub overdue: Option<bool>,
}

/// A page of certification cycles.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificationCyclePage {
    pub items: Vec<CertificationCycleRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Runs a command on an existing cycle; `decide` gets today's date for the date rules.
async fn on_cycle(
    ledger: &Ledger,
    context: isms_app::CommandContext,
    raw_id: &str,
    decide: impl Fn(&CertificationCycle, NaiveDate) -> Result<Vec<CertificationCycleEvent>, DomainError>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<CertificationCycle>(raw_id)?;
    let today = Utc::now().date_naive();
    run(ledger, context, &id, Creation::ExistingStream, |cycle: &CertificationCycle| decide(cycle, today)).await
}

fn findings(summary: &str) -> Result<String, ApiError> {
    single_field(free_text("/findings_summary", summary, MAX_TEXT))
}

/// Open a certification cycle
#[utoipa::path(
    tag = "certification", operation_id = "open_certification_cycle",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = OpenCertificationCycleRequest,
    responses((status = 201, description = "Cycle opened", body = CertificationCycleRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles")]
pub async fn open_certification_cycle(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<OpenCertificationCycleRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let certification_body = fields.line("/certification_body", &request.certification_body);
    let standard = fields.line("/standard", &request.standard);
    let scope_reference = fields.line("/scope_reference", &request.scope_reference);
    let opened = fields.finish(|| {
        Some(CertificationCycleOpened {
            certification_body: certification_body?,
            standard: standard?,
            scope_reference: scope_reference?,
        })
    })?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |cycle: &CertificationCycle| cycle.open(opened.clone())).await
}

/// List the certification cycles
///
/// `upcoming` and `overdue` are derived for the day read.
#[utoipa::path(
    tag = "certification", operation_id = "list_certification_cycles",
    params(ListParams, CertificationCycleFilter),
    responses((status = 200, description = "A page of certification cycles", body = CertificationCyclePage),
        ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/certification-cycles")]
pub async fn list_certification_cycles(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<CertificationCycleFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<CertificationCycle>(&request, &auth.principal, ledger, &params, move |_, record| {
        let has_overdue = !record.overdue.is_empty();
        filter.status.is_none_or(|s| s == record.status) && filter.overdue.is_none_or(|o| o == has_overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CertificationCyclePage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: CertificationCycle,
    record: CertificationCycleRecord,
    tag: "certification",
    noun: "Certification cycle id",
    get: get_certification_cycle => ("/certification-cycles/{id}", "get_certification_cycle", "Read one certification cycle", "The certification cycle",
        "With the certificate's expiry (three years after issue), the surveillance due dates (first and second anniversaries), the recertification due date, what is `upcoming` and what is `overdue` on the day read."),
    history: certification_cycle_history => ("/certification-cycles/{id}/history", "get_certification_cycle_history", "Read a certification cycle's history"),
}

/// Record a gap diagnosis
///
/// Optional; only before stage 1 is passed (409 `certification_stage_already_passed`).
#[utoipa::path(
    tag = "certification", operation_id = "record_gap_diagnosis",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = GapDiagnosisRequest,
    responses((status = 200, description = "Gap diagnosis recorded", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/gap-diagnosis")]
pub async fn record_gap_diagnosis(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<GapDiagnosisRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let summary = single_field(required_text("/summary", &body.value.summary, MAX_TEXT))?;
    let diagnosis = GapDiagnosisCompleted { completed_on: body.value.completed_on, summary };
    on_cycle(&ledger, context, &id, |cycle, today| cycle.record_gap_diagnosis(diagnosis.clone(), today)).await
}

/// Plan the stage 1 audit
///
/// Not before the gap diagnosis (422 `dates_out_of_order`); not once stage 1 is passed (409).
#[utoipa::path(
    tag = "certification", operation_id = "plan_stage1_audit",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PlanStageAuditRequest,
    responses((status = 200, description = "Stage 1 audit planned", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/stage1-audit/plan")]
pub async fn plan_stage1_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanStageAuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let planned_on = body.value.planned_on;
    on_cycle(&ledger, context, &id, |cycle, _| cycle.plan_stage1(planned_on)).await
}

/// Record the stage 1 audit's result
///
/// Needs a planned audit (409 `certification_audit_not_planned`), completed on or after the
/// planned date and not after today (422).
#[utoipa::path(
    tag = "certification", operation_id = "complete_stage1_audit",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = Stage1CompletionRequest,
    responses((status = 200, description = "Stage 1 audit completed", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/stage1-audit/completion")]
pub async fn complete_stage1_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<Stage1CompletionRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let completed = AuditCompleted {
        completed_on: request.completed_on,
        result: request.result,
        findings_summary: findings(&request.findings_summary)?,
    };
    on_cycle(&ledger, context, &id, |cycle, today| cycle.complete_stage1(completed.clone(), today)).await
}

/// Plan the stage 2 audit
///
/// Only after a stage 1 audit with result `ready_for_stage2` (409 `stage1_not_passed`), and
/// not before it (422 `dates_out_of_order`).
#[utoipa::path(
    tag = "certification", operation_id = "plan_stage2_audit",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PlanStageAuditRequest,
    responses((status = 200, description = "Stage 2 audit planned", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/stage2-audit/plan")]
pub async fn plan_stage2_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanStageAuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let planned_on = body.value.planned_on;
    on_cycle(&ledger, context, &id, |cycle, _| cycle.plan_stage2(planned_on)).await
}

/// Record the stage 2 audit's result
#[utoipa::path(
    tag = "certification", operation_id = "complete_stage2_audit",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = Stage2CompletionRequest,
    responses((status = 200, description = "Stage 2 audit completed", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/stage2-audit/completion")]
pub async fn complete_stage2_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<Stage2CompletionRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let completed = AuditCompleted {
        completed_on: request.completed_on,
        result: request.result,
        findings_summary: findings(&request.findings_summary)?,
    };
    on_cycle(&ledger, context, &id, |cycle, today| cycle.complete_stage2(completed.clone(), today)).await
}

/// Record the certificate
///
/// Only after a stage 2 audit that recommended certification (409 `stage2_not_recommended`),
/// once per cycle (409 `certificate_already_issued`). Valid three years: `expires_on` and the
/// surveillance and recertification due dates are derived from `issued_on`.
#[utoipa::path(
    tag = "certification", operation_id = "issue_certificate",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = IssueCertificateRequest,
    responses((status = 200, description = "Certificate recorded", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/certificate")]
pub async fn issue_certificate(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<IssueCertificateRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let certificate_number =
        single_field(required_line("/certificate_number", &body.value.certificate_number, MAX_LINE))?;
    let issued = CertificateIssued { certificate_number, issued_on: body.value.issued_on };
    on_cycle(&ledger, context, &id, |cycle, today| cycle.issue_certificate(issued.clone(), today)).await
}

/// Record a surveillance audit
///
/// The first, then the second yearly surveillance audit; only with a certificate (409
/// `certificate_not_issued`), at most two per cycle (409 `surveillance_audits_complete`).
#[utoipa::path(
    tag = "certification", operation_id = "record_surveillance_audit",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = SurveillanceAuditRequest,
    responses((status = 200, description = "Surveillance audit recorded", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/surveillance-audits")]
pub async fn record_surveillance_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<SurveillanceAuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let (completed_on, result) = (body.value.completed_on, body.value.result);
    let summary = findings(&body.value.findings_summary)?;
    on_cycle(&ledger, context, &id, |cycle, today| {
        cycle.record_surveillance(completed_on, result, summary.clone(), today)
    })
    .await
}

/// Close a certification cycle
///
/// A closed cycle takes no further command (409 `certification_cycle_closed`) and has nothing
/// upcoming or overdue.
#[utoipa::path(
    tag = "certification", operation_id = "close_certification_cycle",
    params(("id" = Uuid, Path, description = "Certification cycle id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CloseCertificationCycleRequest,
    responses((status = 200, description = "Cycle closed", body = CertificationCycleRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/certification-cycles/{id}/closure")]
pub async fn close_certification_cycle(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<CloseCertificationCycleRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    on_cycle(&ledger, context, &id, |cycle, _| cycle.close(reason.clone())).await
}

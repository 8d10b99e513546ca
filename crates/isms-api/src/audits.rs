//! Internal audit (ISO/IEC 27001 9.2): audit programmes, audits and their findings.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::audits::{
    Audit, AuditPlanned, AuditProgramme, AuditProgrammeContent, AuditProgrammeStatus, AuditStatus, FindingType,
    NewFinding,
};
use isms_domain::{DomainError, ErrorCode};
use isms_projections::views::audits::{
    audit_programme_status_schema, audit_status_schema, finding_type_schema, AuditProgrammeRecord, AuditRecord,
};
use isms_store::StreamRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, Principal, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::follow_up::{run_with_follow_up, CausedNonconformity};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(establish_audit_programme)
        .service(list_audit_programmes)
        .service(get_audit_programme)
        .service(audit_programme_history)
        .service(revise_audit_programme)
        .service(approve_audit_programme)
        .service(plan_audit)
        .service(list_audits)
        .service(get_audit)
        .service(audit_history)
        .service(start_audit)
        .service(record_finding)
        .service(report_audit);
}

/// The years a programme may be for.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Establish the internal audit programme of a year (9.2.2).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "year": 2026,
    "objectives": "実務現場の弱点(セキュリティホール)を見つける事; confirm the effect of the 2026 reorganisation.",
    "scope": "All departments and the two main suppliers in the ISMS scope.",
    "criteria": "ISO/IEC 27001:2022, the information security policy, the backup procedure.",
    "methods": "Interviews, record sampling, observation on site; one audit per department per year.",
    "responsibilities": "The ISMS manager plans the programme; trained auditors from other departments audit."
}))]
pub struct EstablishAuditProgrammeRequest {
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub objectives: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub scope: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub criteria: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub methods: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub responsibilities: String,
}

/// Revise a programme: restates everything but the year.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "objectives": "Find weak spots in daily operations; check the effect of the reorganisation and the new supplier.",
    "scope": "All departments and the two main suppliers in the ISMS scope.",
    "criteria": "ISO/IEC 27001:2022, the information security policy, the backup procedure.",
    "methods": "Interviews, record sampling, observation on site; one audit per department per year.",
    "responsibilities": "The ISMS manager plans the programme; trained auditors from other departments audit."
}))]
pub struct ReviseAuditProgrammeRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub objectives: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub scope: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub criteria: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub methods: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub responsibilities: String,
}

impl ReviseAuditProgrammeRequest {
    fn validate(&self, fields: &mut Fields) -> Option<AuditProgrammeContent> {
        let objectives = fields.required_text("/objectives", &self.objectives);
        let scope = fields.required_text("/scope", &self.scope);
        let criteria = fields.required_text("/criteria", &self.criteria);
        let methods = fields.required_text("/methods", &self.methods);
        let responsibilities = fields.required_text("/responsibilities", &self.responsibilities);
        Some(AuditProgrammeContent {
            objectives: objectives?,
            scope: scope?,
            criteria: criteria?,
            methods: methods?,
            responsibilities: responsibilities?,
        })
    }
}

impl EstablishAuditProgrammeRequest {
    fn validate(self) -> Result<(i32, AuditProgrammeContent), ApiError> {
        let mut fields = Fields::default();
        let year = fields.take(if YEARS.contains(&self.year) {
            Ok(self.year)
        } else {
            Err(DomainError::at(ErrorCode::ValidationFailed, "/year", "must be a year from 2000 to 2100"))
        });
        let content = ReviseAuditProgrammeRequest {
            objectives: self.objectives,
            scope: self.scope,
            criteria: self.criteria,
            methods: self.methods,
            responsibilities: self.responsibilities,
        }
        .validate(&mut fields);
        fields.finish(|| Some((year?, content?)))
    }
}

/// Approve the programme in its current revision.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct ApproveAuditProgrammeRequest {}

/// Plan an audit of the programme.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "programme_id": "0193c7e0-0000-7000-8000-000000000000",
    "title": "IT operations: backup and restore",
    "scope": "Backup jobs, restore tests and their records at the head office.",
    "criteria": "A.8.13, backup procedure v1.2",
    "auditors": ["carol"],
    "auditees": ["bob"],
    "planned_start_on": "2026-10-05",
    "planned_end_on": "2026-10-06"
}))]
pub struct PlanAuditRequest {
    pub programme_id: Uuid,
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub scope: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub criteria: String,
    /// Token subjects of the auditors; none of them may be an auditee.
    #[schema(value_type = Vec<crate::fields::SingleLine>, min_items = 1)]
    pub auditors: Vec<String>,
    /// Subjects responsible for the audited area.
    #[schema(value_type = Vec<crate::fields::SingleLine>, min_items = 1)]
    pub auditees: Vec<String>,
    pub planned_start_on: NaiveDate,
    pub planned_end_on: NaiveDate,
}

/// A non-empty list of subjects, each a single line; repeated names count once.
fn subjects(fields: &mut Fields, pointer: &str, values: &[String]) -> Option<Vec<String>> {
    if values.is_empty() {
        fields.take::<()>(Err(DomainError::at(ErrorCode::ValidationFailed, pointer, "name at least one person")));
        return None;
    }
    let mut unique: Vec<String> = Vec::new();
    for subject in fields.lines(pointer, values)? {
        if !unique.contains(&subject) {
            unique.push(subject);
        }
    }
    Some(unique)
}

impl PlanAuditRequest {
    fn validate(&self) -> Result<AuditPlanned, ApiError> {
        let mut fields = Fields::default();
        let title = fields.line("/title", &self.title);
        let scope = fields.required_text("/scope", &self.scope);
        let criteria = fields.required_text("/criteria", &self.criteria);
        let auditors = subjects(&mut fields, "/auditors", &self.auditors);
        let auditees = subjects(&mut fields, "/auditees", &self.auditees);
        fields.finish(|| {
            Some(AuditPlanned {
                programme_id: self.programme_id,
                title: title?,
                scope: scope?,
                criteria: criteria?,
                auditors: auditors?,
                auditees: auditees?,
                planned_start_on: self.planned_start_on,
                planned_end_on: self.planned_end_on,
            })
        })
    }
}

/// Start the audit (one of its auditors).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Opening meeting held with the IT operations lead; plan confirmed."}))]
pub struct StartAuditRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Record a finding (one of the auditors, while the audit is in progress).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "finding_type": "nonconformity_major",
    "reference": "A.8.13",
    "description": "Backups are never test-restored.\nNo restore test of the finance and HR shares in 12 months.",
    "evidence": "Backup log 2025-10 to 2026-09; interview with the backup operator."
}))]
pub struct RecordFindingRequest {
    /// `nonconformity_major` and `nonconformity_minor` raise a nonconformity (10.2) whose id is
    /// the finding's.
    #[schema(schema_with = finding_type_schema)]
    pub finding_type: FindingType,
    /// Clause (`9.2`) or Annex A control (`A.8.13`).
    #[schema(value_type = crate::fields::SingleLine)]
    pub reference: String,
    /// The first line becomes the title of a raised nonconformity.
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub evidence: String,
}

/// Report the audit's results (9.2.2 e); no findings are taken afterwards.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"summary": "One major nonconformity (A.8.13); backups themselves run reliably."}))]
pub struct ReportAuditRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub summary: String,
}

/// Filters of the programme register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditProgrammeFilter {
    pub year: Option<i32>,
    #[param(schema_with = audit_programme_status_schema)]
    pub status: Option<AuditProgrammeStatus>,
}

/// Filters of the audit register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListFilter {
    pub programme_id: Option<Uuid>,
    #[param(schema_with = audit_status_schema)]
    pub status: Option<AuditStatus>,
    /// Audits with this subject among their auditors.
    pub auditor: Option<String>,
    /// Not reported and past the planned end date.
    pub overdue: Option<bool>,
}

/// A page of audit programmes.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditProgrammePage {
    pub items: Vec<AuditProgrammeRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// A page of audits.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Establish an audit programme
///
/// One programme per year: a second one for the same year is 409 `audit_programme_year_taken`
/// (checked against the live register).
#[utoipa::path(
    tag = "internal-audits", operation_id = "establish_audit_programme",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = EstablishAuditProgrammeRequest,
    responses((status = 201, description = "Programme established", body = AuditProgrammeRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audit-programmes")]
pub async fn establish_audit_programme(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<EstablishAuditProgrammeRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let (year, content) = body.value.validate()?;
    let (year_taken, _) = ledger.with_registers(&auth.principal.tenant, ReadPoint::Latest, |registers, _| {
        registers.audit_programmes.values().any(|entry| entry.state.year == Some(year))
    })?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |programme: &AuditProgramme| {
        programme.establish(year, content.clone(), year_taken)
    })
    .await
}

/// List audit programmes
#[utoipa::path(
    tag = "internal-audits", operation_id = "list_audit_programmes",
    params(ListParams, AuditProgrammeFilter),
    responses((status = 200, description = "A page of audit programmes", body = AuditProgrammePage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/audit-programmes")]
pub async fn list_audit_programmes(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<AuditProgrammeFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<AuditProgramme>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.year.is_none_or(|y| y == record.year) && filter.status.is_none_or(|s| s == record.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AuditProgrammePage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: AuditProgramme,
    record: AuditProgrammeRecord,
    tag: "internal-audits",
    noun: "Audit programme id",
    get: get_audit_programme => ("/audit-programmes/{id}", "get_audit_programme", "Read one audit programme", "The audit programme"),
    history: audit_programme_history => ("/audit-programmes/{id}/history", "get_audit_programme_history", "Read an audit programme's history"),
}

/// Revise an audit programme
///
/// Restates the programme (not its year); an approved programme returns to `draft`.
#[utoipa::path(
    tag = "internal-audits", operation_id = "revise_audit_programme",
    params(("id" = Uuid, Path, description = "Audit programme id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ReviseAuditProgrammeRequest,
    responses((status = 200, description = "Programme revised", body = AuditProgrammeRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audit-programmes/{id}/revisions")]
pub async fn revise_audit_programme(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ReviseAuditProgrammeRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<AuditProgramme>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let content = body.value.validate(&mut fields);
    let content = fields.finish(|| content)?;
    run(&ledger, context, &id, Creation::ExistingStream, |programme: &AuditProgramme| programme.revise(content.clone()))
        .await
}

/// Approve an audit programme
#[utoipa::path(
    tag = "internal-audits", operation_id = "approve_audit_programme",
    params(("id" = Uuid, Path, description = "Audit programme id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ApproveAuditProgrammeRequest,
    responses((status = 200, description = "Programme approved", body = AuditProgrammeRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audit-programmes/{id}/approval")]
pub async fn approve_audit_programme(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ApproveAuditProgrammeRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<AuditProgramme>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |programme: &AuditProgramme| programme.approve(&actor)).await
}

/// Refuses an audit of a programme that does not exist, naming the field.
fn ensure_programme(ledger: &Ledger, principal: &Principal, programme_id: Uuid) -> Result<(), ApiError> {
    ensure_exist::<AuditProgramme>(ledger, principal, "/programme_id", &[programme_id]).map_err(|mut error| {
        // One id, not a list: the field itself is the pointer.
        if let ApiError::Status { errors, .. } = &mut error {
            errors.iter_mut().for_each(|e| e.pointer = "/programme_id".to_owned());
        }
        error
    })
}

/// Plan an audit
///
/// No auditor may be among the auditees (409 `auditor_not_independent`, 9.2.2 c).
#[utoipa::path(
    tag = "internal-audits", operation_id = "plan_audit",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = PlanAuditRequest,
    responses((status = 201, description = "Audit planned", body = AuditRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audits")]
pub async fn plan_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<PlanAuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let plan = body.value.validate()?;
    ensure_programme(&ledger, &auth.principal, plan.programme_id)?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |audit: &Audit| audit.plan(plan.clone())).await
}

/// List audits
#[utoipa::path(
    tag = "internal-audits", operation_id = "list_audits",
    params(ListParams, AuditListFilter),
    responses((status = 200, description = "A page of audits", body = AuditPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/audits")]
pub async fn list_audits(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<AuditListFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Audit>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.programme_id.is_none_or(|p| p == record.programme_id)
            && filter.status.is_none_or(|s| s == record.status)
            && filter.auditor.as_ref().is_none_or(|a| record.auditors.contains(a))
            && filter.overdue.is_none_or(|o| o == record.overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Audit,
    record: AuditRecord,
    tag: "internal-audits",
    noun: "Audit id",
    get: get_audit => ("/audits/{id}", "get_audit", "Read one audit", "The audit"),
    history: audit_history => ("/audits/{id}/history", "get_audit_history", "Read an audit's history",
        "Each finding's `AuditFindingRecorded` event id is the `causation_id` of the nonconformity it raised."),
}

/// Start an audit
///
/// Only one of the audit's auditors starts it (409 `not_an_auditor`).
#[utoipa::path(
    tag = "internal-audits", operation_id = "start_audit",
    params(("id" = Uuid, Path, description = "Audit id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = StartAuditRequest,
    responses((status = 200, description = "Audit started", body = AuditRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audits/{id}/start")]
pub async fn start_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<StartAuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Audit>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(isms_domain::values::free_text("/note", &body.value.note, isms_domain::values::MAX_TEXT))?;
    let (actor, at) = (context.actor.clone(), Utc::now());
    run(&ledger, context, &id, Creation::ExistingStream, |audit: &Audit| audit.start(note.clone(), &actor, at)).await
}

/// The nonconformity the audit's latest finding calls for, if it is a nonconformity finding.
fn nonconformity_of_latest_finding(entry: &isms_projections::Entry<Audit>) -> Option<CausedNonconformity> {
    let finding = entry.state.findings.last()?;
    Some(CausedNonconformity {
        id: finding.finding_id,
        cause: StreamRef::new(<Audit as isms_domain::Aggregate>::STREAM_TYPE, entry.id.clone()),
        cause_field: "finding_id",
        raised: finding.nonconformity()?,
    })
}

/// Record an audit finding
///
/// A `nonconformity_major` or `nonconformity_minor` finding raises a nonconformity (source
/// `internal_audit`) whose id is the `finding_id` and whose `causation_id` is the finding
/// event's id. A retry with the same Idempotency-Key replays the answer and still makes sure
/// the nonconformity exists; it is never raised twice.
#[utoipa::path(
    tag = "internal-audits", operation_id = "record_audit_finding",
    params(("id" = Uuid, Path, description = "Audit id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RecordFindingRequest,
    responses((status = 200, description = "Finding recorded", body = AuditRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audits/{id}/findings")]
pub async fn record_finding(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RecordFindingRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Audit>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let reference = fields.line("/reference", &request.reference);
    let description = fields.required_text("/description", &request.description);
    let evidence = fields.required_text("/evidence", &request.evidence);
    let finding = fields.finish(|| {
        Some(NewFinding {
            finding_type: request.finding_type,
            reference: reference?,
            description: description?,
            evidence: evidence?,
        })
    })?;
    // Drawn once, outside the decision, so a re-decided command records the same finding.
    let (finding_id, at, actor) = (Uuid::now_v7(), Utc::now(), context.actor.clone());
    run_with_follow_up(
        &ledger,
        context,
        &id,
        Creation::ExistingStream,
        |audit: &Audit| audit.record_finding(finding.clone(), finding_id, &actor, at),
        nonconformity_of_latest_finding,
    )
    .await
}

/// Report an audit
#[utoipa::path(
    tag = "internal-audits", operation_id = "report_audit",
    params(("id" = Uuid, Path, description = "Audit id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ReportAuditRequest,
    responses((status = 200, description = "Audit reported", body = AuditRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/audits/{id}/report")]
pub async fn report_audit(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ReportAuditRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Audit>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let summary = single_field(isms_domain::values::required_text(
        "/summary",
        &body.value.summary,
        isms_domain::values::MAX_TEXT,
    ))?;
    let (actor, at) = (context.actor.clone(), Utc::now());
    run(&ledger, context, &id, Creation::ExistingStream, |audit: &Audit| audit.report(summary.clone(), &actor, at))
        .await
}

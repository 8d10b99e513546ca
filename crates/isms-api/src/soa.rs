//! The Statement of Applicability (ISO/IEC 27001 6.1.3 d) and its export.
//!
//! Every control of the 2022 catalog has a line from the start (undecided until its
//! applicability is decided), so the commands never create anything: they answer 200, and an
//! `If-Match: "0"` guards the first decision on a control.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{CommandContext, Creation, Ledger, ReadPoint, Resolved};
use isms_domain::catalog::{control_2022, Control2022, Theme};
use isms_domain::soa::{
    ControlApplicabilityDecided, ControlImplementationRecorded, ImplementationStatus, SoaEntry, SoaEntryEvent,
};
use isms_domain::{Aggregate, DomainError};
use isms_projections::csv::soa_csv;
use isms_projections::views::soa::{
    implementation_status_schema, risks_naming, soa_record, soa_records, soa_status_schema, soa_version, theme_schema,
    SoaEntryRecord, SoaStatus,
};
use isms_store::StreamRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuditScope, Authorized, Principal, ReadScope, WriteScope};
use crate::csv::csv_response;
use crate::fields::Fields;
use crate::negotiation::{negotiate, CSV, JSON};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::request::{command_context, read_registers, CommandBody, CommandGuards, TimeTravel};
use crate::responses::{command_response, record_response};
use crate::HistoryPage;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(list_soa)
        .service(get_soa_entry)
        .service(soa_entry_history)
        .service(decide_applicability)
        .service(record_implementation)
        .service(soa_report);
}

/// Decide whether a control applies; a justification is required either way (6.1.3 d).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "applicable": true,
    "justification": "Customer design data is encrypted at rest and in transit (risk treatment plan 2026)."
}))]
pub struct ApplicabilityRequest {
    pub applicable: bool,
    /// Required either way (`soa_justification_required` when blank).
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub justification: String,
}

/// Record how far a control is implemented, who owns it and where the evidence is.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "status": "partially_implemented",
    "owner": "alice",
    "evidence_refs": ["POL-07 Cryptography policy v2", "JIRA SEC-142 disk encryption roll-out"]
}))]
pub struct ImplementationRequest {
    #[schema(schema_with = implementation_status_schema)]
    pub status: ImplementationStatus,
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    /// Document ids, tickets or URLs, one per item.
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::SingleLine>)]
    pub evidence_refs: Vec<String>,
}

/// Filters of the statement; an undecided control matches no `applicable` filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SoaFilter {
    pub applicable: Option<bool>,
    #[param(schema_with = soa_status_schema)]
    pub status: Option<SoaStatus>,
    #[param(schema_with = theme_schema)]
    pub theme: Option<Theme>,
}

/// The Statement of Applicability at a read point: one line per ISO/IEC 27001:2022 Annex A
/// control, in catalog order (a fixed list of 93, so it is not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct SoaReport {
    /// The statement's version: the number of SoA events (decisions and implementation records
    /// on any control) up to the read point. It moves with every change to the statement and with
    /// nothing else, so a printed SoA can be matched to the log.
    pub version: u64,
    pub count: usize,
    pub items: Vec<SoaEntryRecord>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The control named in the path; anything outside the 2022 catalog has no line (404).
fn control(raw: &str) -> Result<&'static Control2022, ApiError> {
    control_2022(raw).ok_or_else(|| ApiError::not_found(format!("no ISO/IEC 27001:2022 Annex A control '{raw}'")))
}

/// The open risks whose treatment names the control now, from the live registers (which every
/// acknowledged command has reached).
fn live_risks_naming(
    ledger: &Ledger,
    tenant: &isms_store::TenantId,
    control: &Control2022,
) -> Result<Vec<uuid::Uuid>, ApiError> {
    Ok(ledger.with_registers(tenant, ReadPoint::Latest, |registers, _| risks_naming(registers, control.id))?.0)
}

/// Runs a command on a control's line and answers with the line as the command left it.
async fn run(
    ledger: &Ledger,
    context: CommandContext,
    control: &'static Control2022,
    decide: impl Fn(&SoaEntry) -> Result<Vec<SoaEntryEvent>, DomainError>,
) -> Result<HttpResponse, ApiError> {
    // Every control of the catalog has a line, decided or not, so no stream is "missing".
    let outcome = ledger.execute::<SoaEntry>(&context, control.id, Creation::ExistingStream, |_| true, decide).await?;
    let linked = live_risks_naming(ledger, &context.tenant, control)?;
    let record = SoaEntryRecord::new(control, Some(&outcome.entry), linked);
    Ok(command_response(outcome.status, outcome.entry.version, &record, None, outcome.replayed))
}

/// The whole statement at the requested point.
async fn read_statement(
    request: &HttpRequest,
    principal: &Principal,
    ledger: web::Data<Ledger>,
    travel: &TimeTravel,
) -> Result<(SoaReport, Resolved), ApiError> {
    let point = travel.point(request, principal)?;
    let ((items, version), resolved) = read_registers(ledger, principal.tenant.clone(), point, |registers, _| {
        (soa_records(registers), soa_version(registers))
    })
    .await?;
    let report = SoaReport { version, count: items.len(), items, as_of: resolved.as_of, position: resolved.position };
    Ok((report, resolved))
}

/// Decide a control's applicability
///
/// Inclusion and exclusion both need a justification (`soa_justification_required`). A control
/// that the treatment of an open risk names cannot be excluded
/// (`control_required_by_risk_treatment`, the detail names the risks), nor can one whose
/// implementation is recorded as anything but `not_implemented` (`soa_control_implemented`).
#[utoipa::path(
    tag = "soa", operation_id = "decide_control_applicability",
    params(("control_id" = String, Path, description = "ISO/IEC 27001:2022 Annex A control id, e.g. `8.24`"),
           ("If-Match" = Option<String>, Header, description = "Expected version; \"0\" before the first decision"),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ApplicabilityRequest,
    responses((status = 200, description = "Decision recorded", body = SoaEntryRecord, headers(("ETag" = String))),
        CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/soa/{control_id}/decision")]
pub async fn decide_applicability(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    control_id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ApplicabilityRequest>,
) -> Result<HttpResponse, ApiError> {
    let control = control(&control_id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let justification = fields.text("/justification", &body.value.justification);
    let decision = fields.finish(|| {
        Some(ControlApplicabilityDecided { applicable: body.value.applicable, justification: justification? })
    })?;
    // The risk register is another aggregate: read it live and hand the facts to the decision.
    let required_by = live_risks_naming(&ledger, &context.tenant, control)?;
    run(&ledger, context, control, |entry: &SoaEntry| entry.decide(decision.clone(), &required_by)).await
}

/// Record a control's implementation
///
/// Needs a decision first (`soa_applicability_not_decided`); a control decided not applicable
/// takes only `not_implemented` (`soa_control_not_applicable`).
#[utoipa::path(
    tag = "soa", operation_id = "record_control_implementation",
    params(("control_id" = String, Path, description = "ISO/IEC 27001:2022 Annex A control id, e.g. `8.24`"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"1\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ImplementationRequest,
    responses((status = 200, description = "Implementation recorded", body = SoaEntryRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/soa/{control_id}/implementation")]
pub async fn record_implementation(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    control_id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ImplementationRequest>,
) -> Result<HttpResponse, ApiError> {
    let control = control(&control_id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let owner = fields.line("/owner", &body.value.owner);
    let evidence_refs = fields.lines("/evidence_refs", &body.value.evidence_refs);
    let implementation = fields.finish(|| {
        Some(ControlImplementationRecorded { status: body.value.status, owner: owner?, evidence_refs: evidence_refs? })
    })?;
    run(&ledger, context, control, |entry: &SoaEntry| entry.record_implementation(implementation.clone())).await
}

/// Read the Statement of Applicability
///
/// All 93 controls in catalog order; undecided ones have `decision: null` and status
/// `not_decided`. `linked_risk_ids` are the open risks whose treatment names the control.
#[utoipa::path(
    tag = "soa", operation_id = "get_soa",
    params(SoaFilter, TimeTravel),
    responses((status = 200, description = "The statement, filtered", body = SoaReport), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/soa")]
pub async fn list_soa(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    filter: web::Query<SoaFilter>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let (mut report, _) = read_statement(&request, &auth.principal, ledger, &travel).await?;
    report.items.retain(|item| {
        filter.applicable.is_none_or(|a| item.decision.as_ref().is_some_and(|d| d.applicable == a))
            && filter.status.is_none_or(|s| s == item.status)
            && filter.theme.is_none_or(|t| t == item.theme)
    });
    report.count = report.items.len();
    Ok(HttpResponse::Ok().json(report))
}

/// Read one control's line of the Statement of Applicability
#[utoipa::path(
    tag = "soa", operation_id = "get_soa_entry",
    params(("control_id" = String, Path, description = "ISO/IEC 27001:2022 Annex A control id, e.g. `8.24`"),
           TimeTravel),
    responses((status = 200, description = "The control's line", body = SoaEntryRecord,
        headers(("ETag" = String), ("Isms-Position" = u64), ("Isms-As-Of" = String))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/soa/{control_id}")]
pub async fn get_soa_entry(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    control_id: web::Path<String>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let control = control(&control_id)?;
    let point = travel.point(&request, &auth.principal)?;
    let (record, resolved) =
        read_registers(ledger, auth.principal.tenant.clone(), point, |registers, _| soa_record(registers, control))
            .await?;
    Ok(record_response(&record, record.version, &resolved))
}

/// Read one control's SoA history
///
/// 404 while the control has no decision yet.
#[utoipa::path(
    tag = "soa", operation_id = "get_soa_entry_history",
    params(("control_id" = String, Path, description = "ISO/IEC 27001:2022 Annex A control id, e.g. `8.24`"),
           TimeTravel),
    responses((status = 200, description = "The control's SoA events", body = HistoryPage), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/soa/{control_id}/history")]
pub async fn soa_entry_history(
    request: HttpRequest,
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    control_id: web::Path<String>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let control = control(&control_id)?;
    crate::history_response(
        &request,
        &auth.principal,
        &ledger,
        StreamRef::new(SoaEntry::STREAM_TYPE, control.id),
        &travel,
    )
}

/// Export the Statement of Applicability
///
/// Every ISO/IEC 27001:2022 Annex A control with title, theme, decision, justification,
/// implementation status, owner, evidence references and the open risks whose treatment names
/// it. JSON by default; with `Accept: text/csv` an RFC 4180 CSV (`text/csv; charset=utf-8`,
/// UTF-8 without BOM, CRLF line ends, a header row, one row per control). CSV columns:
/// `control_id, title, theme, applicable, justification, status, owner, evidence_refs,
/// linked_risk_ids, version, as_of, position`. `applicable` is `true`, `false` or empty (not
/// decided); lists (`evidence_refs`, `linked_risk_ids`) hold one item per line inside the
/// quoted cell. The read point is repeated on every row in the last three columns (`version` =
/// the number of SoA events up to the read point, `as_of` RFC 3339 or empty, `position`), so
/// the file opens as one plain table and every row is traceable. Cells that a spreadsheet would
/// run as a formula get a leading `'`. Other `Accept` types are answered with JSON.
#[utoipa::path(
    tag = "reports", operation_id = "get_soa_report",
    params(TimeTravel),
    responses((status = 200, description = "The Statement of Applicability",
        content((SoaReport = "application/json"), (String = "text/csv"))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/soa")]
pub async fn soa_report(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let (report, _) = read_statement(&request, &auth.principal, ledger, &travel).await?;
    if negotiate(&request, &[JSON, CSV]) != CSV {
        return Ok(HttpResponse::Ok().json(report));
    }
    let text = soa_csv(report.items, report.version, report.as_of, report.position);
    Ok(csv_response("statement-of-applicability.csv", text))
}

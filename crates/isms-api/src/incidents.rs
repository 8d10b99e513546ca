//! Information security incidents (ISO/IEC 27001:2022 A.5.24 to A.5.28, A.6.8).

use actix_web::{get, post, web, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::incidents::{Incident, IncidentCategory, IncidentReported, IncidentSeverity, IncidentStatus};
use isms_domain::nonconformity::Severity;
use isms_domain::values::{free_text, required_text, MAX_TEXT};
use isms_domain::ErrorCode;
use isms_projections::views::incidents::{
    incident_category_schema, incident_severity_schema, incident_status_schema, IncidentRecord,
};
use isms_projections::views::severity_schema;
use isms_projections::Entry;
use isms_store::StreamRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::follow_up::{raise_caused, run_with_follow_up, CausedNonconformity};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards, RequestId};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(report_incident)
        .service(list_incidents)
        .service(get_incident)
        .service(incident_history)
        .service(triage_incident)
        .service(contain_incident)
        .service(resolve_incident)
        .service(record_lessons_learned)
        .service(close_incident)
        .service(notify_authority)
        .service(raise_incident_nonconformity);
}

/// Report an information security event (A.6.8).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Laptop stolen from a car",
    "description": "A sales laptop with customer quotes was stolen from a parked car; the disk is encrypted.",
    "detected_at": "2026-11-02T08:30:00Z",
    "reporter": "dave"
}))]
pub struct ReportIncidentRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
    pub detected_at: DateTime<Utc>,
    /// Who observed the event, when the caller reports it for someone else; default: the caller.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub reporter: Option<String>,
}

/// Assess and classify the event (A.5.25).
///
/// For a personal data breach the supervisory authority is due a notification within 72 hours
/// of detection (GDPR Art. 33); Japan's APPI requires a prompt preliminary report to the PPC
/// (速報, within about 3 to 5 days) and a final report (確報) within 30 days (60 days for
/// breaches caused by unauthorised intent). `notification_due_at` is the 72-hour one.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"severity": "high", "category": "physical", "personal_data_breach": true}))]
pub struct TriageIncidentRequest {
    #[schema(schema_with = incident_severity_schema)]
    pub severity: IncidentSeverity,
    #[schema(schema_with = incident_category_schema)]
    pub category: IncidentCategory,
    pub personal_data_breach: bool,
}

/// What was done at a step of the response (containment, resolution, lessons learned).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Remote wipe issued; the user's passwords and VPN certificate revoked."}))]
pub struct IncidentStepRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
}

/// Close the incident (after lessons learned).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "All follow-up actions are tracked in the nonconformity register."}))]
pub struct CloseIncidentRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Record that the supervisory authority was notified of a personal data breach.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "notified_at": "2026-11-03T10:00:00Z",
    "authority": "個人情報保護委員会 (PPC)",
    "reference": "PPC-2026-0412"
}))]
pub struct NotifyAuthorityRequest {
    pub notified_at: DateTime<Utc>,
    #[schema(value_type = crate::fields::SingleLine)]
    pub authority: String,
    /// The authority's case or submission reference.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub reference: Option<String>,
}

/// Raise the incident's nonconformity (10.2).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"severity": "minor", "reference": "A.8.1"}))]
pub struct RaiseIncidentNonconformityRequest {
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    /// Clause or Annex A control not met.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub reference: Option<String>,
}

/// Filters of the incident register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentFilter {
    #[param(schema_with = incident_status_schema)]
    pub status: Option<IncidentStatus>,
    #[param(schema_with = incident_severity_schema)]
    pub severity: Option<IncidentSeverity>,
    #[param(schema_with = incident_category_schema)]
    pub category: Option<IncidentCategory>,
    pub personal_data_breach: Option<bool>,
    pub notification_overdue: Option<bool>,
}

/// A page of the incident register.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentPage {
    pub items: Vec<IncidentRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Report an incident
///
/// Anyone with `isms:write` reports (A.6.8); `reporter` names the person who observed the event.
#[utoipa::path(
    tag = "incidents", operation_id = "report_incident",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = ReportIncidentRequest,
    responses((status = 201, description = "Incident reported", body = IncidentRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents")]
pub async fn report_incident(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<ReportIncidentRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let title = fields.line("/title", &request.title);
    let description = fields.text("/description", &request.description);
    let reporter = fields.optional_line("/reporter", request.reporter.as_deref());
    let report = fields.finish(|| {
        Some(IncidentReported {
            title: title?,
            description: description?,
            detected_at: request.detected_at,
            reported_by: reporter?.unwrap_or_else(|| context.actor.subject.clone()),
        })
    })?;
    let (id, now) = (Uuid::now_v7().to_string(), Utc::now());
    run(&ledger, context, &id, Creation::NewStream, |incident: &Incident| incident.report(report.clone(), now)).await
}

/// List the incident register
///
/// `notification_overdue` is derived for the date read.
#[utoipa::path(
    tag = "incidents", operation_id = "list_incidents",
    params(ListParams, IncidentFilter),
    responses((status = 200, description = "A page of incidents", body = IncidentPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/incidents")]
pub async fn list_incidents(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<IncidentFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Incident>(&request, &auth.principal, ledger, &params, move |incident, record| {
        let triage = incident.triage.as_ref();
        filter.status.is_none_or(|s| s == record.status)
            && filter.severity.is_none_or(|s| triage.is_some_and(|t| t.severity == s))
            && filter.category.is_none_or(|c| triage.is_some_and(|t| t.category == c))
            && filter.personal_data_breach.is_none_or(|p| p == incident.personal_data_breach())
            && filter.notification_overdue.is_none_or(|o| o == record.notification_overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(IncidentPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Incident,
    record: IncidentRecord,
    tag: "incidents",
    noun: "Incident id",
    get: get_incident => ("/incidents/{id}", "get_incident", "Read one incident", "The incident"),
    history: incident_history => ("/incidents/{id}/history", "get_incident_history", "Read an incident's history"),
}

/// Triage an incident
///
/// Severity, category and whether personal data was breached (A.5.25). A personal data breach
/// gets `notification_due_at` = `detected_at` + 72 hours (GDPR Art. 33); Japan's APPI asks
/// for a prompt preliminary report to the PPC and a final report within 30 days.
#[utoipa::path(
    tag = "incidents", operation_id = "triage_incident",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = TriageIncidentRequest,
    responses((status = 200, description = "Incident triaged", body = IncidentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/triage")]
pub async fn triage_incident(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<TriageIncidentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Incident>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let TriageIncidentRequest { severity, category, personal_data_breach } = body.value;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |incident: &Incident| {
        incident.triage(severity, category, personal_data_breach, &actor)
    })
    .await
}

/// Which response step a step request records.
#[derive(Clone, Copy)]
enum Step {
    Contain,
    Resolve,
    LearnLessons,
}

/// Contain, resolve, or record lessons learned: the same shape, three steps of the lifecycle.
async fn record_step(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: &str,
    guards: CommandGuards,
    body: CommandBody<IncidentStepRequest>,
    step: Step,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Incident>(id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let text = single_field(required_text("/description", &body.value.description, MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |incident: &Incident| match step {
        Step::Contain => incident.contain(text.clone(), &actor),
        Step::Resolve => incident.resolve(text.clone(), &actor),
        Step::LearnLessons => incident.record_lessons_learned(text.clone(), &actor),
    })
    .await
}

/// Contain an incident
///
/// Limit the damage (A.5.26); after triage only.
#[utoipa::path(
    tag = "incidents", operation_id = "contain_incident",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = IncidentStepRequest,
    responses((status = 200, description = "Incident contained", body = IncidentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/containment")]
pub async fn contain_incident(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<IncidentStepRequest>,
) -> Result<HttpResponse, ApiError> {
    record_step(auth, ledger, &id, guards, body, Step::Contain).await
}

/// Resolve an incident
///
/// After triage or containment (A.5.26).
#[utoipa::path(
    tag = "incidents", operation_id = "resolve_incident",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = IncidentStepRequest,
    responses((status = 200, description = "Incident resolved", body = IncidentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/resolution")]
pub async fn resolve_incident(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<IncidentStepRequest>,
) -> Result<HttpResponse, ApiError> {
    record_step(auth, ledger, &id, guards, body, Step::Resolve).await
}

/// Record lessons learned
///
/// What the incident taught (A.5.27); after resolution, required before closing.
#[utoipa::path(
    tag = "incidents", operation_id = "record_lessons_learned",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = IncidentStepRequest,
    responses((status = 200, description = "Lessons learned recorded", body = IncidentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/lessons-learned")]
pub async fn record_lessons_learned(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<IncidentStepRequest>,
) -> Result<HttpResponse, ApiError> {
    record_step(auth, ledger, &id, guards, body, Step::LearnLessons).await
}

/// Close an incident
///
/// Only after lessons learned (409 `lessons_learned_required`).
#[utoipa::path(
    tag = "incidents", operation_id = "close_incident",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CloseIncidentRequest,
    responses((status = 200, description = "Incident closed", body = IncidentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/closure")]
pub async fn close_incident(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<CloseIncidentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Incident>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |incident: &Incident| incident.close(note.clone(), &actor))
        .await
}

/// Record the authority notification
///
/// For a personal data breach only (409 `not_a_personal_data_breach`), once.
#[utoipa::path(
    tag = "incidents", operation_id = "notify_authority",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = NotifyAuthorityRequest,
    responses((status = 200, description = "Notification recorded", body = IncidentRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/authority-notification")]
pub async fn notify_authority(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<NotifyAuthorityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Incident>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let authority = fields.line("/authority", &request.authority);
    let reference = fields.optional_line("/reference", request.reference.as_deref());
    let (authority, reference) = fields.finish(|| Some((authority?, reference?)))?;
    let (notified_at, actor) = (request.notified_at, context.actor.clone());
    run(&ledger, context, &id, Creation::ExistingStream, |incident: &Incident| {
        incident.notify_authority(notified_at, authority.clone(), reference.clone(), &actor)
    })
    .await
}

/// The nonconformity an incident asked for, caused by the incident event that asked for it.
fn caused_by_incident(entry: &Entry<Incident>) -> Option<CausedNonconformity> {
    let (id, raised) = entry.state.caused_nonconformity()?;
    Some(CausedNonconformity {
        id,
        cause: StreamRef::new(<Incident as isms_domain::Aggregate>::STREAM_TYPE, entry.id.clone()),
        cause_field: "nonconformity_id",
        raised,
    })
}

/// Raise a nonconformity from an incident
///
/// Records `NonconformityRaisedForIncident` (with a new nonconformity id) as the incident's
/// latest event, then raises the nonconformity (source `incident`, the incident's title,
/// description and detection time) with that event's id as `causation_id`. One per incident:
/// a second call answers 409 `incident_nonconformity_already_raised` with the existing
/// `nonconformity_id` in the problem.
#[utoipa::path(
    tag = "incidents", operation_id = "raise_incident_nonconformity",
    params(("id" = Uuid, Path, description = "Incident id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RaiseIncidentNonconformityRequest,
    responses((status = 200, description = "Nonconformity raised; the incident names it", body = IncidentRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/incidents/{id}/nonconformity")]
pub async fn raise_incident_nonconformity(
    request: HttpRequest,
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RaiseIncidentNonconformityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Incident>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let reference = fields.optional_line("/reference", body.value.reference.as_deref());
    let reference = fields.finish(|| reference)?;
    let (nonconformity_id, severity, actor) = (Uuid::now_v7(), body.value.severity, context.actor.clone());
    let outcome = run_with_follow_up(
        &ledger,
        context.clone(),
        &id,
        Creation::ExistingStream,
        |incident: &Incident| incident.raise_nonconformity(nonconformity_id, severity, reference.clone(), &actor),
        caused_by_incident,
    )
    .await;
    let refused_as_raised = matches!(&outcome, Err(ApiError::Status { code, .. })
        if *code == ErrorCode::IncidentNonconformityAlreadyRaised.as_str());
    if !refused_as_raised {
        return outcome;
    }
    // The incident already has one: make sure it exists (an earlier attempt may have stopped
    // between the two appends) and name it in the problem.
    let (entry, _) = ledger.record::<Incident>(&auth.principal.tenant, &id, ReadPoint::Latest)?;
    let caused = entry.as_ref().and_then(caused_by_incident);
    let existing = caused.as_ref().map(|c| c.id);
    if let Some(caused) = caused {
        raise_caused(&ledger, &context, caused).await?;
    }
    let error = outcome.err().unwrap_or_else(|| ApiError::Internal("a refusal without an error".into()));
    let request_id = request.extensions().get::<RequestId>().map(|id| id.0.clone());
    let mut problem = serde_json::to_value(error.to_problem(request.path(), request_id.as_deref()))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    problem["nonconformity_id"] = serde_json::json!(existing);
    Ok(HttpResponse::Conflict().content_type("application/problem+json").json(problem))
}

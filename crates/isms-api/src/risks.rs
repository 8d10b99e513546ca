//! The risk register (ISO/IEC 27001 6.1.2, 6.1.3, 8.2, 8.3) and the risk criteria (6.1.2 a).

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::criteria::CriteriaState;
use isms_domain::risk::{
    AcceptResidualRisk, AssessRisk, PlanTreatment, Risk, RiskIdentified, RiskKind, RiskStatus, TreatmentOption,
};
use isms_domain::values::{free_text, required_line, required_text, ControlRef, MAX_LINE, MAX_TEXT};
use isms_domain::{Aggregate, DomainError, ErrorCode};
use isms_projections::views::{
    risk_kind_schema, risk_status_schema, treatment_option_schema, RiskCriteriaBody, RiskCriteriaRecord, RiskRecord,
};
use isms_store::StreamRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AdminScope, AuditScope, Authorized, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, ListParams};
use crate::request::{command_context, record_id, CommandBody, CommandGuards, TimeTravel};
use crate::responses::{command_response, record_response};
use crate::HistoryPage;
use isms_domain::context::ContextIssue;
use isms_domain::risk::RiskSourcesLinked;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(identify_risk)
        .service(list_risks)
        .service(get_risk)
        .service(risk_history)
        .service(assess_risk)
        .service(plan_treatment)
        .service(accept_residual_risk)
        .service(close_risk)
        .service(link_risk_sources)
        .service(get_risk_criteria)
        .service(define_risk_criteria);
}

/// Identify a risk or opportunity.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Stolen laptop exposes customer data",
    "description": "Field staff carry laptops with local copies of customer files.",
    "kind": "risk",
    "category": "physical",
    "owner": "alice",
    "asset_refs": ["laptops"],
    "threat": "theft",
    "vulnerability": "unencrypted disks"
}))]
pub struct IdentifyRiskRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
    #[serde(default)]
    #[schema(schema_with = risk_kind_schema)]
    pub kind: RiskKind,
    #[schema(value_type = crate::fields::SingleLine)]
    pub category: String,
    /// The risk owner (a token `sub`): the person accountable, who accepts the residual risk.
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::SingleLine>)]
    pub asset_refs: Vec<String>,
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub threat: Option<String>,
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub vulnerability: Option<String>,
}

impl IdentifyRiskRequest {
    fn parse(self) -> Result<RiskIdentified, ApiError> {
        let mut fields = Fields::default();
        let title = fields.take(required_line("/title", &self.title, MAX_LINE));
        let description = fields.take(free_text("/description", &self.description, MAX_TEXT));
        let category = fields.take(required_line("/category", &self.category, MAX_LINE));
        let owner = fields.take(required_line("/owner", &self.owner, MAX_LINE));
        let asset_refs = fields.lines("/asset_refs", &self.asset_refs);
        let threat = fields.optional_line("/threat", self.threat.as_deref());
        let vulnerability = fields.optional_line("/vulnerability", self.vulnerability.as_deref());
        fields.finish(|| {
            Some(RiskIdentified {
                kind: self.kind,
                title: title?,
                description: description?,
                category: category?,
                owner: owner?,
                asset_refs: asset_refs?,
                threat: threat?,
                vulnerability: vulnerability?,
            })
        })
    }
}

/// Assess (or reassess) a risk. Score and level are computed by the server.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"likelihood": 4, "impact": 4, "rationale": "Two laptops were lost last year."}))]
pub struct AssessRiskRequest {
    /// A level of the likelihood scale of the risk criteria in force (at most 10 levels).
    #[schema(minimum = 1, maximum = 10)]
    pub likelihood: u8,
    /// A level of the impact scale of the risk criteria in force (at most 10 levels).
    #[schema(minimum = 1, maximum = 10)]
    pub impact: u8,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub rationale: String,
}

/// Decide how a risk is treated.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "option": "modify",
    "controls": ["8.1", "5.15"],
    "actions": ["Enable full-disk encryption on all laptops"],
    "owner": "bob",
    "due_date": "2027-03-31",
    "target_residual_likelihood": 2,
    "target_residual_impact": 3
}))]
pub struct PlanTreatmentRequest {
    #[schema(schema_with = treatment_option_schema)]
    pub option: TreatmentOption,
    /// ISO/IEC 27001:2022 Annex A control ids, such as `5.15` or `8.8` (`A.5.15` also reads).
    #[serde(default)]
    #[schema(inline, value_type = Vec<ControlId>)]
    pub controls: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::RequiredFreeText>)]
    pub actions: Vec<String>,
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    pub due_date: Option<NaiveDate>,
    #[schema(minimum = 1, maximum = 10)]
    pub target_residual_likelihood: u8,
    #[schema(minimum = 1, maximum = 10)]
    pub target_residual_impact: u8,
}

/// Every id `ControlRef::parse` accepts: the 2022 catalog's, with or without `A.`.
fn control_id_schema() -> utoipa::openapi::schema::Object {
    let ids = isms_domain::catalog::ISO27001_2022.iter().map(|control| control.id);
    let prefixed: Vec<String> = ids.clone().map(|id| format!("A.{id}")).collect();
    let names: Vec<&str> = ids.chain(prefixed.iter().map(String::as_str)).collect();
    isms_projections::views::string_enum(&names)
}

crate::param_schemas::param_schema!(ControlId, control_id_schema);

/// Accept the residual risk (risk owner or `admin` only).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"justification": "Residual risk within appetite after encryption."}))]
pub struct AcceptRiskRequest {
    /// Required when the residual score is above the acceptance threshold.
    #[schema(value_type = Option<crate::fields::FreeText>)]
    pub justification: Option<String>,
}

/// Close a risk.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Laptops replaced by thin clients."}))]
pub struct CloseRiskRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters and paging for the risk register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RiskListQuery {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    #[param(schema_with = risk_status_schema)]
    pub status: Option<RiskStatus>,
    #[param(schema_with = risk_kind_schema)]
    pub kind: Option<RiskKind>,
    pub owner: Option<String>,
    pub category: Option<String>,
    /// Level of the current assessment, e.g. `high`.
    pub level: Option<String>,
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    pub as_of_position: Option<u64>,
    /// Only records that took effect at or after this instant (RFC 3339): for a risk, when it
    /// was identified (risks state no business time of their own).
    pub effective_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only records that took effect at or before this instant (RFC 3339).
    pub effective_to: Option<chrono::DateTime<chrono::Utc>>,
}

/// A page of the risk register.
#[derive(Debug, Serialize, ToSchema)]
pub struct RiskPage {
    pub items: Vec<RiskRecord>,
    pub next_cursor: Option<String>,
    /// The instant the read resolved to (the last event's time for a current read).
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// The log position the read reflects.
    pub position: u64,
}

/// The criteria in force, read only by the commands that score (identify and close do not).
fn current_criteria(
    ledger: &Ledger,
    tenant: &isms_store::TenantId,
) -> Result<isms_domain::criteria::VersionedCriteria, ApiError> {
    let (entry, _) = ledger.record::<CriteriaState>(tenant, CriteriaState::STREAM_ID, isms_app::ReadPoint::Latest)?;
    Ok(entry.map(|e| e.state.current).unwrap_or_else(|| CriteriaState::default().current))
}

/// Identify a risk or opportunity
///
/// Creates a risk in status `identified`. Assess it next.
#[utoipa::path(
    tag = "risks", operation_id = "identify_risk",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = IdentifyRiskRequest,
    responses(
        (status = 201, description = "Risk identified", body = RiskRecord,
         headers(("ETag" = String, description = "Stream version"), ("Location" = String))),
        CommandProblems
    ),
    security(("bearer" = ["isms:write"]))
)]
#[post("/risks")]
pub async fn identify_risk(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<IdentifyRiskRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let identified = body.value.parse()?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |risk: &Risk| risk.identify(identified.clone())).await
}

/// List the risk register
///
/// Filters combine with AND. Add `as_of` or `as_of_position` (scope `audit:read`) to read the
/// register as it stood at that point.
#[utoipa::path(
    tag = "risks", operation_id = "list_risks",
    params(RiskListQuery),
    responses((status = 200, description = "A page of risks", body = RiskPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/risks")]
pub async fn list_risks(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    query: web::Query<RiskListQuery>,
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
    let page = list_records::<Risk>(&request, &auth.principal, ledger, &params, move |risk, _| {
        let Some(identification) = risk.identification.as_ref() else { return false };
        query.status.is_none_or(|s| s == risk.status)
            && query.kind.is_none_or(|k| k == identification.kind)
            && query.owner.as_ref().is_none_or(|o| *o == identification.owner)
            && query.category.as_ref().is_none_or(|c| *c == identification.category)
            && query.level.as_ref().is_none_or(|l| risk.assessment.as_ref().is_some_and(|a| a.rating.level == *l))
    })
    .await?;
    let (items, next_cursor, resolved) = (page.items, page.next_cursor, page.resolved);
    Ok(HttpResponse::Ok().json(RiskPage { items, next_cursor, as_of: resolved.as_of, position: resolved.position }))
}

/// Read one risk
///
/// Add `as_of` or `as_of_position` (scope `audit:read`) to read it as it stood then; the
/// resolved point comes back in the `Isms-As-Of` and `Isms-Position` headers.
#[utoipa::path(
    tag = "risks", operation_id = "get_risk",
    params(("id" = Uuid, Path, description = "Risk id"), TimeTravel),
    responses((status = 200, description = "The risk", body = RiskRecord,
        headers(("ETag" = String), ("Isms-Position" = u64), ("Isms-As-Of" = String))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/risks/{id}")]
pub async fn get_risk(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    let point = travel.point(&request, &auth.principal)?;
    let (entry, resolved) = ledger.record::<Risk>(&auth.principal.tenant, &id, point)?;
    let entry =
        entry.filter(|e| e.state.exists()).ok_or_else(|| ApiError::not_found(format!("no risk with id {id}")))?;
    Ok(record_response(&RiskRecord::from_entry(&entry, resolved.reading_date()), entry.version, &resolved))
}

/// Read a risk's history
///
/// Every event of the risk, oldest first, with actor, time and position.
#[utoipa::path(
    tag = "risks", operation_id = "get_risk_history",
    params(("id" = Uuid, Path, description = "Risk id"), TimeTravel),
    responses((status = 200, description = "The risk's events", body = HistoryPage), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/risks/{id}/history")]
pub async fn risk_history(
    request: HttpRequest,
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    crate::history_response(&request, &auth.principal, &ledger, StreamRef::new(Risk::STREAM_TYPE, id), &travel)
}

/// Assess or reassess a risk
///
/// The server computes score and level from the risk criteria in force and records their
/// version. Reassessing a closed risk reopens it; reassessing clears an earlier treatment
/// decision and acceptance.
#[utoipa::path(
    tag = "risks", operation_id = "assess_risk",
    params(("id" = Uuid, Path, description = "Risk id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = AssessRiskRequest,
    responses((status = 200, description = "Risk assessed", body = RiskRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/risks/{id}/assessments")]
pub async fn assess_risk(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<AssessRiskRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let rationale = fields.take(free_text("/rationale", &body.value.rationale, MAX_TEXT));
    let command = fields.finish(|| {
        Some(AssessRisk { likelihood: body.value.likelihood, impact: body.value.impact, rationale: rationale? })
    })?;
    let criteria = current_criteria(&ledger, &context.tenant)?;
    run(&ledger, context, &id, Creation::ExistingStream, |risk: &Risk| risk.assess(command.clone(), &criteria)).await
}

/// Plan a risk's treatment
///
/// Needs an assessment first (`risk_not_assessed`). Control references are validated as
/// ISO/IEC 27001:2022 Annex A identifiers.
#[utoipa::path(
    tag = "risks", operation_id = "plan_risk_treatment",
    params(("id" = Uuid, Path, description = "Risk id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PlanTreatmentRequest,
    responses((status = 200, description = "Treatment planned", body = RiskRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/risks/{id}/treatment")]
pub async fn plan_treatment(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PlanTreatmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let controls: Vec<Option<ControlRef>> = request
        .controls
        .iter()
        .enumerate()
        .map(|(i, c)| fields.take(ControlRef::parse(&format!("/controls/{i}"), c)))
        .collect();
    let actions: Vec<Option<String>> = request
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| fields.take(required_text(&format!("/actions/{i}"), a, MAX_TEXT)))
        .collect();
    let owner = fields.take(required_line("/owner", &request.owner, MAX_LINE));
    let command = fields.finish(|| {
        Some(PlanTreatment {
            option: request.option,
            controls: controls.into_iter().collect::<Option<_>>()?,
            actions: actions.into_iter().collect::<Option<_>>()?,
            owner: owner?,
            due_date: request.due_date,
            target_residual_likelihood: request.target_residual_likelihood,
            target_residual_impact: request.target_residual_impact,
        })
    })?;
    let criteria = current_criteria(&ledger, &context.tenant)?;
    run(&ledger, context, &id, Creation::ExistingStream, |risk: &Risk| risk.plan_treatment(command.clone(), &criteria))
        .await
}

/// Accept a risk's residual risk
///
/// Only the risk owner or a caller with the `admin` scope (6.1.3 f). A residual score above
/// the acceptance threshold needs a justification.
#[utoipa::path(
    tag = "risks", operation_id = "accept_residual_risk",
    params(("id" = Uuid, Path, description = "Risk id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = AcceptRiskRequest,
    responses((status = 200, description = "Residual risk accepted", body = RiskRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/risks/{id}/acceptance")]
pub async fn accept_residual_risk(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<AcceptRiskRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let justification = match &body.value.justification {
        Some(text) => fields.take(free_text("/justification", text, MAX_TEXT)).map(Some),
        None => Some(None),
    };
    let command = fields.finish(|| Some(AcceptResidualRisk { justification: justification? }))?;
    let actor = context.actor.clone();
    let criteria = current_criteria(&ledger, &context.tenant)?;
    run(&ledger, context, &id, Creation::ExistingStream, |risk: &Risk| {
        risk.accept_residual(command.clone(), &actor, &criteria)
    })
    .await
}

/// Close a risk
///
/// A closed risk takes no command except a reassessment, which reopens it.
#[utoipa::path(
    tag = "risks", operation_id = "close_risk",
    params(("id" = Uuid, Path, description = "Risk id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CloseRiskRequest,
    responses((status = 200, description = "Risk closed", body = RiskRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/risks/{id}/closure")]
pub async fn close_risk(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<CloseRiskRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |risk: &Risk| risk.close(reason.clone())).await
}

/// Read the risk criteria in force
///
/// Version 0 is the built-in 5x5 default.
#[utoipa::path(
    tag = "risk-criteria", operation_id = "get_risk_criteria",
    params(TimeTravel),
    responses((status = 200, description = "The risk criteria", body = RiskCriteriaRecord, headers(("ETag" = String))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/risk-criteria")]
pub async fn get_risk_criteria(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (entry, resolved) = ledger.record::<CriteriaState>(&auth.principal.tenant, CriteriaState::STREAM_ID, point)?;
    let state = entry.map(|e| e.state).unwrap_or_default();
    let record = RiskCriteriaRecord { version: state.current.version, criteria: (&state.current.criteria).into() };
    Ok(record_response(&record, state.current.version, &resolved))
}

/// Define new risk criteria
///
/// Scales, bands and acceptance threshold (6.1.2 a). Earlier assessments keep the criteria
/// version they were scored with.
#[utoipa::path(
    tag = "risk-criteria", operation_id = "define_risk_criteria",
    params(("If-Match" = Option<String>, Header, description = "Expected criteria version, e.g. \"0\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = RiskCriteriaBody, example = json!({
        "likelihood_scale": [{"value": 1, "label": "rare"}, {"value": 2, "label": "possible"}, {"value": 3, "label": "likely"}],
        "impact_scale": [{"value": 1, "label": "minor"}, {"value": 2, "label": "moderate"}, {"value": 3, "label": "severe"}],
        "level_bands": [{"level": "low", "min_score": 1, "max_score": 2}, {"level": "medium", "min_score": 3, "max_score": 4}, {"level": "high", "min_score": 5, "max_score": 9}],
        "acceptance_threshold": 4
    })),
    responses((status = 200, description = "Criteria defined", body = RiskCriteriaRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[put("/risk-criteria")]
pub async fn define_risk_criteria(
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<RiskCriteriaBody>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let criteria: isms_domain::criteria::RiskCriteria = body.value.clone().into();
    let outcome = ledger
        .execute::<CriteriaState>(
            &context,
            CriteriaState::STREAM_ID,
            Creation::ExistingStream,
            |_| true,
            |state| state.define(criteria.clone()),
        )
        .await?;
    let current = &outcome.entry.state.current;
    let record = RiskCriteriaRecord { version: current.version, criteria: (&current.criteria).into() };
    Ok(command_response(outcome.status, outcome.entry.version, &record, None, outcome.replayed))
}

/// Link a risk to the context it arises from.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"context_issue_ids": ["0193a0c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e"], "requirement_ids": []}))]
pub struct LinkRiskSourcesRequest {
    /// Context issues (4.1); each must exist.
    #[serde(default)]
    pub context_issue_ids: Vec<Uuid>,
    /// Interested-party requirements (4.2); each must exist.
    #[serde(default)]
    pub requirement_ids: Vec<Uuid>,
}

/// Link a risk to its sources
///
/// Replaces the risk's links to context issues (4.1) and interested-party requirements (4.2),
/// which the traceability matrix follows from the context to the risk.
#[utoipa::path(
    tag = "risks", operation_id = "link_risk_sources",
    params(("id" = Uuid, Path, description = "Risk id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = LinkRiskSourcesRequest,
    responses((status = 200, description = "Links replaced", body = RiskRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/risks/{id}/sources")]
pub async fn link_risk_sources(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<LinkRiskSourcesRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = record_id(&id, "risk")?.to_string();
    let context = command_context(&auth.principal, &guards, &body);
    ensure_exist::<ContextIssue>(&ledger, &auth.principal, "/context_issue_ids", &body.value.context_issue_ids)?;
    let requirement_ids = body.value.requirement_ids.clone();
    let (missing, _) = ledger.with_registers(&auth.principal.tenant, ReadPoint::Latest, |registers, _| {
        requirement_ids
            .iter()
            .enumerate()
            .filter(|(_, id)| registers.requirement(**id).is_none())
            .map(|(i, id)| {
                DomainError::at(
                    ErrorCode::ReferencedRecordNotFound,
                    format!("/requirement_ids/{i}"),
                    format!("no interested-party requirement with id {id}"),
                )
            })
            .collect::<Vec<_>>()
    })?;
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    let sources = RiskSourcesLinked {
        context_issue_ids: body.value.context_issue_ids.clone(),
        requirement_ids: body.value.requirement_ids.clone(),
    };
    run(&ledger, context, &id, Creation::ExistingStream, |risk: &Risk| risk.link_sources(sources.clone())).await
}

//! Interested parties and their requirements (ISO/IEC 27001 4.2).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::context::ContextIssue;
use isms_domain::parties::{InterestedParty, PartyCategory, PartyDetails, PartyStatus, Requirement};
use isms_domain::values::{required_text, MAX_TEXT};
use isms_projections::views::parties::{party_category_schema, party_status_schema, InterestedPartyRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, Principal, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(register_interested_party)
        .service(list_interested_parties)
        .service(get_interested_party)
        .service(interested_party_history)
        .service(revise_interested_party)
        .service(add_requirement)
        .service(revise_requirement)
        .service(withdraw_requirement)
        .service(retire_interested_party);
}

/// Register (or, in a revision, restate) an interested party.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "顧客",
    "category": "customer",
    "description": "Manufacturers that entrust us with confidential design data."
}))]
pub struct InterestedPartyRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub name: String,
    #[schema(schema_with = party_category_schema)]
    pub category: PartyCategory,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
}

impl InterestedPartyRequest {
    fn validate(&self) -> Result<PartyDetails, ApiError> {
        let mut fields = Fields::default();
        let name = fields.line("/name", &self.name);
        let description = fields.text("/description", &self.description);
        fields.finish(|| Some(PartyDetails { name: name?, category: self.category, description: description? }))
    }
}

/// Add a requirement (a need or expectation, 4.2 b) to a party.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "description": "情報の機密性、契約の履行",
    "addressed_by_isms": true,
    "how_addressed": "機密情報の取扱いに関する教育・運用管理の徹底",
    "context_issue_ids": []
}))]
pub struct RequirementRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
    /// 4.2 c: whether the ISMS addresses the requirement.
    #[serde(default)]
    pub addressed_by_isms: bool,
    /// Required when `addressed_by_isms`, and only then.
    #[schema(value_type = Option<crate::fields::RequiredFreeText>)]
    pub how_addressed: Option<String>,
    /// Context issues (4.1) the requirement relates to; each must exist.
    #[serde(default)]
    pub context_issue_ids: Vec<Uuid>,
}

/// Revise a requirement: restates it whole.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "requirement_id": "0193a0c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e",
    "description": "情報の機密性、契約の履行",
    "addressed_by_isms": true,
    "how_addressed": "NDA handling procedure and yearly training",
    "context_issue_ids": []
}))]
pub struct RequirementRevisionRequest {
    pub requirement_id: Uuid,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
    #[serde(default)]
    pub addressed_by_isms: bool,
    #[schema(value_type = Option<crate::fields::RequiredFreeText>)]
    pub how_addressed: Option<String>,
    #[serde(default)]
    pub context_issue_ids: Vec<Uuid>,
}

impl RequirementRequest {
    /// The requirement under `requirement_id`; linked context issues must exist.
    fn validate(&self, ledger: &Ledger, principal: &Principal, requirement_id: Uuid) -> Result<Requirement, ApiError> {
        let mut fields = Fields::default();
        let description = fields.required_text("/description", &self.description);
        let how_addressed = match self.how_addressed.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
            Some(how) => fields.required_text("/how_addressed", how).map(Some),
            None => Some(None),
        };
        let requirement = fields.finish(|| {
            Some(Requirement {
                requirement_id,
                description: description?,
                addressed_by_isms: self.addressed_by_isms,
                how_addressed: how_addressed?,
                context_issue_ids: self.context_issue_ids.clone(),
            })
        })?;
        ensure_exist::<ContextIssue>(ledger, principal, "/context_issue_ids", &requirement.context_issue_ids)?;
        Ok(requirement)
    }
}

impl From<&RequirementRevisionRequest> for RequirementRequest {
    fn from(revision: &RequirementRevisionRequest) -> Self {
        Self {
            description: revision.description.clone(),
            addressed_by_isms: revision.addressed_by_isms,
            how_addressed: revision.how_addressed.clone(),
            context_issue_ids: revision.context_issue_ids.clone(),
        }
    }
}

/// Withdraw a requirement that no longer applies; it stays on record, so links to it resolve.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "requirement_id": "0193a0c4-7b1e-7c3a-9d2e-1f2a3b4c5d6e",
    "reason": "The customer dropped the clause."
}))]
pub struct WithdrawRequirementRequest {
    pub requirement_id: Uuid,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Retire a party that is no longer relevant to the ISMS.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The last contract with this customer ended."}))]
pub struct RetireInterestedPartyRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the register of interested parties.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InterestedPartyFilter {
    #[param(schema_with = party_category_schema)]
    pub category: Option<PartyCategory>,
    #[param(schema_with = party_status_schema)]
    pub status: Option<PartyStatus>,
    /// `true`: parties whose active requirements are all addressed by the ISMS; `false`:
    /// parties with at least one unaddressed requirement.
    pub addressed: Option<bool>,
}

/// A page of the register of interested parties.
#[derive(Debug, Serialize, ToSchema)]
pub struct InterestedPartyPage {
    pub items: Vec<InterestedPartyRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The `reason` of a retirement or withdrawal, which must say something.
pub(crate) fn reason(text: &str) -> Result<String, ApiError> {
    single_field(required_text("/reason", text, MAX_TEXT))
}

/// Register an interested party
#[utoipa::path(
    tag = "interested-parties", operation_id = "register_interested_party",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = InterestedPartyRequest,
    responses((status = 201, description = "Party registered", body = InterestedPartyRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/interested-parties")]
pub async fn register_interested_party(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<InterestedPartyRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |party: &InterestedParty| party.register(details.clone())).await
}

/// List the register of interested parties
#[utoipa::path(
    tag = "interested-parties", operation_id = "list_interested_parties",
    params(ListParams, InterestedPartyFilter),
    responses((status = 200, description = "A page of interested parties", body = InterestedPartyPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/interested-parties")]
pub async fn list_interested_parties(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<InterestedPartyFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<InterestedParty>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.category.is_none_or(|c| c == record.category)
            && filter.status.is_none_or(|s| s == record.status)
            && filter.addressed.is_none_or(|addressed| addressed == (record.unaddressed_requirements == 0))
    })
    .await?;
    Ok(HttpResponse::Ok().json(InterestedPartyPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: InterestedParty,
    record: InterestedPartyRecord,
    tag: "interested-parties",
    noun: "Interested party id",
    get: get_interested_party => ("/interested-parties/{id}", "get_interested_party", "Read one interested party", "The interested party"),
    history: interested_party_history => ("/interested-parties/{id}/history", "get_interested_party_history", "Read an interested party's history"),
}

/// Revise an interested party
///
/// Restates the party's name, category and description; its requirements are unchanged.
#[utoipa::path(
    tag = "interested-parties", operation_id = "revise_interested_party",
    params(("id" = Uuid, Path, description = "Interested party id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = InterestedPartyRequest,
    responses((status = 200, description = "Party revised", body = InterestedPartyRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/interested-parties/{id}/revisions")]
pub async fn revise_interested_party(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<InterestedPartyRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<InterestedParty>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    run(&ledger, context, &id, Creation::ExistingStream, |party: &InterestedParty| party.revise(details.clone())).await
}

/// Add a requirement to an interested party
///
/// The server draws the requirement's id; it is the last of the party's `requirements` in the
/// answer. A requirement the ISMS addresses needs `how_addressed` (`how_addressed_required`).
#[utoipa::path(
    tag = "interested-parties", operation_id = "add_interested_party_requirement",
    params(("id" = Uuid, Path, description = "Interested party id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RequirementRequest,
    responses((status = 200, description = "Requirement added", body = InterestedPartyRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/interested-parties/{id}/requirements")]
pub async fn add_requirement(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RequirementRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<InterestedParty>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    // Drawn once, outside the decision, so a retried decision adds the same requirement.
    let requirement = body.value.validate(&ledger, &auth.principal, Uuid::now_v7())?;
    run(&ledger, context, &id, Creation::ExistingStream, |party: &InterestedParty| {
        party.add_requirement(requirement.clone())
    })
    .await
}

/// Revise a requirement of an interested party
///
/// Restates the requirement named by `requirement_id` (404 `requirement_not_found` when the
/// party has none such; 409 `requirement_withdrawn` once withdrawn).
#[utoipa::path(
    tag = "interested-parties", operation_id = "revise_interested_party_requirement",
    params(("id" = Uuid, Path, description = "Interested party id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RequirementRevisionRequest,
    responses((status = 200, description = "Requirement revised", body = InterestedPartyRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/interested-parties/{id}/requirement-revisions")]
pub async fn revise_requirement(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RequirementRevisionRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<InterestedParty>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let requirement =
        RequirementRequest::from(&body.value).validate(&ledger, &auth.principal, body.value.requirement_id)?;
    run(&ledger, context, &id, Creation::ExistingStream, |party: &InterestedParty| {
        party.revise_requirement(requirement.clone())
    })
    .await
}

/// Withdraw a requirement of an interested party
#[utoipa::path(
    tag = "interested-parties", operation_id = "withdraw_interested_party_requirement",
    params(("id" = Uuid, Path, description = "Interested party id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = WithdrawRequirementRequest,
    responses((status = 200, description = "Requirement withdrawn", body = InterestedPartyRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/interested-parties/{id}/requirement-withdrawals")]
pub async fn withdraw_requirement(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<WithdrawRequirementRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<InterestedParty>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = reason(&body.value.reason)?;
    let requirement_id = body.value.requirement_id;
    run(&ledger, context, &id, Creation::ExistingStream, |party: &InterestedParty| {
        party.withdraw_requirement(requirement_id, reason.clone())
    })
    .await
}

/// Retire an interested party
///
/// A retired party takes no further command (`interested_party_retired`).
#[utoipa::path(
    tag = "interested-parties", operation_id = "retire_interested_party",
    params(("id" = Uuid, Path, description = "Interested party id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RetireInterestedPartyRequest,
    responses((status = 200, description = "Party retired", body = InterestedPartyRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/interested-parties/{id}/retirement")]
pub async fn retire_interested_party(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RetireInterestedPartyRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<InterestedParty>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = reason(&body.value.reason)?;
    run(&ledger, context, &id, Creation::ExistingStream, |party: &InterestedParty| party.retire(reason.clone())).await
}

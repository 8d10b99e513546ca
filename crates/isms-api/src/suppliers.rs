//! Supplier relationships (ISO/IEC 27001:2022 A.5.19 to A.5.22).

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger};
use isms_domain::suppliers::{
    NewAgreement, ReviewOutcome, Supplier, SupplierDetails, SupplierReviewed, SupplierRiskRating, SupplierStatus,
    SupplierTerminated,
};
use isms_domain::values::{free_text, required_text, MAX_TEXT};
use isms_projections::views::suppliers::{
    review_outcome_schema, supplier_risk_rating_schema, supplier_status_schema, SupplierRecord,
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
        .service(propose_supplier)
        .service(list_suppliers)
        .service(get_supplier)
        .service(supplier_history)
        .service(revise_supplier)
        .service(record_supplier_agreement)
        .service(approve_supplier)
        .service(review_supplier)
        .service(terminate_supplier);
}

/// Propose (or, in a revision, restate) a supplier.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "さくらクラウド株式会社",
    "services": "IaaS hosting of the customer portal",
    "owner": "alice",
    "risk_rating": "high",
    "handles_personal_data": true
}))]
pub struct SupplierRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub name: String,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub services: String,
    /// Who in the organization is responsible for the relationship.
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    #[schema(schema_with = supplier_risk_rating_schema)]
    pub risk_rating: SupplierRiskRating,
    pub handles_personal_data: bool,
}

impl SupplierRequest {
    fn validate(&self) -> Result<SupplierDetails, ApiError> {
        let mut fields = Fields::default();
        let name = fields.line("/name", &self.name);
        let services = fields.required_text("/services", &self.services);
        let owner = fields.line("/owner", &self.owner);
        fields.finish(|| {
            Some(SupplierDetails {
                name: name?,
                services: services?,
                owner: owner?,
                risk_rating: self.risk_rating,
                handles_personal_data: self.handles_personal_data,
            })
        })
    }
}

/// An agreement with the supplier (A.5.20).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Master services agreement with security annex",
    "signed_on": "2026-04-01",
    "expires_on": "2028-03-31",
    "security_requirements": ["ISO/IEC 27001 certification kept valid", "Incidents reported within 24 hours"]
}))]
pub struct SupplierAgreementRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    pub signed_on: NaiveDate,
    /// After `signed_on`; omit for an open-ended agreement.
    pub expires_on: Option<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::SingleLine>)]
    pub security_requirements: Vec<String>,
}

impl SupplierAgreementRequest {
    fn validate(&self) -> Result<NewAgreement, ApiError> {
        let mut fields = Fields::default();
        let title = fields.line("/title", &self.title);
        let security_requirements = fields.lines("/security_requirements", &self.security_requirements);
        fields.finish(|| {
            Some(NewAgreement {
                title: title?,
                signed_on: self.signed_on,
                expires_on: self.expires_on,
                security_requirements: security_requirements?,
            })
        })
    }
}

/// Approve the supplier for use.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Due diligence done; SOC 2 report reviewed."}))]
pub struct ApproveSupplierRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// A review of the supplier's service delivery and security (A.5.22).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "reviewed_on": "2026-10-15",
    "outcome": "issues_found",
    "notes": "Two incidents reported late.",
    "next_review_due_on": "2027-04-15"
}))]
pub struct SupplierReviewRequest {
    pub reviewed_on: NaiveDate,
    #[schema(schema_with = review_outcome_schema)]
    pub outcome: ReviewOutcome,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub notes: String,
    /// After `reviewed_on`.
    pub next_review_due_on: NaiveDate,
}

/// End the relationship.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"terminated_on": "2027-03-31", "reason": "Moved to another provider."}))]
pub struct TerminateSupplierRequest {
    pub terminated_on: NaiveDate,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the supplier register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SupplierFilter {
    #[param(schema_with = supplier_status_schema)]
    pub status: Option<SupplierStatus>,
    #[param(schema_with = supplier_risk_rating_schema)]
    pub risk_rating: Option<SupplierRiskRating>,
    /// Only suppliers whose review is (or is not) overdue.
    pub review_overdue: Option<bool>,
}

/// A page of the supplier register.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierPage {
    pub items: Vec<SupplierRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Propose a supplier
#[utoipa::path(
    tag = "suppliers", operation_id = "propose_supplier",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = SupplierRequest,
    responses((status = 201, description = "Supplier proposed", body = SupplierRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/suppliers")]
pub async fn propose_supplier(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<SupplierRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |supplier: &Supplier| supplier.propose(details.clone())).await
}

/// List the supplier register
///
/// `review_overdue` and `agreement_expired` are derived for the day read.
#[utoipa::path(
    tag = "suppliers", operation_id = "list_suppliers",
    params(ListParams, SupplierFilter),
    responses((status = 200, description = "A page of suppliers", body = SupplierPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/suppliers")]
pub async fn list_suppliers(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<SupplierFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Supplier>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.status.is_none_or(|s| s == record.status)
            && filter.risk_rating.is_none_or(|r| r == record.risk_rating)
            && filter.review_overdue.is_none_or(|o| o == record.review_overdue)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SupplierPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Supplier,
    record: SupplierRecord,
    tag: "suppliers",
    noun: "Supplier id",
    get: get_supplier => ("/suppliers/{id}", "get_supplier", "Read one supplier", "The supplier"),
    history: supplier_history => ("/suppliers/{id}/history", "get_supplier_history", "Read a supplier's history"),
}

/// Revise a supplier
///
/// Restates the supplier. An approved supplier revised into needing a security agreement
/// must already have one in force (409 `supplier_agreement_required`).
#[utoipa::path(
    tag = "suppliers", operation_id = "revise_supplier",
    params(("id" = Uuid, Path, description = "Supplier id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = SupplierRequest,
    responses((status = 200, description = "Supplier revised", body = SupplierRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/suppliers/{id}/revisions")]
pub async fn revise_supplier(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<SupplierRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Supplier>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let today = Utc::now().date_naive();
    run(&ledger, context, &id, Creation::ExistingStream, |supplier: &Supplier| supplier.revise(details.clone(), today))
        .await
}

/// Record an agreement with a supplier (A.5.20)
///
/// The agreement gets a server-assigned `agreement_id`. `expires_on` must follow `signed_on`
/// and `signed_on` must not be after today (422).
#[utoipa::path(
    tag = "suppliers", operation_id = "record_supplier_agreement",
    params(("id" = Uuid, Path, description = "Supplier id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = SupplierAgreementRequest,
    responses((status = 200, description = "Agreement recorded", body = SupplierRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/suppliers/{id}/agreements")]
pub async fn record_supplier_agreement(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<SupplierAgreementRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Supplier>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let agreement = body.value.validate()?;
    // Drawn once, outside the decision, so a retried decision records the same agreement.
    let agreement_id = Uuid::now_v7();
    let today = Utc::now().date_naive();
    run(&ledger, context, &id, Creation::ExistingStream, |supplier: &Supplier| {
        supplier.record_agreement(agreement.clone(), agreement_id, today)
    })
    .await
}

/// Approve a supplier
///
/// A high or critical supplier, or one handling personal data, needs an agreement in force
/// with at least one security requirement (409 `supplier_agreement_required`).
#[utoipa::path(
    tag = "suppliers", operation_id = "approve_supplier",
    params(("id" = Uuid, Path, description = "Supplier id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ApproveSupplierRequest,
    responses((status = 200, description = "Supplier approved", body = SupplierRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/suppliers/{id}/approval")]
pub async fn approve_supplier(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ApproveSupplierRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Supplier>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", &body.value.note, MAX_TEXT))?;
    let today = Utc::now().date_naive();
    run(&ledger, context, &id, Creation::ExistingStream, |supplier: &Supplier| supplier.approve(note.clone(), today))
        .await
}

/// Review a supplier (A.5.22)
///
/// The latest review's `next_review_due_on` drives `review_overdue`.
#[utoipa::path(
    tag = "suppliers", operation_id = "review_supplier",
    params(("id" = Uuid, Path, description = "Supplier id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = SupplierReviewRequest,
    responses((status = 200, description = "Review recorded", body = SupplierRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/suppliers/{id}/reviews")]
pub async fn review_supplier(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<SupplierReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Supplier>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let review = SupplierReviewed {
        reviewed_on: request.reviewed_on,
        outcome: request.outcome,
        notes: single_field(free_text("/notes", &request.notes, MAX_TEXT))?,
        next_review_due_on: request.next_review_due_on,
    };
    let today = Utc::now().date_naive();
    run(&ledger, context, &id, Creation::ExistingStream, |supplier: &Supplier| supplier.review(review.clone(), today))
        .await
}

/// Terminate a supplier
///
/// A terminated supplier takes no further command (409 `supplier_terminated`).
#[utoipa::path(
    tag = "suppliers", operation_id = "terminate_supplier",
    params(("id" = Uuid, Path, description = "Supplier id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = TerminateSupplierRequest,
    responses((status = 200, description = "Supplier terminated", body = SupplierRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/suppliers/{id}/termination")]
pub async fn terminate_supplier(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<TerminateSupplierRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Supplier>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    let terminated = SupplierTerminated { terminated_on: body.value.terminated_on, reason };
    run(&ledger, context, &id, Creation::ExistingStream, |supplier: &Supplier| supplier.terminate(terminated.clone()))
        .await
}

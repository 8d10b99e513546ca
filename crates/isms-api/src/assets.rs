//! The asset inventory (ISO/IEC 27001:2022 A.5.9 to A.5.13), the tenant's classification
//! scheme, and the personal-information register (個人情報管理台帳) derived from the inventory.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::assets::{
    asset_value, Asset, AssetDetails, AssetStatus, AssetType, ClassificationScheme, ClassificationSchemeState,
    ProposedPersonalData,
};
use isms_projections::views::assets::{
    asset_status_schema, asset_type_schema, AssetRecord, ClassificationSchemeBody, ClassificationSchemeRecord,
    PersonalInformationRow,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AdminScope, Authorized, ReadScope, WriteScope};
use crate::fields::Fields;
use crate::parties::reason;
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{list_records, run, stream_id, ListParams};
use crate::request::{command_context, read_registers, CommandBody, CommandGuards, TimeTravel};
use crate::scope::{define_singleton, read_singleton};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(register_asset)
        .service(list_assets)
        .service(get_asset)
        .service(asset_history)
        .service(change_asset)
        .service(retire_asset)
        .service(get_classification_scheme)
        .service(define_classification_scheme)
        .service(personal_information_register);
}

/// Register (or, in a change, restate) an asset. The personal-data fields are given exactly
/// when `personal_data` is true.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "type": "information",
    "name": "顧客名簿",
    "description": "Contact list of customer project leads.",
    "owner": "alice",
    "location": "CRM (SaaS)",
    "classification": "confidential",
    "confidentiality": 3,
    "integrity": 2,
    "availability": 2,
    "personal_data": true,
    "personal_information_items": ["氏名", "会社名", "メールアドレス", "電話番号"],
    "purpose_of_use": "Project communication under the service contract",
    "retention_period": "5 years after the contract ends",
    "legal_basis": "Contract performance; consent obtained at onboarding",
    "third_party_provision": false,
    "third_party_recipients": [],
    "entrusted_processors": ["CRM provider"]
}))]
pub struct AssetRequest {
    #[serde(rename = "type")]
    #[schema(schema_with = asset_type_schema)]
    pub asset_type: AssetType,
    #[schema(value_type = crate::fields::SingleLine)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
    /// The asset owner (A.5.9).
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub location: Option<String>,
    /// A label of the classification scheme in force (`GET /api/v1/asset-classification-scheme`).
    #[schema(value_type = crate::fields::SingleLine)]
    pub classification: String,
    /// 1 (low) to 3 (high).
    /// 1 (low) to 3 (high), as are `integrity` and `availability`.
    #[schema(minimum = 1, maximum = 3)]
    pub confidentiality: u8,
    #[schema(minimum = 1, maximum = 3)]
    pub integrity: u8,
    #[schema(minimum = 1, maximum = 3)]
    pub availability: u8,
    #[serde(default)]
    pub personal_data: bool,
    /// The personal-information items held; required when `personal_data`.
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::SingleLine>)]
    pub personal_information_items: Vec<String>,
    /// Required when `personal_data`.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub purpose_of_use: Option<String>,
    /// Required when `personal_data`.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub retention_period: Option<String>,
    /// Legal basis or consent; required when `personal_data`.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub legal_basis: Option<String>,
    #[serde(default)]
    pub third_party_provision: bool,
    /// Required when `third_party_provision`, and only then.
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::SingleLine>)]
    pub third_party_recipients: Vec<String>,
    /// Processors the handling is entrusted to (委託先).
    #[serde(default)]
    #[schema(value_type = Vec<crate::fields::SingleLine>)]
    pub entrusted_processors: Vec<String>,
}

impl AssetRequest {
    /// Checks every field, then whether the personal-data fields fit `personal_data`; that rule
    /// answers with its own code and names every field it concerns.
    fn validate(&self) -> Result<AssetDetails, ApiError> {
        let mut fields = Fields::default();
        let name = fields.line("/name", &self.name);
        let description = fields.text("/description", &self.description);
        let owner = fields.line("/owner", &self.owner);
        let location = fields.optional_line("/location", self.location.as_deref());
        let classification = fields.line("/classification", &self.classification);
        let confidentiality = fields.take(asset_value("/confidentiality", self.confidentiality));
        let integrity = fields.take(asset_value("/integrity", self.integrity));
        let availability = fields.take(asset_value("/availability", self.availability));
        let items = fields.lines("/personal_information_items", &self.personal_information_items);
        let purpose_of_use = fields.optional_line("/purpose_of_use", self.purpose_of_use.as_deref());
        let retention_period = fields.optional_line("/retention_period", self.retention_period.as_deref());
        let legal_basis = fields.optional_line("/legal_basis", self.legal_basis.as_deref());
        let recipients = fields.lines("/third_party_recipients", &self.third_party_recipients);
        let processors = fields.lines("/entrusted_processors", &self.entrusted_processors);
        let (details, personal_data) = fields.finish(|| {
            let details = AssetDetails {
                asset_type: self.asset_type,
                name: name?,
                description: description?,
                owner: owner?,
                location: location?,
                classification: classification?,
                confidentiality: confidentiality?,
                integrity: integrity?,
                availability: availability?,
                personal_information: None,
            };
            let personal_data = ProposedPersonalData {
                personal_data: self.personal_data,
                personal_information_items: items?,
                purpose_of_use: purpose_of_use?,
                retention_period: retention_period?,
                legal_basis: legal_basis?,
                third_party_provision: self.third_party_provision,
                third_party_recipients: recipients?,
                entrusted_processors: processors?,
            };
            Some((details, personal_data))
        })?;
        let personal_information = personal_data.check().map_err(ApiError::validation)?;
        Ok(AssetDetails { personal_information, ..details })
    }
}

/// Retire an asset (disposed of, decommissioned, no longer held).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Disposed of with a certificate of data erasure."}))]
pub struct RetireAssetRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Filters of the asset inventory.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssetFilter {
    #[serde(rename = "type")]
    #[param(schema_with = asset_type_schema)]
    pub asset_type: Option<AssetType>,
    pub owner: Option<String>,
    /// A classification label, e.g. `confidential`.
    pub classification: Option<String>,
    pub personal_data: Option<bool>,
    #[param(schema_with = asset_status_schema)]
    pub status: Option<AssetStatus>,
}

/// A page of the asset inventory.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssetPage {
    pub items: Vec<AssetRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The personal-information register (個人情報管理台帳) and the read point it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalInformationReport {
    /// One row per live asset that holds personal data, in registration order.
    pub items: Vec<PersonalInformationRow>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The classification scheme in force, read only by the commands that set a label.
fn current_scheme(ledger: &Ledger, tenant: &isms_store::TenantId) -> Result<ClassificationScheme, ApiError> {
    let (entry, _) =
        ledger.record::<ClassificationSchemeState>(tenant, ClassificationSchemeState::STREAM_ID, ReadPoint::Latest)?;
    Ok(entry.map(|e| e.state.scheme).unwrap_or_default())
}

/// Register an asset
///
/// The classification must be a label of the scheme in force (`unknown_classification_label`);
/// an asset with personal data needs its register attributes (`personal_data_attributes_required`).
#[utoipa::path(
    tag = "assets", operation_id = "register_asset",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = AssetRequest,
    responses((status = 201, description = "Asset registered", body = AssetRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/assets")]
pub async fn register_asset(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<AssetRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let scheme = current_scheme(&ledger, &context.tenant)?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |asset: &Asset| asset.register(details.clone(), &scheme)).await
}

/// List the asset inventory
#[utoipa::path(
    tag = "assets", operation_id = "list_assets",
    params(ListParams, AssetFilter),
    responses((status = 200, description = "A page of assets", body = AssetPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/assets")]
pub async fn list_assets(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<AssetFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<Asset>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.asset_type.is_none_or(|t| t == record.asset_type)
            && filter.owner.as_ref().is_none_or(|o| *o == record.owner)
            && filter.classification.as_ref().is_none_or(|c| *c == record.classification)
            && filter.personal_data.is_none_or(|p| p == record.personal_data)
            && filter.status.is_none_or(|s| s == record.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AssetPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Asset,
    record: AssetRecord,
    tag: "assets",
    noun: "Asset id",
    get: get_asset => ("/assets/{id}", "get_asset", "Read one asset", "The asset"),
    history: asset_history => ("/assets/{id}/history", "get_asset_history", "Read an asset's history"),
}

/// Change an asset
///
/// Restates the whole asset; the history keeps every earlier version. A retired asset takes no
/// change (`asset_retired`).
#[utoipa::path(
    tag = "assets", operation_id = "change_asset",
    params(("id" = Uuid, Path, description = "Asset id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = AssetRequest,
    responses((status = 200, description = "Asset changed", body = AssetRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/assets/{id}/changes")]
pub async fn change_asset(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<AssetRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Asset>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let scheme = current_scheme(&ledger, &context.tenant)?;
    run(&ledger, context, &id, Creation::ExistingStream, |asset: &Asset| asset.change(details.clone(), &scheme)).await
}

/// Retire an asset
#[utoipa::path(
    tag = "assets", operation_id = "retire_asset",
    params(("id" = Uuid, Path, description = "Asset id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RetireAssetRequest,
    responses((status = 200, description = "Asset retired", body = AssetRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/assets/{id}/retirement")]
pub async fn retire_asset(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RetireAssetRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Asset>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = reason(&body.value.reason)?;
    run(&ledger, context, &id, Creation::ExistingStream, |asset: &Asset| asset.retire(reason.clone())).await
}

/// Read the asset classification scheme
///
/// The labels in force, least to most sensitive. Version 0 is the built-in default (`public`,
/// `internal`, `confidential`, `strictly_confidential`).
#[utoipa::path(
    tag = "assets", operation_id = "get_asset_classification_scheme",
    params(TimeTravel),
    responses((status = 200, description = "The classification scheme", body = ClassificationSchemeRecord,
        headers(("ETag" = String), ("Isms-Position" = u64), ("Isms-As-Of" = String))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/asset-classification-scheme")]
pub async fn get_classification_scheme(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    read_singleton::<ClassificationSchemeState>(&request, &auth.principal, &ledger, &travel)
}

/// Define the asset classification scheme
///
/// Replaces the labels (A.5.12), ordered least to most sensitive. A label that live assets
/// carry cannot be removed (`classification_label_in_use`).
#[utoipa::path(
    tag = "assets", operation_id = "define_asset_classification_scheme",
    params(("If-Match" = Option<String>, Header, description = "Expected scheme version, e.g. \"0\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ClassificationSchemeBody,
    responses((status = 200, description = "Scheme defined", body = ClassificationSchemeRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[put("/asset-classification-scheme")]
pub async fn define_classification_scheme(
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<ClassificationSchemeBody>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let descriptions: Vec<Option<String>> = body
        .value
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| fields.text(&format!("/labels/{i}/description"), &label.description))
        .collect();
    let scheme: ClassificationScheme = fields.finish(|| {
        let mut body = body.value.clone();
        for (label, description) in body.labels.iter_mut().zip(descriptions) {
            label.description = description?;
        }
        Some(body.into())
    })?;
    // The live registers have every acknowledged asset command applied.
    let (in_use, _) = ledger
        .with_registers(&context.tenant, ReadPoint::Latest, |registers, _| registers.classification_labels_in_use())?;
    define_singleton(&ledger, context, |state: &ClassificationSchemeState| state.define(scheme.clone(), &in_use)).await
}

/// The personal-information register
///
/// 個人情報管理台帳 (JIS Q 15001): one row per live asset that holds personal data, with its
/// items, purpose of use, retention period, legal basis, third-party provision and entrusted
/// processors, plus owner, location and classification. Add `as_of` or `as_of_position`
/// (scope `audit:read`) to read it as it stood then.
#[utoipa::path(
    tag = "reports", operation_id = "get_personal_information_register",
    params(TimeTravel, crate::privacy::PurposeHeader),
    responses((status = 200, description = "The personal-information register",
        body = PersonalInformationReport), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/personal-information")]
pub async fn personal_information_register(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (items, resolved) = read_registers(ledger.clone(), auth.principal.tenant.clone(), point, |registers, _| {
        registers.personal_information_register()
    })
    .await?;
    let subject = isms_domain::privacy::SUBJECT_PERSONAL_INFORMATION_REPORT;
    crate::privacy::record_read(&request, &auth.principal, &ledger, subject).await?;
    Ok(HttpResponse::Ok().json(PersonalInformationReport { items, as_of: resolved.as_of, position: resolved.position }))
}

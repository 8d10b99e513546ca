//! SCIM 2.0 provisioning (RFC 7643 schemas, RFC 7644 protocol) at `/scim/v2`, scope `scim`.
//!
//! An identity provider fed by HR (Okta, Entra ID) pushes joiners, movers and leavers here. A
//! SCIM user IS a person of the people register (`id` = the person id of
//! `/api/v1/people/{id}`); every call becomes people events, attributed to the token's `sub`
//! (the provider's client id) with `source = "scim"`. SCIM clients expect SCIM's own error
//! body (`urn:ietf:params:scim:api:messages:2.0:Error`), so these routes answer with it rather
//! than with RFC 9457 problems.

mod discovery;
mod filter;
mod groups;
mod patch;
mod users;

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use isms_app::{AppError, CommandContext, Ledger, ReadPoint};
use isms_domain::{Actor, Aggregate, DomainError, ErrorCode, ErrorKind};
use isms_projections::{Entry, Registers};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoResponses, ToSchema};
use uuid::Uuid;

use crate::auth::{Principal, RequiredScope, ScimScope};
use crate::problem::ApiError;

pub const BASE_PATH: &str = "/scim/v2";
pub const MEDIA_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// What events from these routes carry as the envelope's `source`.
pub const SOURCE: &str = "scim";
/// Largest page a list answers (advertised in `ServiceProviderConfig`).
pub const MAX_RESULTS: usize = 200;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    users::configure(config);
    groups::configure(config);
    discovery::configure(config);
}

/// A SCIM error (RFC 7644 3.12): rendered as SCIM's error body on every status.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

/// The body of a SCIM error.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "schemas": [ERROR_SCHEMA],
    "status": "409",
    "scimType": "uniqueness",
    "detail": "user name 'hanako.sato@example.com' belongs to person 0193c7e0-0000-7000-8000-000000000000, who has not left"
}))]
pub struct ScimErrorBody {
    pub schemas: Vec<String>,
    /// The HTTP status, as a string (RFC 7644 3.12).
    pub status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    pub detail: String,
}

/// The errors a SCIM read can answer with, each a SCIM error body.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ScimReadErrors {
    /// An unsupported filter (`invalidFilter`) or query parameter.
    #[response(status = 400, content_type = "application/scim+json")]
    BadRequest(ScimErrorBody),
    /// Missing, expired or invalid bearer token.
    #[response(status = 401, content_type = "application/scim+json")]
    Unauthorized(ScimErrorBody),
    /// The token lacks the `scim` scope.
    #[response(status = 403, content_type = "application/scim+json")]
    Forbidden(ScimErrorBody),
    /// No such resource in the caller's tenant (or a user deleted from the directory).
    #[response(status = 404, content_type = "application/scim+json")]
    NotFound(ScimErrorBody),
    /// An internal failure.
    #[response(status = 500, content_type = "application/scim+json")]
    Internal(ScimErrorBody),
}

/// The errors a SCIM write can answer with, each a SCIM error body.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ScimCommandErrors {
    /// Malformed JSON (`invalidSyntax`), an invalid value (`invalidValue`), an unsupported patch
    /// path (`invalidPath`, `noTarget`), an immutable attribute changed (`mutability`).
    #[response(status = 400, content_type = "application/scim+json")]
    BadRequest(ScimErrorBody),
    /// Missing, expired or invalid bearer token.
    #[response(status = 401, content_type = "application/scim+json")]
    Unauthorized(ScimErrorBody),
    /// The token lacks the `scim` scope.
    #[response(status = 403, content_type = "application/scim+json")]
    Forbidden(ScimErrorBody),
    /// No such resource in the caller's tenant.
    #[response(status = 404, content_type = "application/scim+json")]
    NotFound(ScimErrorBody),
    /// `userName` or a group's `displayName` is taken (`uniqueness`).
    #[response(status = 409, content_type = "application/scim+json")]
    Conflict(ScimErrorBody),
    /// `If-Match` is stale.
    #[response(status = 412, content_type = "application/scim+json")]
    PreconditionFailed(ScimErrorBody),
    /// The body is not `application/scim+json` or `application/json`.
    #[response(status = 415, content_type = "application/scim+json")]
    UnsupportedMediaType(ScimErrorBody),
    /// An internal failure; nothing was recorded.
    #[response(status = 500, content_type = "application/scim+json")]
    Internal(ScimErrorBody),
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ScimErrorBody {
            schemas: vec![ERROR_SCHEMA.to_owned()],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type.map(str::to_owned),
            detail: self.detail.clone(),
        };
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"isms-ledger\", error=\"invalid_token\""));
        }
        response.content_type(MEDIA_TYPE).json(body)
    }
}

impl From<ApiError> for ScimError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Status { status, code, detail, errors } => {
                // SCIM knows no 422: a well-formed but invalid value is 400 invalidValue.
                let status = if status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { status };
                let scim_type = match code {
                    "person_user_name_taken" | "group_name_taken" => Some("uniqueness"),
                    _ if status == StatusCode::BAD_REQUEST => Some("invalidValue"),
                    _ => None,
                };
                let fields = errors.iter().map(|e| format!("{}: {}", e.pointer, e.detail)).collect::<Vec<_>>();
                let detail = if fields.is_empty() { detail } else { fields.join("; ") };
                Self::new(status, scim_type, detail)
            }
            ApiError::Unauthorized(_) => Self::new(StatusCode::UNAUTHORIZED, None, "a valid bearer token is required"),
            ApiError::PreconditionFailed(detail, _) => Self::new(StatusCode::PRECONDITION_FAILED, None, detail),
            error @ ApiError::MethodNotAllowed { .. } => {
                Self::new(StatusCode::METHOD_NOT_ALLOWED, None, error.to_string())
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "SCIM request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "the server could not complete the request")
            }
        }
    }
}

impl From<AppError> for ScimError {
    fn from(error: AppError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<DomainError> for ScimError {
    fn from(error: DomainError) -> Self {
        let status = match error.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
        };
        let scim_type = match error.code {
            ErrorCode::PersonUserNameTaken | ErrorCode::GroupNameTaken => Some("uniqueness"),
            _ if status == StatusCode::BAD_REQUEST => Some("invalidValue"),
            _ => None,
        };
        Self::new(status, scim_type, error.detail)
    }
}

/// Whether an application failure is the domain's "nothing would change": an identity
/// provider restating what is already recorded gets the resource back, not an error.
pub(crate) fn is_nothing_changed(error: &AppError) -> bool {
    matches!(error, AppError::Domain(domain) if domain.code == ErrorCode::NothingChanged)
}

/// The caller, holding the `scim` scope.
fn authorize(request: &HttpRequest) -> Result<Principal, ScimError> {
    let principal = crate::auth::authenticate(request)?;
    crate::auth::require_scope(request, &principal, ScimScope::SCOPE)?;
    Ok(principal)
}

/// The command context of a caller holding the `scim` scope.
pub(crate) fn authorized_context(request: &HttpRequest) -> Result<CommandContext, ScimError> {
    let principal = authorize(request)?;
    command_context(request, &principal)
}

/// The JSON body, sent as `application/scim+json` or `application/json`.
pub(crate) fn json_body(request: &HttpRequest, bytes: &[u8]) -> Result<Value, ScimError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != MEDIA_TYPE && media != "application/json" {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "the body must be application/scim+json or application/json",
        ));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ScimError::bad_request("invalidSyntax", format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::bad_request("invalidSyntax", "the body must be a JSON object"));
    }
    Ok(value)
}

/// The command context of a SCIM call: the provider's client id as actor, `source = scim`,
/// and the version of `If-Match` (SCIM sends the weak ETag it was given: `W/"3"`).
fn command_context(request: &HttpRequest, principal: &Principal) -> Result<CommandContext, ScimError> {
    Ok(CommandContext {
        tenant: principal.tenant.clone(),
        actor: Actor { subject: principal.subject.clone(), is_admin: false },
        correlation_id: crate::request::correlation_id(request),
        causation_id: None,
        idempotency: None,
        if_match: if_match(request)?,
        source: Some(SOURCE.to_owned()),
    })
}

/// SCIM `userName`s and group `displayName`s are unique in a tenant, and uniqueness is read
/// from the registers before the event that takes the name is appended. Taking a name is
/// therefore done one request at a time (this process is the only writer of its data
/// directory): two concurrent creates of one name cannot both find it free. Provisioning is
/// infrequent, so one lock for every tenant costs nothing measurable.
static NAME_CLAIMS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Held from the uniqueness check until the event that takes the name is projected.
pub(crate) async fn claim_names() -> tokio::sync::MutexGuard<'static, ()> {
    NAME_CLAIMS.lock().await
}

/// What `if_match` accepts: `*` or the (weak or strong) ETag of a version, as the document states it.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]{1,19}")$"#;

fn if_match(request: &HttpRequest) -> Result<Option<u64>, ScimError> {
    let Some(value) = request.headers().get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| (1..=19).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| ScimError::bad_request("invalidVers", "If-Match must be an ETag this server gave, e.g. W/\"3\""))
}

/// 412 when the caller sent `If-Match` for another version than `current`.
fn ensure_version(context: &CommandContext, current: u64) -> Result<(), ScimError> {
    match context.if_match {
        Some(expected) if expected != current => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("If-Match does not match the current version {current}"),
        )),
        _ => Ok(()),
    }
}

/// The weak ETag of a resource version (RFC 7644 3.14).
pub(crate) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The absolute URL of `path` under the SCIM base, for `meta.location` and `Location`.
pub(crate) fn url(request: &HttpRequest, path: &str) -> String {
    let info = request.connection_info();
    format!("{}://{}{BASE_PATH}/{path}", info.scheme(), info.host())
}

/// The absolute URL of a resource.
pub(crate) fn location(request: &HttpRequest, resource_type: &str, id: &str) -> String {
    url(request, &format!("{resource_type}/{id}"))
}

/// A resource answer with its ETag.
fn resource_response(status: StatusCode, version: u64, body: &Value, location: Option<String>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::ETAG, etag(version)));
    if let Some(location) = location {
        response.insert_header((header::LOCATION, location));
    }
    response.content_type(MEDIA_TYPE).json(body)
}

/// What the Users and Groups routes share about their resource (how it is found, filtered
/// and rendered), so that one function serves each step of their handlers.
pub(crate) trait Resource: Aggregate + Clone {
    /// The resource type as in paths and `Location` (`Users`).
    const TYPE: &'static str;
    /// The resource as messages name it (`user`).
    const NOUN: &'static str;
    const SCHEMA: &'static str;
    /// The attribute a list filters on besides `externalId`.
    const NAME_ATTRIBUTE: &'static str;
    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>>;
    /// Whether these routes serve the resource at all.
    fn served(&self) -> bool;
    /// The value of [`Resource::NAME_ATTRIBUTE`].
    fn name(&self) -> &str;
    fn external_id(&self) -> Option<&str>;
    /// The SCIM representation.
    fn json(request: &HttpRequest, entry: &Entry<Self>) -> Value;
}

/// 404 for a resource this server does not serve.
pub(crate) fn no_such<R: Resource>(id: &str) -> ScimError {
    ScimError::not_found(format!("no {} with id {id}", R::NOUN))
}

/// The path id as a stream id; anything not a UUID names no resource.
pub(crate) fn resource_id<R: Resource>(raw: &str) -> Result<String, ScimError> {
    Uuid::parse_str(raw).map(|id| id.to_string()).map_err(|_| no_such::<R>(raw))
}

/// The resource as it stands, if served.
pub(crate) fn read<R: Resource>(ledger: &Ledger, context: &CommandContext, id: &str) -> Result<Entry<R>, ScimError> {
    let (entry, _) = ledger.record::<R>(&context.tenant, id, ReadPoint::Latest)?;
    entry.filter(|e| e.state.served()).ok_or_else(|| no_such::<R>(id))
}

/// 200 with the resource and its ETag.
pub(crate) fn ok_response<R: Resource>(request: &HttpRequest, entry: &Entry<R>) -> HttpResponse {
    resource_response(StatusCode::OK, entry.version, &R::json(request, entry), None)
}

/// 201 with the new resource, its ETag and `Location`.
pub(crate) fn created_response<R: Resource>(request: &HttpRequest, entry: &Entry<R>) -> HttpResponse {
    let location = location(request, R::TYPE, &entry.id);
    resource_response(StatusCode::CREATED, entry.version, &R::json(request, entry), Some(location))
}

/// A read of one resource by its path id.
pub(crate) fn get<R: Resource>(request: &HttpRequest, ledger: &Ledger, id: &str) -> Result<HttpResponse, ScimError> {
    let context = authorized_context(request)?;
    let entry = read::<R>(ledger, &context, &resource_id::<R>(id)?)?;
    Ok(ok_response(request, &entry))
}

/// A page of the served resources, filtered by `NAME_ATTRIBUTE` or `externalId`.
pub(crate) fn list<R: Resource>(request: &HttpRequest, ledger: &Ledger) -> Result<HttpResponse, ScimError> {
    let principal = authorize(request)?;
    let query = ListQuery::parse(request)?;
    let filter = filter::list_filter(query.filter.as_deref(), &[R::NAME_ATTRIBUTE, "externalId"], R::SCHEMA)?;
    let (entries, _) = ledger.with_registers(&principal.tenant, ReadPoint::Latest, |registers, _| {
        R::register(registers)
            .values()
            .filter(|e| e.state.served())
            .filter(|e| match &filter {
                None => true,
                Some((attribute, value)) if attribute == R::NAME_ATTRIBUTE => {
                    e.state.name().eq_ignore_ascii_case(value)
                }
                Some((_, value)) => e.state.external_id() == Some(value.as_str()),
            })
            .cloned()
            .collect::<Vec<_>>()
    })?;
    Ok(query.page(entries.iter().map(|entry| R::json(request, entry)).collect()))
}

/// The representation of `current` with a PatchOp `body` applied; 412 when the caller's
/// `If-Match` names another version.
pub(crate) fn patched<R: Resource>(
    request: &HttpRequest,
    context: &CommandContext,
    current: &Entry<R>,
    body: &Value,
) -> Result<Value, ScimError> {
    ensure_version(context, current.version)?;
    let mut resource = R::json(request, current);
    patch::apply_patch(&mut resource, body)?;
    Ok(resource)
}

/// `startIndex` (1-based) and `count` of a list (RFC 7644 3.4.2.4), with the filter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
}

impl ListQuery {
    pub(crate) fn parse(request: &HttpRequest) -> Result<Self, ScimError> {
        actix_web::web::Query::<ListQuery>::from_query(request.query_string())
            .map(|q| q.into_inner())
            .map_err(|e| ScimError::bad_request("invalidValue", format!("invalid query parameters: {e}")))
    }

    /// One page of `items` as a ListResponse. A `startIndex` below 1 counts as 1 and a
    /// negative `count` as 0, as RFC 7644 3.4.2.4 asks.
    pub(crate) fn page(&self, items: Vec<Value>) -> HttpResponse {
        let start = usize::try_from(self.start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = usize::try_from(self.count.unwrap_or(100).max(0)).unwrap_or(0).min(MAX_RESULTS);
        let total = items.len();
        let resources: Vec<Value> = items.into_iter().skip(start - 1).take(count).collect();
        let body = serde_json::json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        });
        HttpResponse::Ok().content_type(MEDIA_TYPE).json(body)
    }
}

/// A boolean as providers send it: `true`, or Entra ID's strings `"True"` / `"False"`.
pub(crate) fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A list response as documented.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "schemas": [LIST_SCHEMA], "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
    "Resources": [{"schemas": [USER_SCHEMA], "id": "0193c7e0-0000-7000-8000-000000000000", "userName": "hanako.sato@example.com"}]
}))]
pub struct ScimListResponse {
    pub schemas: Vec<String>,
    #[serde(rename = "totalResults")]
    pub total_results: usize,
    #[serde(rename = "startIndex")]
    pub start_index: usize,
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: usize,
    #[serde(rename = "Resources")]
    #[schema(value_type = Vec<Object>)]
    pub resources: Vec<Value>,
}

/// A SCIM User as this server reads it (RFC 7643 4.1, and the enterprise extension): only
/// `userName` is required. Also read: `externalId`, `displayName` (else `name.formatted`, else
/// given and family name), `name`, `emails` (the primary one), `title`, `active`, and the
/// enterprise extension's `department` and `manager`. Attribute names are case-insensitive;
/// other attributes, `schemas` among them, are ignored.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body; the handlers read it as JSON (SCIM is case-insensitive).
pub struct ScimUserRequest {
    #[schema(rename = "userName", value_type = crate::fields::SingleLine)]
    pub user_name: String,
    #[schema(rename = "displayName", value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub display_name: Option<String>,
}

/// A SCIM Group as this server reads it (RFC 7643 4.2): `displayName` is required; `members`
/// holds `{"value": "<user id>"}` items; `externalId` is kept; other attributes, `schemas`
/// among them, are ignored.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Documents the body; the handlers read it as JSON.
pub struct ScimGroupRequest {
    #[schema(rename = "displayName", value_type = crate::fields::SingleLine)]
    pub display_name: String,
}

/// A PatchOp request (RFC 7644 3.5.2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "schemas": [PATCH_SCHEMA],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
}))]
pub struct ScimPatchOp {
    /// `urn:ietf:params:scim:api:messages:2.0:PatchOp` (other URNs beside it are tolerated but
    /// not documented).
    #[serde(default)]
    #[schema(schema_with = patch_schemas_schema)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations")]
    #[schema(min_items = 1)]
    pub operations: Vec<ScimPatchOperation>,
}

fn patch_op_schema() -> utoipa::openapi::schema::Object {
    isms_projections::views::string_enum(&["add", "replace", "remove", "Add", "Replace", "Remove"])
}

/// The PatchOp URN, at least once, as `patch::apply_patch` checks.
fn patch_schemas_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let urn = ObjectBuilder::new().schema_type(Type::String).enum_values(Some([PATCH_SCHEMA]));
    ArrayBuilder::new().items(urn).min_items(Some(1)).build()
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScimPatchOperation {
    /// `add`, `replace` or `remove` (any case; the document lists the forms Okta and Entra send).
    #[schema(schema_with = patch_op_schema)]
    pub op: String,
    pub path: Option<String>,
    #[schema(value_type = Object)]
    pub value: Option<Value>,
}

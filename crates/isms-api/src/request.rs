//! Request plumbing shared by every handler: the request id, command bodies and guards,
//! time-travel and pagination parameters.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use isms_app::{CommandContext, IdempotencyInput, ReadPoint};
use isms_domain::Actor;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use uuid::Uuid;

use crate::auth::{Principal, RequiredScope};
use crate::problem::ApiError;

/// Largest command body accepted unless a route declares more (`CommandBody<T, { 1 << 20 }>`).
/// A free text may hold 10,000 characters, and a client that escapes non-ASCII (Python's
/// `json.dumps` does by default) writes a Japanese character as 6 bytes and an emoji as 12:
/// 256 KiB keeps several full-length fields of any script acceptable (schemathesis found a
/// valid 10,000-character text refused at the former 64 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, generated or taken from `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Middleware: assigns the request id and opens a tracing span carrying it, so every log line
/// written while the request is handled names it; renders problems with their request
/// context, logs server errors with their cause, counts the request for `/metrics`, and
/// returns `X-Request-Id` and the security headers on every response.
pub async fn request_context(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let route = crate::auth::route_label(request.request());
    let span = tracing::info_span!("request", request_id = %request_id, method = %request.method(), route = %route);
    let outgoing = Outgoing {
        path: request.path().to_owned(),
        method: request.method().clone(),
        route,
        request_id,
        telemetry: request.app_data::<actix_web::web::Data<crate::telemetry::Telemetry>>().cloned(),
        started: std::time::Instant::now(),
    };
    let response = next.call(request).instrument(span.clone()).await;
    let _entered = span.enter();
    let response = match response {
        Ok(response) => response.map_into_boxed_body(),
        // A middleware that gave up on the request (the handler timeout) has no request left
        // to answer with; its error still leaves as a complete problem response.
        Err(error) => {
            let mut rendered = match error.as_error::<ApiError>() {
                Some(api_error) => api_error.render(&outgoing.path, Some(&outgoing.request_id)),
                None => error.error_response(),
            };
            if rendered.status() == StatusCode::SERVICE_UNAVAILABLE {
                rendered.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u32));
            }
            let status = rendered.status();
            outgoing.finish(rendered.headers_mut(), status, None);
            return Err(actix_web::error::InternalError::from_response(error, rendered).into());
        }
    };
    let api_error = response.response().error().and_then(|e| e.as_error::<ApiError>());
    let mut response = match api_error {
        Some(error) => {
            if let ApiError::Internal(cause) = error {
                tracing::error!(path = %outgoing.path, cause = %cause, "request failed");
            }
            let mut rendered = error.render(&outgoing.path, Some(&outgoing.request_id));
            let (request, failed) = response.into_parts();
            // Headers a middleware set on the problem (Retry-After, CORS) survive the rendering.
            for (name, value) in failed.headers() {
                if !rendered.headers().contains_key(name) {
                    rendered.headers_mut().append(name.clone(), value.clone());
                }
            }
            ServiceResponse::new(request, rendered)
        }
        None => response,
    };
    let page_limit = response.request().extensions().get::<PageLimit>().copied();
    let status = response.status();
    outgoing.finish(response.headers_mut(), status, page_limit);
    Ok(response)
}

/// What the request context knows of a request once it has been handed on.
struct Outgoing {
    path: String,
    method: actix_web::http::Method,
    route: String,
    request_id: String,
    telemetry: Option<actix_web::web::Data<crate::telemetry::Telemetry>>,
    started: std::time::Instant,
}

impl Outgoing {
    /// What every response gets on its way out, whichever path produced it: the request id,
    /// the page size applied, the security headers, a count in `/metrics`, an access log line.
    fn finish(&self, headers: &mut header::HeaderMap, status: StatusCode, page_limit: Option<PageLimit>) {
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID.clone(), value);
        }
        if let Some(PageLimit(limit)) = page_limit {
            headers.insert(PAGE_LIMIT.clone(), HeaderValue::from(limit));
        }
        crate::limits::add_security_headers(&self.path, headers);
        let elapsed = self.started.elapsed();
        if let Some(telemetry) = &self.telemetry {
            telemetry.http.record(&self.route, &self.method, status.as_u16(), elapsed);
        }
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        tracing::info!(path = %self.path, status = status.as_u16(), elapsed_ms, "request");
    }
}

/// A JSON command body, parsed strictly, with the fingerprint used for idempotency. A route
/// that takes larger bodies (a batch from an integration) states its limit in the type:
/// `CommandBody<Batch, { 1024 * 1024 }>`.
pub struct CommandBody<T, const MAX_BYTES: usize = MAX_BODY_BYTES> {
    pub value: T,
    pub fingerprint: String,
}

fn is_json(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

/// Classifies a serde_json failure: broken JSON is 400, JSON of the wrong shape is 422.
pub fn json_error(error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data => {
            ApiError::unprocessable("invalid_body", format!("the body does not match the schema: {error}"), Vec::new())
        }
        _ => ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {error}")),
    }
}

fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is larger than this route accepts ({limit} bytes)"),
    )
}

/// Reads a body of at most `limit` bytes (after content decoding). A declared
/// `Content-Length` over the limit is refused before anything is read; a chunked body is
/// refused as soon as it passes the limit, so at most `limit` bytes are ever buffered.
pub async fn read_body_limited(
    request: &HttpRequest,
    payload: actix_web::dev::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()))
        .map(|length| {
            length.ok_or_else(|| ApiError::bad_request("invalid_content_length", "Content-Length is not a number"))
        })
        .transpose()?;
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(payload_too_large(limit));
    }
    let mut stream = actix_web::dev::Decompress::from_headers(payload, request.headers());
    let mut body = actix_web::web::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("unreadable_body", "the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

impl<T: DeserializeOwned + 'static, const MAX_BYTES: usize> FromRequest for CommandBody<T, MAX_BYTES> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            if !is_json(&request) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "commands take an application/json body",
                ));
            }
            let bytes = read_body_limited(&request, payload, MAX_BYTES).await?;
            let value = serde_json::from_slice(&bytes).map_err(|e| json_error(&e))?;
            // serde also fills a struct from a JSON array, by field order: `[]` was accepted as
            // an empty command (found by `hygiene.rs`). Every command body is an object.
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                return Err(ApiError::unprocessable(
                    "invalid_body",
                    "the body does not match the schema: a command body is a JSON object",
                    Vec::new(),
                ));
            }
            let mut hasher = Sha256::new();
            hasher.update(request.method().as_str().as_bytes());
            hasher.update(b" ");
            hasher.update(request.path().as_bytes());
            hasher.update(b"\n");
            hasher.update(&bytes);
            Ok(Self { value, fingerprint: hex::encode(hasher.finalize()) })
        })
    }
}

/// What `parse_guards` accepts in `If-Match`: `*` or a version as a strong ETag (at most 19
/// digits, so every such version fits the `u64` it is parsed into).
pub const IF_MATCH_PATTERN: &str = r#"^(\*|"[0-9]{1,19}")$"#;
/// What `parse_guards` accepts in `Idempotency-Key`: 1 to 255 visible ASCII characters, which
/// may be quoted (the key is a structured-field string in the IETF draft); the quotes around
/// it are not part of the key.
pub const IDEMPOTENCY_KEY_PATTERN: &str = r#"^"*([!#-~]|[!#-~][!-~]{0,253}[!#-~])"*$"#;
/// The alphabet of the opaque cursors `encode_cursor` writes (unpadded base64url).
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";

/// `If-Match` and `Idempotency-Key`, validated.
pub struct CommandGuards {
    pub if_match: Option<u64>,
    pub idempotency_key: Option<String>,
    pub request_id: Uuid,
}

fn parse_guards(request: &HttpRequest) -> Result<CommandGuards, ApiError> {
    let if_match = match request.headers().get(header::IF_MATCH) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("").trim();
            if text == "*" {
                None
            } else {
                let version = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .filter(|t| (1..=19).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|t| t.parse::<u64>().ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_if_match",
                            "If-Match must be a strong ETag such as \"3\" (the record's version)",
                        )
                    })?;
                Some(version)
            }
        }
    };
    let idempotency_key = match request.headers().get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value.to_str().unwrap_or("").trim().trim_matches('"');
            if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                ));
            }
            Some(key.to_owned())
        }
    };
    Ok(CommandGuards { if_match, idempotency_key, request_id: correlation_id(request) })
}

/// The correlation id of what this request writes: its request id when that is a UUID (the
/// server's own ids are), a fresh one otherwise.
pub fn correlation_id(request: &HttpRequest) -> Uuid {
    let correlation = request.extensions().get::<RequestId>().and_then(|id| Uuid::parse_str(&id.0).ok());
    correlation.unwrap_or_else(Uuid::now_v7)
}

impl FromRequest for CommandGuards {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(parse_guards(request))
    }
}

/// Builds the application's command context from what the request carries.
pub fn command_context<T>(principal: &Principal, guards: &CommandGuards, body: &CommandBody<T>) -> CommandContext {
    CommandContext {
        tenant: principal.tenant.clone(),
        actor: Actor {
            subject: principal.subject.clone(),
            is_admin: principal.has_scope(crate::auth::AdminScope::SCOPE),
        },
        correlation_id: guards.request_id,
        causation_id: None,
        idempotency: guards
            .idempotency_key
            .as_ref()
            .map(|key| IdempotencyInput { key: key.clone(), fingerprint: body.fingerprint.clone() }),
        if_match: guards.if_match,
        source: None,
    }
}

/// Time-travel parameters, shared by every read.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimeTravel {
    /// Read the state after every event recorded at or before this instant (RFC 3339). Needs `audit:read`.
    pub as_of: Option<DateTime<Utc>>,
    /// Read the state after the events up to this log position. Needs `audit:read`.
    pub as_of_position: Option<u64>,
}

impl TimeTravel {
    /// The read point, checking the caller may time-travel.
    pub fn point(&self, request: &HttpRequest, principal: &Principal) -> Result<ReadPoint, ApiError> {
        let point = match (self.as_of, self.as_of_position) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request("conflicting_read_point", "give as_of or as_of_position, not both"))
            }
            (Some(at), None) => ReadPoint::AsOf(at),
            (None, Some(position)) => ReadPoint::Position(position),
            (None, None) => ReadPoint::Latest,
        };
        if point != ReadPoint::Latest {
            crate::auth::require_scope(request, principal, crate::auth::AuditScope::SCOPE)?;
        }
        Ok(point)
    }
}

/// Page size bounds for every list.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
/// The largest `limit` a request may carry (it is then capped at [`MAX_LIMIT`]).
pub const MAX_LIMIT_PARAMETER: usize = i64::MAX as usize;

/// The response header stating the page size a list applied, so a client that asked for more
/// than [`MAX_LIMIT`] sees that it was capped rather than guessing from a short page.
pub static PAGE_LIMIT: HeaderName = HeaderName::from_static("isms-page-limit");

/// The page size applied to this request, for the `Isms-Page-Limit` header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimit(pub usize);

/// The page size of a list: the default, or what the caller asked for capped at [`MAX_LIMIT`].
/// Every list takes its page size from here, so every list states it in `Isms-Page-Limit`.
pub fn page_limit(request: &HttpRequest, limit: Option<usize>) -> Result<usize, ApiError> {
    let applied = match limit {
        None => DEFAULT_LIMIT,
        Some(0) => return Err(ApiError::bad_request("invalid_limit", "limit must be at least 1")),
        // The document types `limit` as `int64`, so a generated client can send every value
        // the server accepts.
        Some(n) if n > MAX_LIMIT_PARAMETER => {
            return Err(ApiError::bad_request("invalid_limit", format!("limit must be at most {MAX_LIMIT_PARAMETER}")))
        }
        Some(n) => n.min(MAX_LIMIT),
    };
    request.extensions_mut().insert(PageLimit(applied));
    Ok(applied)
}

/// Cursors are opaque to clients: base64url of what the server needs to continue.
pub fn encode_cursor(raw: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))
}

/// What every register list resolves from its query: page size, read point, cursor position.
pub struct ListWindow {
    pub limit: usize,
    pub point: ReadPoint,
    pub after: Option<Uuid>,
}

impl ListWindow {
    pub fn parse(
        request: &HttpRequest,
        principal: &Principal,
        limit: Option<usize>,
        cursor: Option<&str>,
        travel: TimeTravel,
    ) -> Result<Self, ApiError> {
        let after = match cursor {
            Some(cursor) => Some(
                Uuid::parse_str(&decode_cursor(cursor)?)
                    .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))?,
            ),
            None => None,
        };
        Ok(Self { limit: page_limit(request, limit)?, point: travel.point(request, principal)?, after })
    }
}

/// Runs a register read on the blocking pool: a read as of an earlier point replays the log,
/// which must not hold up an HTTP worker thread.
pub async fn read_registers<T: Send + 'static>(
    ledger: actix_web::web::Data<isms_app::Ledger>,
    tenant: isms_store::TenantId,
    point: ReadPoint,
    read: impl FnOnce(&isms_projections::Registers, &isms_app::Resolved) -> T + Send + 'static,
) -> Result<(T, isms_app::Resolved), ApiError> {
    actix_web::web::block(in_request_span(move || ledger.with_registers(&tenant, point, read)))
        .await
        .map_err(|error| ApiError::Internal(format!("register read did not complete: {error}")))?
        .map_err(ApiError::from)
}

/// Carries the request's tracing span onto the blocking pool, so what a blocking read logs
/// still names the request id.
pub fn in_request_span<T>(work: impl FnOnce() -> T) -> impl FnOnce() -> T {
    let span = tracing::Span::current();
    move || span.in_scope(work)
}

/// Parses a record id from the path; anything not a UUID cannot exist, so it is a 404.
pub fn record_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(format!("no {what} with id {raw}")))
}

#[cfg(test)]
mod tests {
    use actix_web::{test, web, App, HttpResponse};

    use super::CommandBody;

    async fn ordinary(_: CommandBody<serde_json::Value>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn batch(_: CommandBody<serde_json::Value, { 1024 * 1024 }>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn a_route_declares_a_larger_body_limit_in_its_type() {
        let app = test::init_service(
            App::new().route("/ordinary", web::post().to(ordinary)).route("/batch", web::post().to(batch)),
        )
        .await;
        let body = serde_json::json!({"text": "x".repeat(super::MAX_BODY_BYTES + 1)}).to_string();
        for (path, status) in [("/ordinary", 413), ("/batch", 200)] {
            let request = test::TestRequest::post()
                .uri(path)
                .insert_header(("content-type", "application/json"))
                .set_payload(body.clone())
                .to_request();
            assert_eq!(test::call_service(&app, request).await.status().as_u16(), status, "{path}");
        }
    }
}

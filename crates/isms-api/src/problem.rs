//! RFC 9457 problem details: the one place where errors become HTTP.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use isms_app::AppError;
use isms_domain::{DomainError, ErrorKind};
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// One invalid field of a request body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// RFC 6901 JSON pointer into the request body.
    #[schema(example = "/likelihood")]
    pub pointer: String,
    pub detail: String,
}

/// An RFC 9457 problem. `code` is stable and machine-readable; `title` is its human name.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://isms-ledger.dev/problems/risk_not_assessed",
    "title": "Conflict",
    "status": 409,
    "detail": "a risk must be assessed before its treatment is planned (6.1.3)",
    "instance": "/api/v1/risks/0193c7e0-0000-7000-8000-000000000000/treatment",
    "code": "risk_not_assessed",
    "request_id": "0193c7e0-0000-7000-8000-000000000001"
}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// With 412: the record's current version, to re-read and retry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

/// Every error an API call can end with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    Status { status: StatusCode, code: &'static str, detail: String, errors: Vec<FieldProblem> },
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    #[error("{0}")]
    PreconditionFailed(String, u64),
    #[error("internal error: {0}")]
    Internal(String),
    /// A documented path asked with a method it does not answer; the methods it does answer go
    /// into `Allow` (RFC 9110 section 15.5.6).
    #[error("{method} is not allowed here")]
    MethodNotAllowed { method: String, allow: String },
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self::Status { status, code, detail: detail.into(), errors: Vec::new() }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>, errors: Vec<FieldProblem>) -> Self {
        Self::Status { status: StatusCode::UNPROCESSABLE_ENTITY, code, detail: detail.into(), errors }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// Several validation failures at once, so a client can fix all fields in one round. The
    /// code is the failures' own when they share one (one rule, several fields), else
    /// `validation_failed`.
    pub fn validation(errors: Vec<DomainError>) -> Self {
        let shared = errors.first().map(|e| e.code).filter(|code| errors.iter().all(|e| e.code == *code));
        let code = shared.map_or("validation_failed", |code| code.as_str());
        let detail = errors.iter().map(|e| e.detail.clone()).collect::<Vec<_>>().join("; ");
        let errors = errors
            .into_iter()
            .map(|e| FieldProblem { pointer: e.pointer.unwrap_or_default(), detail: e.detail })
            .collect();
        Self::unprocessable(code, detail, errors)
    }

    /// Renders the problem for one request; `instance` is the request path.
    pub fn to_problem(&self, instance: &str, request_id: Option<&str>) -> Problem {
        let (status, code, detail, errors, current_version) = match self {
            Self::Status { status, code, detail, errors } => (*status, *code, detail.clone(), errors.clone(), None),
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required".to_owned(),
                Vec::new(),
                None,
            ),
            Self::MethodNotAllowed { method, allow } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed here; this path answers {allow}"),
                Vec::new(),
                None,
            ),
            Self::PreconditionFailed(detail, current) => {
                (StatusCode::PRECONDITION_FAILED, "precondition_failed", detail.clone(), Vec::new(), Some(*current))
            }
            // Never leak internals: the detail is logged with the request id, not sent.
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the server could not complete the request; quote the request id when reporting it".to_owned(),
                Vec::new(),
                None,
            ),
        };
        Problem {
            problem_type: format!("https://isms-ledger.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            instance: instance.to_owned(),
            code: code.to_owned(),
            request_id: request_id.map(str::to_owned),
            errors,
            current_version,
        }
    }

    pub fn render(&self, instance: &str, request_id: Option<&str>) -> HttpResponse {
        let problem = self.to_problem(instance, request_id);
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if matches!(self, Self::Unauthorized(_)) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"isms-ledger\", error=\"invalid_token\""));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        response.json(problem)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Status { status, .. } => *status,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::PreconditionFailed(..) => StatusCode::PRECONDITION_FAILED,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Without request context; the request-context middleware re-renders with it.
    fn error_response(&self) -> HttpResponse {
        self.render("", None)
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error.kind() {
            ErrorKind::Invalid => Self::validation(vec![error]),
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, error.code.as_str(), error.detail),
            ErrorKind::NotFound => Self::new(StatusCode::NOT_FOUND, error.code.as_str(), error.detail),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Domain(domain) => domain.into(),
            AppError::NotFound(detail) => Self::not_found(detail),
            AppError::PreconditionFailed { current_version } => Self::PreconditionFailed(
                format!("If-Match does not match the current version {current_version}"),
                current_version,
            ),
            AppError::ConcurrentModification => {
                Self::new(StatusCode::CONFLICT, "concurrent_modification", error.to_string())
            }
            AppError::IdempotencyKeyReused => {
                Self::unprocessable("idempotency_key_reused", error.to_string(), Vec::new())
            }
            AppError::IdempotencyKeyInFlight => {
                Self::new(StatusCode::CONFLICT, "idempotency_key_in_flight", error.to_string())
            }
            AppError::InvalidReadPoint(detail) => Self::unprocessable("invalid_read_point", detail, Vec::new()),
            AppError::Store(isms_store::StoreError::WriterFailed(reason)) => {
                tracing::error!(%reason, "refusing a command: the event log accepts no writes");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the event log is not accepting writes; nothing was recorded",
                )
            }
            AppError::Store(store) => Self::Internal(store.to_string()),
            AppError::Projection(projection) => Self::Internal(projection.to_string()),
        }
    }
}

/// The problems a command can answer with.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum CommandProblems {
    /// Malformed JSON, or a bad header (If-Match, Idempotency-Key).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, expired or invalid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token lacks the required scope.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such record in the caller's tenant.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// A business rule refused the command (see `code`), or the same Idempotency-Key is in flight.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// `If-Match` is stale; `current_version` tells the current one.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is larger than the route accepts (256 KiB unless the operation says otherwise).
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Well-formed but invalid input (`errors` points at the fields), or an Idempotency-Key reused with another body.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// Too many requests from this caller; `Retry-After` says when to try again.
    #[response(
        status = 429,
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    TooManyRequests(Problem),
    /// An internal failure; nothing was acknowledged.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// The event log stopped accepting writes (nothing was recorded), or the command did not
    /// complete in time (`handler_timeout`: it may have been recorded; retry with the same
    /// Idempotency-Key).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The problems a read can answer with.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ReadProblems {
    /// A malformed query parameter or cursor.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, expired or invalid bearer token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token lacks the required scope (time travel also needs `audit:read`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such record in the caller's tenant.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// A read point beyond the end of the log.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// Too many requests from this caller; `Retry-After` says when to try again.
    #[response(
        status = 429,
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))
    )]
    TooManyRequests(Problem),
    /// An internal failure.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// The read did not complete in time (`handler_timeout`); `Retry-After` says when to retry.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

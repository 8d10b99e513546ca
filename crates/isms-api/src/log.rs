//! The log itself as auditors and integrators read it: histories, the audit trail, the
//! tenant's event feed, and the integrity of the hash chain.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{AuditFilter, Ledger};
use isms_projections::views::EventRecord;
use isms_store::StreamRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuditScope, Authorized, Principal};
use crate::problem::{ApiError, ReadProblems};
use crate::request::{decode_cursor, encode_cursor, page_limit, TimeTravel, MAX_LIMIT};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(audit_trail).service(event_feed).service(integrity);
}

/// A record's events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<EventRecord>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Answers a history request for one stream; 404 when the stream has no events at that point.
pub fn history_response(
    request: &HttpRequest,
    principal: &Principal,
    ledger: &Ledger,
    stream: StreamRef,
    travel: &TimeTravel,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(request, principal)?;
    let (events, resolved) = ledger.history(&principal.tenant, &stream, point)?;
    if events.is_empty() {
        return Err(ApiError::not_found(format!("no {} with id {}", stream.stream_type, stream.stream_id)));
    }
    Ok(HttpResponse::Ok().json(HistoryPage {
        items: events.into_iter().map(EventRecord::from).collect(),
        as_of: resolved.as_of,
        position: resolved.position,
    }))
}

/// Audit-trail filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditTrailQuery {
    /// e.g. `risk`, `nonconformity`, `risk_criteria`.
    pub stream_type: Option<String>,
    pub stream_id: Option<String>,
    /// The `sub` that issued the command.
    pub actor: Option<String>,
    /// e.g. `RiskAssessed`.
    pub event_type: Option<String>,
    /// Recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTrailPage {
    pub items: Vec<EventRecord>,
    pub next_cursor: Option<String>,
    /// The tenant's last position when the page was read.
    pub position: u64,
}

/// Read the audit trail
///
/// Every event of the tenant, oldest first: who did what, when, at which position.
#[utoipa::path(
    tag = "audit", operation_id = "get_audit_trail",
    params(AuditTrailQuery),
    responses((status = 200, description = "A page of events", body = AuditTrailPage), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/audit-trail")]
pub async fn audit_trail(
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    query: web::Query<AuditTrailQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?;
    let after = match &query.cursor {
        Some(cursor) => decode_cursor(cursor)?
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))?,
        None => 0,
    };
    let filter = AuditFilter {
        stream_type: query.stream_type.clone(),
        stream_id: query.stream_id.clone(),
        actor: query.actor.clone(),
        event_type: query.event_type.clone(),
        from: query.from,
        to: query.to,
    };
    let tenant = &auth.principal.tenant;
    let position = ledger.store().head(tenant).map_err(isms_app::AppError::from)?.position;
    let (events, next) = ledger.audit_trail(tenant, &filter, after, limit)?;
    Ok(HttpResponse::Ok().json(AuditTrailPage {
        items: events.into_iter().map(EventRecord::from).collect(),
        next_cursor: next.map(|p| encode_cursor(&p.to_string())),
        position,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Return events after this position (0 = from the start). Store the last position you
    /// processed and pass it back to resume without gaps or repeats.
    pub after: Option<u64>,
    /// At most this many events, default 50, at most 500.
    pub limit: Option<usize>,
}

/// A slice of the tenant's event feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub items: Vec<EventRecord>,
    /// Pass as `after` for the next slice.
    pub next_after: u64,
    /// The tenant's last durable position.
    pub head_position: u64,
}

/// Read the event feed
///
/// The tenant's events in position order; only durable events are served.
#[utoipa::path(
    tag = "audit", operation_id = "get_events",
    params(FeedQuery),
    responses((status = 200, description = "Events after the given position", body = FeedPage), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/events")]
pub async fn event_feed(
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(query.limit)?.min(MAX_LIMIT);
    let after = query.after.unwrap_or(0);
    let tenant = &auth.principal.tenant;
    let head_position = ledger.store().head(tenant).map_err(isms_app::AppError::from)?.position;
    let events = ledger.store().read_all(tenant, after, limit).map_err(isms_app::AppError::from)?;
    let next_after = events.last().map_or(after, |e| e.position);
    Ok(HttpResponse::Ok().json(FeedPage {
        items: events.into_iter().map(EventRecord::from).collect(),
        next_after,
        head_position,
    }))
}

/// The end of the tenant's hash chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainHeadView {
    pub position: u64,
    pub hash: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// How far the chain was verified (at start-up, from the previous mark).
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedView {
    pub position: u64,
    pub hash: String,
    pub verified_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrityView {
    pub tenant: String,
    pub chain_head: ChainHeadView,
    pub last_verified: Option<VerifiedView>,
    /// How `hash` is computed, so anyone can re-check an export.
    pub hash_algorithm: String,
}

/// Read the chain's integrity status
#[utoipa::path(
    tag = "audit", operation_id = "get_integrity",
    responses((status = 200, description = "Chain head and last verified point", body = IntegrityView), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/integrity")]
pub async fn integrity(auth: Authorized<AuditScope>, ledger: web::Data<Ledger>) -> Result<HttpResponse, ApiError> {
    let (head, verified) = ledger.integrity(&auth.principal.tenant)?;
    Ok(HttpResponse::Ok().json(IntegrityView {
        tenant: auth.principal.tenant.to_string(),
        chain_head: ChainHeadView { position: head.position, hash: head.hash, recorded_at: head.recorded_at },
        last_verified: verified.map(|v| VerifiedView { position: v.position, hash: v.hash, verified_at: v.verified_at }),
        hash_algorithm: "sha256 over the canonical JSON (keys sorted, no whitespace) of the envelope without `hash`; prev_hash of position 1 is 64 zeros".into(),
    }))
}

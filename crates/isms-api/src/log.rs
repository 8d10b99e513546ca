//! The log itself as auditors read it: histories, the audit trail and the integrity of the
//! hash chain (the integrators' event feed is in `feed`).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{AuditFilter, Ledger};
use isms_projections::views::EventRecord;
use isms_store::StreamRef;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuditScope, Authorized, Principal};
use crate::csv::csv_response;
use crate::negotiation::{negotiate, CSV, JSON};
use crate::problem::{ApiError, ReadProblems};
use crate::request::{decode_cursor, encode_cursor, page_limit, TimeTravel, MAX_LIMIT};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(audit_trail).service(actor_activity).service(integrity);
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
    /// e.g. `risk`, `nonconformity`, `risk_criteria`, `personal_data_access`.
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
    /// Everything one request did: the events carrying this `correlation_id` (the request's
    /// `X-Request-Id`).
    pub correlation_id: Option<Uuid>,
    /// The events this event caused, directly or through events it caused in turn (e.g. an
    /// audit finding's `AuditFindingRecorded` and the nonconformity it raised). The event
    /// itself is not included.
    pub caused_by: Option<Uuid>,
    /// Only events recorded more than 24 hours after their business time (`true`), or not.
    pub backdated: Option<bool>,
    /// Effective at or after this instant: the event's `effective_at`, or its `recorded_at`
    /// when it states no business time of its own.
    pub effective_from: Option<DateTime<Utc>>,
    /// Effective at or before this instant (same reading).
    pub effective_to: Option<DateTime<Utc>>,
    /// Page size: for JSON default 50, at most 500; for CSV default and at most 10,000.
    pub limit: Option<usize>,
    /// Opaque cursor from the previous page's `next_cursor` (CSV: the `Isms-Next-Cursor` header).
    pub cursor: Option<String>,
}

impl AuditTrailQuery {
    fn filter(&self) -> AuditFilter {
        AuditFilter {
            stream_type: self.stream_type.clone(),
            stream_id: self.stream_id.clone(),
            actor: self.actor.clone(),
            event_type: self.event_type.clone(),
            from: self.from,
            to: self.to,
            correlation_id: self.correlation_id,
            caused_by: self.caused_by,
            backdated: self.backdated,
            effective_from: self.effective_from,
            effective_to: self.effective_to,
        }
    }
}

/// A page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTrailPage {
    pub items: Vec<EventRecord>,
    pub next_cursor: Option<String>,
    /// The tenant's last position when the page was read.
    pub position: u64,
}

/// Rows per CSV export: a spreadsheet's worth, paged on with `Isms-Next-Cursor` beyond that.
const CSV_MAX_ROWS: usize = 10_000;

/// The rows of one CSV page: larger than a JSON page, capped all the same, and stated in
/// `Isms-Page-Limit` like every page size.
fn csv_rows(request: &HttpRequest, asked: Option<usize>) -> usize {
    let rows = asked.map_or(CSV_MAX_ROWS, |asked| asked.min(CSV_MAX_ROWS));
    actix_web::HttpMessage::extensions_mut(request).insert(crate::request::PageLimit(rows));
    rows
}

const AUDIT_TRAIL_CSV_HEADER: &[&str] = &[
    "position",
    "recorded_at",
    "effective_at",
    "backdated",
    "actor",
    "source",
    "event_type",
    "stream_type",
    "stream_id",
    "version",
    "event_id",
    "correlation_id",
    "causation_id",
    "idempotency_key",
    "schema_version",
    "data",
    "prev_hash",
    "hash",
];

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn audit_trail_csv_row(event: EventRecord) -> Vec<String> {
    vec![
        event.position.to_string(),
        instant(event.recorded_at),
        event.effective_at.map(instant).unwrap_or_default(),
        event.backdated.to_string(),
        event.actor,
        event.source.unwrap_or_default(),
        event.event_type,
        event.stream_type,
        event.stream_id,
        event.version.to_string(),
        event.event_id.to_string(),
        event.correlation_id.to_string(),
        event.causation_id.map(|id| id.to_string()).unwrap_or_default(),
        event.idempotency_key.unwrap_or_default(),
        event.schema_version.to_string(),
        event.data.to_string(),
        event.prev_hash,
        event.hash,
    ]
}

/// Read the audit trail
///
/// Every event of the tenant, oldest first: who did what, when (`recorded_at`), with what
/// business time (`effective_at`, `backdated`), at which position. Filters combine with AND.
/// Send `Accept: text/csv` for a spreadsheet: one row per event (the payload as JSON in
/// `data`), up to 10,000 rows, the cursor of the next rows in the `Isms-Next-Cursor` header.
#[utoipa::path(
    tag = "audit", operation_id = "get_audit_trail",
    params(AuditTrailQuery),
    responses((status = 200, description = "A page of events", content(
        (AuditTrailPage = "application/json"),
        (String = "text/csv", example = "position,recorded_at,effective_at,backdated,actor,source,event_type,...\r\n")
    ), headers(("Isms-Next-Cursor" = String, description = "CSV only: the cursor of the next rows, when more follow"))),
    ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/audit-trail")]
pub async fn audit_trail(
    request: HttpRequest,
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    query: web::Query<AuditTrailQuery>,
) -> Result<HttpResponse, ApiError> {
    let csv = negotiate(&request, &[JSON, CSV]) == CSV;
    let limit = page_limit(&request, query.limit)?;
    let limit = if csv { csv_rows(&request, query.limit) } else { limit };
    let after = match &query.cursor {
        Some(cursor) => decode_cursor(cursor)?
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))?,
        None => 0,
    };
    let filter = query.filter();
    let tenant = auth.principal.tenant.clone();
    let position = ledger.store().head(&tenant).map_err(isms_app::AppError::from)?.position;
    let (events, next) = web::block(move || ledger.audit_trail(&tenant, &filter, after, limit))
        .await
        .map_err(|error| ApiError::Internal(format!("audit trail read did not complete: {error}")))??;
    let next_cursor = next.map(|p| encode_cursor(&p.to_string()));
    let items = events.into_iter().map(EventRecord::from);
    if csv {
        let mut response = csv_response(
            "audit-trail.csv",
            isms_projections::csv::write_csv(AUDIT_TRAIL_CSV_HEADER, items.map(audit_trail_csv_row)),
        );
        if let Some(cursor) = next_cursor.and_then(|c| header::HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::HeaderName::from_static("isms-next-cursor"), cursor);
        }
        return Ok(response);
    }
    Ok(HttpResponse::Ok().json(AuditTrailPage { items: items.collect(), next_cursor, position }))
}

/// The actor whose activity is read, and the window.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Count only events recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Count only events recorded at or before this instant.
    pub to: Option<DateTime<Utc>>,
    /// How many of the most recent events to list: default 20, at most 500.
    pub latest: Option<usize>,
}

/// What one actor did in the tenant's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorActivityView {
    /// The token `sub`.
    pub actor: String,
    pub event_count: u64,
    pub first_activity_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Events per event type, e.g. `{"RiskAssessed": 3}`.
    pub by_event_type: BTreeMap<String, u64>,
    /// Events per stream type (register), e.g. `{"risk": 5, "personal_data_access": 2}`.
    pub by_stream_type: BTreeMap<String, u64>,
    /// The most recent events, newest first.
    pub latest: Vec<EventRecord>,
    /// The tenant's last position when the activity was read.
    pub position: u64,
}

/// Read one actor's activity
///
/// Everything the token subject `sub` did (its commands, and its recorded reads of personal
/// data): counts by event type and by stream type, first and last activity, and the latest
/// events. An actor with no events has zero counts.
#[utoipa::path(
    tag = "audit", operation_id = "get_actor_activity",
    params(("sub" = String, Path, description = "The actor's token subject"), ActivityQuery),
    responses((status = 200, description = "The actor's activity", body = ActorActivityView), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/actors/{sub}/activity")]
pub async fn actor_activity(
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    sub: web::Path<String>,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, ApiError> {
    const DEFAULT_LATEST: usize = 20;
    let latest = query.latest.unwrap_or(DEFAULT_LATEST).min(MAX_LIMIT);
    let (actor, tenant, window) = (sub.into_inner(), auth.principal.tenant.clone(), (query.from, query.to));
    let position = ledger.store().head(&tenant).map_err(isms_app::AppError::from)?.position;
    let read = actor.clone();
    let activity = web::block(move || ledger.actor_activity(&tenant, &read, window.0, window.1, latest))
        .await
        .map_err(|error| ApiError::Internal(format!("activity read did not complete: {error}")))??;
    Ok(HttpResponse::Ok().json(ActorActivityView {
        actor,
        event_count: activity.events,
        first_activity_at: activity.first_at,
        last_activity_at: activity.last_at,
        by_event_type: activity.by_event_type,
        by_stream_type: activity.by_stream_type,
        latest: activity.latest.into_iter().map(EventRecord::from).collect(),
        position,
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
        hash_algorithm: "sha256 over the canonical JSON (keys sorted, no whitespace) of the envelope without `hash` (and without the derived `backdated`; `effective_at` and `source` only when not null); prev_hash of position 1 is 64 zeros".into(),
    }))
}

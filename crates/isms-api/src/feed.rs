//! The tenant's events for integrators, as CloudEvents: a paged feed and a live
//! Server-Sent Events stream. Both serve durable events only, in position order, and resume
//! from a position the consumer stored, so nothing is missed or counted twice.

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::{get, web, HttpRequest, HttpResponse};
use bytes::Bytes;
use isms_app::Ledger;
use isms_store::{Envelope, Position, TenantId, READ_CHUNK};
use isms_webhooks::{CloudEvent, DurableHead, TypeFilter, Webhooks};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authorized, EventFeedScope};
use crate::problem::{ApiError, ReadProblems};
use crate::request::page_limit;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(event_feed).service(event_stream);
}

/// Most events one feed request looks at when a type filter skips most of them; the page then
/// ends early and `next_after` moves past what was looked at.
const MAX_SCANNED: usize = 20 * READ_CHUNK;

/// Documents the feed's query; `feed_params` reads it, because `type` may repeat.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FeedQuery {
    /// Return events after this position (0 = from the start). Store the last position you
    /// processed and pass it back to resume without gaps or repeats.
    pub after: Option<u64>,
    /// At most this many events, default 50, at most 500.
    pub limit: Option<usize>,
    /// Only these CloudEvents types: repeat the parameter or separate with commas; a trailing
    /// `*` matches a prefix (`isms.risk.*`).
    #[param(rename = "type")]
    pub event_type: Option<String>,
}

/// A slice of the tenant's event feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    pub items: Vec<CloudEvent>,
    /// Pass as `after` for the next slice (past every event looked at, matched or not).
    pub next_after: u64,
    /// The tenant's last durable position.
    pub head_position: u64,
}

struct FeedParams {
    after: Position,
    limit: Option<usize>,
    types: TypeFilter,
}

/// Reads `after`, `limit` and the repeatable `type` (which a typed query struct cannot take).
fn feed_params(request: &HttpRequest) -> Result<FeedParams, ApiError> {
    let invalid = |detail: String| ApiError::bad_request("invalid_query", detail);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(request.query_string())
        .map_err(|e| invalid(format!("invalid query parameters: {e}")))?;
    let mut params = FeedParams { after: 0, limit: None, types: TypeFilter::default() };
    let mut types = Vec::new();
    for (name, value) in &pairs {
        match name.as_str() {
            "after" => {
                params.after =
                    parse_position(value).ok_or_else(|| invalid(format!("after must be a position, not '{value}'")))?
            }
            "limit" => {
                params.limit =
                    Some(value.parse().map_err(|_| invalid(format!("limit must be a number, not '{value}'")))?)
            }
            "type" => types.push(value.as_str()),
            _ => {}
        }
    }
    params.types = TypeFilter::new(types);
    Ok(params)
}

/// A log position as the document types it (`int64`, at least 0), so a client generated from
/// the document can hold every position the server accepts or sends.
fn parse_position(text: &str) -> Option<Position> {
    text.parse::<i64>().ok().and_then(|position| Position::try_from(position).ok())
}

fn cloud_events<'a>(
    events: &'a [Envelope],
    types: &'a TypeFilter,
    source_base: &'a str,
) -> impl Iterator<Item = CloudEvent> + 'a {
    events.iter().map(move |e| CloudEvent::from_envelope(e, source_base)).filter(|e| types.matches(&e.event_type))
}

fn source_base(webhooks: Option<&web::Data<Webhooks>>) -> String {
    webhooks.map_or_else(
        || isms_webhooks::WebhookSettings::default().event_source_base,
        |w| w.settings().event_source_base.clone(),
    )
}

/// Read the event feed
///
/// The tenant's durable events in position order as CloudEvents 1.0 (structured JSON):
/// `id` (the event id), `source`, `type` (`isms.<stream type>.<what happened>.v<schema>`),
/// `subject` (the record's id), `time`, `data`, and the extensions `position` and
/// `streamversion`. Resume from the last `position` you processed with `after`.
#[utoipa::path(
    tag = "events", operation_id = "get_events",
    params(FeedQuery),
    responses((status = 200, description = "Events after the given position", body = FeedPage), ReadProblems),
    security(("bearer" = ["audit:read"]), ("bearer" = ["integrations"]))
)]
#[get("/events")]
pub async fn event_feed(
    request: HttpRequest,
    auth: Authorized<EventFeedScope>,
    ledger: web::Data<Ledger>,
) -> Result<HttpResponse, ApiError> {
    let params = feed_params(&request)?;
    let limit = page_limit(&request, params.limit)?;
    let source_base = source_base(request.app_data::<web::Data<Webhooks>>());
    let tenant = &auth.principal.tenant;
    let store = ledger.store();
    let head_position = store.head(tenant).map_err(isms_app::AppError::from)?.position;
    let (mut items, mut next_after, mut scanned) = (Vec::new(), params.after, 0);
    while items.len() < limit && scanned < MAX_SCANNED {
        let events = store.read_all(tenant, next_after, READ_CHUNK).map_err(isms_app::AppError::from)?;
        let Some(last) = events.last().map(|e| e.position) else { break };
        for event in cloud_events(&events, &params.types, &source_base) {
            let position = event.position;
            items.push(event);
            if items.len() == limit {
                next_after = position;
                break;
            }
        }
        if items.len() < limit {
            next_after = last;
        }
        scanned += events.len();
    }
    Ok(HttpResponse::Ok().json(FeedPage { items, next_after, head_position }))
}

/// Documents the stream's query; `feed_params` reads it, because `type` may repeat.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct StreamQuery {
    /// Start after this position, when no `Last-Event-ID` header is sent (0 = from the start).
    pub after: Option<u64>,
    /// Only these CloudEvents types (repeat or separate with commas; `isms.risk.*` for a prefix).
    #[param(rename = "type")]
    pub event_type: Option<String>,
}

/// One Server-Sent Event of the live stream, as its fields (each event on the wire is the
/// lines `id:`, `event:`, `data:` and a blank line; heartbeats are comment lines).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // Documents the wire format; the stream writes the lines directly.
pub struct StreamEvent {
    /// The event's position: send it back in `Last-Event-ID` to resume.
    id: String,
    /// The CloudEvents `type`, e.g. `isms.risk.assessed.v1`.
    event: String,
    /// The CloudEvent as JSON, the same as the feed's item.
    data: String,
}

/// Stream events live (Server-Sent Events)
///
/// Every durable event after the starting point, then each new one as soon as it is durable:
/// `id:` is the event's position, `event:` its CloudEvents type, `data:` the CloudEvent JSON.
/// Idle streams carry a comment line every few seconds. To resume, reconnect with the header
/// `Last-Event-ID` (the last `id:` received; EventSource clients do this themselves) or with
/// `?after=`: no event is missed or repeated.
#[utoipa::path(
    tag = "events", operation_id = "stream_events",
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position (wins over `after`)")),
    responses((status = 200, description = "An endless text/event-stream", content(
        (StreamEvent = "text/event-stream", example = "id: 2\nevent: isms.risk.assessed.v1\ndata: {\"specversion\":\"1.0\",\"id\":\"...\",\"position\":2}\n\n")
    )), ReadProblems),
    security(("bearer" = ["audit:read"]), ("bearer" = ["integrations"]))
)]
#[get("/events/stream")]
pub async fn event_stream(
    request: HttpRequest,
    auth: Authorized<EventFeedScope>,
    ledger: web::Data<Ledger>,
    head: web::Data<DurableHead>,
) -> Result<HttpResponse, ApiError> {
    let params = feed_params(&request)?;
    let after = match request.headers().get("last-event-id") {
        Some(value) => value.to_str().ok().and_then(|v| parse_position(v.trim())).ok_or_else(|| {
            ApiError::bad_request("invalid_last_event_id", "Last-Event-ID must be a position this stream sent")
        })?,
        None => params.after,
    };
    let webhooks = request.app_data::<web::Data<Webhooks>>();
    let heartbeat = webhooks.map_or(Duration::from_secs(15), |w| w.settings().stream_heartbeat);
    let stream = LiveStream {
        ledger,
        tenant: auth.principal.tenant.clone(),
        after,
        types: params.types,
        source_base: source_base(webhooks),
        durable: head.subscribe(),
        closing: head.closing(),
        heartbeat,
        ready: VecDeque::from([Bytes::from(format!("retry: 3000\n: events after position {after}\n\n"))]),
    };
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        let chunk = stream.next_chunk().await?;
        Some((Ok::<_, actix_web::Error>(chunk), stream))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        // Tells nginx-style proxies not to buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

struct LiveStream {
    ledger: web::Data<Ledger>,
    tenant: TenantId,
    after: Position,
    types: TypeFilter,
    source_base: String,
    durable: tokio::sync::watch::Receiver<u64>,
    closing: tokio::sync::watch::Receiver<bool>,
    heartbeat: Duration,
    ready: VecDeque<Bytes>,
}

impl LiveStream {
    /// The next piece of the stream; `None` ends it (the client reconnects and resumes).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if *self.closing.borrow() {
                return None;
            }
            if let Some(chunk) = self.ready.pop_front() {
                return Some(chunk);
            }
            // Marked seen before reading: an event made durable after the read still wakes us.
            self.durable.borrow_and_update();
            let events = match self.ledger.store().read_all(&self.tenant, self.after, READ_CHUNK) {
                Ok(events) => events,
                Err(error) => {
                    tracing::error!(%error, "event stream read failed; closing the stream");
                    return None;
                }
            };
            if let Some(last) = events.last().map(|e| e.position) {
                let mut text = String::new();
                for event in cloud_events(&events, &self.types, &self.source_base) {
                    let json = serde_json::to_string(&event).ok()?;
                    text.push_str(&format!("id: {}\nevent: {}\ndata: {json}\n\n", event.position, event.event_type));
                }
                self.after = last;
                if !text.is_empty() {
                    self.ready.push_back(Bytes::from(text));
                }
                continue;
            }
            tokio::select! {
                changed = self.durable.changed() => if changed.is_err() { return None },
                _ = self.closing.changed() => return None,
                () = tokio::time::sleep(self.heartbeat) => return Some(Bytes::from_static(b": heartbeat\n\n")),
            }
        }
    }
}

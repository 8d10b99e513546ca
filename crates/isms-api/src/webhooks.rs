//! Webhook subscriptions (scope `admin`): signed CloudEvents pushed to a URL, with a delivery
//! log and manual redelivery. Subscriptions and secrets live beside the log, not in it, so a
//! secret can be erased.

use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::Ledger;
use isms_webhooks::lifecycle::{self, Change};
use isms_webhooks::signing::secret_key;
use isms_webhooks::{Delivery, NewSubscription, Subscription, WebhookError, Webhooks};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AdminScope, Authorized, Principal};
use crate::problem::{ApiError, CommandProblems, FieldProblem, ReadProblems};
use crate::request::{correlation_id, decode_cursor, encode_cursor, page_limit, CommandBody};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(delete_webhook)
        .service(activate_webhook)
        .service(deactivate_webhook)
        .service(rotate_webhook_secret)
        .service(list_webhook_deliveries)
        .service(redeliver_webhook);
}

/// A new webhook subscription.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.example.com/isms",
    "event_types": ["isms.risk.*", "isms.nonconformity.raised.v1"],
    "description": "Ticketing bridge"
}))]
pub struct CreateWebhookRequest {
    /// http or https. Private, loopback and link-local targets are refused unless the
    /// operator allow-listed the host.
    pub url: String,
    #[serde(default)]
    #[schema(schema_with = event_types_schema)]
    pub event_types: Vec<String>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub description: Option<String>,
    #[schema(schema_with = secret_schema)]
    pub secret: Option<String>,
    /// Default true.
    pub active: Option<bool>,
    /// Also deliver the events after this position (0: the whole log). Absent: only events
    /// recorded from now on.
    pub after_position: Option<u64>,
}

/// What `isms_webhooks::signing::secret_key` accepts: `whsec_` and canonical standard base64
/// of 24 to 64 bytes (8 to 21 groups of four characters, the last possibly padded, with the
/// unused bits of a padded group zero).
const SECRET_PATTERN: &str = concat!(
    r"^whsec_((?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?",
    r"|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$"
);

/// What `validated` accepts as an event type: lower-case letters, digits, `.` and `_`, with an
/// optional `*` at the end, 1 to 200 characters.
fn event_types_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let event_type = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[a-z0-9._]*\*?$"))
        .min_length(Some(1))
        .max_length(Some(200));
    ArrayBuilder::new()
        .items(event_type)
        .description(Some("CloudEvents types to deliver (`isms.risk.*` for a prefix); empty or absent: every type."))
        .build()
}

fn secret_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(SECRET_PATTERN))
        .description(Some("`whsec_` and base64 of 24 to 64 bytes. Absent: one is generated and returned once."))
        .build()
}

/// A new signing secret.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct RotateSecretRequest {
    #[schema(schema_with = secret_schema)]
    pub secret: Option<String>,
}

/// The body of activation, deactivation and redelivery: an empty object.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct NoOptions {}

/// A secret's validity (never its value).
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretValidity {
    pub created_at: DateTime<Utc>,
    /// When a rotated-out secret stops signing; absent for the current one.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    /// Why the server deactivated it (e.g. the endpoint answered 410 Gone).
    pub disabled_reason: Option<String>,
    /// Only in the answers to creation and rotation: store it now, it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The secrets that sign deliveries now: the current one first, then rotated-out ones in
    /// their grace period (each delivery carries one signature per secret).
    pub signing_secrets: Vec<SecretValidity>,
    /// Events up to this position were handed to the outbox.
    pub dispatched_position: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// Newest first.
    pub items: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Default 50, at most 500.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn service(webhooks: Option<web::Data<Webhooks>>) -> Result<web::Data<Webhooks>, ApiError> {
    webhooks.ok_or_else(|| ApiError::Internal("webhooks are not configured".into()))
}

fn webhook_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(format!("no webhook with id {raw}")))
}

fn failed(error: WebhookError, id: Uuid) -> ApiError {
    match error {
        WebhookError::NotFound => ApiError::not_found(format!("no webhook with id {id}")),
        WebhookError::DeliveryNotFound => ApiError::not_found(format!("webhook {id} has no such delivery")),
        WebhookError::DeliveryPending => ApiError::new(StatusCode::CONFLICT, "delivery_pending", error.to_string()),
        WebhookError::Store(error) => ApiError::Internal(format!("webhook store: {error}")),
    }
}

/// Makes a change in the webhook store on the blocking pool: each change waits for its fsync,
/// which must not hold up an HTTP worker thread (the review found them on the workers).
async fn write<T: Send + 'static>(
    webhooks: &web::Data<Webhooks>,
    id: Uuid,
    change: impl FnOnce(&Webhooks) -> Result<T, WebhookError> + Send + 'static,
) -> Result<T, ApiError> {
    let webhooks = webhooks.clone();
    let outcome = web::block(move || change(&webhooks)).await;
    outcome.map_err(|error| ApiError::Internal(format!("webhook store: {error}")))?.map_err(|error| failed(error, id))
}

/// Records a subscription change in the log before it is made: the change is acknowledged
/// only once its record is durable.
async fn log_change(
    request: &HttpRequest,
    ledger: &Ledger,
    principal: &Principal,
    id: Uuid,
    change: Change,
) -> Result<(), ApiError> {
    let (tenant, actor, correlation) = (&principal.tenant, &principal.subject, correlation_id(request));
    lifecycle::record(ledger.store().as_ref(), tenant, id, actor, correlation, change)
        .await
        .map_err(|e| ApiError::Internal(format!("recording a webhook change in the log: {e}")))
}

fn view(webhooks: &Webhooks, subscription: Subscription, secret: Option<String>) -> Result<WebhookView, ApiError> {
    let tenant = isms_store::TenantId::parse(&subscription.tenant).map_err(|e| ApiError::Internal(e.to_string()))?;
    let dispatched_position = webhooks.cursor(&tenant, subscription.id).map_err(|e| failed(e, subscription.id))?;
    Ok(WebhookView {
        id: subscription.id,
        url: subscription.url,
        event_types: subscription.event_types,
        description: subscription.description,
        active: subscription.active,
        disabled_reason: subscription.disabled_reason,
        secret,
        signing_secrets: subscription
            .secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|until| until > Utc::now()))
            .map(|s| SecretValidity { created_at: s.created_at, expires_at: s.expires_at })
            .collect(),
        dispatched_position,
        created_at: subscription.created_at,
        created_by: subscription.created_by,
        updated_at: subscription.updated_at,
    })
}

fn problem(code: &'static str, pointer: impl Into<String>, detail: impl Into<String>) -> (&'static str, FieldProblem) {
    (code, FieldProblem { pointer: pointer.into(), detail: detail.into() })
}

fn check_secret(secret: Option<&str>, problems: &mut Vec<(&'static str, FieldProblem)>) {
    if let Some(Err(reason)) = secret.map(secret_key) {
        problems.push(problem("invalid_webhook_secret", "/secret", reason));
    }
}

fn refuse(problems: Vec<(&'static str, FieldProblem)>) -> Result<(), ApiError> {
    let Some((first, _)) = problems.first() else { return Ok(()) };
    let code = if problems.iter().all(|(code, _)| code == first) { *first } else { "validation_failed" };
    let detail = problems.iter().map(|(_, p)| format!("{}: {}", p.pointer, p.detail)).collect::<Vec<_>>().join("; ");
    Err(ApiError::unprocessable(code, detail, problems.into_iter().map(|(_, p)| p).collect()))
}

/// Checks the request; the URL's host is resolved and every address it resolves to checked.
async fn validated(webhooks: &Webhooks, body: CreateWebhookRequest) -> Result<NewSubscription, ApiError> {
    let mut problems = Vec::new();
    let url = match webhooks.guard().check_url(body.url.trim()).await {
        Ok(url) => Some(url.to_string()),
        Err(reason) => {
            problems.push(problem("webhook_url_refused", "/url", reason));
            None
        }
    };
    for (i, event_type) in body.event_types.iter().enumerate() {
        let pattern = event_type.strip_suffix('*').unwrap_or(event_type);
        let valid = !event_type.trim().is_empty()
            && event_type.len() <= 200
            && pattern.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
        if !valid {
            problems.push(problem(
                "invalid_event_type",
                format!("/event_types/{i}"),
                "a CloudEvents type such as isms.risk.assessed.v1, or a prefix ending in * (isms.risk.*)",
            ));
        }
    }
    check_secret(body.secret.as_deref(), &mut problems);
    // Counted as sent, as the document's maxLength counts.
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
        problems.push(problem("validation_failed", "/description", "at most 500 characters"));
    }
    let description = body.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    refuse(problems)?;
    Ok(NewSubscription {
        id: Uuid::now_v7(),
        url: url.unwrap_or_default(),
        event_types: body.event_types,
        description,
        secret: body.secret,
        active: body.active.unwrap_or(true),
        after_position: body.after_position,
    })
}

/// Subscribe a URL to events
///
/// Deliveries follow the Standard Webhooks specification: the body is the CloudEvent (as in
/// the feed), headers `webhook-id` (the same on every retry), `webhook-timestamp` and
/// `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`). Failed
/// deliveries are retried with exponential backoff and jitter for about three days;
/// `Retry-After` is honoured and `410 Gone` deactivates the subscription. The secret is in
/// this answer only.
#[utoipa::path(
    tag = "events", operation_id = "create_webhook",
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "Subscribed; the secret is shown this once", body = WebhookView,
        headers(("Location" = String, description = "The subscription"))), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[post("/webhooks")]
pub async fn create_webhook(
    request: HttpRequest,
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    webhooks: Option<web::Data<Webhooks>>,
    body: CommandBody<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let webhooks = service(webhooks)?;
    let new = validated(&webhooks, body.value).await?;
    let principal = &auth.principal;
    let change = Change::Created { url: new.url.clone(), event_types: new.event_types.clone(), active: new.active };
    log_change(&request, &ledger, principal, new.id, change).await?;
    let (tenant, subject) = (principal.tenant.clone(), principal.subject.clone());
    let (subscription, secret) = write(&webhooks, Uuid::nil(), move |w| w.create(&tenant, &subject, new)).await?;
    let location = format!("/api/v1/webhooks/{}", subscription.id);
    let view = view(&webhooks, subscription, Some(secret))?;
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(view))
}

/// List webhook subscriptions
#[utoipa::path(
    tag = "events", operation_id = "list_webhooks",
    responses((status = 200, description = "The tenant's subscriptions (without secrets)", body = WebhookList), ReadProblems),
    security(("bearer" = ["admin"]))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    auth: Authorized<AdminScope>,
    webhooks: Option<web::Data<Webhooks>>,
) -> Result<HttpResponse, ApiError> {
    let webhooks = service(webhooks)?;
    let subscriptions = webhooks.list(&auth.principal.tenant).map_err(|e| failed(e, Uuid::nil()))?;
    let items = subscriptions.into_iter().map(|s| view(&webhooks, s, None)).collect::<Result<_, _>>()?;
    Ok(HttpResponse::Ok().json(WebhookList { items }))
}

/// Read a webhook subscription
#[utoipa::path(
    tag = "events", operation_id = "get_webhook",
    params(("id" = Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "The subscription (without its secret)", body = WebhookView), ReadProblems),
    security(("bearer" = ["admin"]))
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    auth: Authorized<AdminScope>,
    webhooks: Option<web::Data<Webhooks>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (webhooks, id) = (service(webhooks)?, webhook_id(&id)?);
    let subscription = webhooks.get(&auth.principal.tenant, id).map_err(|e| failed(e, id))?;
    Ok(HttpResponse::Ok().json(view(&webhooks, subscription, None)?))
}

/// Delete a webhook subscription
///
/// Removes the subscription, its secrets and its delivery log; queued deliveries are dropped.
#[utoipa::path(
    tag = "events", operation_id = "delete_webhook",
    params(("id" = Uuid, Path, description = "The subscription")),
    responses((status = 204, description = "Deleted"), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    request: HttpRequest,
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    webhooks: Option<web::Data<Webhooks>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (webhooks, id) = (service(webhooks)?, webhook_id(&id)?);
    webhooks.get(&auth.principal.tenant, id).map_err(|e| failed(e, id))?;
    log_change(&request, &ledger, &auth.principal, id, Change::Deleted).await?;
    let tenant = auth.principal.tenant.clone();
    write(&webhooks, id, move |w| w.delete(&tenant, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_active(
    request: HttpRequest,
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    webhooks: Option<web::Data<Webhooks>>,
    id: &str,
    active: bool,
) -> Result<HttpResponse, ApiError> {
    let (webhooks, id) = (service(webhooks)?, webhook_id(id)?);
    let current = webhooks.get(&auth.principal.tenant, id).map_err(|e| failed(e, id))?;
    if current.active != active {
        let change = if active { Change::Activated } else { Change::Deactivated { reason: None } };
        log_change(&request, &ledger, &auth.principal, id, change).await?;
    }
    let tenant = auth.principal.tenant.clone();
    let subscription = write(&webhooks, id, move |w| w.set_active(&tenant, id, active)).await?;
    Ok(HttpResponse::Ok().json(view(&webhooks, subscription, None)?))
}

/// Activate a webhook subscription
///
/// Deliveries resume, starting with the events recorded while it was inactive.
#[utoipa::path(
    tag = "events", operation_id = "activate_webhook",
    request_body = NoOptions,
    params(("id" = Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "Active", body = WebhookView), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[post("/webhooks/{id}/activation")]
pub async fn activate_webhook(
    request: HttpRequest,
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    webhooks: Option<web::Data<Webhooks>>,
    id: web::Path<String>,
    _body: CommandBody<NoOptions>,
) -> Result<HttpResponse, ApiError> {
    set_active(request, auth, ledger, webhooks, &id, true).await
}

/// Deactivate a webhook subscription
///
/// Nothing is delivered while inactive; the events are kept for when it is activated again.
#[utoipa::path(
    tag = "events", operation_id = "deactivate_webhook",
    request_body = NoOptions,
    params(("id" = Uuid, Path, description = "The subscription")),
    responses((status = 200, description = "Inactive", body = WebhookView), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[post("/webhooks/{id}/deactivation")]
pub async fn deactivate_webhook(
    request: HttpRequest,
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    webhooks: Option<web::Data<Webhooks>>,
    id: web::Path<String>,
    _body: CommandBody<NoOptions>,
) -> Result<HttpResponse, ApiError> {
    set_active(request, auth, ledger, webhooks, &id, false).await
}

/// Rotate a webhook's signing secret
///
/// The new secret (given, or generated and shown in this answer only) signs from now on; the
/// previous ones keep signing beside it for the grace period (24 hours by default), so each
/// delivery carries several signatures in `webhook-signature` until the receiver switched.
#[utoipa::path(
    tag = "events", operation_id = "rotate_webhook_secret",
    params(("id" = Uuid, Path, description = "The subscription")),
    request_body = RotateSecretRequest,
    responses((status = 200, description = "Rotated; the new secret is shown this once", body = WebhookView), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[post("/webhooks/{id}/secret-rotation")]
pub async fn rotate_webhook_secret(
    request: HttpRequest,
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    webhooks: Option<web::Data<Webhooks>>,
    id: web::Path<String>,
    body: CommandBody<RotateSecretRequest>,
) -> Result<HttpResponse, ApiError> {
    let (webhooks, id) = (service(webhooks)?, webhook_id(&id)?);
    let mut problems = Vec::new();
    check_secret(body.value.secret.as_deref(), &mut problems);
    refuse(problems)?;
    webhooks.get(&auth.principal.tenant, id).map_err(|e| failed(e, id))?;
    let grace = chrono::Duration::from_std(webhooks.settings().rotation_grace).unwrap_or(chrono::Duration::days(1));
    let change = Change::SecretRotated { previous_valid_until: Utc::now() + grace };
    log_change(&request, &ledger, &auth.principal, id, change).await?;
    let (tenant, secret) = (auth.principal.tenant.clone(), body.value.secret);
    let (subscription, secret) = write(&webhooks, id, move |w| w.rotate_secret(&tenant, id, secret)).await?;
    Ok(HttpResponse::Ok().json(view(&webhooks, subscription, Some(secret))?))
}

/// Read a webhook's delivery log
///
/// One delivery per event, newest first: status (`pending`, `succeeded`, `failed`), every
/// attempt with its time, HTTP status or error and duration, and the next attempt.
#[utoipa::path(
    tag = "events", operation_id = "list_webhook_deliveries",
    params(("id" = Uuid, Path, description = "The subscription"), DeliveryQuery),
    responses((status = 200, description = "Deliveries", body = DeliveryPage), ReadProblems),
    security(("bearer" = ["admin"]))
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    request: actix_web::HttpRequest,
    auth: Authorized<AdminScope>,
    webhooks: Option<web::Data<Webhooks>>,
    id: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let (webhooks, id) = (service(webhooks)?, webhook_id(&id)?);
    let limit = page_limit(&request, query.limit)?;
    let before = match &query.cursor {
        Some(cursor) => Some(
            decode_cursor(cursor)?
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))?,
        ),
        None => None,
    };
    let items = webhooks.deliveries(&auth.principal.tenant, id, before, limit).map_err(|e| failed(e, id))?;
    let next_cursor =
        items.last().filter(|_| items.len() == limit).map(|last| encode_cursor(&last.position.to_string()));
    Ok(HttpResponse::Ok().json(DeliveryPage { items, next_cursor }))
}

/// Deliver an event again
///
/// Queues a succeeded or failed delivery once more, with the same `webhook-id` and a fresh
/// retry schedule (409 `delivery_pending` while it is still being retried).
#[utoipa::path(
    tag = "events", operation_id = "redeliver_webhook",
    request_body = NoOptions,
    params(("id" = Uuid, Path, description = "The subscription"),
           ("delivery_id" = String, Path, description = "The delivery's id (its webhook-id)")),
    responses((status = 202, description = "Queued", body = Delivery), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/redelivery")]
pub async fn redeliver_webhook(
    auth: Authorized<AdminScope>,
    webhooks: Option<web::Data<Webhooks>>,
    path: web::Path<(String, String)>,
    _body: CommandBody<NoOptions>,
) -> Result<HttpResponse, ApiError> {
    let (raw_id, delivery_id) = path.into_inner();
    let (webhooks, id) = (service(webhooks)?, webhook_id(&raw_id)?);
    let tenant = auth.principal.tenant.clone();
    let delivery = write(&webhooks, id, move |w| w.redeliver(&tenant, id, &delivery_id)).await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

//! Ticketing integrations (issue 5): Jira Cloud and ServiceNow report their tickets here, and
//! a ticketing bridge reports back the ticket it opened for a corrective action.
//!
//! In: `POST /integrations/jira` and `POST /integrations/servicenow` take the vendors' own
//! webhook payloads. A ticket that tracks a corrective action moves it (by the configurable
//! status mapping); a ticket that is an incident (by configurable issue types, projects or
//! categories) is reported into, then kept up to date in, the incident register. Everything a
//! delivery did not act on is answered with the reason, never dropped silently.
//!
//! Out: planning a corrective action already emits `CorrectiveActionPlanned` with what a bridge
//! needs; the bridge consumes it from the event feed or a webhook, opens the ticket, and calls
//! `PUT .../corrective-actions/{action_id}/ticket`.

mod payloads;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{post, put, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use isms_app::{AppError, CommandContext, Creation, IdempotencyInput, Ledger, ReadPoint};
use isms_domain::incidents::{Incident, IncidentReported, IncidentTicketUpdated};
use isms_domain::nonconformity::Nonconformity;
use isms_domain::ticketing::{mapped_outcome, ticket_system, ActionOutcome, StatusRule, TicketRef, TicketStatusChange};
use isms_domain::values::{required_line, MAX_LINE};
use isms_domain::Actor;
use isms_projections::views::text::MAX_URL;
use isms_projections::views::NonconformityRecord;
use isms_store::TenantId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use self::payloads::{TicketReport, JIRA, SERVICENOW};
use crate::auth::{authenticate, require_scope, Authorized, IntegrationsScope, RequiredScope, TicketLinkScope};
use crate::fields::Fields;
use crate::problem::{ApiError, CommandProblems, Problem};
use crate::register::{run, stream_id};
use crate::request::{command_context, correlation_id, record_id, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(receive_jira).service(receive_servicenow).service(link_corrective_action_ticket);
}

/// One tenant's shared secret for one ticketing system's webhooks. The secret identifies the
/// tenant: the body's HMAC-SHA256 under it must match the delivery's signature.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketingSecret {
    pub tenant: String,
    /// `jira` or `servicenow`.
    pub system: String,
    pub secret: String,
    /// Recorded as the `actor` of what the deliveries change; the system's name when absent.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// The ticketing settings (issue 5), carried in `isms::ServeConfig::ticketing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TicketingSettings {
    /// Webhook secrets; with none, deliveries must carry a bearer token with scope `integrations`.
    pub secrets: Vec<TicketingSecret>,
    /// Jira issue types that are incidents (compared without regard to case).
    pub jira_incident_issue_types: Vec<String>,
    /// Jira projects whose incident-type issues are incidents; empty means every project.
    pub jira_incident_projects: Vec<String>,
    /// ServiceNow incident categories that are incidents in the register; empty means all.
    pub servicenow_incident_categories: Vec<String>,
    /// Which reported ticket status moves a corrective action (first match wins).
    pub action_status_map: Vec<StatusRule>,
    /// Largest webhook body accepted, in bytes. Jira payloads with a long description and
    /// changelog reach about 100 KB.
    pub max_body_bytes: usize,
}

/// Configuration is printed in diagnostics; the secret must not be.
impl std::fmt::Debug for TicketingSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketingSecret")
            .field("tenant", &self.tenant)
            .field("system", &self.system)
            .field("secret", &"[redacted]")
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl Default for TicketingSettings {
    fn default() -> Self {
        let rule = |system: &str, status: &str| StatusRule {
            system: system.into(),
            status: status.into(),
            outcome: ActionOutcome::Completed,
        };
        Self {
            secrets: Vec::new(),
            jira_incident_issue_types: vec!["Incident".into(), "Security Incident".into()],
            jira_incident_projects: Vec::new(),
            servicenow_incident_categories: Vec::new(),
            // Jira: the status category `done` (Done, Closed, Resolved ...). ServiceNow: the
            // incident states 6 Resolved and 7 Closed.
            action_status_map: vec![rule(JIRA, "done"), rule(SERVICENOW, "6"), rule(SERVICENOW, "7")],
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Deliveries are handled one at a time per process: two deliveries about the same new ticket
/// (created and updated, sent at once) must not both find no incident and report two.
static INTAKE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Who sent a delivery: a tenant's secret or a bearer token.
struct DeliveryCaller {
    tenant: TenantId,
    client_id: String,
}

/// Reads the raw body (the signature covers its exact bytes) up to the configured limit.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("unreadable_body", "the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    let value = request.headers().get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Whether `signature` (`sha256=<digest>`, or the bare digest, in hex or base64) is the
/// HMAC-SHA256 of `body` under `secret`. Base64 because ServiceNow's own MAC function
/// (`GlideCertificateEncryption.generateMac`) returns it. The comparison is constant-time
/// (`Mac::verify_slice`).
fn signature_matches(secret: &str, body: &[u8], signature: &str) -> bool {
    use base64::Engine;
    let digest = signature.strip_prefix("sha256=").unwrap_or(signature);
    let decoded = hex::decode(digest).or_else(|_| base64::engine::general_purpose::STANDARD.decode(digest));
    let Ok(expected) = decoded else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The header each system signs its deliveries in: Jira Cloud's `X-Hub-Signature`; for
/// ServiceNow (whose outbound REST messages sign nothing by themselves) `X-Signature`, set by
/// the business rule or flow that sends the record.
fn signature_header(system: &str) -> &'static str {
    if system == JIRA {
        "x-hub-signature"
    } else {
        "x-signature"
    }
}

/// Authenticates a delivery: a bearer token with scope `integrations`, or else a signature
/// that one tenant's secret for this system verifies. Failures are logged as security events
/// and answered 401 before the body is parsed.
fn authenticate_delivery(
    request: &HttpRequest,
    settings: &TicketingSettings,
    system: &str,
    body: &[u8],
) -> Result<DeliveryCaller, ApiError> {
    if request.headers().contains_key(actix_web::http::header::AUTHORIZATION) {
        let principal = authenticate(request)?;
        require_scope(request, &principal, IntegrationsScope::SCOPE)?;
        return Ok(DeliveryCaller { tenant: principal.tenant, client_id: principal.subject });
    }
    let signature = header(request, signature_header(system));
    let verified = signature.as_deref().and_then(|signature| {
        settings
            .secrets
            .iter()
            // An empty secret would make anyone's HMAC under the empty key a valid signature.
            .filter(|secret| secret.system == system && !secret.secret.is_empty())
            .find(|secret| signature_matches(&secret.secret, body, signature))
    });
    let caller = verified.and_then(|secret| {
        let tenant = TenantId::parse(&secret.tenant).ok()?;
        Some(DeliveryCaller { tenant, client_id: secret.client_id.clone().unwrap_or_else(|| system.to_owned()) })
    });
    caller.ok_or_else(|| {
        let reason = if signature.is_some() { "signature does not verify" } else { "no signature and no token" };
        tracing::warn!(
            target: "security", event = "webhook_authentication_failed", method = %request.method(),
            route = %request.path(), system, reason
        );
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            format!(
                "the delivery must be signed ({}: sha256=<hex HMAC-SHA256 of the body>) with a configured secret, \
                 or carry a bearer token with scope 'integrations'",
                signature_header(system)
            ),
        )
    })
}

/// The command context of everything a delivery changes: the one place where ticketing
/// attributes its events: the actor is the integration's client id and the source names the
/// system (`jira`, `servicenow`).
fn integration_context(
    caller: &DeliveryCaller,
    source: &str,
    correlation_id: Uuid,
    idempotency: IdempotencyInput,
) -> CommandContext {
    CommandContext {
        tenant: caller.tenant.clone(),
        actor: Actor { subject: caller.client_id.clone(), is_admin: false },
        correlation_id,
        causation_id: None,
        idempotency: Some(idempotency),
        if_match: None,
        source: Some(source.to_owned()),
    }
}

/// What a delivery recorded in one register.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordedChange {
    /// `incidents` or `nonconformities`.
    pub register: String,
    pub id: Uuid,
    /// For a corrective action: its id.
    pub action_id: Option<Uuid>,
    pub event_types: Vec<String>,
    /// Recorded by an earlier delivery with the same id; nothing new was recorded.
    pub duplicate: bool,
}

/// Something a delivery asked for that was not done, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IgnoredPart {
    /// `event_type_ignored`, `unknown_ticket_key`, `status_not_mapped`, or the code of the
    /// business rule that refused the change (e.g. `corrective_action_already_completed`).
    pub code: String,
    pub detail: String,
    pub record_id: Option<Uuid>,
    pub action_id: Option<Uuid>,
}

/// The answer to a ticketing delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "delivery_id": "5a1d2f3e-7b4c-4f7a-9d2e-0c1b2a3d4e5f", "system": "jira", "ticket_key": "OPS-42",
    "outcome": "processed",
    "recorded": [{"register": "nonconformities", "id": "0193c7e0-0000-7000-8000-000000000000",
                  "action_id": "0193c7e0-0000-7000-8000-000000000001",
                  "event_types": ["CorrectiveActionCompleted"], "duplicate": false}],
    "ignored": []
}))]
pub struct DeliveryReport {
    pub delivery_id: String,
    pub system: String,
    pub ticket_key: String,
    /// `processed` (something new was recorded, 200), `duplicate` (a redelivery: everything
    /// was recorded before, 200) or `ignored` (nothing to record, 202; see `ignored`).
    pub outcome: String,
    pub recorded: Vec<RecordedChange>,
    pub ignored: Vec<IgnoredPart>,
}

/// The records a ticket touches, found in the live registers.
struct Targets {
    incident: Option<Uuid>,
    actions: Vec<(Uuid, Uuid)>,
}

fn find_targets(ledger: &Ledger, tenant: &TenantId, system: &str, key: &str) -> Result<Targets, ApiError> {
    let (targets, _) = ledger.with_registers(tenant, ReadPoint::Latest, |registers, _| {
        let incident = registers
            .incidents
            .iter()
            .find(|(_, entry)| entry.state.ticket.as_ref().is_some_and(|t| t.is(system, key)))
            .map(|(id, _)| *id);
        let actions = registers
            .nonconformities
            .iter()
            .flat_map(|(id, entry)| {
                entry.state.actions.iter().filter(|a| a.tracked_by(system, key)).map(|a| (*id, a.plan.action_id))
            })
            .collect();
        Targets { incident, actions }
    })?;
    Ok(targets)
}

/// Runs the changes one delivery asks for and reports each.
struct Intake<'a> {
    ledger: &'a Ledger,
    caller: &'a DeliveryCaller,
    report: &'a TicketReport,
    fingerprint: String,
    correlation_id: Uuid,
    recorded: Vec<RecordedChange>,
    ignored: Vec<IgnoredPart>,
}

impl Intake<'_> {
    /// Each change is keyed by the delivery id and its target, so a redelivery replays what
    /// was recorded (durably, through the store's idempotency records) and a delivery that
    /// failed half-way completes the rest when the sender retries.
    fn context(&self, target: &str) -> CommandContext {
        let key = format!("{}:{}:{target}", self.report.system, self.report.delivery_id);
        let idempotency = IdempotencyInput { key, fingerprint: self.fingerprint.clone() };
        integration_context(self.caller, self.report.system, self.correlation_id, idempotency)
    }

    /// The types of the events recorded under this change's idempotency key (by this delivery
    /// or, for a duplicate, by the first one).
    fn event_types(&self, stream_type: &str, id: &str, context: &CommandContext) -> Result<Vec<String>, ApiError> {
        let key = context.idempotency.as_ref().map(|i| i.key.as_str());
        let stream = isms_store::StreamRef::new(stream_type, id);
        let events = self.ledger.store().read_stream(&self.caller.tenant, &stream, None).map_err(AppError::from)?;
        Ok(events.into_iter().filter(|e| e.idempotency_key.as_deref() == key).map(|e| e.event_type).collect())
    }

    fn ignore(&mut self, code: &str, detail: String, record_id: Option<Uuid>, action_id: Option<Uuid>) {
        self.ignored.push(IgnoredPart { code: code.to_owned(), detail, record_id, action_id });
    }

    /// Records the outcome of one command: business-rule refusals are reported as ignored;
    /// anything else (the store failing) fails the delivery so the sender retries it.
    fn outcome<A: isms_projections::Register>(
        &mut self,
        result: Result<isms_app::CommandOutcome<A>, AppError>,
        context: &CommandContext,
        action_id: Option<Uuid>,
        record_id: Option<Uuid>,
    ) -> Result<(), ApiError> {
        match result {
            Ok(outcome) => {
                let event_types = self.event_types(A::STREAM_TYPE, &outcome.entry.id, context)?;
                self.recorded.push(RecordedChange {
                    register: A::COLLECTION.to_owned(),
                    id: outcome.entry.uuid(),
                    action_id,
                    event_types,
                    duplicate: outcome.replayed,
                });
                Ok(())
            }
            Err(AppError::Domain(refused)) => {
                self.ignore(refused.code.as_str(), refused.detail, record_id, action_id);
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    fn ticket_state(&self) -> IncidentTicketUpdated {
        let report = self.report;
        IncidentTicketUpdated {
            system: report.system.to_owned(),
            key: report.key.clone(),
            status: report.status.clone(),
            priority: report.priority.clone(),
            summary: Some(report.summary.clone()).filter(|s| !s.is_empty()),
            changed_by: report.changed_by.clone(),
            changed_at: report.changed_at,
            delivery_id: report.delivery_id.clone(),
        }
    }

    async fn update_incident(&mut self, id: Uuid) -> Result<(), ApiError> {
        let update = self.ticket_state();
        let context = self.context("incident");
        let result = self
            .ledger
            .execute::<Incident>(&context, &id.to_string(), Creation::ExistingStream, Incident::exists, |incident| {
                incident.record_ticket_update(update.clone())
            })
            .await;
        self.outcome(result, &context, None, Some(id))
    }

    async fn report_incident(&mut self) -> Result<(), ApiError> {
        let report = self.report;
        let now = chrono::Utc::now();
        let title = if report.summary.is_empty() {
            format!("{} {}", report.system, report.key)
        } else {
            report.summary.clone()
        };
        let reported = IncidentReported {
            title,
            description: report.description.clone(),
            // A ticketing system's clock a little ahead must not make the report "in the future".
            detected_at: report.opened_at.unwrap_or(now).min(now),
            reported_by: report.reported_by.clone().unwrap_or_else(|| self.caller.client_id.clone()),
        };
        let ticket = TicketRef { system: report.system.to_owned(), key: report.key.clone(), url: report.url.clone() };
        let state = self.ticket_state();
        let context = self.context("incident");
        let id = Uuid::now_v7().to_string();
        let result = self
            .ledger
            .execute::<Incident>(&context, &id, Creation::NewStream, Incident::exists, |incident| {
                incident.report_from_ticket(reported.clone(), ticket.clone(), state.clone(), now)
            })
            .await;
        self.outcome(result, &context, None, None)
    }

    async fn move_action(
        &mut self,
        nonconformity_id: Uuid,
        action_id: Uuid,
        rules: &[StatusRule],
    ) -> Result<(), ApiError> {
        let report = self.report;
        let forms: Vec<&str> = report.status_forms.iter().map(String::as_str).collect();
        match mapped_outcome(rules, report.system, &forms) {
            None => {
                let detail = format!(
                    "the {} status '{}' is not mapped to a corrective action outcome (action_status_map)",
                    report.system, report.status
                );
                self.ignore("status_not_mapped", detail, Some(nonconformity_id), Some(action_id));
                Ok(())
            }
            Some(ActionOutcome::Completed) => {
                let change = TicketStatusChange {
                    system: report.system.to_owned(),
                    key: report.key.clone(),
                    from_status: report.from_status.clone(),
                    to_status: report.status.clone(),
                    changed_by: report.changed_by.clone(),
                    changed_at: report.changed_at,
                    delivery_id: report.delivery_id.clone(),
                };
                let context = self.context(&format!("action:{action_id}"));
                let actor = context.actor.clone();
                let result = self
                    .ledger
                    .execute::<Nonconformity>(
                        &context,
                        &nonconformity_id.to_string(),
                        Creation::ExistingStream,
                        Nonconformity::exists,
                        |nc| nc.complete_action_from_ticket(action_id, change.clone(), &actor),
                    )
                    .await;
                self.outcome(result, &context, Some(action_id), Some(nonconformity_id))
            }
        }
    }
}

/// Acts on one delivery: moves the corrective actions the ticket tracks, keeps the ticket's
/// incident up to date, or reports a new incident when the ticket is one and tracks no action.
async fn intake(
    ledger: &Ledger,
    settings: &TicketingSettings,
    caller: &DeliveryCaller,
    report: &TicketReport,
    fingerprint: String,
    correlation_id: Uuid,
) -> Result<DeliveryReport, ApiError> {
    let mut intake =
        Intake { ledger, caller, report, fingerprint, correlation_id, recorded: Vec::new(), ignored: Vec::new() };
    if let Some(reason) = &report.ignored_event {
        intake.ignore("event_type_ignored", reason.clone(), None, None);
    } else {
        let _serialized = INTAKE.lock().await;
        let targets = find_targets(ledger, &caller.tenant, report.system, &report.key)?;
        for (nonconformity_id, action_id) in &targets.actions {
            intake.move_action(*nonconformity_id, *action_id, &settings.action_status_map).await?;
        }
        match targets.incident {
            Some(id) => intake.update_incident(id).await?,
            // A ticket that tracks a corrective action is that action's work, not an incident.
            None if report.is_incident && targets.actions.is_empty() => intake.report_incident().await?,
            None if targets.actions.is_empty() => {
                let detail = format!(
                    "{} ticket {} tracks no corrective action and is not an incident by the ticketing settings",
                    report.system, report.key
                );
                intake.ignore("unknown_ticket_key", detail, None, None);
            }
            None => {}
        }
    }
    let recorded = intake.recorded;
    let outcome = if recorded.iter().any(|r| !r.duplicate) {
        "processed"
    } else if recorded.is_empty() {
        "ignored"
    } else {
        "duplicate"
    };
    Ok(DeliveryReport {
        delivery_id: report.delivery_id.clone(),
        system: report.system.to_owned(),
        ticket_key: report.key.clone(),
        outcome: outcome.to_owned(),
        recorded,
        ignored: intake.ignored,
    })
}

fn delivery_id(request: &HttpRequest, name: &str) -> Result<Option<String>, ApiError> {
    match header(request, name) {
        Some(id) if id.len() > 200 || !id.bytes().all(|b| b.is_ascii_graphic()) => Err(ApiError::bad_request(
            "invalid_delivery_id",
            format!("{name} must be 1 to 200 visible ASCII characters"),
        )),
        id => Ok(id),
    }
}

/// One path for both systems: authenticate, parse, act, answer.
async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
    settings: web::Data<TicketingSettings>,
    system: &'static str,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, settings.max_body_bytes).await?;
    let caller = authenticate_delivery(&request, &settings, system, &body)?;
    let json = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "deliveries are JSON"));
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| crate::request::json_error(&e))?;
    let report = if system == JIRA {
        payloads::jira(&value, delivery_id(&request, "x-atlassian-webhook-identifier")?, &settings)?
    } else {
        // Table API responses and some outbound messages wrap the record in `result`.
        let record = value.get("result").filter(|r| r.is_object() && value.get("number").is_none()).unwrap_or(&value);
        payloads::servicenow(record, delivery_id(&request, "x-delivery-id")?, &settings)?
    };
    let fingerprint =
        hex::encode(Sha256::new().chain_update(system).chain_update(b"\n").chain_update(&body).finalize());
    let answer = intake(&ledger, &settings, &caller, &report, fingerprint, correlation_id(&request)).await?;
    tracing::info!(
        system, tenant = %caller.tenant, delivery_id = %answer.delivery_id, ticket = %answer.ticket_key,
        outcome = %answer.outcome, recorded = answer.recorded.len(), ignored = answer.ignored.len(), "ticketing delivery"
    );
    let status = if answer.outcome == "ignored" { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok(HttpResponse::build(status).json(answer))
}

/// The problems a delivery can answer with.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum DeliveryProblems {
    /// Malformed JSON or a bad delivery id header.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No valid signature for any configured secret, and no valid bearer token (`invalid_signature`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// A bearer token without scope `integrations`.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// The records kept changing while the delivery was applied; the sender should retry.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Listed with every command; a delivery takes no `If-Match`, so it is not sent.
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// The body is larger than the configured limit (1 MiB by default).
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// The payload lacks what identifies the ticket (`errors` points at it).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// An internal failure; the sender should retry (a redelivery completes what is missing).
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// The event log accepts no writes; the sender should retry.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Receive a Jira Cloud webhook
///
/// Takes `jira:issue_created` and `jira:issue_updated` payloads as Jira Cloud sends them.
/// Authenticated by `X-Hub-Signature: sha256=<hex>` (HMAC-SHA256 of the raw body under the
/// tenant's webhook secret) or a bearer token with scope `integrations`. Deduplicated by
/// `X-Atlassian-Webhook-Identifier`: a redelivery answers 200 with `outcome: duplicate`. A ticket
/// tracking corrective actions moves them by the status mapping; an incident-type issue is
/// reported into the incident register and later updates are recorded on that incident.
/// Nothing recorded (ignored event, unknown ticket, unmapped status) answers 202 with the reasons.
#[utoipa::path(
    tag = "ticketing", operation_id = "receive_jira_webhook",
    params(("X-Hub-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the body>"),
           ("X-Atlassian-Webhook-Identifier" = Option<String>, Header, description = "Delivery id, the same on retries")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "A Jira Cloud webhook payload (webhookEvent, timestamp, user, issue, changelog), as Jira \
sends it. Needed: `webhookEvent`, `issue.key`, and `timestamp` when no delivery id header is sent; \
missing ones are answered 422 `incomplete_ticket_payload`."),
    responses((status = 200, description = "Recorded, or a duplicate delivery", body = DeliveryReport),
              (status = 202, description = "Nothing to record; `ignored` says why", body = DeliveryReport),
              DeliveryProblems),
    security(("bearer" = ["integrations"]), ())
)]
#[post("/integrations/jira")]
pub async fn receive_jira(
    request: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
    settings: web::Data<TicketingSettings>,
) -> Result<HttpResponse, ApiError> {
    receive(request, payload, ledger, settings, JIRA).await
}

/// Receive a ServiceNow incident record
///
/// Takes an incident table record (`sys_id`, `number`, `short_description`, `description`,
/// `state`, `priority`, `opened_at`, `sys_updated_on`, `sys_updated_by`, `sys_mod_count`, ...),
/// fields as plain strings or `{value, display_value}`. Authenticated by `X-Signature:
/// sha256=<hex>` (HMAC-SHA256 of the raw body under the tenant's secret) or a bearer token with
/// scope `integrations`. Deduplicated by `X-Delivery-Id`, or else by `sys_id` and
/// `sys_mod_count` (one version of the record).
#[utoipa::path(
    tag = "ticketing", operation_id = "receive_servicenow_record",
    params(("X-Signature" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the body>"),
           ("X-Delivery-Id" = Option<String>, Header, description = "Delivery id; default sys_id:sys_mod_count")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "A ServiceNow incident table record (or a Table API response wrapping it in `result`), as \
ServiceNow sends it. Needed: `number`, and `sys_id` when no `X-Delivery-Id` is sent; missing ones are answered \
422 `incomplete_ticket_payload`."),
    responses((status = 200, description = "Recorded, or a duplicate delivery", body = DeliveryReport),
              (status = 202, description = "Nothing to record; `ignored` says why", body = DeliveryReport),
              DeliveryProblems),
    security(("bearer" = ["integrations"]), ())
)]
#[post("/integrations/servicenow")]
pub async fn receive_servicenow(
    request: HttpRequest,
    payload: web::Payload,
    ledger: web::Data<Ledger>,
    settings: web::Data<TicketingSettings>,
) -> Result<HttpResponse, ApiError> {
    receive(request, payload, ledger, settings, SERVICENOW).await
}

/// Link a corrective action to its ticket.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"system": "jira", "key": "OPS-42", "url": "https://example.atlassian.net/browse/OPS-42"}))]
pub struct LinkTicketRequest {
    /// `jira`, `servicenow`, ...: the name webhooks of that system arrive under (compared in
    /// lower case).
    #[schema(pattern = r"^[ \t\n\r]*[A-Za-z0-9_-]{1,32}[ \t\n\r]*$")]
    pub system: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub key: String,
    #[schema(value_type = Option<crate::fields::HttpUrlOrBlank>)]
    pub url: Option<String>,
}

/// A ticket link's URL, as `HttpUrlOrBlank` states it: blank is none; anything else is an
/// http(s) URL and a single line of at most `MAX_URL` characters, checked as given.
pub(crate) fn ticket_url(pointer: &str, url: Option<&str>) -> Result<Option<String>, isms_domain::DomainError> {
    let Some(url) = url.filter(|u| !u.trim().is_empty()) else { return Ok(None) };
    let trimmed = url.trim_start();
    if !(trimmed.starts_with("https://") || trimmed.starts_with("http://")) {
        return Err(isms_domain::DomainError::at(
            isms_domain::ErrorCode::ValidationFailed,
            pointer,
            "must be an http(s) URL",
        ));
    }
    required_line(pointer, url, MAX_URL).map(Some)
}

/// Link a corrective action to its ticket
///
/// A ticketing bridge that opened a ticket for a planned corrective action reports its key
/// (event `CorrectiveActionTicketLinked`); from then on, webhook deliveries for that ticket
/// move the action. Linking the same ticket again answers 200 without a new event; another
/// ticket replaces the link. Refused on a closed nonconformity.
#[utoipa::path(
    tag = "nonconformities", operation_id = "link_corrective_action_ticket",
    params(("id" = Uuid, Path, description = "Nonconformity id"), ("action_id" = Uuid, Path, description = "Corrective action id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = LinkTicketRequest,
    responses((status = 200, description = "Ticket linked", body = NonconformityRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]), ("bearer" = ["integrations"]))
)]
#[put("/nonconformities/{id}/corrective-actions/{action_id}/ticket")]
pub async fn link_corrective_action_ticket(
    auth: Authorized<TicketLinkScope>,
    ledger: web::Data<Ledger>,
    path: web::Path<(String, String)>,
    guards: CommandGuards,
    body: CommandBody<LinkTicketRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, action_id) = path.into_inner();
    let id = stream_id::<Nonconformity>(&id)?;
    let action_id = record_id(&action_id, "corrective action")?;
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let system = fields.take(ticket_system("/system", &request.system));
    let key = fields.take(required_line("/key", &request.key, MAX_LINE));
    let url = fields.take(ticket_url("/url", request.url.as_deref()));
    let ticket = fields.finish(|| Some(TicketRef { system: system?, key: key?, url: url? }))?;
    let actor = context.actor.clone();
    // PUT is idempotent: the link already in place is answered as it stands.
    let (entry, resolved) = ledger.record::<Nonconformity>(&context.tenant, &id, ReadPoint::Latest)?;
    if let Some(entry) = entry.filter(|e| e.state.exists()) {
        let action = entry.state.actions.iter().find(|a| a.plan.action_id == action_id);
        if action.is_some_and(|a| a.ticket.as_ref() == Some(&ticket))
            && context.if_match.is_none_or(|v| v == entry.version)
        {
            let record = NonconformityRecord::from_entry(&entry, resolved.reading_date());
            return Ok(crate::responses::command_response(200, entry.version, &record, None, false));
        }
    }
    run(&ledger, context, &id, Creation::ExistingStream, |nc: &Nonconformity| {
        nc.link_ticket(action_id, ticket.clone(), &actor)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_in_hex_or_base64_and_only_under_the_secret() {
        use base64::Engine;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"{}");
        let digest = mac.finalize().into_bytes();
        assert!(signature_matches("s3cret", b"{}", &format!("sha256={}", hex::encode(digest))));
        assert!(signature_matches("s3cret", b"{}", &base64::engine::general_purpose::STANDARD.encode(digest)));
        assert!(!signature_matches("other", b"{}", &hex::encode(digest)));
        assert!(!signature_matches("s3cret", b"{ }", &hex::encode(digest)));
        assert!(!signature_matches("s3cret", b"{}", "sha256=not-a-digest"));
    }
}

//! The REST API over the ledger: routes and OpenAPI come from one list of services, so the
//! document cannot drift from what is served.
#![forbid(unsafe_code)]

mod allowed_methods;
pub mod auth;
mod context;
mod fields;
mod log;
mod nonconformities;
mod param_schemas;
pub mod problem;
mod register;
pub mod request;
pub mod responses;
mod risks;
// Section: interested parties, scope, assets.
mod assets;
mod parties;
mod scope;

// Section: Annex A catalog and Statement of Applicability.
mod controls;
mod csv;
mod soa;

// Section: objectives, operational planning, monitoring and measurement.
mod metrics;
mod objectives;
mod operations;

// Section: internal audit, incidents, documented information.
mod audits;
mod documents;
mod follow_up;
mod incidents;

// Section: people and training, suppliers, certification cycle.
mod certification;
mod people;
mod suppliers;
mod training;

// Section: management review and reports.
mod management_reviews;
mod negotiation;
// Section: checkpoints and proofs.
mod checkpoints;

// Section: evidence pack.
mod evidence;

// Section: changes between two points.
mod changes;

// Section: operations (config, backup, lifecycle).
pub mod backup;

// Section: observability and limits.
pub mod limits;
pub mod telemetry;

// Section: event feed and webhooks.
mod feed;
mod webhooks;

// Section: HR provisioning and training integrations.
pub mod access_removal;
mod scim;
mod training_completions;

// Section: ticketing integrations.
pub mod ticketing;

// Section: personal data erasure.
mod erasure;

// Section: reliability suite.

// Section: bitemporal facts and the audit trail.
mod privacy;

mod readiness;
mod reports;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpRequest, HttpResponse};
use isms_app::Ledger;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{mint_hs256, Authenticator, Claims};
pub(crate) use log::history_response;
pub use log::HistoryPage;
use problem::ApiError;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        openapi.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "JWT with claims sub, tenant, scope (space-delimited: isms:read, isms:write, audit:read, admin), exp, iss, aud",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "isms-ledger API",
        description = "An ISO/IEC 27001 information security management system kept as an append-only, hash-chained event log. \
Commands append events; registers, histories and the audit trail are projections of the log, readable as of any time or position.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerSecurity),
    // Every problem response refers to it; found missing by tests/schemathesis/run.sh.
    components(schemas(problem::Problem, problem::FieldProblem, scim::ScimErrorBody)),
    tags(
        (name = "risks", description = "Risk and opportunity register (6.1.2, 6.1.3, 8.2, 8.3)"),
        (name = "risk-criteria", description = "Risk criteria (6.1.2 a)"),
        (name = "nonconformities", description = "Nonconformity and corrective action (10.2)"),
        (name = "context", description = "Internal and external issues (4.1)"),
        // Section: interested parties, scope, assets.
        (name = "interested-parties", description = "Interested parties and their requirements (4.2)"),
        (name = "scope", description = "Scope of the ISMS (4.3)"),
        (name = "assets", description = "Asset inventory, classification scheme and personal data (A.5.9 to A.5.13)"),

        // Section: Annex A catalog and Statement of Applicability.
        (name = "controls", description = "Annex A control catalogs (2022, 2013) and their correspondence"),
        (name = "soa", description = "Statement of Applicability (6.1.3 d)"),

        // Section: objectives, operational planning, monitoring and measurement.
        (name = "objectives", description = "Information security objectives and planning to achieve them (6.2)"),
        (name = "operational-plans", description = "Operational planning and control (8.1)"),
        (name = "metrics", description = "Monitoring, measurement, analysis and evaluation (9.1)"),

        // Section: internal audit, incidents, documented information.
        (name = "internal-audits", description = "Internal audit programmes, audits and findings (9.2)"),
        (name = "incidents", description = "Information security incidents (A.5.24 to A.5.28, A.6.8)"),
        (name = "documents", description = "Documented information and its versions (7.5)"),

        // Section: people and training, suppliers, certification cycle.
        (name = "people", description = "People: joiners, movers and leavers (7.2, 7.3)"),
        (name = "training", description = "Training courses, assignments and completions (7.2, 7.3)"),
        (name = "suppliers", description = "Supplier relationships, agreements and reviews (A.5.19-A.5.22)"),
        (name = "certification", description = "Certification cycle: stage 1 and 2 audits, surveillance, recertification"),

        // Section: management review and reports.
        (name = "management-reviews", description = "Management review (9.3): inputs prefilled from the registers, decisions and actions"),
        (name = "reports", description = "Reports for certification: heat map, Statement of Applicability, traceability, readiness, dashboard"),

        (name = "evidence", description = "Evidence packs: the log, registers and reports in one signed archive, verifiable offline"),
        // Section: checkpoints and proofs.
        (name = "checkpoints", description = "Signed checkpoints of the log, the public key, Merkle inclusion and consistency proofs"),
        // Section: changes between two points.
        (name = "changes", description = "What was added, changed (field by field) and removed in each register between two points of the log"),
        // Section: operations (config, backup, lifecycle).
        (name = "administration", description = "Operating the service: the online backup of every tenant"),
        // Section: observability and limits.
        // Section: event feed and webhooks.
        (name = "events", description = "The event feed as CloudEvents, its live stream (Server-Sent Events) and signed webhooks"),
        // Section: HR provisioning and training integrations.
        (name = "scim", description = "SCIM 2.0 provisioning (RFC 7643, RFC 7644) at /scim/v2: users as people, groups; SCIM error bodies"),
        (name = "integrations", description = "Machine-to-machine integrations: training completions from a learning platform"),
        // Section: ticketing integrations.
        (name = "ticketing", description = "Jira Cloud and ServiceNow webhooks: incidents and corrective actions moved by their tickets"),
        // Section: personal data erasure.
        // Section: reliability suite.

        (name = "audit", description = "Audit trail, event feed and chain integrity")
    )
)]
struct ApiDoc;

/// What the running server shares with every request.
#[derive(Clone)]
pub struct ServerState {
    pub ledger: web::Data<Ledger>,
    pub authenticator: web::Data<Authenticator>,
    /// Signs checkpoints and evidence packs.
    pub checkpoint_key: web::Data<ed25519_dalek::SigningKey>,
    // Section: HR provisioning and training integrations.
    pub access_removal: web::Data<access_removal::AccessRemovalSettings>,
    /// Webhook secrets, incident rules and the status mapping of the ticketing integrations.
    pub ticketing: web::Data<ticketing::TicketingSettings>,
    /// Rate limits, timeouts and CORS, with the rate limiter's buckets.
    pub limits: web::Data<limits::Limiter>,
    /// What `/metrics` renders.
    pub telemetry: web::Data<telemetry::Telemetry>,
}

/// Builds the application and its OpenAPI document from the same list of services.
pub fn app(
    state: Option<ServerState>,
) -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<BoxBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    OpenApiDocument,
) {
    let (app, mut document) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(
            utoipa_actix_web::scope("/api/v1")
                .configure(risks::configure)
                .configure(nonconformities::configure)
                .configure(context::configure)
                // Section: interested parties, scope, assets.
                .configure(parties::configure)
                .configure(scope::configure)
                .configure(assets::configure)
                // Section: Annex A catalog and Statement of Applicability.
                .configure(controls::configure)
                .configure(soa::configure)
                // Section: objectives, operational planning, monitoring and measurement.
                .configure(objectives::configure)
                .configure(operations::configure)
                .configure(metrics::configure)
                // Section: internal audit, incidents, documented information.
                .configure(audits::configure)
                .configure(incidents::configure)
                .configure(documents::configure)
                // Section: people and training, suppliers, certification cycle.
                .configure(people::configure)
                .configure(training::configure)
                .configure(suppliers::configure)
                .configure(certification::configure)
                // Section: management review and reports.
                .configure(reports::configure)
                .configure(readiness::configure)
                .configure(management_reviews::configure)
                // Section: checkpoints and proofs.
                .configure(checkpoints::configure)
                // Section: evidence pack.
                .configure(evidence::configure)
                // Section: changes between two points.
                .configure(changes::configure)
                // Section: operations (config, backup, lifecycle).
                .configure(backup::configure)
                // Section: observability and limits.
                // Section: event feed and webhooks.
                .configure(feed::configure)
                .configure(webhooks::configure)
                // Section: HR provisioning and training integrations.
                .configure(access_removal::configure)
                .configure(training_completions::configure)
                // Section: ticketing integrations.
                .configure(ticketing::configure)
                // Section: personal data erasure.
                .configure(erasure::configure)
                // Section: reliability suite.
                // Section: bitemporal facts and the audit trail.
                .configure(log::configure),
        )
        // Section: HR provisioning and training integrations.
        .service(utoipa_actix_web::scope(scim::BASE_PATH).configure(scim::configure))
        .split_for_parts();
    auth::document_read_scope_alternatives(&mut document);
    merge_flattened_bodies(&mut document);
    state_shared_parameter_rules(&mut document);
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let allowed_methods = web::Data::new(allowed_methods::AllowedMethods::from_document(&document));
    let cors = state.as_ref().map_or_else(|| limits::HttpLimits::default().cors(), |state| state.limits.limits.cors());
    let mut app = app
        .app_data(web::PayloadConfig::new(request::MAX_BODY_BYTES))
        .app_data(web::QueryConfig::default().error_handler(|error, _| {
            ApiError::bad_request("invalid_query", format!("invalid query parameters: {error}")).into()
        }))
        .route("/livez", web::get().to(livez))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(telemetry::metrics))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document.clone()))
        .app_data(allowed_methods)
        .default_service(web::to(not_found));
    if let Some(state) = state {
        app = app.app_data(state.ledger).app_data(state.authenticator).app_data(state.checkpoint_key);
        // Section: HR provisioning and training integrations.
        app = app.app_data(state.access_removal);
        app = app.app_data(state.ticketing);
        app = app.app_data(state.limits).app_data(state.telemetry);
    }
    // The first `wrap` is innermost: the request context sees every answer of the others
    // (a CORS refusal, a 429, a timeout) and gives it a request id and the security headers.
    let app = app.wrap(from_fn(limits::handler_timeout)).wrap(from_fn(limits::rate_limit)).wrap(cors);
    (app.wrap(from_fn(request::request_context)), document)
}

/// A record that flattens a request body (`#[serde(flatten)]`) is documented by utoipa as
/// `allOf: [Body, {the record's own fields}]`. Request bodies refuse unknown fields
/// (`additionalProperties: false`), so no record could validate against that (schemathesis
/// found it). Such a schema becomes one object with the properties of all its parts.
fn merge_flattened_bodies(document: &mut OpenApiDocument) {
    use utoipa::openapi::{RefOr, Schema};
    let Some(components) = document.components.as_mut() else { return };
    let Ok(schemas) = serde_json::to_value(&components.schemas) else { return };
    let Some(schemas) = schemas.as_object() else { return };
    let resolve = |part: &serde_json::Value| -> Option<serde_json::Value> {
        let name = part.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/")?;
        schemas.get(name).cloned()
    };
    for (name, schema) in schemas {
        let Some(parts) = schema.get("allOf").and_then(|p| p.as_array()) else { continue };
        let referenced: Vec<serde_json::Value> = parts.iter().filter_map(resolve).collect();
        if !referenced.iter().any(|r| r.get("additionalProperties") == Some(&serde_json::Value::Bool(false))) {
            continue;
        }
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for part in parts.iter().map(|p| resolve(p).unwrap_or_else(|| p.clone())) {
            if let Some(own) = part.get("properties").and_then(|p| p.as_object()) {
                properties.extend(own.clone());
            }
            required.extend(part.get("required").and_then(|r| r.as_array()).cloned().unwrap_or_default());
        }
        let mut merged = serde_json::json!({"type": "object", "properties": properties, "required": required});
        if let Some(description) = schema.get("description") {
            merged["description"] = description.clone();
        }
        match serde_json::from_value::<RefOr<Schema>>(merged) {
            Ok(merged) => {
                components.schemas.insert(name.clone(), merged);
            }
            Err(error) => tracing::warn!(schema = %name, %error, "a flattened record schema was left as it is"),
        }
    }
}

/// The headers and query parameters every command or list shares are declared operation by
/// operation (utoipa's inline parameters cannot refer to one definition), so the rules their
/// parsers enforce are stated here, once, on every occurrence.
fn state_shared_parameter_rules(document: &mut OpenApiDocument) {
    use utoipa::openapi::path::ParameterIn::{Header, Query};
    let pattern = |pattern: &str| serde_json::json!({"type": "string", "pattern": pattern});
    // (path prefix, where, name, schema): SCIM has its own ETags (weak ones) and paging.
    let rules = [
        ("/api/v1/", Header, "If-Match", pattern(request::IF_MATCH_PATTERN)),
        ("/api/v1/", Header, "Idempotency-Key", pattern(request::IDEMPOTENCY_KEY_PATTERN)),
        (
            "/api/v1/",
            Query,
            "limit",
            serde_json::json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": request::MAX_LIMIT_PARAMETER}),
        ),
        ("/api/v1/", Query, "cursor", pattern(request::CURSOR_PATTERN)),
        (scim::BASE_PATH, Header, "If-Match", pattern(scim::IF_MATCH_PATTERN)),
    ];
    for (path, item) in &mut document.paths.paths {
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten();
        for parameter in operations.flat_map(|operation| operation.parameters.iter_mut().flatten()) {
            let rule = rules.iter().find(|(prefix, place, name, _)| {
                path.starts_with(prefix) && *place == parameter.parameter_in && *name == parameter.name
            });
            if let Some((_, _, _, schema)) = rule {
                parameter.schema = serde_json::from_value(schema.clone()).ok();
            } else if parameter.parameter_in == Header {
                // A header is present or absent, never null (utoipa makes an optional one nullable).
                parameter.schema = parameter.schema.take().map(without_null);
            }
        }
    }
}

fn without_null(
    schema: utoipa::openapi::RefOr<utoipa::openapi::Schema>,
) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    let Ok(mut value) = serde_json::to_value(&schema) else { return schema };
    if let Some(types) = value.get_mut("type").and_then(|t| t.as_array_mut()) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            value["type"] = types[0].clone();
        }
    }
    serde_json::from_value(value).unwrap_or(schema)
}

/// The OpenAPI document as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    let (_, document) = app(None);
    document.to_pretty_json().expect("the OpenAPI document serializes")
}

async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "alive"}))
}

/// Ready when the store accepts writes and the projections applied every event.
async fn readyz(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let ledger =
        request.app_data::<web::Data<Ledger>>().ok_or_else(|| ApiError::Internal("no ledger configured".into()))?;
    let problem = ledger
        .store()
        .failure()
        .map(|failure| format!("the event log stopped accepting writes: {failure}"))
        .or_else(|| ledger.projections().failure().map(|failure| format!("a projection failed: {failure}")));
    match problem {
        None => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))),
        Some(reason) => {
            tracing::error!(%reason, "not ready");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the service cannot serve writes; see the server log",
            ))
        }
    }
}

/// What no route answered: 405 with `Allow` for a documented path asked with another method,
/// else 404.
async fn not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allow = request
        .app_data::<web::Data<allowed_methods::AllowedMethods>>()
        .and_then(|allowed| allowed.allow(request.path()));
    Err(match allow {
        Some(allow) => ApiError::MethodNotAllowed { method: request.method().to_string(), allow },
        None => ApiError::not_found(format!("no route for {} {}", request.method(), request.path())),
    })
}

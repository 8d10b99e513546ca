//! The scope of the ISMS (ISO/IEC 27001 4.3), and the read and define paths every per-tenant
//! singleton (the scope, the asset classification scheme) shares.

use actix_web::{get, put, web, HttpRequest, HttpResponse};
use isms_app::{CommandContext, Creation, Ledger};
use isms_domain::scope::{exclusion_justification, Boundaries, Exclusion, Scope, ScopeDefinition};
use isms_domain::{Aggregate, DomainError};
use isms_projections::views::scope::{ScopeBody, ScopeRecord, Singleton};
use isms_store::StreamRef;

use crate::auth::{AdminScope, AuditScope, Authorized, Principal, ReadScope};
use crate::fields::Fields;
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::request::{command_context, CommandBody, CommandGuards, TimeTravel};
use crate::responses::{command_response, record_response};
use crate::HistoryPage;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(get_scope).service(define_scope).service(scope_history);
}

/// The singleton as of the requested point, with its version as `ETag`; 404 when it was never
/// defined and has no default.
pub(crate) fn read_singleton<S: Singleton>(
    request: &HttpRequest,
    principal: &Principal,
    ledger: &Ledger,
    travel: &TimeTravel,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(request, principal)?;
    let (entry, resolved) = ledger.record::<S>(&principal.tenant, S::STREAM_ID, point)?;
    let record = S::record(entry.as_ref()).ok_or_else(|| ApiError::not_found(format!("no {} is defined", S::NOUN)))?;
    Ok(record_response(&record, entry.map_or(0, |e| e.version), &resolved))
}

/// Records a new version of the singleton. The stream may not exist yet, so every definition
/// answers 200 and `If-Match: "0"` guards the first one.
pub(crate) async fn define_singleton<S: Singleton>(
    ledger: &Ledger,
    context: CommandContext,
    decide: impl Fn(&S) -> Result<Vec<S::Event>, DomainError>,
) -> Result<HttpResponse, ApiError> {
    let outcome = ledger.execute::<S>(&context, S::STREAM_ID, Creation::ExistingStream, |_| true, decide).await?;
    let record = S::record(Some(&outcome.entry))
        .ok_or_else(|| ApiError::Internal(format!("the {} stream defines nothing after a definition", S::NOUN)))?;
    Ok(command_response(outcome.status, outcome.entry.version, &record, None, outcome.replayed))
}

/// Checks every field of a scope statement, the exclusions' justifications included, so one
/// answer names every exclusion that lacks one.
fn validate_scope(body: &ScopeBody) -> Result<ScopeDefinition, ApiError> {
    let mut fields = Fields::default();
    let statement = fields.required_text("/statement", &body.statement);
    let organizational = fields.text("/boundaries/organizational", &body.boundaries.organizational);
    let physical = fields.text("/boundaries/physical", &body.boundaries.physical);
    let technological = fields.text("/boundaries/technological", &body.boundaries.technological);
    let interfaces = fields.lines("/interfaces_and_dependencies", &body.interfaces_and_dependencies);
    let exclusions: Vec<Option<Exclusion>> = body
        .exclusions
        .iter()
        .enumerate()
        .map(|(i, exclusion)| {
            let description = fields.required_text(&format!("/exclusions/{i}/description"), &exclusion.description);
            let pointer = format!("/exclusions/{i}/justification");
            let justification = fields.take(exclusion_justification(&pointer, &exclusion.justification));
            Some(Exclusion { description: description?, justification: justification? })
        })
        .collect();
    let sites = fields.lines("/sites", &body.sites);
    fields.finish(|| {
        Some(ScopeDefinition {
            statement: statement?,
            boundaries: Boundaries {
                organizational: organizational?,
                physical: physical?,
                technological: technological?,
            },
            interfaces_and_dependencies: interfaces?,
            exclusions: exclusions.into_iter().collect::<Option<_>>()?,
            sites: sites?,
        })
    })
}

/// Read the scope of the ISMS
///
/// The scope in force (or as of `as_of` / `as_of_position`, scope `audit:read`); 404 until it
/// is first defined.
#[utoipa::path(
    tag = "scope", operation_id = "get_scope",
    params(TimeTravel),
    responses((status = 200, description = "The scope", body = ScopeRecord,
        headers(("ETag" = String), ("Isms-Position" = u64), ("Isms-As-Of" = String))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/scope")]
pub async fn get_scope(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    read_singleton::<Scope>(&request, &auth.principal, &ledger, &travel)
}

/// Define the scope of the ISMS
///
/// Records a new version of the whole scope (4.3). Every exclusion needs a justification; an
/// identical restatement is refused (`nothing_changed`).
#[utoipa::path(
    tag = "scope", operation_id = "define_scope",
    params(("If-Match" = Option<String>, Header,
        description = "Expected scope version, e.g. \"1\" (\"0\" before the first)"),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ScopeBody,
    responses((status = 200, description = "Scope defined", body = ScopeRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[put("/scope")]
pub async fn define_scope(
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<ScopeBody>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let scope = validate_scope(&body.value)?;
    define_singleton(&ledger, context, |state: &Scope| state.define(scope.clone())).await
}

/// Read the scope's history
///
/// Every version of the scope, oldest first.
#[utoipa::path(
    tag = "scope", operation_id = "get_scope_history",
    params(TimeTravel),
    responses((status = 200, description = "The scope's events", body = HistoryPage), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/scope/history")]
pub async fn scope_history(
    request: HttpRequest,
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let stream = StreamRef::new(Scope::STREAM_TYPE, Scope::STREAM_ID);
    crate::history_response(&request, &auth.principal, &ledger, stream, &travel)
}

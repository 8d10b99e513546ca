//! Erasure of a person's personal data (GDPR Art. 17, APPI Art. 35) inside an immutable log:
//! the erasure is recorded as `PersonErased`, and folding it destroys the person's data key,
//! so every sealed personal field of their events reads `[erased]` from then on — in the
//! registers, histories, the audit trail, the feed, exports and evidence packs, as of any point.

use actix_web::{post, web, HttpResponse};
use isms_app::{Creation, Ledger};
use isms_domain::people::Person;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AdminScope, Authorized};
use crate::problem::{ApiError, CommandProblems};
use crate::register::{run, stream_id};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(erase_person);
}

/// Erase the person's personal data (no fields: the reason belongs in the request that asked
/// for it, which may itself be personal data).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct ErasePersonRequest {}

/// Erase a person's personal data
///
/// Emits `PersonErased` and destroys the person's data key: user name, external id, display
/// name and email read `[erased]` everywhere, also when reading as of a point before the
/// erasure. The chain, checkpoints and evidence packs still verify (they cover the ciphertext).
/// Only a person who left can be erased (409 `person_not_left`); a second erasure is 409
/// `person_already_erased`. Irreversible: a key restored later from an older key backup is
/// destroyed again when the service starts, because the erasure is in the log.
#[utoipa::path(
    tag = "people", operation_id = "erase_person",
    params(("id" = Uuid, Path, description = "Person id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ErasePersonRequest,
    responses((status = 200, description = "Person erased",
        body = isms_projections::views::people::PersonRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["admin"]))
)]
#[post("/people/{id}/erasure")]
pub async fn erase_person(
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ErasePersonRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Person>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    run(&ledger, context, &id, Creation::ExistingStream, |person: &Person| person.erase()).await
}

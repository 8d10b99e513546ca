//! The evidence pack: one signed archive of the tenant's log, registers and reports as of a
//! point, for an auditor to take away and check offline with `isms verify-pack`.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use isms_app::{AppError, Ledger};
use isms_evidence::PackRequest;
use isms_store::{Envelope, READ_CHUNK};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::auth::{AuditScope, Authorized};
use crate::problem::{ApiError, ReadProblems};
use crate::request::TimeTravel;
use crate::responses::POSITION_HEADER;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(evidence_pack);
}

/// A gzip-compressed tar archive: only its OpenAPI schema (the body is written as bytes).
pub struct EvidencePackArchive;

impl utoipa::PartialSchema for EvidencePackArchive {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("A gzip-compressed tar archive"))
            .into()
    }
}

impl ToSchema for EvidencePackArchive {}

/// Download an evidence pack
///
/// One `application/gzip` archive (tar) of the tenant as of the read point (`as_of` or
/// `as_of_position`; the latest state without either): `events.ndjson` (every event up to the
/// point, one stored envelope per line, with `hash` and `prev_hash`), `checkpoint.json` (a
/// checkpoint over those events, RFC 6962 Merkle root and chain head, signed with the server's
/// Ed25519 key), `public-key.json`, every register under `registers/` (JSON and CSV) and the
/// reports under `reports/` (dashboard, risk heat map, traceability, readiness, Statement of
/// Applicability, personal-information register, awareness), and `manifest.json` (tenant,
/// position, `as_of`, the read date of derived facts such as `overdue`, and the SHA-256 and size
/// of every file) with its signature `manifest.signature.json`. `isms verify-pack FILE
/// --public-key KEY` checks it offline: hashes, signatures, the hash chain, the Merkle root, and
/// that re-projecting the events gives the register and report files byte for byte.
#[utoipa::path(
    tag = "evidence", operation_id = "get_evidence_pack",
    params(TimeTravel),
    responses((status = 200, description = "The evidence pack",
        content((EvidencePackArchive = "application/gzip")),
        headers(("Content-Disposition" = String), ("Isms-Position" = u64))), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/evidence-pack")]
pub async fn evidence_pack(
    request: HttpRequest,
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    key: web::Data<ed25519_dalek::SigningKey>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let tenant = auth.principal.tenant.clone();
    let (archive, position) = web::block(move || -> Result<(Vec<u8>, u64), ApiError> {
        let resolved = ledger.resolve(&tenant, point)?;
        let events = events_up_to(&ledger, &tenant, resolved.position)?;
        let pack = PackRequest {
            tenant: tenant.as_str(),
            events: &events,
            as_of: resolved.as_of,
            read_date: resolved.reading_date(),
            generated_at: Utc::now(),
        };
        let archive = isms_evidence::build(&pack, &key)
            .map_err(|error| ApiError::Internal(format!("cannot build the evidence pack: {error}")))?;
        Ok((archive, resolved.position))
    })
    .await
    .map_err(|error| ApiError::Internal(format!("building the evidence pack did not complete: {error}")))??;
    let filename = format!("evidence-pack-{}-{position}.tar.gz", auth.principal.tenant);
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((POSITION_HEADER, position.to_string()))
        .body(archive))
}

/// The tenant's events at positions 1 to `position`.
fn events_up_to(ledger: &Ledger, tenant: &isms_store::TenantId, position: u64) -> Result<Vec<Envelope>, ApiError> {
    let mut events: Vec<Envelope> = Vec::with_capacity(usize::try_from(position).unwrap_or(0));
    while (events.len() as u64) < position {
        let chunk = ledger.log().read_all(tenant, events.len() as u64, READ_CHUNK).map_err(AppError::from)?;
        if chunk.is_empty() {
            return Err(ApiError::Internal(format!("the log ends at {} before position {position}", events.len())));
        }
        events.extend(chunk.into_iter().take_while(|e| e.position <= position));
    }
    Ok(events)
}

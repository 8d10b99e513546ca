//! Signed checkpoints of the tenant's log and Merkle proofs between them, for auditors who keep
//! a checkpoint and later check, offline (`isms verify-proof`), that the log still extends it.
//!
//! Every operation needs `audit:read`, the two below included:
//! - taking a checkpoint appends nothing to the log (it signs a statement about the durable log),
//!   and an auditor must be able to ask for one;
//! - the public key is not secret, but like every `/api/v1` operation it is read with a token;
//!   the auditors who need it hold `audit:read` anyway, and should pin it from the operator too.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use isms_store::checkpoint::{key_id, SignedCheckpoint};
use isms_store::proofs::{self, Checkpoints, ConsistencyProof, InclusionProof};
use isms_store::{Position, StoreError, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuditScope, Authorized};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::request::{decode_cursor, encode_cursor, page_limit, CommandBody};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // `latest` before `{position}`, which would otherwise take it.
    config
        .service(take_checkpoint)
        .service(list_checkpoints)
        .service(latest_checkpoint)
        .service(get_checkpoint)
        .service(public_key)
        .service(inclusion_proof)
        .service(consistency_proof);
}

/// A signed checkpoint. Save the JSON as served: `isms verify-proof` reads it back.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "tenant": "acme", "position": 42,
    "chain_head": "5d1f2b8c0e9a4f7b3c6d8e1f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b",
    "merkle_root": "9c1e5a7b3d0f2e4c6a8b1d3f5e7c9a0b2d4f6e8c1a3b5d7f9e0c2a4b6d8f1e3c",
    "recorded_at": "2026-11-20T10:00:00Z",
    "key_id": "sha256:0f4e2a6c8b1d3f5e7a9c0b2d4f6e8a1c3b5d7f9e0a2c4b6d8f1e3a5c7b9d0f2e",
    "signature": "base64 of the 64-byte Ed25519 signature"
}))]
pub struct CheckpointView {
    pub tenant: String,
    /// The checkpoint covers the events at positions 1 to `position`.
    pub position: Position,
    /// The `hash` of the event at `position`.
    pub chain_head: String,
    /// RFC 6962 Merkle tree head (hex) over the event hashes at positions 1 to `position`.
    pub merkle_root: String,
    pub recorded_at: DateTime<Utc>,
    /// `sha256:` and the hex SHA-256 of the 32-byte public key that signed it.
    pub key_id: String,
    /// Base64 Ed25519 signature over the canonical JSON (keys sorted, no whitespace) of
    /// `tenant`, `position`, `chain_head`, `merkle_root` and `recorded_at`.
    pub signature: String,
}

impl From<SignedCheckpoint> for CheckpointView {
    fn from(checkpoint: SignedCheckpoint) -> Self {
        let body = checkpoint.body;
        Self {
            tenant: body.tenant,
            position: body.position,
            chain_head: body.chain_head,
            merkle_root: body.merkle_root,
            recorded_at: body.recorded_at,
            key_id: checkpoint.key_id,
            signature: checkpoint.signature,
        }
    }
}

fn checkpoint_not_found(detail: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "checkpoint_not_found", detail)
}

fn store_error(error: StoreError) -> ApiError {
    isms_app::AppError::from(error).into()
}

/// Runs storage work (index catch-up, proofs) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(crate::request::in_request_span(work))
        .await
        .map_err(|error| ApiError::Internal(format!("checkpoint work did not complete: {error}")))?
        .map_err(store_error)
}

/// The tenant's checkpoint at `position`, or 404.
async fn checkpoint_at(
    service: &web::Data<Checkpoints>,
    tenant: &TenantId,
    position: Position,
) -> Result<SignedCheckpoint, ApiError> {
    let (service, tenant) = (service.clone(), tenant.clone());
    blocking(move || service.get(&tenant, position)).await?.ok_or_else(|| {
        checkpoint_not_found(format!(
            "there is no checkpoint at position {position}; GET /api/v1/checkpoints lists them"
        ))
    })
}

/// The latest checkpoint, or 404.
async fn latest(service: &web::Data<Checkpoints>, tenant: &TenantId) -> Result<SignedCheckpoint, ApiError> {
    let (service, tenant) = (service.clone(), tenant.clone());
    blocking(move || service.latest(&tenant)).await?.ok_or_else(|| {
        checkpoint_not_found("the tenant has no checkpoint yet; POST /api/v1/checkpoints takes one".into())
    })
}

/// The body of `POST /checkpoints`: an empty object (the checkpoint is always taken at the
/// durable head; the object leaves room for options).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct TakeCheckpoint {}

/// Take a checkpoint
///
/// Signs the tenant's log at its durable head: position, chain head and RFC 6962 Merkle root,
/// with the server's Ed25519 key. `201` with the new checkpoint; `200` with the latest one when
/// the log has not grown since (one checkpoint per position); `409 log_empty` when the tenant
/// has no events. Appends nothing to the log, so `audit:read` suffices. Checkpoints are also
/// taken automatically every `ISMS_CHECKPOINT_EVERY_EVENTS` events and every
/// `ISMS_CHECKPOINT_INTERVAL_SECS` seconds when the log grew.
#[utoipa::path(
    tag = "checkpoints", operation_id = "take_checkpoint",
    request_body = TakeCheckpoint,
    responses(
        (status = 201, description = "A new checkpoint at the durable head", body = CheckpointView,
         headers(("Location" = String, description = "The checkpoint's URL"))),
        (status = 200, description = "The log has not grown: the latest checkpoint", body = CheckpointView),
        CommandProblems
    ),
    security(("bearer" = ["audit:read"]))
)]
#[post("/checkpoints")]
pub async fn take_checkpoint(
    auth: Authorized<AuditScope>,
    service: web::Data<Checkpoints>,
    _body: CommandBody<TakeCheckpoint>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth.principal.tenant.clone();
    let taken = blocking(move || service.take(&tenant)).await?.ok_or_else(|| {
        ApiError::new(StatusCode::CONFLICT, "log_empty", "the log has no events yet; there is nothing to sign")
    })?;
    let view = CheckpointView::from(taken.checkpoint);
    if taken.created {
        let location = format!("/api/v1/checkpoints/{}", view.position);
        Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(view))
    } else {
        Ok(HttpResponse::Ok().json(view))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointListQuery {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of checkpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointPage {
    pub items: Vec<CheckpointView>,
    pub next_cursor: Option<String>,
    /// The tenant's durable head when the page was read.
    pub position: u64,
}

/// List checkpoints
///
/// The tenant's checkpoints in position order, oldest first (the newest is last; it is also
/// `GET /api/v1/checkpoints/latest`).
#[utoipa::path(
    tag = "checkpoints", operation_id = "list_checkpoints",
    params(CheckpointListQuery),
    responses((status = 200, description = "A page of checkpoints", body = CheckpointPage), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/checkpoints")]
pub async fn list_checkpoints(
    request: actix_web::HttpRequest,
    auth: Authorized<AuditScope>,
    service: web::Data<Checkpoints>,
    ledger: web::Data<isms_app::Ledger>,
    query: web::Query<CheckpointListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(&request, query.limit)?;
    let after = match &query.cursor {
        Some(cursor) => decode_cursor(cursor)?
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this server issued"))?,
        None => 0,
    };
    let tenant = auth.principal.tenant.clone();
    let position = ledger.store().head(&tenant).map_err(store_error)?.position;
    // One more than asked tells whether another page follows.
    let mut items = blocking(move || service.list(&tenant, after, limit + 1)).await?;
    let next_cursor = (items.len() > limit).then(|| {
        items.truncate(limit);
        encode_cursor(&items[limit - 1].body.position.to_string())
    });
    Ok(HttpResponse::Ok().json(CheckpointPage {
        items: items.into_iter().map(CheckpointView::from).collect(),
        next_cursor,
        position,
    }))
}

/// Read the latest checkpoint
#[utoipa::path(
    tag = "checkpoints", operation_id = "get_latest_checkpoint",
    responses(
        (status = 200, description = "The newest checkpoint", body = CheckpointView),
        ReadProblems
    ),
    security(("bearer" = ["audit:read"]))
)]
#[get("/checkpoints/latest")]
pub async fn latest_checkpoint(
    auth: Authorized<AuditScope>,
    service: web::Data<Checkpoints>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(CheckpointView::from(latest(&service, &auth.principal.tenant).await?)))
}

/// Read the checkpoint at a position
#[utoipa::path(
    tag = "checkpoints", operation_id = "get_checkpoint",
    params(("position" = u64, Path, description = "The checkpoint's position")),
    responses((status = 200, description = "The checkpoint", body = CheckpointView), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/checkpoints/{position}")]
pub async fn get_checkpoint(
    auth: Authorized<AuditScope>,
    service: web::Data<Checkpoints>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let position = raw
        .parse::<Position>()
        .map_err(|_| checkpoint_not_found(format!("there is no checkpoint at position '{raw}'")))?;
    Ok(HttpResponse::Ok().json(CheckpointView::from(checkpoint_at(&service, &auth.principal.tenant, position).await?)))
}

/// The key that signs checkpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeyView {
    /// As checkpoints name it in `key_id`.
    pub key_id: String,
    #[schema(example = "Ed25519")]
    pub algorithm: String,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// The same key as a PEM SubjectPublicKeyInfo (`openssl pkey -pubin` reads it).
    pub public_key_pem: String,
}

/// Read the checkpoint signing key
///
/// The Ed25519 public key that signs checkpoints, the same for every tenant. Save this JSON (or
/// its `public_key_pem`) and pass it to `isms verify-proof --public-key`; better still, compare
/// it with a copy obtained from the operator by another channel than the server you audit.
#[utoipa::path(
    tag = "checkpoints", operation_id = "get_public_key",
    responses((status = 200, description = "The public key", body = PublicKeyView), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/public-key")]
pub async fn public_key(_auth: Authorized<AuditScope>, service: web::Data<Checkpoints>) -> HttpResponse {
    let key = service.public_key();
    HttpResponse::Ok().json(PublicKeyView {
        key_id: key_id(&key),
        algorithm: "Ed25519".into(),
        public_key: proofs::public_key_base64(&key),
        public_key_pem: proofs::public_key_pem(&key),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's position.
    pub position: Position,
    /// The checkpoint's position; the latest checkpoint when omitted.
    pub checkpoint: Option<Position>,
}

/// The audit path of one event in the tree of one checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProofView {
    pub tenant: String,
    /// The event's position (leaf `position - 1`).
    pub position: Position,
    /// The checkpoint's position: the tree's size.
    pub checkpoint: Position,
    /// The event's `hash`.
    pub event_hash: String,
    /// `SHA-256(0x00 || event hash bytes)`.
    pub leaf_hash: String,
    /// The checkpoint's Merkle root.
    pub merkle_root: String,
    /// Sibling hashes (hex) from the leaf up, RFC 6962 2.1.1.
    pub proof: Vec<String>,
}

impl From<InclusionProof> for InclusionProofView {
    fn from(proof: InclusionProof) -> Self {
        Self {
            tenant: proof.tenant,
            position: proof.position,
            checkpoint: proof.checkpoint,
            event_hash: proof.event_hash,
            leaf_hash: proof.leaf_hash,
            merkle_root: proof.merkle_root,
            proof: proof.proof,
        }
    }
}

/// Prove an event is in a checkpoint
///
/// The RFC 6962 audit path of the event at `position` in the Merkle tree of a checkpoint. `400
/// position_not_in_checkpoint` when the event is past the checkpoint (or 0); `404
/// checkpoint_not_found` when there is no such checkpoint.
#[utoipa::path(
    tag = "checkpoints", operation_id = "get_inclusion_proof",
    params(InclusionQuery),
    responses((status = 200, description = "The inclusion proof", body = InclusionProofView), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/proofs/inclusion")]
pub async fn inclusion_proof(
    auth: Authorized<AuditScope>,
    service: web::Data<Checkpoints>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = &auth.principal.tenant;
    let checkpoint = match query.checkpoint {
        Some(position) => checkpoint_at(&service, tenant, position).await?,
        None => latest(&service, tenant).await?,
    };
    let (position, size) = (query.position, checkpoint.body.position);
    if position == 0 || position > size {
        return Err(ApiError::bad_request(
            "position_not_in_checkpoint",
            format!("position {position} is not in the checkpoint at {size} (positions 1 to {size})"),
        ));
    }
    let service = service.into_inner();
    let proof = blocking(move || service.inclusion(&checkpoint, position)).await?;
    Ok(HttpResponse::Ok().json(InclusionProofView::from(proof)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The earlier checkpoint's position (the one the auditor kept).
    pub from: Position,
    /// The later checkpoint's position; the latest checkpoint when omitted.
    pub to: Option<Position>,
}

/// The proof that the log at checkpoint `to` extends the log at checkpoint `from`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProofView {
    pub tenant: String,
    pub from: Position,
    pub to: Position,
    /// The Merkle root of checkpoint `from`.
    pub from_root: String,
    /// The Merkle root of checkpoint `to`.
    pub to_root: String,
    /// RFC 6962 2.1.2 consistency proof (hex); empty when `from == to`.
    pub proof: Vec<String>,
}

impl From<ConsistencyProof> for ConsistencyProofView {
    fn from(proof: ConsistencyProof) -> Self {
        Self {
            tenant: proof.tenant,
            from: proof.from,
            to: proof.to,
            from_root: proof.from_root,
            to_root: proof.to_root,
            proof: proof.proof,
        }
    }
}

/// Prove a later checkpoint extends an earlier one
///
/// The RFC 6962 consistency proof between two checkpoints: the log at `to` holds the log at
/// `from` unchanged as its prefix. Verify it offline with `isms verify-proof`. `400
/// invalid_proof_range` when `from` is after `to`; `404 checkpoint_not_found` when either is not
/// a checkpoint.
#[utoipa::path(
    tag = "checkpoints", operation_id = "get_consistency_proof",
    params(ConsistencyQuery),
    responses((status = 200, description = "The consistency proof", body = ConsistencyProofView), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/proofs/consistency")]
pub async fn consistency_proof(
    auth: Authorized<AuditScope>,
    service: web::Data<Checkpoints>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = &auth.principal.tenant;
    if query.to.is_some_and(|to| query.from > to) {
        return Err(invalid_range(query.from, query.to.unwrap_or_default()));
    }
    let to = match query.to {
        Some(position) => checkpoint_at(&service, tenant, position).await?,
        None => latest(&service, tenant).await?,
    };
    if query.from > to.body.position {
        return Err(invalid_range(query.from, to.body.position));
    }
    let from = checkpoint_at(&service, tenant, query.from).await?;
    let service = service.into_inner();
    let proof = blocking(move || service.consistency(&from, &to)).await?;
    Ok(HttpResponse::Ok().json(ConsistencyProofView::from(proof)))
}

fn invalid_range(from: Position, to: Position) -> ApiError {
    ApiError::bad_request(
        "invalid_proof_range",
        format!("from ({from}) must not be after to ({to}): a log can only be proven to extend an earlier one"),
    )
}

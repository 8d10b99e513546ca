//! The online backup: the same archive as `isms backup` (see `isms_store::backup`), streamed
//! while the service keeps taking commands. It is consistent because every tenant's chain head
//! is captured first and each tenant's append-only log is then read up to that head.
//!
//! The archive holds EVERY tenant's events, so a tenant's `admin` scope alone is not enough:
//! only admins of the tenants the operator lists in `backup.operator_tenants` may take one.
//! It never contains the server's secrets (the JWT secret, the checkpoint signing key, the
//! per-person data keys): those are backed up separately, by the operator, from the data directory.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{get, web, HttpResponse};
use isms_app::{AppError, Ledger};
use isms_store::backup::{self, Source};
use isms_store::Storage;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::auth::{AdminScope, Authorized};
use crate::evidence::EvidencePackArchive;
use crate::problem::{ApiError, ReadProblems};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(take_backup);
}

/// The `[backup]` settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSettings {
    /// Tenants whose admins may download the online backup of every tenant. Empty: nobody
    /// (use the offline `isms backup`).
    pub operator_tenants: Vec<String>,
}

/// What the handler needs beyond the ledger: the storage to read checkpoints from, and the settings.
pub struct OnlineBackup {
    pub storage: Arc<dyn Storage>,
    pub settings: BackupSettings,
}

/// Streams what the writer produces, a chunk at a time; a slow client slows the writer down.
struct ChannelWriter(mpsc::Sender<Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(bytes))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Download a backup of every tenant
///
/// One `application/gzip` archive (tar), written while commands keep running:
/// `public-key.json` (the key that verifies the checkpoints), per tenant
/// `tenants/<tenant>/checkpoints.ndjson` and `tenants/<tenant>/events-<first position>.ndjson`
/// (every stored envelope with its hash, in position order), and `manifest.json` (per tenant
/// the event count and chain head position and hash; the SHA-256 and size of every file). Each
/// tenant is read up to the chain head it had when the request arrived. Restore it with
/// `isms restore --from FILE --data-dir EMPTY_DIR`, which verifies it first. Secrets are never
/// included. Needs `admin`, and the caller's tenant must be listed in `backup.operator_tenants`
/// (the archive holds every tenant's data): otherwise 403 `online_backup_not_allowed`. A
/// failure after the first byte aborts the transfer, and the truncated archive is refused by
/// `isms restore` (no manifest).
#[utoipa::path(
    tag = "administration", operation_id = "get_backup",
    responses((status = 200, description = "The backup archive",
        content((EvidencePackArchive = "application/gzip")),
        headers(("Content-Disposition" = String))), ReadProblems),
    security(("bearer" = ["admin"]))
)]
#[get("/admin/backup")]
pub async fn take_backup(
    auth: Authorized<AdminScope>,
    ledger: web::Data<Ledger>,
    online: web::Data<OnlineBackup>,
    key: web::Data<ed25519_dalek::SigningKey>,
) -> Result<HttpResponse, ApiError> {
    let tenant = auth.principal.tenant.as_str();
    if !online.settings.operator_tenants.iter().any(|allowed| allowed == tenant) {
        tracing::warn!(subject = %auth.principal.subject, tenant, "online backup refused: not an operator tenant");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "online_backup_not_allowed",
            "an online backup holds every tenant's events: only admins of the tenants listed in \
             backup.operator_tenants may take one (or use the offline `isms backup`)",
        ));
    }
    let store = ledger.store();
    let mut heads = Vec::new();
    for tenant in store.tenants().map_err(AppError::from)? {
        let head = store.head(&tenant).map_err(AppError::from)?;
        heads.push((tenant, head));
    }
    let (sender, mut receiver) = mpsc::channel::<Bytes>(16);
    let generator = format!("isms {} (online, by {})", env!("CARGO_PKG_VERSION"), auth.principal.subject);
    let public_key = key.verifying_key();
    let taken_by = auth.principal.subject.clone();
    let writer = actix_web::rt::task::spawn_blocking(move || {
        let source = Source { storage: online.storage.as_ref(), heads };
        let out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter(sender));
        match backup::write(&source, &public_key, &[], &generator, out) {
            Ok(manifest) => tracing::info!(
                taken_by,
                tenants = manifest.tenants.len(),
                events = manifest.tenants.iter().map(|t| t.events).sum::<u64>(),
                "online backup written"
            ),
            // The client sees the transfer end early; the archive has no manifest and is refused.
            Err(error) => tracing::error!(%error, "online backup failed"),
        }
    });
    // Detached: the stream below ends when the writer drops its sender.
    drop(writer);
    let body = futures_util::stream::poll_fn(move |context| {
        receiver.poll_recv(context).map(|chunk| chunk.map(Ok::<_, std::io::Error>))
    });
    let filename = format!("isms-backup-{}.tar.gz", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    Ok(HttpResponse::Ok()
        .content_type("application/gzip")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .streaming(body))
}

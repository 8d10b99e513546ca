//! Wiring: opens the data directory, verifies the chain, rebuilds the read models, and serves
//! the API. The binary (`src/main.rs`) and the black-box tests share this code so the tests
//! run exactly what ships.
#![forbid(unsafe_code)]

pub mod config;
pub mod secret;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::{web, HttpServer};
use anyhow::Context;
use isms_api::{Authenticator, ServerState};
use isms_app::{Ledger, LiveProjections};
use isms_store::proofs::{spawn_automatic_checkpoints, Checkpoints};
use isms_store::{chain, ChainError, EventStore, GroupCommitStore, SledStorage, Storage, StoreError, WriterConfig};

/// The issuer and audience of locally minted tokens, unless configured otherwise.
pub const DEFAULT_ISSUER: &str = "isms-local";
pub const DEFAULT_AUDIENCE: &str = "isms-ledger";

/// Exit codes the binary uses, so supervisors can tell failures apart.
pub mod exit_code {
    /// Bad configuration or arguments.
    pub const USAGE: i32 = 2;
    /// The hash chain does not verify: data was altered or lost. Never restart into this.
    pub const CHAIN_BROKEN: i32 = 3;
    /// The data directory is held by another process.
    pub const LOCKED: i32 = 4;
    /// An event of the log does not project (`isms rebuild`): the read models cannot be built.
    pub const PROJECTION_FAILED: i32 = 5;
}

/// How tokens are verified.
#[derive(Debug, Clone)]
pub enum TokenVerification {
    /// HS256 with the secret in `<data-dir>/jwt-secret`, created on first use.
    LocalSecret,
    /// An external issuer's public key (PEM), ES256 or EdDSA.
    PublicKey { algorithm: jsonwebtoken::Algorithm, pem_file: PathBuf },
    /// An external issuer's JWKS file.
    Jwks { file: PathBuf },
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub bind: String,
    pub issuer: String,
    pub audience: String,
    pub verification: TokenVerification,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// How often new events are verified in the background (and the verified mark advanced),
    /// so the next start-up only checks what is newer. Zero turns it off.
    pub verify_interval: std::time::Duration,
    /// When checkpoints are signed without being asked for (every K events, every T when the log grew).
    pub checkpoints: isms_store::proofs::CheckpointPolicy,
    // Section: HR provisioning and training integrations.
    /// How a leaver's access-removal checklist is set up (when it is due).
    pub access_removal: isms_api::access_removal::AccessRemovalSettings,
    /// Jira and ServiceNow webhooks: secrets, which tickets are incidents, the status mapping.
    pub ticketing: isms_api::ticketing::TicketingSettings,
    /// Rate limits, timeouts and CORS (OWASP API4).
    pub limits: isms_api::limits::HttpLimits,
    /// Who may take the online backup.
    pub backup: isms_api::backup::BackupSettings,
    /// Where the personal data keys of crypto-shredding live.
    pub personal_data: isms_app::PersonalDataConfig,
    /// The event feed's source, the live stream's heartbeat, and webhook delivery (allow-list, retries, timeouts).
    pub webhooks: isms_webhooks::WebhookSettings,
}

/// Webhook delivery outcomes on `/metrics`, read from the worker's own counters at scrape time.
fn register_webhook_counters(telemetry: &isms_api::telemetry::Telemetry, counts: Arc<isms_webhooks::DeliveryCounters>) {
    use std::sync::atomic::Ordering::Relaxed;
    telemetry.registry.register_fn(move |out| {
        out.counter(
            "isms_webhook_deliveries_total",
            "Webhook delivery attempts by outcome (a delivery is retried until it succeeds or is given up).",
            &[
                (&[("outcome", "succeeded")], counts.succeeded.load(Relaxed)),
                (&[("outcome", "failed")], counts.failed_attempts.load(Relaxed)),
            ],
        );
        out.counter(
            "isms_webhook_deliveries_given_up_total",
            "Deliveries abandoned after the last retry, or because the receiver answered 410 Gone.",
            &[(&[], counts.given_up.load(Relaxed) + counts.disabled_by_gone.load(Relaxed))],
        );
    });
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "the event log failed verification: {0}. The service will not start on altered data and has changed nothing; \
         restore from a verified backup or investigate with `isms verify`"
    )]
    ChainBroken(ChainError),
    #[error("the data directory {0} is in use by another process (is `isms serve` already running on it?)")]
    Locked(String),
    #[error("{0:#}")]
    Other(anyhow::Error),
}

impl StartError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::ChainBroken(_) => exit_code::CHAIN_BROKEN,
            Self::Locked(_) => exit_code::LOCKED,
            Self::Other(_) => 1,
        }
    }
}

impl From<StoreError> for StartError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Locked(dir) => Self::Locked(dir),
            other => Self::Other(other.into()),
        }
    }
}

/// The event log lives in its own directory inside the data directory.
pub fn events_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("events")
}

/// The personal data keys live beside the event log, never inside it, so that a copy of the
/// log (a backup, an evidence pack) holds no key and destroying a key erases its person.
pub fn keys_dir(config: &ServeConfig) -> PathBuf {
    config.personal_data.keys_dir.clone().unwrap_or_else(|| config.data_dir.join("keys"))
}

/// Opens the event log and verifies every tenant's whole chain, and that it still reaches the
/// last verified point. From position 1, not from that point: a byte changed in an old event
/// must stop the service too (found by `tamper.rs`), and verifying costs about a second per
/// few hundred thousand events.
pub fn open_verified(data_dir: &Path) -> Result<Arc<SledStorage>, StartError> {
    let started = std::time::Instant::now();
    let storage = Arc::new(SledStorage::open(&events_dir(data_dir))?);
    match chain::verify_all(storage.as_ref(), true)? {
        Ok(reports) => {
            let checked: u64 = reports.iter().map(|(_, r)| r.events_checked).sum();
            tracing::info!(
                tenants = reports.len(),
                events_checked = checked,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "hash chain verified"
            );
            Ok(storage)
        }
        Err(broken) => Err(StartError::ChainBroken(broken)),
    }
}

/// Drains the writer durably, then verifies what this run wrote so the next start is quick.
pub fn finish(store: &GroupCommitStore) {
    store.shutdown();
    match store.verify_new_events() {
        Ok(checked) => tracing::info!(checked, "verified this run's events before exit"),
        Err(error) => tracing::error!(%error, "verification at shutdown failed"),
    }
}

/// A started service: its address, and what graceful shutdown needs.
pub struct Running {
    pub address: SocketAddr,
    pub server: actix_web::dev::Server,
    pub store: Arc<GroupCommitStore>,
    pub projections: Arc<LiveProjections>,
    /// Webhook subscriptions and delivery (its counters for metrics).
    pub webhooks: Arc<isms_webhooks::Webhooks>,
    /// Wakes live event streams; `close()` ends them before a graceful stop.
    pub durable_head: Arc<isms_webhooks::DurableHead>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, then drains the writer durably.
    pub async fn stop(self) {
        self.durable_head.close();
        self.server.handle().stop(true).await;
        let _ = self.server.await;
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || finish(&store)).await;
    }
}

fn authenticator(config: &ServeConfig) -> anyhow::Result<Authenticator> {
    match &config.verification {
        TokenVerification::LocalSecret => {
            let (secret, created) = secret::load_or_create(&config.data_dir)?;
            if created {
                tracing::info!(
                    path = %secret::path(&config.data_dir).display(),
                    "generated a local HS256 signing secret; mint a token with: isms token --data-dir {} --sub alice --tenant acme --scope \"isms:read isms:write audit:read\"",
                    config.data_dir.display()
                );
            }
            Ok(Authenticator::hs256(&secret, &config.issuer, &config.audience))
        }
        TokenVerification::PublicKey { algorithm, pem_file } => {
            let pem = std::fs::read(pem_file)
                .with_context(|| format!("cannot read ISMS_JWT_PUBLIC_KEY_FILE {}", pem_file.display()))?;
            Authenticator::public_key_pem(*algorithm, &pem, &config.issuer, &config.audience)
                .map_err(anyhow::Error::msg)
        }
        TokenVerification::Jwks { file } => {
            let document = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read ISMS_JWT_JWKS_FILE {}", file.display()))?;
            Authenticator::jwks(&document, &config.issuer, &config.audience).map_err(anyhow::Error::msg)
        }
    }
}

/// Verifies new events every `interval` until the store is gone.
fn spawn_background_verifier(store: std::sync::Weak<GroupCommitStore>, interval: std::time::Duration) {
    if interval.is_zero() {
        return;
    }
    let spawned = std::thread::Builder::new().name("isms-verifier".into()).spawn(move || loop {
        std::thread::sleep(interval);
        let Some(store) = store.upgrade() else { return };
        match store.verify_new_events() {
            Ok(0) => {}
            Ok(checked) => tracing::debug!(checked, "background chain verification advanced the verified mark"),
            Err(error) => tracing::error!(%error, "background chain verification failed"),
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the background verifier; start-up will verify more events");
    }
}

/// Opens, verifies, rebuilds and starts serving. Must be called inside a tokio/actix runtime.
pub fn start(config: &ServeConfig) -> Result<Running, StartError> {
    start_with(config, Seams::default())
}

/// A wrapper put around one part of the service, for fault-injection tests.
pub type Wrap<T> = Box<dyn FnOnce(Arc<T>) -> Arc<T>>;

/// Where fault-injection tests put their decorators: around the storage backend and around
/// the listener that projects each durable commit. Production uses none.
#[derive(Default)]
pub struct Seams {
    pub storage: Option<Wrap<dyn Storage>>,
    pub listener: Option<Wrap<dyn isms_store::CommitListener>>,
}

/// [`start`], with decorators in the seams.
pub fn start_with(config: &ServeConfig, seams: Seams) -> Result<Running, StartError> {
    config.limits.validate().map_err(|problem| StartError::Other(anyhow::anyhow!("limits: {problem}")))?;
    let authenticator = authenticator(config).map_err(StartError::Other)?;
    let telemetry = isms_api::telemetry::Telemetry::default();
    let verification = std::time::Instant::now();
    let storage = open_verified(&config.data_dir)?;
    telemetry.startup.verification_seconds.set(verification.elapsed().as_secs_f64());
    let keys = isms_app::KeyStore::open(&keys_dir(config))
        .with_context(|| format!("cannot open the key store {}", keys_dir(config).display()))
        .map_err(StartError::Other)?;
    let projections = Arc::new(LiveProjections::with_keys(Arc::new(keys)));
    let webhook_tree = storage.open_tree("webhooks")?;
    let mut storage: Arc<dyn Storage> = storage;
    if let Some(wrap) = seams.storage {
        storage = wrap(storage);
    }
    // The feed's live stream and the webhook dispatcher wake when the projections are told.
    let durable_head = isms_webhooks::DurableHead::new(projections.clone());
    let mut listener: Arc<dyn isms_store::CommitListener> = durable_head.clone();
    if let Some(wrap) = seams.listener {
        listener = wrap(listener);
    }
    let store = Arc::new(GroupCommitStore::start(storage, listener, WriterConfig::default())?);
    let started = std::time::Instant::now();
    let applied = projections
        .rebuild(store.as_ref())
        .map_err(|e| StartError::Other(anyhow::anyhow!("rebuilding projections: {e}")))?;
    tracing::info!(events = applied, elapsed_ms = started.elapsed().as_millis() as u64, "projections rebuilt");
    telemetry.startup.rebuild_seconds.set(started.elapsed().as_secs_f64());
    telemetry.registry.register(store.metrics().clone());
    let event_store: Arc<dyn EventStore> = store.clone();
    let checkpoint_key = secret::checkpoint_key(&config.data_dir).map_err(StartError::Other)?;
    let checkpoints = Arc::new(Checkpoints::new(event_store.clone(), store.storage().clone(), checkpoint_key.clone()));
    let ledger = web::Data::new(Ledger::new(event_store, projections.clone()));
    // Deliveries read through the ledger, like the feed, so a person's fields arrive revealed
    // (or `[erased]`), never as ciphertext, and a webhook body equals the feed's event.
    let webhooks = isms_webhooks::Webhooks::open(
        webhook_tree,
        store.storage().clone(),
        ledger.store().clone(),
        config.webhooks.clone(),
    )?;
    webhooks.spawn(durable_head.subscribe()).map_err(|e| StartError::Other(anyhow::anyhow!(e)))?;
    let (webhook_data, durable_data) = (web::Data::from(webhooks.clone()), web::Data::from(durable_head.clone()));
    register_webhook_counters(&telemetry, webhooks.counters());
    telemetry.registry.register(std::sync::Arc::new(isms_api::telemetry::ledger_collector(ledger.clone())));
    let state = ServerState {
        ledger,
        authenticator: web::Data::new(authenticator),
        checkpoint_key: web::Data::new(checkpoint_key),
        access_removal: web::Data::new(config.access_removal.clone()),
        ticketing: web::Data::new(config.ticketing.clone()),
        limits: web::Data::new(isms_api::limits::Limiter::new(config.limits.clone())),
        telemetry: web::Data::new(telemetry),
    };
    spawn_background_verifier(Arc::downgrade(&store), config.verify_interval);
    spawn_automatic_checkpoints(Arc::downgrade(&checkpoints), config.checkpoints.clone());
    let checkpoints = web::Data::from(checkpoints);
    let online_backup = web::Data::new(isms_api::backup::OnlineBackup {
        storage: store.storage().clone(),
        settings: config.backup.clone(),
    });
    let listener = TcpListener::bind(&config.bind)
        .with_context(|| format!("cannot listen on {}", config.bind))
        .map_err(StartError::Other)?;
    let address = listener.local_addr().map_err(|e| StartError::Other(e.into()))?;
    let mut server = HttpServer::new(move || {
        isms_api::app(Some(state.clone()))
            .0
            .app_data(checkpoints.clone())
            .app_data(online_backup.clone())
            .app_data(webhook_data.clone())
            .app_data(durable_data.clone())
    })
    .shutdown_timeout(30)
    .client_request_timeout(config.limits.client_request_timeout)
    .keep_alive(config.limits.keep_alive);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server.listen(listener).map_err(|e| StartError::Other(e.into()))?.run();
    tracing::info!(%address, data_dir = %config.data_dir.display(), "isms-ledger serving; API docs at http://{address}/docs/");
    Ok(Running { address, server, store, projections, webhooks, durable_head })
}

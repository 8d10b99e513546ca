//! Application services between the HTTP layer and the domain.
//!
//! The command path: load a stream, fold it, let the pure aggregate decide, append with the
//! expected version, and answer with the record as of that append. The read path: live
//! registers kept current by the store's commit listener, and time travel by replaying the log
//! up to a position.
#![forbid(unsafe_code)]

mod changes;
mod commands;
mod keys;
mod live;
mod privacy;
mod reads;
mod sealing;

pub use changes::ChangePoint;
pub use commands::{to_new_event, CommandContext, CommandOutcome, CommandResult, Creation, IdempotencyInput};
pub use keys::{DataKey, KeyState, KeyStore, PersonalDataConfig};
pub use live::LiveProjections;
pub use privacy::PersonalDataReadContext;
pub use reads::{ActorActivity, AuditFilter, ReadPoint, RegisterPage, Resolved};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use isms_domain::DomainError;
use isms_store::{EventStore, StoreError, TenantId};

/// Why a command or read did not succeed, apart from what the domain refuses.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    NotFound(String),
    #[error("the record is at version {current_version}, not the one in If-Match")]
    PreconditionFailed { current_version: u64 },
    #[error("the record kept changing while the command was retried; try again")]
    ConcurrentModification,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyKeyInFlight,
    #[error("{0}")]
    InvalidReadPoint(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the read model failed: {0}")]
    Projection(#[from] isms_projections::ProjectionError),
}

/// The application: the store and the live read models, shared by every request.
pub struct Ledger {
    /// The log as the application reads and writes it: personal fields sealed on append and
    /// revealed on every read ([`sealing::SealingStore`]).
    store: Arc<dyn EventStore>,
    /// The log as stored (personal fields sealed), for exports that must verify byte for byte.
    log: Arc<dyn EventStore>,
    projections: Arc<LiveProjections>,
    /// Idempotency keys whose first request is still running: (tenant, actor, key).
    in_flight: Mutex<HashSet<(TenantId, String, String)>>,
    /// The last registers replayed for a read as of an earlier point: auditors read several
    /// reports as of the same date, which then costs one replay.
    /// Kept with the number of erasures folded when it was replayed: an erasure drops it.
    last_replay: Mutex<Option<(TenantId, u64, Arc<isms_projections::Registers>)>>,
}

impl Ledger {
    pub fn new(store: Arc<dyn EventStore>, projections: Arc<LiveProjections>) -> Self {
        let sealing = sealing::SealingStore { inner: store.clone(), keys: projections.keys().clone() };
        Self {
            store: Arc::new(sealing),
            log: store,
            projections,
            in_flight: Mutex::new(HashSet::new()),
            last_replay: Mutex::new(None),
        }
    }

    /// The log with personal data sealed on append and revealed on read.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The log exactly as stored (personal fields sealed), whose events verify against their
    /// hashes: for evidence packs and other exports an auditor re-checks.
    pub fn log(&self) -> &Arc<dyn EventStore> {
        &self.log
    }

    pub fn projections(&self) -> &Arc<LiveProjections> {
        &self.projections
    }
}

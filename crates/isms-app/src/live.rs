//! Live registers for every tenant, folded by the store's writer right after each durable
//! commit and before the commit's commands are answered (read-your-writes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use isms_projections::{ProjectionError, Registers};
use isms_store::{CommitListener, Envelope, EventStore, StoreError, TenantId};

use crate::keys::KeyStore;

pub struct LiveProjections {
    tenants: RwLock<HashMap<TenantId, Arc<RwLock<Registers>>>>,
    /// Per tenant, the first event the read side could not apply. That tenant's reads are then
    /// refused (not served stale) and `/readyz` fails, because a register missing an event is
    /// worse than none; other tenants are unaffected.
    failures: RwLock<HashMap<TenantId, ProjectionError>>,
    /// The personal data keys: the durable events are revealed with them before they are
    /// folded, and an erasure folded here destroys its key (see [`LiveProjections::fold`]).
    keys: Arc<KeyStore>,
    /// How many erasures were folded: a replay cached before one must not be served again.
    erasures: AtomicU64,
}

impl Default for LiveProjections {
    fn default() -> Self {
        Self::with_keys(Arc::new(KeyStore::in_memory()))
    }
}

impl LiveProjections {
    /// Projections with keys held in memory only (tests and benchmarks).
    pub fn new() -> Self {
        Self::default()
    }

    /// Projections that reveal personal data with the keys of `keys`.
    pub fn with_keys(keys: Arc<KeyStore>) -> Self {
        Self { tenants: RwLock::default(), failures: RwLock::default(), keys, erasures: AtomicU64::new(0) }
    }

    pub fn keys(&self) -> &Arc<KeyStore> {
        &self.keys
    }

    /// How many erasures were folded since start-up.
    pub fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::SeqCst)
    }

    /// Folds one durable event: revealed first, so the registers hold plaintext (or
    /// `[erased]`). An erasure destroys the person's key here, where every durable event passes
    /// once (live, or in the start-up rebuild after a crash), so no key outlives its erasure.
    fn fold(&self, registers: &mut Registers, mut envelope: Envelope) -> Result<(), ProjectionError> {
        self.keys.reveal(&mut envelope);
        let erased = isms_domain::personal::is_erasure(&envelope.stream_type, &envelope.event_type)
            .then(|| (envelope.tenant.clone(), uuid::Uuid::parse_str(&envelope.stream_id)));
        registers.apply_owned(envelope)?;
        if let Some((tenant, Ok(person))) = erased {
            if let Err(error) = self.keys.destroy(&tenant, person) {
                // The erasure is recorded; the next start-up destroys the key again.
                tracing::error!(%tenant, %person, %error, "cannot destroy an erased person's key");
            }
            self.erasures.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Rebuilds every tenant's registers from the log, from position 1.
    pub fn rebuild(&self, store: &dyn EventStore) -> Result<u64, crate::AppError> {
        let mut applied = 0;
        let mut tenants = HashMap::new();
        for tenant in store.tenants()? {
            let registers = replay(store, &tenant, u64::MAX, Some(self))?;
            applied += registers.position;
            tenants.insert(tenant, Arc::new(RwLock::new(registers)));
        }
        *self.tenants.write().unwrap_or_else(|p| p.into_inner()) = tenants;
        Ok(applied)
    }

    /// A tenant's live registers (empty when the tenant has no events yet).
    pub fn tenant(&self, tenant: &TenantId) -> Result<Arc<RwLock<Registers>>, crate::AppError> {
        if let Some(failure) = self.failures.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned() {
            return Err(failure.into());
        }
        Ok(self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned().unwrap_or_default())
    }

    /// A projection failure of any tenant, for readiness.
    pub fn failure(&self) -> Option<ProjectionError> {
        self.failures.read().unwrap_or_else(|p| p.into_inner()).values().next().cloned()
    }
}

/// The registers after the tenant's events up to `up_to`, folded from position 1; `folding`
/// reveals and folds each event as the live projections do (the store's reads are sealed),
/// `None` when the store reveals already.
///
/// Reading and decoding envelopes costs more than folding them, so readers work ahead on
/// alternate chunks of positions in parallel while this thread folds the chunks in order.
/// Each reader's queue is short, so memory stays bounded whatever the log's size.
pub(crate) fn replay(
    store: &dyn EventStore,
    tenant: &TenantId,
    up_to: u64,
    folding: Option<&LiveProjections>,
) -> Result<Registers, crate::AppError> {
    const CHUNK: u64 = isms_store::READ_CHUNK as u64;
    let end = up_to.min(store.head(tenant)?.position);
    let chunks = end.div_ceil(CHUNK);
    let mut registers = Registers::default();
    let readers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4) as u64;
    std::thread::scope(|scope| {
        let mut queues = Vec::new();
        for reader in 0..readers.min(chunks.max(1)) {
            let (sender, queue) = std::sync::mpsc::sync_channel::<Result<Vec<Envelope>, StoreError>>(4);
            queues.push(queue);
            scope.spawn(move || {
                for chunk in (reader..chunks).step_by(readers as usize) {
                    let after = chunk * CHUNK;
                    let limit = usize::try_from(CHUNK.min(end - after)).unwrap_or(usize::MAX);
                    let events = store.read_all(tenant, after, limit);
                    let failed = events.is_err();
                    if sender.send(events).is_err() || failed {
                        break;
                    }
                }
            });
        }
        for chunk in 0..chunks {
            let queue = &queues[(chunk % readers) as usize];
            let events =
                queue.recv().map_err(|_| StoreError::Io(format!("a replay reader stopped before chunk {chunk}")))??;
            for event in events {
                match folding {
                    Some(live) => live.fold(&mut registers, event)?,
                    None => registers.apply_owned(event)?,
                }
            }
        }
        Ok(registers)
    })
}

impl CommitListener for LiveProjections {
    fn committed(&self, events: &[Envelope]) {
        for event in events {
            let existing = self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(&event.tenant).cloned();
            let registers = existing.unwrap_or_else(|| {
                let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
                tenants.entry(event.tenant.clone()).or_default().clone()
            });
            let mut registers = registers.write().unwrap_or_else(|p| p.into_inner());
            if let Err(error) = self.fold(&mut registers, event.clone()) {
                tracing::error!(%error, "projection failed; reads are refused until the cause is fixed and the service restarted");
                self.failures.write().unwrap_or_else(|p| p.into_inner()).entry(event.tenant.clone()).or_insert(error);
            }
        }
    }
}

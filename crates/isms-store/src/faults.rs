//! A storage decorator that fails on demand, so tests can prove what the writer does when the
//! disk does: the failing command is refused, nothing is acknowledged, and the writer fails
//! closed. It wraps any [`Storage`]; with nothing armed it only delegates.

use std::sync::{Arc, Mutex};

use crate::checkpoint::SignedCheckpoint;
use crate::envelope::{Envelope, IdempotencyRecord, Position, StoreError, StreamRef, TenantId, VerifiedMark};
use crate::merkle::Hash;
use crate::storage::{CommitBatch, Storage};

/// Where the next group commit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The atomic write of the batch fails: nothing reaches the backend.
    Write,
    /// The flush fails: the batch sits in the backend's memory, not in its files.
    Flush,
    /// The flush and fsync run, then an error is reported anyway: the data may be on the device
    /// (the harshest case, and the one that makes the outcome indeterminate).
    Fsync,
}

/// The error text imitates what the operating system reports, so tests can also check that
/// storage errors never reach clients.
const INJECTED: &str = "Input/output error (os error 5) at /var/lib/isms/events/db: injected fault";

pub struct FaultyStorage {
    inner: Arc<dyn Storage>,
    armed: Mutex<Option<Fault>>,
}

impl FaultyStorage {
    pub fn new(inner: Arc<dyn Storage>) -> Arc<Self> {
        Arc::new(Self { inner, armed: Mutex::new(None) })
    }

    /// The next group commit fails at `fault` (once).
    pub fn arm(&self, fault: Fault) {
        *self.armed.lock().unwrap_or_else(|p| p.into_inner()) = Some(fault);
    }

    fn fires(&self, fault: Fault) -> bool {
        let mut armed = self.armed.lock().unwrap_or_else(|p| p.into_inner());
        let fires = *armed == Some(fault);
        if fires {
            *armed = None;
        }
        fires
    }
}

fn injected(step: &str) -> StoreError {
    StoreError::Io(format!("{step} failed: {INJECTED}"))
}

impl Storage for FaultyStorage {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        if self.fires(Fault::Write) {
            return Err(injected("write"));
        }
        self.inner.write(batch)
    }

    fn sync(&self) -> Result<(), StoreError> {
        if self.fires(Fault::Flush) {
            return Err(injected("flush"));
        }
        if self.fires(Fault::Fsync) {
            self.inner.sync()?;
            return Err(injected("fsync"));
        }
        self.inner.sync()
    }

    fn abandon_unsynced(&self) {
        self.inner.abandon_unsynced();
    }

    fn stream_version(&self, tenant: &TenantId, stream: &StreamRef) -> Result<u64, StoreError> {
        self.inner.stream_version(tenant, stream)
    }
    fn stream_positions(&self, tenant: &TenantId, stream: &StreamRef) -> Result<Vec<Position>, StoreError> {
        self.inner.stream_positions(tenant, stream)
    }
    fn event(&self, tenant: &TenantId, position: Position) -> Result<Option<Envelope>, StoreError> {
        self.inner.event(tenant, position)
    }
    fn events_after(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        self.inner.events_after(tenant, after, limit)
    }
    fn last_event(&self, tenant: &TenantId) -> Result<Option<Envelope>, StoreError> {
        self.inner.last_event(tenant)
    }
    fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.inner.tenants()
    }
    fn idempotency(&self, tenant: &TenantId, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency(tenant, actor, key)
    }
    fn verified_mark(&self, tenant: &TenantId) -> Result<Option<VerifiedMark>, StoreError> {
        self.inner.verified_mark(tenant)
    }
    fn set_verified_mark(&self, tenant: &TenantId, mark: &VerifiedMark) -> Result<(), StoreError> {
        self.inner.set_verified_mark(tenant, mark)
    }
    fn merkle_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.inner.merkle_size(tenant)
    }
    fn merkle_node(&self, tenant: &TenantId, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        self.inner.merkle_node(tenant, level, index)
    }
    fn put_merkle_nodes(&self, tenant: &TenantId, nodes: &[(u8, u64, Hash)], size: u64) -> Result<(), StoreError> {
        self.inner.put_merkle_nodes(tenant, nodes, size)
    }
    fn put_checkpoint(&self, tenant: &TenantId, checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
        self.inner.put_checkpoint(tenant, checkpoint)
    }
    fn checkpoint(&self, tenant: &TenantId, position: Position) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.inner.checkpoint(tenant, position)
    }
    fn checkpoints_after(
        &self,
        tenant: &TenantId,
        after: Position,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        self.inner.checkpoints_after(tenant, after, limit)
    }
    fn last_checkpoint(&self, tenant: &TenantId) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.inner.last_checkpoint(tenant)
    }
}

//! The backend seam under the group-commit writer: plain reads and one atomic, durable write.

use crate::checkpoint::SignedCheckpoint;
use crate::envelope::{Envelope, IdempotencyRecord, Position, StoreError, StreamRef, TenantId, VerifiedMark};
use crate::merkle::Hash;

/// Everything one group commit writes, as a unit: all of it becomes durable or none of it.
#[derive(Debug, Default)]
pub struct CommitBatch {
    pub events: Vec<Envelope>,
    pub idempotency: Vec<(TenantId, String, IdempotencyRecord)>,
}

/// A backend for [`crate::GroupCommitStore`]. Only the writer's threads call [`Storage::write`]
/// and [`Storage::sync`], so implementations need no write-write coordination of their own.
pub trait Storage: Send + Sync + 'static {
    /// Applies the batch atomically: all of it or none of it. Not yet durable.
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError>;
    /// Makes every batch written so far durable (flush and fsync); returns only then.
    fn sync(&self) -> Result<(), StoreError>;
    /// Called once when the writer fails closed: whatever was written since the last successful
    /// [`Storage::sync`] was refused to its callers, so it must never become durable later
    /// (say, when the backend flushes on a graceful stop).
    fn abandon_unsynced(&self) {}
    fn stream_version(&self, tenant: &TenantId, stream: &StreamRef) -> Result<u64, StoreError>;
    /// Positions of the stream's events in version order.
    fn stream_positions(&self, tenant: &TenantId, stream: &StreamRef) -> Result<Vec<Position>, StoreError>;
    fn event(&self, tenant: &TenantId, position: Position) -> Result<Option<Envelope>, StoreError>;
    /// Up to `limit` events with position greater than `after`, in order.
    fn events_after(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<Envelope>, StoreError>;
    fn last_event(&self, tenant: &TenantId) -> Result<Option<Envelope>, StoreError>;
    fn tenants(&self) -> Result<Vec<TenantId>, StoreError>;
    fn idempotency(&self, tenant: &TenantId, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;
    fn verified_mark(&self, tenant: &TenantId) -> Result<Option<VerifiedMark>, StoreError>;
    fn set_verified_mark(&self, tenant: &TenantId, mark: &VerifiedMark) -> Result<(), StoreError>;

    // The Merkle index (derived from the events, see `crate::merkle_index`) and signed checkpoints.
    /// How many leaves (events from position 1) the tenant's Merkle index covers.
    fn merkle_size(&self, tenant: &TenantId) -> Result<u64, StoreError>;
    /// The stored root of the aligned subtree `index` at `level` (1 or more).
    fn merkle_node(&self, tenant: &TenantId, level: u8, index: u64) -> Result<Option<Hash>, StoreError>;
    /// Adds `(level, index, root)` nodes and sets the covered size, atomically. Not made durable:
    /// the index is derived data, and what a crash loses is rebuilt from the events.
    fn put_merkle_nodes(&self, tenant: &TenantId, nodes: &[(u8, u64, Hash)], size: u64) -> Result<(), StoreError>;
    /// Stores a signed checkpoint under its tenant and position, durably.
    fn put_checkpoint(&self, tenant: &TenantId, checkpoint: &SignedCheckpoint) -> Result<(), StoreError>;
    fn checkpoint(&self, tenant: &TenantId, position: Position) -> Result<Option<SignedCheckpoint>, StoreError>;
    /// Up to `limit` checkpoints with position greater than `after`, in position order.
    fn checkpoints_after(
        &self,
        tenant: &TenantId,
        after: Position,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>, StoreError>;
    fn last_checkpoint(&self, tenant: &TenantId) -> Result<Option<SignedCheckpoint>, StoreError>;

    /// Every idempotency record of the tenant with the actor it belongs to, for backups. The
    /// default has none: a backend without it backs up events only, and after a restore a
    /// retried command is not recognised as a replay.
    fn idempotency_records(&self, _tenant: &TenantId) -> Result<Vec<(String, IdempotencyRecord)>, StoreError> {
        Ok(Vec::new())
    }
}

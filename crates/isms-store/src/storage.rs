//! The backend seam under the group-commit writer: plain reads and one atomic, durable write.

use crate::envelope::{Envelope, IdempotencyRecord, Position, StoreError, StreamRef, TenantId, VerifiedMark};

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
}

//! An in-memory [`Storage`] for tests: the same writer, the same chain, no disk.

use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::checkpoint::SignedCheckpoint;
use crate::envelope::{Envelope, IdempotencyRecord, Position, StoreError, StreamRef, TenantId, VerifiedMark};
use crate::merkle::Hash;
use crate::storage::{CommitBatch, Storage};

#[derive(Default)]
struct Tables {
    events: BTreeMap<(TenantId, Position), Envelope>,
    streams: BTreeMap<(TenantId, StreamRef), Vec<Position>>,
    idempotency: BTreeMap<(TenantId, String, String), IdempotencyRecord>,
    marks: BTreeMap<TenantId, VerifiedMark>,
    merkle_nodes: BTreeMap<(TenantId, u8, u64), Hash>,
    merkle_sizes: BTreeMap<TenantId, u64>,
    checkpoints: BTreeMap<(TenantId, Position), SignedCheckpoint>,
}

#[derive(Default)]
pub struct MemoryStorage {
    tables: RwLock<Tables>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn tables_mut(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Storage for MemoryStorage {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut tables = self.tables_mut();
        for event in &batch.events {
            tables.events.insert((event.tenant.clone(), event.position), event.clone());
            let stream = StreamRef::new(event.stream_type.clone(), event.stream_id.clone());
            tables.streams.entry((event.tenant.clone(), stream)).or_default().push(event.position);
        }
        for (tenant, actor, record) in &batch.idempotency {
            tables.idempotency.insert((tenant.clone(), actor.clone(), record.key.clone()), record.clone());
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn stream_version(&self, tenant: &TenantId, stream: &StreamRef) -> Result<u64, StoreError> {
        Ok(self.tables().streams.get(&(tenant.clone(), stream.clone())).map_or(0, |p| p.len() as u64))
    }

    fn stream_positions(&self, tenant: &TenantId, stream: &StreamRef) -> Result<Vec<Position>, StoreError> {
        Ok(self.tables().streams.get(&(tenant.clone(), stream.clone())).cloned().unwrap_or_default())
    }

    fn event(&self, tenant: &TenantId, position: Position) -> Result<Option<Envelope>, StoreError> {
        Ok(self.tables().events.get(&(tenant.clone(), position)).cloned())
    }

    fn events_after(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .events
            .range((tenant.clone(), after.saturating_add(1))..=(tenant.clone(), Position::MAX))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    fn last_event(&self, tenant: &TenantId) -> Result<Option<Envelope>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .events
            .range((tenant.clone(), 0)..=(tenant.clone(), Position::MAX))
            .next_back()
            .map(|(_, e)| e.clone()))
    }

    fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut tenants: Vec<TenantId> = self.tables().events.keys().map(|(t, _)| t.clone()).collect();
        tenants.dedup();
        Ok(tenants)
    }

    fn idempotency(&self, tenant: &TenantId, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.tables().idempotency.get(&(tenant.clone(), actor.to_owned(), key.to_owned())).cloned())
    }

    fn idempotency_records(&self, tenant: &TenantId) -> Result<Vec<(String, IdempotencyRecord)>, StoreError> {
        let tables = self.tables();
        let records = tables.idempotency.iter().filter(|((t, _, _), _)| t == tenant);
        Ok(records.map(|((_, actor, _), record)| (actor.clone(), record.clone())).collect())
    }

    fn verified_mark(&self, tenant: &TenantId) -> Result<Option<VerifiedMark>, StoreError> {
        Ok(self.tables().marks.get(tenant).cloned())
    }

    fn set_verified_mark(&self, tenant: &TenantId, mark: &VerifiedMark) -> Result<(), StoreError> {
        self.tables_mut().marks.insert(tenant.clone(), mark.clone());
        Ok(())
    }

    fn merkle_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(self.tables().merkle_sizes.get(tenant).copied().unwrap_or(0))
    }

    fn merkle_node(&self, tenant: &TenantId, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        Ok(self.tables().merkle_nodes.get(&(tenant.clone(), level, index)).copied())
    }

    fn put_merkle_nodes(&self, tenant: &TenantId, nodes: &[(u8, u64, Hash)], size: u64) -> Result<(), StoreError> {
        let mut tables = self.tables_mut();
        for (level, index, hash) in nodes {
            tables.merkle_nodes.insert((tenant.clone(), *level, *index), *hash);
        }
        tables.merkle_sizes.insert(tenant.clone(), size);
        Ok(())
    }

    fn put_checkpoint(&self, tenant: &TenantId, checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
        self.tables_mut().checkpoints.insert((tenant.clone(), checkpoint.body.position), checkpoint.clone());
        Ok(())
    }

    fn checkpoint(&self, tenant: &TenantId, position: Position) -> Result<Option<SignedCheckpoint>, StoreError> {
        Ok(self.tables().checkpoints.get(&(tenant.clone(), position)).cloned())
    }

    fn checkpoints_after(
        &self,
        tenant: &TenantId,
        after: Position,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .checkpoints
            .range((tenant.clone(), after.saturating_add(1))..=(tenant.clone(), Position::MAX))
            .take(limit)
            .map(|(_, c)| c.clone())
            .collect())
    }

    fn last_checkpoint(&self, tenant: &TenantId) -> Result<Option<SignedCheckpoint>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .checkpoints
            .range((tenant.clone(), 0)..=(tenant.clone(), Position::MAX))
            .next_back()
            .map(|(_, c)| c.clone()))
    }
}

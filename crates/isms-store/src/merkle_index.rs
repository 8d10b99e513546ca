//! The Merkle index: the roots of the complete, aligned subtrees of each tenant's RFC 6962 tree,
//! kept as the log grows, so a tree head or a proof over a log of n events reads O(log n) stored
//! hashes instead of all n events.
//!
//! Node `(level L, index i)` is the root of the leaves `[i·2^L, (i+1)·2^L)`. Levels 1 and up are
//! stored; level 0, a leaf, is `leaf_hash` of the 32 bytes of the `hash` of the event at position
//! `i + 1`, read from the event itself (storing it too would double the index for a saving of
//! one event read per proof). The index is derived data: it is not part of the hash chain, a
//! crash may lose its newest nodes (they are written without an fsync of their own), and
//! [`extend`] rebuilds whatever is missing from the events. Nodes and the count of leaves they
//! cover are written in one atomic batch, so what survives is always a consistent prefix.
//!
//! A node is final once written: the subtree it covers is complete and events never change, so
//! readers need no lock; only [`extend`] must not run twice at once for one tenant (the caller,
//! [`crate::proofs::Checkpoints`], serializes it).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::envelope::{Envelope, StoreError, TenantId};
use crate::merkle::{self, Hash, Subtrees};
use crate::storage::Storage;
use crate::READ_CHUNK;

/// Nodes written per atomic batch while the index catches up.
const NODES_PER_BATCH: usize = 8192;

/// The leaf of one event: `leaf_hash` of the raw bytes of its `hash`.
pub fn event_leaf(event: &Envelope) -> Result<Hash, StoreError> {
    let bytes = hex::decode(&event.hash)
        .map_err(|_| StoreError::Corrupt(format!("the hash of position {} is not hex", event.position)))?;
    Ok(merkle::leaf_hash(&bytes))
}

fn leaf_at(storage: &dyn Storage, tenant: &TenantId, index: u64) -> Result<Hash, StoreError> {
    let event = storage
        .event(tenant, index + 1)?
        .ok_or_else(|| StoreError::Corrupt(format!("position {} is missing", index + 1)))?;
    event_leaf(&event)
}

fn node_at(storage: &dyn Storage, tenant: &TenantId, level: u8, index: u64) -> Result<Hash, StoreError> {
    if level == 0 {
        return leaf_at(storage, tenant, index);
    }
    storage
        .merkle_node(tenant, level, index)?
        .ok_or_else(|| StoreError::Corrupt(format!("the Merkle index lacks node {index} of level {level}")))
}

/// Indexes the tenant's events up to position `target`, which must be durable. Returns how many
/// leaves the index covers (at least `target`).
pub fn extend(storage: &dyn Storage, tenant: &TenantId, target: u64) -> Result<u64, StoreError> {
    let mut size = storage.merkle_size(tenant)?;
    if size >= target {
        return Ok(size);
    }
    // The complete subtrees still waiting for a right sibling: one per bit set in `size`, the last
    // complete node of that level. Adding a leaf merges them from the bottom like a binary carry.
    let mut pending: [Option<Hash>; 64] = [None; 64];
    for level in 0..64u8 {
        if size >> level & 1 == 1 {
            pending[usize::from(level)] = Some(node_at(storage, tenant, level, (size >> level) - 1)?);
        }
    }
    let mut nodes = Vec::new();
    while size < target {
        let wanted = usize::try_from(target - size).unwrap_or(usize::MAX).min(READ_CHUNK);
        let events = storage.events_after(tenant, size, wanted)?;
        if events.is_empty() {
            return Err(StoreError::Corrupt(format!("position {} is missing", size + 1)));
        }
        for event in &events {
            if event.position != size + 1 {
                return Err(StoreError::Corrupt(format!("position {} is missing", size + 1)));
            }
            let (mut hash, mut level, mut index) = (event_leaf(event)?, 0usize, size);
            while index & 1 == 1 {
                let left = pending[level].take().ok_or_else(|| {
                    StoreError::Corrupt(format!("the Merkle index has no left sibling at level {level}"))
                })?;
                hash = merkle::node_hash(&left, &hash);
                level += 1;
                index >>= 1;
                nodes.push((level as u8, index, hash));
            }
            pending[level] = Some(hash);
            size += 1;
        }
        if nodes.len() >= NODES_PER_BATCH || size == target {
            storage.put_merkle_nodes(tenant, &nodes, size)?;
            nodes.clear();
        }
    }
    Ok(size)
}

/// One tenant's tree as the index stores it, up to the size indexed when it was opened.
///
/// [`Subtrees`] cannot fail, so a storage error is kept and reported by the method that asked
/// (every public method returns it); reads are cached for the tree's (short) life.
pub struct IndexedTree<'a> {
    storage: &'a dyn Storage,
    tenant: &'a TenantId,
    size: u64,
    cache: RefCell<HashMap<(u8, u64), Hash>>,
    error: RefCell<Option<StoreError>>,
    reads: Cell<u64>,
}

impl<'a> IndexedTree<'a> {
    pub fn open(storage: &'a dyn Storage, tenant: &'a TenantId) -> Result<Self, StoreError> {
        Ok(Self {
            size: storage.merkle_size(tenant)?,
            storage,
            tenant,
            cache: RefCell::default(),
            error: RefCell::default(),
            reads: Cell::new(0),
        })
    }

    /// How many leaves the index covered when the tree was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Storage reads so far (nodes and leaves not found in the cache).
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }

    /// The tree head of the first `n` leaves.
    pub fn tree_head(&self, n: u64) -> Result<Hash, StoreError> {
        self.covers(n)?;
        self.outcome(merkle::root(self, n))
    }

    /// The leaf hash of leaf `index`.
    pub fn leaf(&self, index: u64) -> Result<Hash, StoreError> {
        self.covers(index + 1)?;
        self.outcome(self.aligned(0, index))
    }

    /// The audit path of leaf `index` in the tree of the first `n` leaves.
    pub fn inclusion_proof(&self, index: u64, n: u64) -> Result<Vec<Hash>, StoreError> {
        self.covers(n)?;
        self.outcome(merkle::inclusion_proof(self, index, n))
    }

    /// The proof that the first `m` leaves are a prefix of the first `n`.
    pub fn consistency_proof(&self, m: u64, n: u64) -> Result<Vec<Hash>, StoreError> {
        self.covers(n)?;
        self.outcome(merkle::consistency_proof(self, m, n))
    }

    fn covers(&self, n: u64) -> Result<(), StoreError> {
        if n > self.size {
            return Err(StoreError::InvalidInput(format!(
                "the Merkle index covers {} events, not {n}; extend it first",
                self.size
            )));
        }
        Ok(())
    }

    fn outcome<T>(&self, value: T) -> Result<T, StoreError> {
        match self.error.borrow_mut().take() {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }

    fn aligned(&self, level: u8, index: u64) -> Hash {
        if self.error.borrow().is_some() {
            return [0; 32];
        }
        if let Some(hash) = self.cache.borrow().get(&(level, index)) {
            return *hash;
        }
        self.reads.set(self.reads.get() + 1);
        match node_at(self.storage, self.tenant, level, index) {
            Ok(hash) => {
                self.cache.borrow_mut().insert((level, index), hash);
                hash
            }
            Err(error) => {
                *self.error.borrow_mut() = Some(error);
                [0; 32]
            }
        }
    }
}

impl Subtrees for IndexedTree<'_> {
    /// An aligned perfect range is one stored node; any other range splits as RFC 6962 splits it.
    /// The ranges `merkle` asks for start at a multiple of their largest power-of-two part, so each
    /// decomposes into at most one node per level.
    fn root(&self, start: u64, end: u64) -> Hash {
        let size = end - start;
        if size.is_power_of_two() && start.is_multiple_of(size) {
            return self.aligned(size.trailing_zeros() as u8, start / size);
        }
        let k = 1u64 << (63 - (size - 1).leading_zeros());
        merkle::node_hash(&self.root(start, start + k), &self.root(start + k, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::LeafHashes;
    use crate::storage::CommitBatch;
    use crate::{MemoryStorage, SledStorage};
    use chrono::Utc;
    use sha2::{Digest, Sha256};
    use uuid::Uuid;

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    /// Events whose hashes are arbitrary but distinct; the index does not check the chain.
    fn append(storage: &dyn Storage, from: u64, to: u64) {
        let events = (from..=to)
            .map(|position| Envelope {
                position,
                stream_type: "risk".into(),
                stream_id: "r".into(),
                version: position,
                event_id: Uuid::now_v7(),
                event_type: "RiskIdentified".into(),
                schema_version: 1,
                recorded_at: Utc::now(),
                effective_at: None,
                tenant: tenant(),
                actor: "alice".into(),
                source: None,
                correlation_id: Uuid::now_v7(),
                causation_id: None,
                idempotency_key: None,
                data: serde_json::json!({}),
                prev_hash: String::new(),
                hash: hex::encode(Sha256::digest(position.to_be_bytes())),
            })
            .collect();
        storage.write(&CommitBatch { events, idempotency: Vec::new() }).unwrap();
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (1..=n).map(|position| merkle::leaf_hash(&Sha256::digest(position.to_be_bytes()))).collect()
    }

    /// The index, grown in uneven steps, answers exactly what the in-memory leaves answer.
    fn index_matches_the_leaves(storage: &dyn Storage) {
        let all = leaves(150);
        let memory = LeafHashes(&all);
        let mut size = 0;
        for step in [1, 1, 2, 3, 1, 8, 13, 5, 21, 34, 61] {
            append(storage, size + 1, size + step);
            size += step;
            assert_eq!(extend(storage, &tenant(), size).unwrap(), size);
            let tenant = tenant();
            let tree = IndexedTree::open(storage, &tenant).unwrap();
            for n in 1..=size {
                assert_eq!(tree.tree_head(n).unwrap(), merkle::root(&memory, n), "root of {n}");
                for m in [1, n / 3, n / 2, n - 1, n].into_iter().filter(|m| *m > 0) {
                    assert_eq!(
                        tree.consistency_proof(m, n).unwrap(),
                        merkle::consistency_proof(&memory, m, n),
                        "consistency {m} to {n}"
                    );
                }
            }
            for index in 0..size {
                assert_eq!(tree.inclusion_proof(index, size).unwrap(), merkle::inclusion_proof(&memory, index, size));
            }
            assert!(tree.tree_head(size + 1).is_err(), "nothing past the index is answered");
        }
    }

    #[test]
    fn the_index_equals_the_tree_of_the_leaves_in_memory() {
        index_matches_the_leaves(&MemoryStorage::new());
    }

    #[test]
    fn the_index_equals_the_tree_of_the_leaves_in_sled() {
        let dir = tempfile::tempdir().unwrap();
        index_matches_the_leaves(&SledStorage::open(dir.path()).unwrap());
    }

    #[test]
    fn heads_and_proofs_read_a_logarithmic_number_of_hashes() {
        let storage = MemoryStorage::new();
        let n = (1 << 17) + 12_345;
        append(&storage, 1, n);
        extend(&storage, &tenant(), n).unwrap();
        let tenant = tenant();
        let bound = 3 * u64::from(64 - n.leading_zeros());
        for (what, read) in [
            ("tree head", Box::new(|t: &IndexedTree| t.tree_head(n).map(|_| ())) as Box<dyn Fn(&IndexedTree) -> _>),
            ("inclusion", Box::new(|t: &IndexedTree| t.inclusion_proof(n - 7, n).map(|_| ()))),
            ("inclusion", Box::new(|t: &IndexedTree| t.inclusion_proof(70_000, n).map(|_| ()))),
            ("consistency", Box::new(|t: &IndexedTree| t.consistency_proof(99_999, n).map(|_| ()))),
        ] {
            let tree = IndexedTree::open(&storage, &tenant).unwrap();
            read(&tree).unwrap();
            assert!(tree.reads() <= bound, "{what}: {} reads for {n} leaves", tree.reads());
        }
    }
}

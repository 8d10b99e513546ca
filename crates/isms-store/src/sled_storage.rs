//! The sled 0.34 backend.
//!
//! Everything lives in one sled tree, in key spaces told apart by a leading tag byte, because
//! sled applies a `Batch` atomically only within one tree: one tree means one group commit is
//! one atomic write (events, stream index and idempotency records together). Variable-length
//! key parts are length-prefixed so no value can forge a boundary; integers are big-endian so
//! byte order is numeric order.
//!
//! | tag | key | value |
//! |-----|-----|-------|
//! | `E` | tenant, position | envelope JSON |
//! | `S` | tenant, stream type, stream id, version | position |
//! | `N` | tenant | empty (tenant registry) |
//! | `I` | tenant, actor, idempotency key | idempotency record JSON |
//! | `V` | tenant | verified mark JSON |
//! | `M` | tenant, level (one byte), index | Merkle subtree root, 32 bytes (derived, see `merkle_index`) |
//! | `L` | tenant | leaves the Merkle index covers (derived) |
//! | `C` | tenant, position | signed checkpoint JSON |
//!
//! The Merkle index (`M`, `L`) is derived data: it is not in the hash chain, is written without
//! its own fsync, and is rebuilt from the events when missing. Checkpoints (`C`) are not derived
//! (each carries its own signature and time) and are made durable before they are served.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::checkpoint::SignedCheckpoint;
use crate::envelope::{Envelope, IdempotencyRecord, Position, StoreError, StreamRef, TenantId, VerifiedMark};
use crate::merkle::Hash;
use crate::storage::{CommitBatch, Storage};

const EVENT: u8 = b'E';
const STREAM: u8 = b'S';
const TENANT: u8 = b'N';
const IDEMPOTENCY: u8 = b'I';
const VERIFIED: u8 = b'V';
const MERKLE_NODE: u8 = b'M';
const MERKLE_SIZE: u8 = b'L';
const CHECKPOINT: u8 = b'C';
/// The verified marks' copy outside sled (see [`SledStorage::marks_file`]).
const VERIFIED_MARKS_FILE: &str = "verified-marks.json";

pub struct SledStorage {
    db: sled::Db,
    /// Everything durability needs, behind one lock so flush and fsync run as one step.
    durability: Mutex<Durability>,
    path: PathBuf,
    /// Held across the read, change and rename of the verified-marks file: the background
    /// verifier and the final verification at stop may set marks at the same time, and a
    /// lost or interleaved update would refuse the next start.
    marks_file_lock: Mutex<()>,
}

/// sled's `flush` ends in `sync_file_range`, which does not flush the device cache, and sled
/// writes oversized log messages (pages above a quarter segment, e.g. a leaf holding several
/// large events) to files under `blobs/` without any sync. So after each flush we fsync the
/// data file and every blob file not yet synced, then the blob directory.
struct Durability {
    data_file: File,
    /// Blob files already fsynced (sled never rewrites a blob file in place).
    synced_blobs: std::collections::HashSet<std::ffi::OsString>,
    /// The first failed flush or fsync. After one, the kernel may have dropped dirty pages and
    /// cleared the error, so a later fsync that succeeds proves nothing: every later sync
    /// fails too, and the writer fails closed.
    failed: Option<String>,
}

fn io(error: impl std::fmt::Display) -> StoreError {
    StoreError::Io(error.to_string())
}

struct Key(Vec<u8>);

impl Key {
    fn new(tag: u8) -> Self {
        Self(vec![tag])
    }
    fn part(mut self, part: &str) -> Self {
        let len = u16::try_from(part.len()).unwrap_or(u16::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(&part.as_bytes()[..usize::from(len)]);
        self
    }
    fn number(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }
    fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
}

fn merkle_node_key(tenant: &TenantId, level: u8, index: u64) -> Vec<u8> {
    Key::new(MERKLE_NODE).part(tenant.as_str()).byte(level).number(index).0
}

fn stream_prefix(tenant: &TenantId, stream: &StreamRef) -> Key {
    Key::new(STREAM).part(tenant.as_str()).part(&stream.stream_type).part(&stream.stream_id)
}

fn trailing_number(key: &[u8]) -> Result<u64, StoreError> {
    let tail: [u8; 8] = key
        .get(key.len().saturating_sub(8)..)
        .and_then(|t| t.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt("key too short".into()))?;
    Ok(u64::from_be_bytes(tail))
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("undecodable {what}: {e}")))
}

impl SledStorage {
    /// Opens (or creates) the database in `dir`. Fails with [`StoreError::Locked`] when another
    /// process has it open.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io(format!("cannot create {}: {e}", dir.display())))?;
        // No background flusher: every write here is followed by an explicit flush and fsync,
        // so sled's periodic flush would only compete with the writer for the CPU.
        let config = sled::Config::new().path(dir).flush_every_ms(None);
        // After a database is dropped, sled's background work can hold its file lock a little
        // longer, so a reopen in the same process retries briefly before reporting the
        // directory as in use by someone else.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(error) if error.to_string().contains("could not acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked(dir.display().to_string()));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => return Err(io(format!("cannot open the event log in {}: {error}", dir.display()))),
            }
        };
        let data_file = File::open(dir.join("db")).map_err(io)?;
        // New files were created: make their directory entries durable too.
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        let durability = Durability { data_file, synced_blobs: Default::default(), failed: None };
        Ok(Self { db, durability: Mutex::new(durability), path: dir.to_owned(), marks_file_lock: Mutex::new(()) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another tree of the same database, for data kept beside the log but outside the hash
    /// chain (webhook subscriptions and their outbox). [`Storage::sync`] makes it durable too.
    pub fn open_tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(name).map_err(io)
    }

    /// Verified marks are also kept in a file of their own beside sled's. sled's recovery treats
    /// a checksum failure as the torn end of its log and silently drops everything after it
    /// (found by `tamper.rs`: one flipped byte in `db` left a shorter log that verified). A mark
    /// kept outside the log survives that, so the shortened chain is refused.
    fn marks_file(&self) -> PathBuf {
        self.path.join(VERIFIED_MARKS_FILE)
    }

    fn marks_outside(&self) -> Result<std::collections::BTreeMap<String, VerifiedMark>, StoreError> {
        match std::fs::read(self.marks_file()) {
            Ok(bytes) => decode("verified marks file", &bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(error) => Err(io(error)),
        }
    }

    fn write_marks_outside(&self, marks: &std::collections::BTreeMap<String, VerifiedMark>) -> Result<(), StoreError> {
        let temporary = self.path.join(format!("{VERIFIED_MARKS_FILE}.tmp"));
        let mut file = File::create(&temporary).map_err(io)?;
        std::io::Write::write_all(&mut file, &serde_json::to_vec_pretty(marks).map_err(io)?).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temporary, self.marks_file()).map_err(io)?;
        File::open(&self.path).and_then(|d| d.sync_all()).map_err(io)
    }

    fn make_durable(&self) -> Result<(), StoreError> {
        let mut durability = self.durability.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(earlier) = &durability.failed {
            return Err(io(format!("an earlier flush or fsync failed: {earlier}")));
        }
        let outcome = self.flush_and_sync(&mut durability);
        if let Err(error) = &outcome {
            durability.failed = Some(error.to_string());
        }
        outcome
    }

    fn flush_and_sync(&self, durability: &mut Durability) -> Result<(), StoreError> {
        self.db.flush().map_err(io)?;
        durability.data_file.sync_all().map_err(io)?;
        let blobs = self.path.join("blobs");
        let entries = match std::fs::read_dir(&blobs) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(io(error)),
        };
        let mut present = std::collections::HashSet::new();
        let mut synced_new = false;
        for entry in entries {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            if !durability.synced_blobs.contains(&name) {
                match File::open(entry.path()).and_then(|f| f.sync_all()) {
                    Ok(()) => synced_new = true,
                    // sled removed a blob it no longer needs: nothing left to make durable.
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(io(error)),
                }
            }
            present.insert(name);
        }
        if synced_new {
            File::open(&blobs).and_then(|d| d.sync_all()).map_err(io)?;
        }
        durability.synced_blobs = present;
        Ok(())
    }
}

impl Storage for SledStorage {
    fn write(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut write = sled::Batch::default();
        for event in &batch.events {
            let bytes = serde_json::to_vec(event).map_err(io)?;
            write.insert(Key::new(EVENT).part(event.tenant.as_str()).number(event.position).0, bytes);
            let stream = StreamRef::new(event.stream_type.clone(), event.stream_id.clone());
            write.insert(
                stream_prefix(&event.tenant, &stream).number(event.version).0,
                &event.position.to_be_bytes()[..],
            );
            if event.position == 1 {
                write.insert(Key::new(TENANT).part(event.tenant.as_str()).0, &[][..]);
            }
        }
        for (tenant, actor, record) in &batch.idempotency {
            let bytes = serde_json::to_vec(record).map_err(io)?;
            write.insert(Key::new(IDEMPOTENCY).part(tenant.as_str()).part(actor).part(&record.key).0, bytes);
        }
        self.db.apply_batch(write).map_err(io)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.make_durable()
    }

    fn abandon_unsynced(&self) {
        let mut durability = self.durability.lock().unwrap_or_else(|p| p.into_inner());
        durability.failed.get_or_insert_with(|| "the writer failed closed".to_owned());
        // sled flushes everything it holds when its last handle is dropped, which would make
        // refused commands durable on a graceful stop. Keeping one handle forever prevents
        // that; the process must be restarted anyway, and the restart reads only what was
        // synced before the failure.
        std::mem::forget(self.db.clone());
    }

    fn stream_version(&self, tenant: &TenantId, stream: &StreamRef) -> Result<u64, StoreError> {
        match self.db.scan_prefix(stream_prefix(tenant, stream).0).next_back() {
            Some(entry) => trailing_number(&entry.map_err(io)?.0),
            None => Ok(0),
        }
    }

    fn stream_positions(&self, tenant: &TenantId, stream: &StreamRef) -> Result<Vec<Position>, StoreError> {
        self.db
            .scan_prefix(stream_prefix(tenant, stream).0)
            .values()
            .map(|value| trailing_number(&value.map_err(io)?))
            .collect()
    }

    fn event(&self, tenant: &TenantId, position: Position) -> Result<Option<Envelope>, StoreError> {
        match self.db.get(Key::new(EVENT).part(tenant.as_str()).number(position).0).map_err(io)? {
            Some(bytes) => Ok(Some(decode("event", &bytes)?)),
            None => Ok(None),
        }
    }

    fn events_after(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let prefix = Key::new(EVENT).part(tenant.as_str());
        let start = Key::new(EVENT).part(tenant.as_str()).number(after.saturating_add(1)).0;
        let end = Key::new(EVENT).part(tenant.as_str()).number(Position::MAX).0;
        let mut events = Vec::with_capacity(limit.min(4096));
        for entry in self.db.range(start..=end).take(limit) {
            let (key, value) = entry.map_err(io)?;
            debug_assert!(key.starts_with(&prefix.0));
            events.push(decode("event", &value)?);
        }
        Ok(events)
    }

    fn last_event(&self, tenant: &TenantId) -> Result<Option<Envelope>, StoreError> {
        match self.db.scan_prefix(Key::new(EVENT).part(tenant.as_str()).0).next_back() {
            Some(entry) => Ok(Some(decode("event", &entry.map_err(io)?.1)?)),
            None => Ok(None),
        }
    }

    fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.db
            .scan_prefix([TENANT])
            .keys()
            .map(|key| {
                let key = key.map_err(io)?;
                let name = key.get(3..).ok_or_else(|| StoreError::Corrupt("tenant key too short".into()))?;
                TenantId::parse(&String::from_utf8_lossy(name))
            })
            .collect()
    }

    fn idempotency(&self, tenant: &TenantId, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        match self.db.get(Key::new(IDEMPOTENCY).part(tenant.as_str()).part(actor).part(key).0).map_err(io)? {
            Some(bytes) => Ok(Some(decode("idempotency record", &bytes)?)),
            None => Ok(None),
        }
    }

    fn idempotency_records(&self, tenant: &TenantId) -> Result<Vec<(String, IdempotencyRecord)>, StoreError> {
        let prefix = Key::new(IDEMPOTENCY).part(tenant.as_str()).0;
        let mut records = Vec::new();
        for entry in self.db.scan_prefix(&prefix) {
            let (key, value) = entry.map_err(io)?;
            // After the prefix: the actor, length-prefixed (see `Key::part`).
            let rest = &key[prefix.len()..];
            let length = rest.get(..2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            let actor = length
                .and_then(|length| rest.get(2..2 + length))
                .ok_or_else(|| StoreError::Corrupt("idempotency key too short".into()))?;
            records.push((String::from_utf8_lossy(actor).into_owned(), decode("idempotency record", &value)?));
        }
        Ok(records)
    }

    fn verified_mark(&self, tenant: &TenantId) -> Result<Option<VerifiedMark>, StoreError> {
        let inside = match self.db.get(Key::new(VERIFIED).part(tenant.as_str()).0).map_err(io)? {
            Some(bytes) => Some(decode::<VerifiedMark>("verified mark", &bytes)?),
            None => None,
        };
        let outside = self.marks_outside()?.remove(tenant.as_str());
        // The furthest of the two: a mark lost with a truncated log is still known outside it.
        Ok(inside.into_iter().chain(outside).max_by_key(|mark| mark.position))
    }

    fn set_verified_mark(&self, tenant: &TenantId, mark: &VerifiedMark) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(mark).map_err(io)?;
        self.db.insert(Key::new(VERIFIED).part(tenant.as_str()).0, bytes).map_err(io)?;
        self.make_durable()?;
        let _only_writer = self.marks_file_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut marks = self.marks_outside()?;
        marks.insert(tenant.as_str().to_owned(), mark.clone());
        self.write_marks_outside(&marks)
    }

    fn merkle_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        match self.db.get(Key::new(MERKLE_SIZE).part(tenant.as_str()).0).map_err(io)? {
            Some(bytes) => trailing_number(&bytes),
            None => Ok(0),
        }
    }

    fn merkle_node(&self, tenant: &TenantId, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        match self.db.get(merkle_node_key(tenant, level, index)).map_err(io)? {
            Some(bytes) => Ok(Some(
                bytes.as_ref().try_into().map_err(|_| StoreError::Corrupt("a Merkle node is not 32 bytes".into()))?,
            )),
            None => Ok(None),
        }
    }

    fn put_merkle_nodes(&self, tenant: &TenantId, nodes: &[(u8, u64, Hash)], size: u64) -> Result<(), StoreError> {
        let mut write = sled::Batch::default();
        for (level, index, hash) in nodes {
            write.insert(merkle_node_key(tenant, *level, *index), &hash[..]);
        }
        write.insert(Key::new(MERKLE_SIZE).part(tenant.as_str()).0, &size.to_be_bytes()[..]);
        self.db.apply_batch(write).map_err(io)
    }

    fn put_checkpoint(&self, tenant: &TenantId, checkpoint: &SignedCheckpoint) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(checkpoint).map_err(io)?;
        let key = Key::new(CHECKPOINT).part(tenant.as_str()).number(checkpoint.body.position).0;
        self.db.insert(key, bytes).map_err(io)?;
        self.make_durable()
    }

    fn checkpoint(&self, tenant: &TenantId, position: Position) -> Result<Option<SignedCheckpoint>, StoreError> {
        match self.db.get(Key::new(CHECKPOINT).part(tenant.as_str()).number(position).0).map_err(io)? {
            Some(bytes) => Ok(Some(decode("checkpoint", &bytes)?)),
            None => Ok(None),
        }
    }

    fn checkpoints_after(
        &self,
        tenant: &TenantId,
        after: Position,
        limit: usize,
    ) -> Result<Vec<SignedCheckpoint>, StoreError> {
        let start = Key::new(CHECKPOINT).part(tenant.as_str()).number(after.saturating_add(1)).0;
        let end = Key::new(CHECKPOINT).part(tenant.as_str()).number(Position::MAX).0;
        self.db.range(start..=end).take(limit).map(|entry| decode("checkpoint", &entry.map_err(io)?.1)).collect()
    }

    fn last_checkpoint(&self, tenant: &TenantId) -> Result<Option<SignedCheckpoint>, StoreError> {
        match self.db.scan_prefix(Key::new(CHECKPOINT).part(tenant.as_str()).0).next_back() {
            Some(entry) => Ok(Some(decode("checkpoint", &entry.map_err(io)?.1)?)),
            None => Ok(None),
        }
    }
}

//! The backup archive: every tenant's events exactly as stored (envelopes with their hashes),
//! their signed checkpoints, the public key that verifies those checkpoints, and a manifest.
//! `isms backup` (offline) and `GET /api/v1/admin/backup` (online) write it with [`write`];
//! `isms restore` checks it with [`verify`] and then writes it into an empty store with
//! [`import`].
//!
//! The archive is a gzip-compressed tar of regular files, in this order:
//!
//! | path | content |
//! |------|---------|
//! | `public-key.json` | the Ed25519 key that signed the checkpoints (as `GET /api/v1/public-key`) |
//! | `secrets/checkpoint-key`, `secrets/jwt-secret` | only when the operator asked for them (offline); never the per-person data keys of `<data-dir>/keys/` |
//! | `tenants/<tenant>/checkpoints.ndjson` | the tenant's signed checkpoints up to its backed-up head |
//! | `tenants/<tenant>/events-<first position>.ndjson` | stored envelopes, one per line, in position order, at most [`EVENTS_PER_FILE`] per file |
//! | `tenants/<tenant>/idempotency.ndjson` | the idempotency records of commands up to the head, so a retry after a restore is still a replay |
//! | `manifest.json` | format, time, per tenant the event count and chain head, the SHA-256 and size of every other file |
//!
//! A backup is consistent because the log is append-only: the head of every tenant is taken
//! first, and each tenant is then read up to that head, however much is appended meanwhile.
//! Events are split into files so that no file needs more memory than one chunk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::{envelope_hash, GENESIS_HASH};
use crate::checkpoint::{key_id, SignedCheckpoint};
use crate::envelope::{ChainHead, Envelope, IdempotencyRecord, Position, StoreError, TenantId};
use crate::storage::{CommitBatch, Storage};

pub const FORMAT: &str = "isms-backup";
pub const FORMAT_VERSION: u32 = 1;
/// Events per archive file: about 10 MB of JSON, so neither side holds more than that at once.
pub const EVENTS_PER_FILE: usize = 10_000;
pub const MANIFEST: &str = "manifest.json";
pub const PUBLIC_KEY: &str = "public-key.json";
/// Where secrets go in the archive, when they go at all.
pub const SECRETS_DIR: &str = "secrets/";

/// What the archive holds, written last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub created_at: DateTime<Utc>,
    /// The program that wrote it, e.g. `isms 0.1.0 (online)`.
    pub generator: String,
    /// The id of the key that verifies the checkpoints.
    pub public_key_id: String,
    /// Whether `secrets/` holds the server's signing secrets.
    pub includes_secrets: bool,
    pub tenants: Vec<TenantManifest>,
    pub files: Vec<FileManifest>,
}

/// One tenant's part of the backup: the positions it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantManifest {
    pub tenant: TenantId,
    /// Events backed up: positions 1 to `head_position`.
    pub events: u64,
    pub head_position: Position,
    pub head_hash: String,
    pub checkpoints: u64,
    pub idempotency_records: u64,
}

/// One line of `idempotency.ndjson`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyLine {
    pub actor: String,
    pub record: IdempotencyRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileManifest {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the archive: {0}")]
    Write(#[from] std::io::Error),
    /// The archive (or the log being backed up) is not what it claims: names the file.
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
}

fn invalid(file: impl Into<String>, reason: impl Into<String>) -> BackupError {
    BackupError::Invalid { file: file.into(), reason: reason.into() }
}

/// What to back up: the storage and, per tenant, the head to read up to (captured first).
pub struct Source<'a> {
    pub storage: &'a dyn Storage,
    pub heads: Vec<(TenantId, ChainHead)>,
}

impl<'a> Source<'a> {
    /// Every tenant's last stored event, for an offline backup (nothing else writes).
    pub fn offline(storage: &'a dyn Storage) -> Result<Self, StoreError> {
        let mut heads = Vec::new();
        for tenant in storage.tenants()? {
            if let Some(last) = storage.last_event(&tenant)? {
                let head = ChainHead { position: last.position, hash: last.hash, recorded_at: Some(last.recorded_at) };
                heads.push((tenant, head));
            }
        }
        Ok(Self { storage, heads })
    }
}

/// Secrets that may travel in the archive (offline backups only, when asked for).
pub struct Secret {
    /// The file name under `secrets/`.
    pub name: String,
    pub content: Vec<u8>,
}

struct ArchiveWriter<W: Write> {
    tar: tar::Builder<GzEncoder<W>>,
    files: Vec<FileManifest>,
    mtime: u64,
}

impl<W: Write> ArchiveWriter<W> {
    fn add(&mut self, path: String, content: &[u8], mode: u32) -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_mtime(self.mtime);
        self.tar.append_data(&mut header, &path, content)?;
        self.files.push(FileManifest {
            path,
            size: content.len() as u64,
            sha256: hex::encode(Sha256::digest(content)),
        });
        Ok(())
    }
}

/// Writes the archive of `source` to `out`, checking each tenant's hash chain on the way (a
/// backup of a broken log is refused, naming the tenant and position). Returns the manifest.
pub fn write<W: Write>(
    source: &Source<'_>,
    public_key: &VerifyingKey,
    secrets: &[Secret],
    generator: &str,
    out: W,
) -> Result<Manifest, BackupError> {
    let created_at = Utc::now();
    let mut archive = ArchiveWriter {
        tar: tar::Builder::new(GzEncoder::new(out, Compression::fast())),
        files: Vec::new(),
        mtime: u64::try_from(created_at.timestamp()).unwrap_or(0),
    };
    let key_document = serde_json::json!({
        "key_id": key_id(public_key),
        "algorithm": "Ed25519",
        "public_key": crate::proofs::public_key_base64(public_key),
        "public_key_pem": crate::proofs::public_key_pem(public_key),
    });
    archive.add(PUBLIC_KEY.into(), &to_json_line(&key_document), 0o644)?;
    for secret in secrets {
        archive.add(format!("{SECRETS_DIR}{}", secret.name), &secret.content, 0o600)?;
    }
    let mut tenants = Vec::new();
    for (tenant, head) in &source.heads {
        let checkpoints = checkpoints_up_to(source.storage, tenant, head.position)?;
        let checkpoints = add_lines(&mut archive, format!("tenants/{tenant}/checkpoints.ndjson"), &checkpoints)?;
        write_events(source.storage, tenant, head, &mut archive)?;
        let records = idempotency_up_to(source.storage, tenant, head.position)?;
        let idempotency_records = add_lines(&mut archive, format!("tenants/{tenant}/idempotency.ndjson"), &records)?;
        tenants.push(TenantManifest {
            tenant: tenant.clone(),
            events: head.position,
            head_position: head.position,
            head_hash: head.hash.clone(),
            checkpoints,
            idempotency_records,
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        created_at,
        generator: generator.into(),
        public_key_id: key_id(public_key),
        includes_secrets: !secrets.is_empty(),
        tenants,
        files: std::mem::take(&mut archive.files),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    archive.add(MANIFEST.into(), &manifest_bytes, 0o644)?;
    archive.tar.into_inner()?.finish()?.flush()?;
    Ok(manifest)
}

fn to_json_line(value: &impl Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).expect("stored values serialize");
    line.push(b'\n');
    line
}

/// The tenant's checkpoints up to `head`.
fn checkpoints_up_to(
    storage: &dyn Storage,
    tenant: &TenantId,
    head: Position,
) -> Result<Vec<SignedCheckpoint>, StoreError> {
    let mut checkpoints = Vec::new();
    let mut after = 0;
    while after < head {
        let page = storage.checkpoints_after(tenant, after, 1024)?;
        let Some(last) = page.last() else { break };
        after = last.body.position;
        checkpoints.extend(page.into_iter().filter(|c| c.body.position <= head));
    }
    Ok(checkpoints)
}

/// The records of commands up to `head` (later ones belong to events the backup does not hold).
fn idempotency_up_to(
    storage: &dyn Storage,
    tenant: &TenantId,
    head: Position,
) -> Result<Vec<IdempotencyLine>, StoreError> {
    let records = storage.idempotency_records(tenant)?.into_iter().filter(|(_, record)| record.position <= head);
    Ok(records.map(|(actor, record)| IdempotencyLine { actor, record }).collect())
}

/// Writes `items` as one JSON document per line; returns how many.
fn add_lines<W: Write>(archive: &mut ArchiveWriter<W>, path: String, items: &[impl Serialize]) -> std::io::Result<u64> {
    let content: Vec<u8> = items.iter().flat_map(to_json_line).collect();
    archive.add(path, &content, 0o644)?;
    Ok(items.len() as u64)
}

fn write_events<W: Write>(
    storage: &dyn Storage,
    tenant: &TenantId,
    head: &ChainHead,
    archive: &mut ArchiveWriter<W>,
) -> Result<(), BackupError> {
    let mut chain = ChainCheck::new(tenant.clone());
    let origin = format!("the event log of tenant '{tenant}'");
    while chain.position < head.position {
        let first = chain.position + 1;
        let mut content = Vec::new();
        let mut in_file = 0;
        while in_file < EVENTS_PER_FILE && chain.position < head.position {
            let limit = crate::READ_CHUNK.min(EVENTS_PER_FILE - in_file);
            let limit = limit.min(usize::try_from(head.position - chain.position).unwrap_or(usize::MAX));
            let events = storage.events_after(tenant, chain.position, limit)?;
            if events.is_empty() {
                return Err(invalid(&origin, format!("ends at position {} before {}", chain.position, head.position)));
            }
            for event in &events {
                chain.check(event).map_err(|reason| invalid(&origin, reason))?;
                content.extend(to_json_line(event));
            }
            in_file += events.len();
        }
        archive.add(events_file(tenant, first), &content, 0o644)?;
    }
    if chain.hash != head.hash {
        return Err(invalid(
            &origin,
            format!("the event at the head position {} changed while reading", head.position),
        ));
    }
    Ok(())
}

fn events_file(tenant: &TenantId, first: Position) -> String {
    format!("tenants/{tenant}/events-{first:012}.ndjson")
}

/// Follows one tenant's chain event by event.
struct ChainCheck {
    tenant: TenantId,
    position: Position,
    hash: String,
}

impl ChainCheck {
    fn new(tenant: TenantId) -> Self {
        Self { tenant, position: 0, hash: GENESIS_HASH.to_owned() }
    }

    fn check(&mut self, event: &Envelope) -> Result<(), String> {
        let expected = self.position + 1;
        if event.tenant != self.tenant {
            return Err(format!("position {expected} belongs to tenant '{}'", event.tenant));
        }
        if event.position != expected {
            return Err(format!("expected position {expected}, found {}", event.position));
        }
        if event.prev_hash != self.hash {
            return Err(format!("position {expected}: prev_hash does not link to the previous event"));
        }
        if envelope_hash(event) != event.hash {
            return Err(format!("position {expected}: the hash does not match the event's content"));
        }
        self.position = expected;
        self.hash.clone_from(&event.hash);
        Ok(())
    }
}

/// One file of the archive, as read.
struct Entry {
    path: String,
    content: Vec<u8>,
}

/// What an archive path is.
enum Kind {
    Manifest,
    PublicKey,
    Secret(String),
    Checkpoints(TenantId),
    Events(TenantId),
    Idempotency(TenantId),
}

fn classify(path: &str) -> Option<Kind> {
    match path {
        MANIFEST => return Some(Kind::Manifest),
        PUBLIC_KEY => return Some(Kind::PublicKey),
        _ => {}
    }
    if let Some(name) = path.strip_prefix(SECRETS_DIR) {
        return ["checkpoint-key", "jwt-secret"].contains(&name).then(|| Kind::Secret(name.to_owned()));
    }
    let (tenant, file) = path.strip_prefix("tenants/")?.split_once('/')?;
    let tenant = TenantId::parse(tenant).ok()?;
    match file {
        "checkpoints.ndjson" => return Some(Kind::Checkpoints(tenant)),
        "idempotency.ndjson" => return Some(Kind::Idempotency(tenant)),
        _ => {}
    }
    let digits = file.strip_prefix("events-")?.strip_suffix(".ndjson")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Kind::Events(tenant))
}

/// Calls `visit` with every file of the archive, in order.
fn for_each_entry(
    archive: impl Read,
    mut visit: impl FnMut(Entry) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let unreadable = |reason: String| invalid("the archive", reason);
    let entries = tar.entries().map_err(|e| unreadable(format!("not a tar.gz archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(format!("damaged or truncated: {e}")))?;
        let path = entry.path().map_err(|e| unreadable(format!("an entry has an unreadable path: {e}")))?;
        let path = path.to_str().ok_or_else(|| unreadable("an entry's path is not UTF-8".into()))?.to_owned();
        if !entry.header().entry_type().is_file() {
            return Err(invalid(path, "is not a regular file"));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(|e| invalid(&path, format!("cannot be read: {e}")))?;
        visit(Entry { path, content })?;
    }
    Ok(())
}

fn lines<'a, T: serde::de::DeserializeOwned>(entry: &'a Entry) -> impl Iterator<Item = Result<T, BackupError>> + 'a {
    entry.content.split(|b| *b == b'\n').filter(|line| !line.is_empty()).enumerate().map(|(index, line)| {
        serde_json::from_slice(line).map_err(|e| invalid(&entry.path, format!("line {}: {e}", index + 1)))
    })
}

/// Per tenant while verifying: the chain so far and the checkpoints waiting for their event.
struct TenantCheck {
    chain: ChainCheck,
    /// Checkpoint position → the chain head it states, until the events reach it.
    pending: BTreeMap<Position, String>,
    checkpoints: u64,
    checkpoints_file: String,
    idempotency_records: u64,
}

/// Checks the whole archive without writing anything: every file's SHA-256 and size against
/// the manifest, nothing missing or extra, every tenant's hash chain from position 1 to the
/// manifest's head, every checkpoint's signature (with the archive's public key, or `trusted`
/// when given) and that each checkpoint's chain head is the hash of the event at its position.
pub fn verify(archive: impl Read, trusted: Option<&VerifyingKey>) -> Result<Manifest, BackupError> {
    let mut seen: BTreeMap<String, FileManifest> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let mut key: Option<VerifyingKey> = trusted.copied();
    let mut tenants: BTreeMap<TenantId, TenantCheck> = BTreeMap::new();
    for_each_entry(archive, |entry| {
        let Some(kind) = classify(&entry.path) else {
            return Err(invalid(&entry.path, "is not a file a backup contains"));
        };
        if seen.contains_key(&entry.path) || (manifest.is_some()) {
            return Err(invalid(&entry.path, "appears twice or after the manifest"));
        }
        if !matches!(kind, Kind::Manifest) {
            let record = FileManifest {
                path: entry.path.clone(),
                size: entry.content.len() as u64,
                sha256: hex::encode(Sha256::digest(&entry.content)),
            };
            seen.insert(entry.path.clone(), record);
        }
        match kind {
            Kind::Manifest => {
                let parsed: Manifest = serde_json::from_slice(&entry.content)
                    .map_err(|e| invalid(MANIFEST, format!("unreadable: {e}")))?;
                manifest = Some(parsed);
            }
            Kind::PublicKey => {
                let text = String::from_utf8_lossy(&entry.content);
                let archived = crate::proofs::parse_public_key(&text).map_err(|e| invalid(PUBLIC_KEY, e))?;
                key.get_or_insert(archived);
            }
            Kind::Secret(_) => {}
            Kind::Checkpoints(tenant) => {
                let key = key.as_ref().ok_or_else(|| invalid(&entry.path, format!("comes before {PUBLIC_KEY}")))?;
                let state = tenants.entry(tenant.clone()).or_insert_with(|| TenantCheck {
                    chain: ChainCheck::new(tenant.clone()),
                    pending: BTreeMap::new(),
                    checkpoints: 0,
                    checkpoints_file: entry.path.clone(),
                    idempotency_records: 0,
                });
                for checkpoint in lines::<SignedCheckpoint>(&entry) {
                    let checkpoint = checkpoint?;
                    let at = checkpoint.body.position;
                    checkpoint
                        .verify(key)
                        .map_err(|e| invalid(&entry.path, format!("checkpoint at position {at}: {e}")))?;
                    if checkpoint.body.tenant != tenant.as_str() {
                        return Err(invalid(&entry.path, format!("checkpoint at position {at} is of another tenant")));
                    }
                    state.pending.insert(at, checkpoint.body.chain_head);
                    state.checkpoints += 1;
                }
            }
            Kind::Events(tenant) => {
                let state = tenants
                    .get_mut(&tenant)
                    .ok_or_else(|| invalid(&entry.path, "comes before the tenant's checkpoints.ndjson"))?;
                for event in lines::<Envelope>(&entry) {
                    let event = event?;
                    state.chain.check(&event).map_err(|reason| invalid(&entry.path, reason))?;
                    if let Some(stated) = state.pending.remove(&event.position) {
                        if stated != event.hash {
                            return Err(invalid(
                                &state.checkpoints_file,
                                format!("the checkpoint at position {} states another chain head", event.position),
                            ));
                        }
                    }
                }
            }
            Kind::Idempotency(tenant) => {
                let state = tenants
                    .get_mut(&tenant)
                    .ok_or_else(|| invalid(&entry.path, "comes before the tenant's checkpoints.ndjson"))?;
                for line in lines::<IdempotencyLine>(&entry) {
                    let line = line?;
                    if line.record.position == 0 || line.record.position > state.chain.position {
                        return Err(invalid(
                            &entry.path,
                            format!(
                                "key '{}' names position {}, after the tenant's events",
                                line.record.key, line.record.position
                            ),
                        ));
                    }
                    state.idempotency_records += 1;
                }
            }
        }
        Ok(())
    })?;
    let manifest = manifest.ok_or_else(|| invalid(MANIFEST, "is missing: the archive is incomplete"))?;
    if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
        return Err(invalid(
            MANIFEST,
            format!("format {} {} is not {FORMAT} {FORMAT_VERSION}", manifest.format, manifest.format_version),
        ));
    }
    check_files(&manifest, &seen)?;
    check_tenants(&manifest, &tenants)?;
    if let Some(key) = trusted {
        if manifest.public_key_id != key_id(key) {
            return Err(invalid(PUBLIC_KEY, "the backup's key is not the trusted key"));
        }
    }
    Ok(manifest)
}

fn check_files(manifest: &Manifest, seen: &BTreeMap<String, FileManifest>) -> Result<(), BackupError> {
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for file in &manifest.files {
        match seen.get(&file.path) {
            None => return Err(invalid(&file.path, "is listed in the manifest but missing from the archive")),
            Some(found) if found.sha256 != file.sha256 || found.size != file.size => {
                return Err(invalid(
                    &file.path,
                    format!(
                        "SHA-256 {} ({} bytes) differs from the manifest's {} ({} bytes)",
                        found.sha256, found.size, file.sha256, file.size
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    match seen.keys().find(|path| !listed.contains(path.as_str())) {
        Some(extra) => Err(invalid(extra, "is in the archive but not in the manifest")),
        None => Ok(()),
    }
}

fn check_tenants(manifest: &Manifest, tenants: &BTreeMap<TenantId, TenantCheck>) -> Result<(), BackupError> {
    for expected in &manifest.tenants {
        let found = tenants
            .get(&expected.tenant)
            .ok_or_else(|| invalid(format!("tenants/{}/", expected.tenant), "is listed in the manifest but missing"))?;
        let file = format!("tenants/{}/", expected.tenant);
        if found.chain.position != expected.head_position || found.chain.position != expected.events {
            return Err(invalid(
                file,
                format!(
                    "holds events up to position {}, the manifest says {}",
                    found.chain.position, expected.head_position
                ),
            ));
        }
        if found.chain.hash != expected.head_hash {
            return Err(invalid(file, "the chain head differs from the manifest's"));
        }
        if found.checkpoints != expected.checkpoints {
            return Err(invalid(&found.checkpoints_file, "holds another number of checkpoints than the manifest"));
        }
        if found.idempotency_records != expected.idempotency_records {
            return Err(invalid(
                format!("tenants/{}/idempotency.ndjson", expected.tenant),
                "holds another number of records than the manifest",
            ));
        }
        if let Some(beyond) = found.pending.keys().next() {
            return Err(invalid(&found.checkpoints_file, format!("a checkpoint at position {beyond} has no event")));
        }
    }
    let listed: BTreeSet<&TenantId> = manifest.tenants.iter().map(|t| &t.tenant).collect();
    match tenants.keys().find(|tenant| !listed.contains(tenant)) {
        Some(extra) => Err(invalid(format!("tenants/{extra}/"), "is in the archive but not in the manifest")),
        None => Ok(()),
    }
}

/// Writes a verified archive's events and checkpoints into `storage`, which must be empty,
/// verbatim: the same positions, hashes and times. Returns the secrets the archive carries.
/// Call [`verify`] on the same archive first: this trusts what it reads.
pub fn import(archive: impl Read, storage: &dyn Storage) -> Result<Vec<Secret>, BackupError> {
    if !storage.tenants()?.is_empty() {
        return Err(StoreError::InvalidInput("restore needs an empty event log".into()).into());
    }
    let mut secrets = Vec::new();
    let mut checkpoints = Vec::new();
    for_each_entry(archive, |entry| {
        match classify(&entry.path) {
            Some(Kind::Events(_)) => {
                let mut batch = CommitBatch::default();
                for event in lines::<Envelope>(&entry) {
                    batch.events.push(event?);
                    if batch.events.len() == crate::READ_CHUNK * 4 {
                        storage.write(&std::mem::take(&mut batch))?;
                    }
                }
                if !batch.events.is_empty() {
                    storage.write(&batch)?;
                }
            }
            Some(Kind::Checkpoints(tenant)) => {
                for checkpoint in lines::<SignedCheckpoint>(&entry) {
                    checkpoints.push((tenant.clone(), checkpoint?));
                }
            }
            Some(Kind::Idempotency(tenant)) => {
                let mut batch = CommitBatch::default();
                for line in lines::<IdempotencyLine>(&entry) {
                    let line = line?;
                    batch.idempotency.push((tenant.clone(), line.actor, line.record));
                }
                storage.write(&batch)?;
            }
            Some(Kind::Secret(name)) => secrets.push(Secret { name, content: entry.content }),
            _ => {}
        }
        Ok(())
    })?;
    storage.sync()?;
    // After the events, so no checkpoint is durable before the events it covers.
    for (tenant, checkpoint) in &checkpoints {
        storage.put_checkpoint(tenant, checkpoint)?;
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::{
        AppendRequest, CommandMeta, CommitListener, EventStore, ExpectedVersion, GroupCommitStore, IdempotencyClaim,
        MemoryStorage, NewEvent, StreamRef, WriterConfig,
    };

    struct Nobody;
    impl CommitListener for Nobody {
        fn committed(&self, _: &[Envelope]) {}
    }

    fn store_with(tenants: &[(&str, usize)]) -> Arc<GroupCommitStore> {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
        let store = Arc::new(GroupCommitStore::start(storage, Arc::new(Nobody), WriterConfig::default()).unwrap());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for (tenant, count) in tenants {
            for n in 0..*count {
                let request = AppendRequest {
                    tenant: TenantId::parse(tenant).unwrap(),
                    stream: StreamRef::new("thing", format!("{n}")),
                    expected: ExpectedVersion::Any,
                    events: vec![NewEvent {
                        event_type: "ThingHappened".into(),
                        schema_version: 1,
                        data: serde_json::json!({"n": n}),
                        effective_at: None,
                    }],
                    meta: CommandMeta {
                        actor: "alice".into(),
                        correlation_id: uuid::Uuid::now_v7(),
                        causation_id: None,
                        idempotency: (n == 0).then(|| IdempotencyClaim {
                            key: "first".into(),
                            fingerprint: "f".into(),
                            status: 201,
                        }),
                        source: None,
                    },
                };
                runtime.block_on(store.append(request)).unwrap();
            }
        }
        store
    }

    fn backup_of(store: &GroupCommitStore, key: &SigningKey) -> Vec<u8> {
        let source = Source::offline(store.storage().as_ref()).unwrap();
        let mut out = Vec::new();
        write(&source, &key.verifying_key(), &[], "test", &mut out).unwrap();
        out
    }

    #[test]
    fn an_archive_verifies_and_imports_verbatim() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let store = store_with(&[("acme", 5), ("globex", 2)]);
        let archive = backup_of(&store, &key);
        let manifest = verify(archive.as_slice(), None).unwrap();
        assert_eq!(manifest.tenants.iter().map(|t| t.events).collect::<Vec<_>>(), vec![5, 2]);
        let target = MemoryStorage::default();
        import(archive.as_slice(), &target).unwrap();
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(target.events_after(&acme, 0, 100).unwrap(), store.storage().events_after(&acme, 0, 100).unwrap());
    }

    #[test]
    fn a_changed_file_is_named() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let archive = backup_of(&store_with(&[("acme", 3)]), &key);
        let mut files = Vec::new();
        for_each_entry(archive.as_slice(), |entry| {
            files.push(entry);
            Ok(())
        })
        .unwrap();
        let events = files.iter_mut().find(|f| f.path.contains("events-")).unwrap();
        events.content = String::from_utf8(events.content.clone()).unwrap().replace("\"n\":1", "\"n\":7").into_bytes();
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
        for file in &files {
            let mut header = tar::Header::new_gnu();
            header.set_size(file.content.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, &file.path, file.content.as_slice()).unwrap();
        }
        let tampered = tar.into_inner().unwrap().finish().unwrap();
        let error = verify(tampered.as_slice(), None).unwrap_err().to_string();
        assert!(error.starts_with("tenants/acme/events-000000000001.ndjson: position 2"), "{error}");
    }
}

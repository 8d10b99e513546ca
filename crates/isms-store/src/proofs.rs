//! Signed checkpoints of each tenant's log and the Merkle proofs between them: the service the
//! API serves them from, the automatic checkpoints, the proof documents, and their offline
//! verification (what `isms verify-proof` runs).
//!
//! A checkpoint is only ever taken at the tenant's durable head, and at most one exists per
//! position: asking again before the log grew returns the existing one, so what an auditor
//! stored is exactly what the server keeps.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{hex_hash, CheckpointBody, CheckpointError, SignedCheckpoint};
use crate::envelope::{Position, StoreError, TenantId};
use crate::merkle::{self, Hash};
use crate::merkle_index::{self, IndexedTree};
use crate::storage::Storage;
use crate::EventStore;

/// When checkpoints are taken without being asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// When at least this many events were added since the tenant's last checkpoint (0 = never).
    pub every_events: u64,
    /// When the log grew and this long has passed since the last checkpoint (zero = never).
    pub interval: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self { every_events: 10_000, interval: Duration::from_secs(3600) }
    }
}

/// How often the automatic checkpointer looks at the heads.
const POLL: Duration = Duration::from_secs(1);

/// The audit path of one event in the tree of one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub tenant: String,
    /// The event's position (leaf `position - 1`).
    pub position: Position,
    /// The checkpoint's position: the tree has this many leaves.
    pub checkpoint: Position,
    /// The event's `hash`.
    pub event_hash: String,
    /// `SHA-256(0x00 || event hash bytes)`, the leaf.
    pub leaf_hash: String,
    /// The checkpoint's Merkle root.
    pub merkle_root: String,
    /// Sibling hashes from the leaf up (RFC 6962 2.1.1), hex.
    pub proof: Vec<String>,
}

/// The proof that the log at checkpoint `to` extends the log at checkpoint `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub tenant: String,
    pub from: Position,
    pub to: Position,
    pub from_root: String,
    pub to_root: String,
    /// RFC 6962 2.1.2 consistency proof, hex; empty when `from == to`.
    pub proof: Vec<String>,
}

/// A checkpoint: signed just now, or the one already signed at the durable head.
#[derive(Debug, Clone)]
pub struct Taken {
    pub checkpoint: SignedCheckpoint,
    pub created: bool,
}

/// Checkpoints and proofs over one store.
pub struct Checkpoints {
    store: Arc<dyn EventStore>,
    storage: Arc<dyn Storage>,
    key: SigningKey,
    /// Extending the Merkle index and signing checkpoints happen one at a time, so two callers
    /// neither index the same events twice nor sign two checkpoints for one position.
    writing: Mutex<()>,
}

impl Checkpoints {
    /// `store` gives the durable heads; `storage` is the backend under it.
    pub fn new(store: Arc<dyn EventStore>, storage: Arc<dyn Storage>, key: SigningKey) -> Self {
        Self { store, storage, key, writing: Mutex::new(()) }
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs a checkpoint at the tenant's durable head, or returns the latest one if it is there
    /// already. `None` when the tenant has no events.
    pub fn take(&self, tenant: &TenantId) -> Result<Option<Taken>, StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.store.head(tenant)?;
        if head.position == 0 {
            return Ok(None);
        }
        if let Some(latest) = self.storage.last_checkpoint(tenant)? {
            if latest.body.position >= head.position {
                return Ok(Some(Taken { checkpoint: latest, created: false }));
            }
        }
        merkle_index::extend(self.storage.as_ref(), tenant, head.position)?;
        let root = IndexedTree::open(self.storage.as_ref(), tenant)?.tree_head(head.position)?;
        let body = CheckpointBody {
            tenant: tenant.to_string(),
            position: head.position,
            chain_head: head.hash,
            merkle_root: hex_hash(&root),
            recorded_at: Utc::now().trunc_subsecs(6),
        };
        let checkpoint = body.sign(&self.key);
        self.storage.put_checkpoint(tenant, &checkpoint)?;
        tracing::info!(tenant = %tenant, position = checkpoint.body.position, "signed a checkpoint");
        Ok(Some(Taken { checkpoint, created: true }))
    }

    pub fn get(&self, tenant: &TenantId, position: Position) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.storage.checkpoint(tenant, position)
    }

    pub fn latest(&self, tenant: &TenantId) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.storage.last_checkpoint(tenant)
    }

    /// Up to `limit` checkpoints after position `after`, oldest first.
    pub fn list(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<SignedCheckpoint>, StoreError> {
        self.storage.checkpoints_after(tenant, after, limit)
    }

    /// The audit path of the event at `position` (1 to the checkpoint's position).
    pub fn inclusion(&self, checkpoint: &SignedCheckpoint, position: Position) -> Result<InclusionProof, StoreError> {
        let size = checkpoint.body.position;
        if position == 0 || position > size {
            return Err(StoreError::InvalidInput(format!("position {position} is not in 1..={size}")));
        }
        let tenant = TenantId::parse(&checkpoint.body.tenant)?;
        self.ensure_indexed(&tenant, size)?;
        let event = self
            .storage
            .event(&tenant, position)?
            .ok_or_else(|| StoreError::Corrupt(format!("position {position} is missing")))?;
        let tree = IndexedTree::open(self.storage.as_ref(), &tenant)?;
        let proof = tree.inclusion_proof(position - 1, size)?;
        Ok(InclusionProof {
            tenant: tenant.to_string(),
            position,
            checkpoint: size,
            leaf_hash: hex_hash(&merkle_index::event_leaf(&event)?),
            event_hash: event.hash,
            merkle_root: checkpoint.body.merkle_root.clone(),
            proof: proof.iter().map(hex_hash).collect(),
        })
    }

    /// The consistency proof from checkpoint `from` to the later (or same) checkpoint `to`.
    pub fn consistency(&self, from: &SignedCheckpoint, to: &SignedCheckpoint) -> Result<ConsistencyProof, StoreError> {
        let (m, n) = (from.body.position, to.body.position);
        if from.body.tenant != to.body.tenant || m > n {
            return Err(StoreError::InvalidInput(format!("no consistency proof from position {m} to {n}")));
        }
        let tenant = TenantId::parse(&to.body.tenant)?;
        self.ensure_indexed(&tenant, n)?;
        let proof = IndexedTree::open(self.storage.as_ref(), &tenant)?.consistency_proof(m, n)?;
        Ok(ConsistencyProof {
            tenant: tenant.to_string(),
            from: m,
            to: n,
            from_root: from.body.merkle_root.clone(),
            to_root: to.body.merkle_root.clone(),
            proof: proof.iter().map(hex_hash).collect(),
        })
    }

    /// Checkpoints were taken after indexing, but the index is derived and may have been lost.
    fn ensure_indexed(&self, tenant: &TenantId, size: u64) -> Result<(), StoreError> {
        if self.storage.merkle_size(tenant)? >= size {
            return Ok(());
        }
        let _writing = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        merkle_index::extend(self.storage.as_ref(), tenant, size).map(|_| ())
    }

    /// Takes the checkpoints `policy` asks for now; `started` stands in for the time of the last
    /// checkpoint of a tenant that has none. Returns how many were signed.
    pub fn take_due(&self, policy: &CheckpointPolicy, started: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut signed = 0;
        for tenant in self.store.tenants()? {
            let head = self.store.head(&tenant)?.position;
            let latest = self.storage.last_checkpoint(&tenant)?;
            let (position, since) = latest.map_or((0, started), |c| (c.body.position, c.body.recorded_at));
            if head <= position {
                continue;
            }
            let by_count = policy.every_events > 0 && head - position >= policy.every_events;
            let by_time = !policy.interval.is_zero()
                && (Utc::now() - since).to_std().is_ok_and(|elapsed| elapsed >= policy.interval);
            if by_count || by_time {
                match self.take(&tenant) {
                    Ok(taken) => signed += usize::from(taken.is_some_and(|t| t.created)),
                    Err(error) => tracing::error!(tenant = %tenant, %error, "automatic checkpoint failed"),
                }
            }
        }
        Ok(signed)
    }
}

/// Takes automatic checkpoints until the service is dropped. Holds it weakly, so the store can
/// close when the server stops.
pub fn spawn_automatic_checkpoints(service: Weak<Checkpoints>, policy: CheckpointPolicy) {
    if policy.every_events == 0 && policy.interval.is_zero() {
        return;
    }
    let started = Utc::now();
    let spawned = std::thread::Builder::new().name("isms-checkpointer".into()).spawn(move || loop {
        std::thread::sleep(POLL);
        let Some(service) = service.upgrade() else { return };
        if let Err(error) = service.take_due(&policy, started) {
            tracing::error!(%error, "automatic checkpoints failed");
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the automatic checkpoints; checkpoints are taken on request only");
    }
}

// The public key, as served and as read back by verifiers.

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the key's 32 bytes follow.
const SPKI_ED25519_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Base64 (standard, padded) of the 32-byte public key.
pub fn public_key_base64(key: &VerifyingKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

/// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as OpenSSL writes it.
pub fn public_key_pem(key: &VerifyingKey) -> String {
    let der = [&SPKI_ED25519_PREFIX[..], key.as_bytes()].concat();
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
}

/// Reads a public key from what `GET /api/v1/public-key` serves: the whole JSON answer, its PEM
/// (SubjectPublicKeyInfo), or the base64 of the 32 raw bytes.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let text = text.trim();
    if text.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let inner = json["public_key_pem"]
            .as_str()
            .or_else(|| json["public_key"].as_str())
            .ok_or("the JSON has neither `public_key_pem` nor `public_key`")?;
        return parse_public_key(inner);
    }
    let encoded: String = match text.strip_prefix("-----BEGIN PUBLIC KEY-----") {
        Some(rest) => rest
            .split("-----END PUBLIC KEY-----")
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
        None => text.to_owned(),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&encoded)
        .map_err(|_| "neither a PEM public key nor base64".to_owned())?;
    let raw = match bytes.strip_prefix(&SPKI_ED25519_PREFIX[..]) {
        Some(raw) => raw,
        None if bytes.len() == 32 => &bytes[..],
        None => return Err("not an Ed25519 public key (expected 32 bytes or an Ed25519 SubjectPublicKeyInfo)".into()),
    };
    let raw: [u8; 32] = raw.try_into().map_err(|_| "an Ed25519 public key has 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&raw).map_err(|_| "not a valid Ed25519 public key".to_owned())
}

// Offline verification of the documents.

/// Why a checkpoint or proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("bad signature on the {which} checkpoint: {error}")]
    Signature { which: &'static str, error: CheckpointError },
    #[error("the checkpoints and the proof are of different tenants: {0}")]
    TenantMismatch(String),
    #[error("sizes inconsistent: {0}")]
    Sizes(String),
    #[error("malformed proof: {0}")]
    Malformed(String),
    #[error("the consistency proof does not match: {0}")]
    Consistency(String),
    #[error("the inclusion proof does not match: {0}")]
    Inclusion(String),
}

/// Checks a checkpoint's signature; `which` names it in the error ("old", "new").
pub fn verify_signature(
    which: &'static str,
    checkpoint: &SignedCheckpoint,
    key: &VerifyingKey,
) -> Result<(), ProofError> {
    checkpoint.verify(key).map_err(|error| ProofError::Signature { which, error })
}

fn decode_hash(what: &str, text: &str) -> Result<Hash, ProofError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| Hash::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| ProofError::Malformed(format!("{what} is not 64 hex digits: '{text}'")))
}

fn decode_path(proof: &[String]) -> Result<Vec<Hash>, ProofError> {
    proof.iter().enumerate().map(|(i, hash)| decode_hash(&format!("proof hash {i}"), hash)).collect()
}

/// Checks that `proof` shows the log at checkpoint `new` extending the log at checkpoint `old`.
/// The signatures are checked separately ([`verify_signature`]).
pub fn verify_consistency(
    old: &SignedCheckpoint,
    new: &SignedCheckpoint,
    proof: &ConsistencyProof,
) -> Result<(), ProofError> {
    let (old, new) = (&old.body, &new.body);
    if old.tenant != new.tenant || proof.tenant != new.tenant {
        return Err(ProofError::TenantMismatch(format!(
            "old checkpoint '{}', new checkpoint '{}', proof '{}'",
            old.tenant, new.tenant, proof.tenant
        )));
    }
    if old.position > new.position {
        return Err(ProofError::Sizes(format!(
            "the old checkpoint is at position {}, after the new one at {}",
            old.position, new.position
        )));
    }
    if (proof.from, proof.to) != (old.position, new.position) {
        return Err(ProofError::Sizes(format!(
            "the proof is from position {} to {}, the checkpoints are at {} and {}",
            proof.from, proof.to, old.position, new.position
        )));
    }
    let old_root = decode_hash("the old checkpoint's merkle_root", &old.merkle_root)?;
    let new_root = decode_hash("the new checkpoint's merkle_root", &new.merkle_root)?;
    if proof.from_root != old.merkle_root || proof.to_root != new.merkle_root {
        return Err(ProofError::Consistency(
            "the proof names other Merkle roots than the checkpoints (from_root / to_root)".into(),
        ));
    }
    if old.position == new.position && old.chain_head != new.chain_head {
        return Err(ProofError::Consistency(format!(
            "both checkpoints are at position {} but name different chain heads",
            old.position
        )));
    }
    let path = decode_path(&proof.proof)?;
    if !merkle::verify_consistency(old.position, new.position, &path, &old_root, &new_root) {
        return Err(ProofError::Consistency(format!(
            "the tree of {} events with root {} is not a prefix of the tree of {} events with root {}",
            old.position, old.merkle_root, new.position, new.merkle_root
        )));
    }
    Ok(())
}

/// Checks that `proof` shows its event in the log at `checkpoint`.
pub fn verify_inclusion(checkpoint: &SignedCheckpoint, proof: &InclusionProof) -> Result<(), ProofError> {
    let body = &checkpoint.body;
    if proof.tenant != body.tenant {
        return Err(ProofError::TenantMismatch(format!("checkpoint '{}', proof '{}'", body.tenant, proof.tenant)));
    }
    if proof.checkpoint != body.position || proof.position == 0 || proof.position > body.position {
        return Err(ProofError::Sizes(format!(
            "the proof is of position {} in a tree of {} events, the checkpoint is at {}",
            proof.position, proof.checkpoint, body.position
        )));
    }
    let event_hash = hex::decode(&proof.event_hash)
        .map_err(|_| ProofError::Malformed(format!("event_hash is not hex: '{}'", proof.event_hash)))?;
    let leaf = merkle::leaf_hash(&event_hash);
    if hex_hash(&leaf) != proof.leaf_hash {
        return Err(ProofError::Inclusion(format!("leaf_hash is not the leaf of event_hash {}", proof.event_hash)));
    }
    let root = decode_hash("the checkpoint's merkle_root", &body.merkle_root)?;
    if proof.merkle_root != body.merkle_root {
        return Err(ProofError::Inclusion("the proof names another Merkle root than the checkpoint".into()));
    }
    let path = decode_path(&proof.proof)?;
    if !merkle::verify_inclusion(&leaf, proof.position - 1, body.position, &path, &root) {
        return Err(ProofError::Inclusion(format!(
            "event {} with hash {} is not at position {} of the tree with root {}",
            proof.position, proof.event_hash, proof.position, body.merkle_root
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppendRequest, CommandMeta, ExpectedVersion, GroupCommitStore, MemoryStorage, NewEvent, StreamRef};

    struct Nothing;
    impl crate::CommitListener for Nothing {
        fn committed(&self, _: &[crate::Envelope]) {}
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    async fn append(store: &GroupCommitStore, count: usize) {
        let request = AppendRequest {
            tenant: acme(),
            stream: StreamRef::new("risk", uuid::Uuid::now_v7().to_string()),
            expected: ExpectedVersion::NoStream,
            events: (0..count)
                .map(|n| NewEvent {
                    event_type: "RiskIdentified".into(),
                    schema_version: 1,
                    data: serde_json::json!(n),
                    effective_at: None,
                })
                .collect(),
            meta: CommandMeta {
                actor: "alice".into(),
                correlation_id: uuid::Uuid::now_v7(),
                causation_id: None,
                source: None,
                idempotency: None,
            },
        };
        store.append(request).await.unwrap();
    }

    fn service() -> (Arc<GroupCommitStore>, Checkpoints) {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let store = Arc::new(GroupCommitStore::start(storage.clone(), Arc::new(Nothing), Default::default()).unwrap());
        let checkpoints = Checkpoints::new(store.clone(), storage, SigningKey::from_bytes(&[9; 32]));
        (store, checkpoints)
    }

    #[tokio::test]
    async fn checkpoints_and_their_proofs_verify_and_tampering_is_named() {
        let (store, service) = service();
        assert!(service.take(&acme()).unwrap().is_none(), "nothing to sign in an empty log");
        append(&store, 5).await;
        let old = service.take(&acme()).unwrap().unwrap();
        assert!(old.created);
        assert!(!service.take(&acme()).unwrap().unwrap().created, "one checkpoint per position");
        append(&store, 9).await;
        let new = service.take(&acme()).unwrap().unwrap().checkpoint;
        let old = old.checkpoint;
        let key = service.public_key();
        assert_eq!(parse_public_key(&public_key_pem(&key)), Ok(key));
        assert_eq!(parse_public_key(&public_key_base64(&key)), Ok(key));
        verify_signature("old", &old, &key).unwrap();
        verify_signature("new", &new, &key).unwrap();

        let proof = service.consistency(&old, &new).unwrap();
        assert_eq!(verify_consistency(&old, &new, &proof), Ok(()));
        assert!(matches!(verify_consistency(&new, &old, &proof), Err(ProofError::Sizes(_))));
        let mut forged = proof.clone();
        forged.proof[0] = hex_hash(&[7; 32]);
        assert!(matches!(verify_consistency(&old, &new, &forged), Err(ProofError::Consistency(_))));
        let mut moved = new.clone();
        moved.body.position += 1;
        assert!(matches!(verify_signature("new", &moved, &key), Err(ProofError::Signature { which: "new", .. })));

        for position in 1..=new.body.position {
            let inclusion = service.inclusion(&new, position).unwrap();
            assert_eq!(verify_inclusion(&new, &inclusion), Ok(()), "position {position}");
            assert!(verify_inclusion(&old, &inclusion).is_err());
        }
        let mut wrong = service.inclusion(&new, 3).unwrap();
        wrong.position = 4;
        assert!(matches!(verify_inclusion(&new, &wrong), Err(ProofError::Inclusion(_))));
    }

    #[tokio::test]
    async fn the_policy_signs_every_k_events_and_after_the_interval() {
        let (store, service) = service();
        let every_three = CheckpointPolicy { every_events: 3, interval: Duration::ZERO };
        append(&store, 2).await;
        assert_eq!(service.take_due(&every_three, Utc::now()).unwrap(), 0);
        append(&store, 1).await;
        assert_eq!(service.take_due(&every_three, Utc::now()).unwrap(), 1);
        assert_eq!(service.latest(&acme()).unwrap().unwrap().body.position, 3);
        let hourly = CheckpointPolicy { every_events: 0, interval: Duration::from_secs(3600) };
        append(&store, 1).await;
        assert_eq!(service.take_due(&hourly, Utc::now()).unwrap(), 0, "the last checkpoint is recent");
        let mut old = service.latest(&acme()).unwrap().unwrap();
        old.body.recorded_at -= chrono::Duration::hours(2);
        store.storage().put_checkpoint(&acme(), &old).unwrap();
        assert_eq!(service.take_due(&hourly, Utc::now()).unwrap(), 1, "the log grew and an hour passed");
        assert_eq!(service.take_due(&hourly, Utc::now()).unwrap(), 0, "not again before the log grows");
    }
}

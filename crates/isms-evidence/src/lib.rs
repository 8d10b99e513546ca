//! Evidence packs: one archive an auditor can take away and check offline, holding a tenant's
//! events up to a point, a signed checkpoint over them, and every register and report as the
//! service renders them at that point.
//!
//! The server builds a pack with [`build`]; `isms verify-pack` checks one with [`verify`]. Both
//! use the same rendering ([`render::render`]), a function of the registers and the read date
//! only, so the verifier folds the pack's events and must get the register and report files
//! back byte for byte.
//!
//! Layout (a gzip-compressed tar):
//! - `manifest.json`: format, tenant, position, `as_of`, the read date of derived facts, the
//!   generator, and the SHA-256 and size of every file but itself and its signature;
//! - `manifest.signature.json`: Ed25519 over the exact bytes of `manifest.json` (the checkpoint
//!   signs only the events; this binds the read date, `as_of` and every other file to the key);
//! - `checkpoint.json`: an `isms_store::checkpoint::SignedCheckpoint` over the events (RFC 6962
//!   Merkle root, chain head);
//! - `public-key.json`: the signing key (informative: a verifier trusts the key it is given);
//! - `events.ndjson`: the events, one stored envelope per line, in position order;
//! - `registers/<collection>.json|csv` and `reports/<name>.json` (+ `.csv` for SoA and
//!   traceability).
#![forbid(unsafe_code)]

pub mod archive;
pub mod render;
mod verify;

#[cfg(test)]
mod tests;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use isms_projections::{ProjectionError, Registers};
use isms_store::checkpoint::{hex_hash, key_id, CheckpointBody};
use isms_store::merkle::{self, Hash, LeafHashes};
use isms_store::{Envelope, Position, GENESIS_HASH};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use verify::{verify, Check, KeySource, Verification};

/// What `manifest.json` says the archive is.
pub const FORMAT: &str = "isms-evidence-pack";
/// Bumped whenever the layout or a rendering changes in a way an older verifier would reject.
pub const FORMAT_VERSION: u32 = 1;
/// The software that built (or re-derives) a pack.
pub const GENERATOR: &str = concat!("isms-evidence ", env!("CARGO_PKG_VERSION"));

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIGNATURE: &str = "manifest.signature.json";
pub const CHECKPOINT: &str = "checkpoint.json";
pub const PUBLIC_KEY: &str = "public-key.json";
pub const EVENTS: &str = "events.ndjson";

/// One file the manifest vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub size: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub tenant: String,
    /// The pack holds the events at positions 1 to `position`.
    pub position: Position,
    /// The read point asked for: the instant of an `as_of` read, else the time of the last event.
    pub as_of: Option<DateTime<Utc>>,
    /// The day derived facts (such as `overdue`) were computed for.
    pub read_date: NaiveDate,
    pub generator: String,
    pub generated_at: DateTime<Utc>,
    /// Every file of the archive but `manifest.json` and `manifest.signature.json`, by path.
    pub files: Vec<FileEntry>,
}

/// `public-key.json`: the key the pack was signed with, in three spellings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyFile {
    pub algorithm: String,
    /// `sha256:` and the hex SHA-256 of the 32-byte key, as checkpoints name it.
    pub key_id: String,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    pub public_key_pem: String,
}

/// `manifest.signature.json`: Ed25519 over the exact bytes of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSignature {
    pub algorithm: String,
    pub key_id: String,
    /// Base64 of the 64-byte signature.
    pub signature: String,
}

/// What a pack is built from.
#[derive(Debug, Clone)]
pub struct PackRequest<'a> {
    pub tenant: &'a str,
    /// The tenant's events from position 1, in order.
    pub events: &'a [Envelope],
    pub as_of: Option<DateTime<Utc>>,
    pub read_date: NaiveDate,
    /// When the pack is signed.
    pub generated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("the events are not the positions 1 to n in order: expected {expected}, found {found}")]
    NotGapless { expected: Position, found: Position },
    #[error("the event at position {0} has a hash that is not 64 hex digits")]
    MalformedHash(Position),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("cannot write the archive: {0}")]
    Io(#[from] std::io::Error),
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The Merkle leaf of an event: `leaf_hash` of the 32 raw bytes of its `hash`.
pub(crate) fn leaf(hash: &str) -> Option<Hash> {
    let raw: [u8; 32] = hex::decode(hash).ok()?.try_into().ok()?;
    Some(merkle::leaf_hash(&raw))
}

/// The RFC 6962 tree head over leaves, hex.
pub(crate) fn merkle_root(leaves: &[Hash]) -> String {
    hex_hash(&merkle::root(&LeafHashes(leaves), leaves.len() as u64))
}

/// The bytes of `events.ndjson`: each envelope as stored (compact JSON), one per line.
pub fn event_line(envelope: &Envelope) -> String {
    serde_json::to_string(envelope).expect("an envelope serializes")
}

pub(crate) fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("a pack file serializes");
    bytes.push(b'\n');
    bytes
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes.
const SPKI_ED25519_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

pub fn public_key_file(key: &VerifyingKey) -> PublicKeyFile {
    let base64 = base64::engine::general_purpose::STANDARD;
    let der = [SPKI_ED25519_PREFIX.as_slice(), key.as_bytes()].concat();
    PublicKeyFile {
        algorithm: "Ed25519".into(),
        key_id: key_id(key),
        public_key: base64.encode(key.as_bytes()),
        public_key_pem: format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", base64.encode(der)),
    }
}

/// Reads an Ed25519 public key given as a `public-key.json` document (any JSON object with a
/// base64 `public_key`), a PEM `PUBLIC KEY`, base64 of the 32 bytes, or 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let base64 = base64::engine::general_purpose::STANDARD;
    let text = text.trim();
    let bytes = if text.starts_with('{') {
        let document: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("the key is not valid JSON: {e}"))?;
        let encoded = document["public_key"].as_str().ok_or("the JSON key has no string field 'public_key'")?;
        base64.decode(encoded.trim()).map_err(|_| "'public_key' is not base64".to_owned())?
    } else if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        let body: String = text.lines().filter(|line| !line.starts_with("-----")).collect();
        let der = base64.decode(body.trim()).map_err(|_| "the PEM body is not base64".to_owned())?;
        der.strip_prefix(SPKI_ED25519_PREFIX.as_slice()).ok_or("the PEM key is not an Ed25519 public key")?.to_vec()
    } else if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| "the key is not hex".to_owned())?
    } else {
        base64.decode(text).map_err(|_| "the key is neither JSON, PEM, base64 nor hex".to_owned())?
    };
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "an Ed25519 public key has 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "the bytes are not an Ed25519 public key".to_owned())
}

/// Folds events (in position order) into registers, as a reader without the personal data
/// keys sees them: a sealed personal field reads `[sealed]` (`[erased]` after its person's
/// erasure). The pack travels beyond the reach of a later erasure, so it never carries
/// personal data in plaintext, and its verifier, which has no keys, derives the same files.
pub fn fold(events: &[Envelope]) -> Result<Registers, ProjectionError> {
    let mut registers = Registers::default();
    for event in events {
        let mut event = event.clone();
        isms_projections::personal::mask_sealed(&event.stream_type, &mut event.data);
        registers.apply_owned(event)?;
    }
    Ok(registers)
}

/// Builds the pack: the archive's bytes.
pub fn build(request: &PackRequest<'_>, key: &SigningKey) -> Result<Vec<u8>, PackError> {
    let mut leaves = Vec::with_capacity(request.events.len());
    let mut events = String::new();
    for (index, event) in request.events.iter().enumerate() {
        let expected = index as u64 + 1;
        if event.position != expected {
            return Err(PackError::NotGapless { expected, found: event.position });
        }
        leaves.push(leaf(&event.hash).ok_or(PackError::MalformedHash(event.position))?);
        events.push_str(&event_line(event));
        events.push('\n');
    }
    let registers = fold(request.events)?;
    let checkpoint = CheckpointBody {
        tenant: request.tenant.to_owned(),
        position: request.events.len() as u64,
        chain_head: request.events.last().map_or_else(|| GENESIS_HASH.to_owned(), |e| e.hash.clone()),
        merkle_root: merkle_root(&leaves),
        recorded_at: request.generated_at,
    }
    .sign(key);
    let public_key = public_key_file(&key.verifying_key());

    let mut files: Vec<(String, Vec<u8>)> = vec![
        (CHECKPOINT.into(), pretty(&checkpoint)),
        (PUBLIC_KEY.into(), pretty(&public_key)),
        (EVENTS.into(), events.into_bytes()),
    ];
    files.extend(render::render(&registers, request.read_date));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        tenant: request.tenant.to_owned(),
        position: checkpoint.body.position,
        as_of: request.as_of,
        read_date: request.read_date,
        generator: GENERATOR.into(),
        generated_at: request.generated_at,
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry { path: path.clone(), sha256: sha256_hex(bytes), size: bytes.len() as u64 })
            .collect(),
    };
    let manifest = pretty(&manifest);
    let signature = ManifestSignature {
        algorithm: "Ed25519".into(),
        key_id: public_key.key_id,
        signature: base64::engine::general_purpose::STANDARD.encode(key.sign(&manifest).to_bytes()),
    };
    files.insert(0, (MANIFEST_SIGNATURE.into(), pretty(&signature)));
    files.insert(0, (MANIFEST.into(), manifest));
    let mtime = u64::try_from(request.generated_at.timestamp()).unwrap_or(0);
    Ok(archive::write(&files, mtime)?)
}

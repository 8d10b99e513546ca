//! Offline verification of a pack: every check runs (as far as what it needs is readable) and
//! every failure names its file, so a tampered pack says where it was tampered with.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use isms_store::chain::envelope_hash;
use isms_store::checkpoint::{key_id, SignedCheckpoint};
use isms_store::{Envelope, GENESIS_HASH};

use crate::{
    archive, event_line, fold, leaf, merkle_root, parse_public_key, pretty, render, sha256_hex, Manifest,
    ManifestSignature, CHECKPOINT, EVENTS, FORMAT, FORMAT_VERSION, MANIFEST, MANIFEST_SIGNATURE, PUBLIC_KEY,
};

/// Which key the signatures were checked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The key the verifier was given (`--public-key`): the pack comes from its holder.
    Trusted,
    /// The pack's own `public-key.json`: the pack is only self-consistent.
    Pack,
}

/// One check and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The file the check is about (or a count of files for checks passed by many).
    pub file: String,
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Everything a verification found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub checks: Vec<Check>,
    /// The key the signatures were checked with and where it came from.
    pub key: Option<(String, KeySource)>,
    pub manifest: Option<Manifest>,
}

impl Verification {
    /// Every check passed (and there were checks).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }

    fn record(&mut self, file: &str, name: &'static str, outcome: Result<String, String>) {
        let (passed, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        self.checks.push(Check { file: file.to_owned(), name, passed, detail });
    }

    fn fail(&mut self, file: &str, name: &'static str, detail: impl Into<String>) {
        self.record(file, name, Err(detail.into()));
    }
}

/// Per-file checks passed by many files are reported once, with the count.
struct PerFile {
    name: &'static str,
    passed: usize,
    what: &'static str,
}

impl PerFile {
    fn finish(self, verification: &mut Verification) {
        if self.passed > 0 {
            verification.record(&format!("{} files", self.passed), self.name, Ok(self.what.to_owned()));
        }
    }
}

fn json<T: serde::de::DeserializeOwned>(files: &BTreeMap<String, Vec<u8>>, path: &str) -> Result<T, String> {
    let bytes = files.get(path).ok_or("missing from the archive")?;
    serde_json::from_slice(bytes).map_err(|e| format!("not readable: {e}"))
}

/// Checks the manifest's signature. A signature by another key or one that is not even a
/// signature is the signature file's fault; one that does not match could be either file's.
fn check_manifest_signature(v: &mut Verification, key: &VerifyingKey, files: &BTreeMap<String, Vec<u8>>) {
    let expected = key_id(key);
    // The signature file must be exactly as written, so no byte of it can change unnoticed.
    let signature = json::<ManifestSignature>(files, MANIFEST_SIGNATURE).and_then(|signature| {
        if pretty(&signature) != files[MANIFEST_SIGNATURE] {
            Err("not in the form the server writes".to_owned())
        } else if signature.algorithm != "Ed25519" {
            Err(format!("algorithm '{}', expected Ed25519", signature.algorithm))
        } else if signature.key_id != expected {
            Err(format!("signed by key {}, not by {expected}", signature.key_id))
        } else {
            let bytes = base64::engine::general_purpose::STANDARD.decode(&signature.signature).ok();
            bytes
                .and_then(|bytes| Signature::from_slice(&bytes).ok())
                .ok_or_else(|| "the signature is not 64 bytes of base64".to_owned())
        }
    });
    match signature {
        Err(reason) => v.fail(MANIFEST_SIGNATURE, "signature", reason),
        Ok(signature) => match key.verify(&files[MANIFEST], &signature) {
            Ok(()) => v.record(MANIFEST, "signature", Ok(format!("valid Ed25519 signature by {expected}"))),
            Err(_) => v.fail(
                MANIFEST,
                "signature",
                format!("the signature in {MANIFEST_SIGNATURE} does not match {MANIFEST}: one of them was altered"),
            ),
        },
    }
}

/// Parses `events.ndjson` and checks its hash chain: positions 1..n without gaps, the tenant,
/// each `prev_hash` link, each `hash` against the envelope, time never going backwards, and each
/// line exactly as an envelope is stored. The error names the first bad position.
fn check_events(bytes: &[u8], tenant: &str) -> Result<Vec<Envelope>, String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let position = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
            return Err(format!("broken at position {position}: the line is not UTF-8"));
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the file does not end with a line break".into());
    }
    let mut events: Vec<Envelope> = Vec::new();
    let broken = |position: u64, reason: String| Err(format!("broken at position {position}: {reason}"));
    for (index, line) in text.split_terminator('\n').enumerate() {
        let expected = index as u64 + 1;
        let event: Envelope = match serde_json::from_str(line) {
            Ok(event) => event,
            Err(e) => return broken(expected, format!("the line is not a stored envelope: {e}")),
        };
        let prev_hash = events.last().map_or(GENESIS_HASH, |e| e.hash.as_str());
        let reason = if event.position != expected {
            Some(format!("the line holds position {}", event.position))
        } else if event.tenant.as_str() != tenant {
            Some(format!("the event belongs to tenant '{}'", event.tenant))
        } else if event.prev_hash != prev_hash {
            Some("prev_hash does not match the previous event's hash".into())
        } else if envelope_hash(&event) != event.hash {
            Some("hash does not match the event's content".into())
        } else if events.last().is_some_and(|previous| event.recorded_at < previous.recorded_at) {
            Some("recorded_at goes backwards".into())
        } else if event_line(&event) != line {
            Some("the line is not the envelope exactly as stored".into())
        } else {
            None
        };
        if let Some(reason) = reason {
            return broken(expected, reason);
        }
        events.push(event);
    }
    Ok(events)
}

/// Verifies a pack. With `trusted`, signatures must be by that key; without, the pack's own
/// key is used and the result only shows that the pack is self-consistent.
pub fn verify(archive_bytes: &[u8], trusted: Option<&VerifyingKey>) -> Verification {
    let mut v = Verification::default();
    let files: BTreeMap<String, Vec<u8>> = match archive::read(archive_bytes) {
        Ok(files) => files.into_iter().collect(),
        Err(reason) => {
            v.fail("(archive)", "readable", reason);
            return v;
        }
    };

    // The manifest, and the key everything is checked with.
    let manifest: Manifest = match json(&files, MANIFEST) {
        Ok(manifest) => manifest,
        Err(reason) => {
            v.fail(MANIFEST, "format", reason);
            return v;
        }
    };
    let format_ok = manifest.format == FORMAT && manifest.format_version == FORMAT_VERSION;
    v.record(
        MANIFEST,
        "format",
        if format_ok {
            Ok(format!("{FORMAT} version {FORMAT_VERSION}"))
        } else {
            Err(format!(
                "{} version {}, expected {FORMAT} version {FORMAT_VERSION}",
                manifest.format, manifest.format_version
            ))
        },
    );
    let key = match trusted {
        Some(key) => Some((*key, KeySource::Trusted)),
        None => match files.get(PUBLIC_KEY).map(|bytes| parse_public_key(&String::from_utf8_lossy(bytes))) {
            Some(Ok(key)) => Some((key, KeySource::Pack)),
            Some(Err(reason)) => {
                v.fail(PUBLIC_KEY, "key", format!("no usable key, so no signature can be checked: {reason}"));
                None
            }
            None => {
                v.fail(PUBLIC_KEY, "key", "missing, so no signature can be checked (give --public-key)");
                None
            }
        },
    };
    v.key = key.map(|(key, source)| (key_id(&key), source));
    if let Some((key, _)) = &key {
        check_manifest_signature(&mut v, key, &files);
    }

    // Every file as the manifest lists it, and nothing else.
    let mut listed = BTreeSet::new();
    let mut hashes = PerFile { name: "sha256", passed: 0, what: "SHA-256 and size as the manifest lists them" };
    for entry in &manifest.files {
        if !listed.insert(entry.path.as_str()) {
            v.fail(&entry.path, "listed", "listed twice in the manifest");
            continue;
        }
        match files.get(&entry.path) {
            None => v.fail(&entry.path, "present", "listed in the manifest but missing from the archive"),
            Some(bytes) => {
                let (sha256, size) = (sha256_hex(bytes), bytes.len() as u64);
                if sha256 == entry.sha256 && size == entry.size {
                    hashes.passed += 1;
                } else {
                    v.fail(
                        &entry.path,
                        "sha256",
                        format!(
                            "SHA-256 {sha256} and size {size} differ from the manifest's {} and {}",
                            entry.sha256, entry.size
                        ),
                    );
                }
            }
        }
    }
    hashes.finish(&mut v);
    for path in files.keys() {
        if !listed.contains(path.as_str()) && path != MANIFEST && path != MANIFEST_SIGNATURE {
            v.fail(path, "listed", "in the archive but not listed in the manifest");
        }
    }

    // The signed checkpoint.
    let checkpoint = match json::<SignedCheckpoint>(&files, CHECKPOINT) {
        Ok(checkpoint) => Some(checkpoint),
        Err(reason) => {
            v.fail(CHECKPOINT, "format", reason);
            None
        }
    };
    if let (Some(checkpoint), Some((key, _))) = (&checkpoint, &key) {
        let outcome = checkpoint.verify(key).map(|()| format!("valid Ed25519 signature by {}", key_id(key)));
        v.record(CHECKPOINT, "signature", outcome.map_err(|e| e.to_string()));
    }
    if let Some(checkpoint) = &checkpoint {
        let body = &checkpoint.body;
        let agrees = body.tenant == manifest.tenant && body.position == manifest.position;
        v.record(
            CHECKPOINT,
            "manifest",
            if agrees {
                Ok(format!("tenant '{}', position {}", body.tenant, body.position))
            } else {
                Err(format!(
                    "the checkpoint is for tenant '{}' at position {}, the manifest for '{}' at {}",
                    body.tenant, body.position, manifest.tenant, manifest.position
                ))
            },
        );
    }

    // The events: chain, count, Merkle root and chain head against the checkpoint.
    let events = match files.get(EVENTS) {
        None => None,
        Some(bytes) => match check_events(bytes, &manifest.tenant) {
            Ok(events) => {
                v.record(EVENTS, "hash chain", Ok(format!("{} events, positions 1 to {}", events.len(), events.len())));
                Some(events)
            }
            Err(reason) => {
                v.fail(EVENTS, "hash chain", reason);
                None
            }
        },
    };
    if let (Some(events), Some(checkpoint)) = (&events, &checkpoint) {
        let body = &checkpoint.body;
        let count = events.len() as u64;
        v.record(
            EVENTS,
            "count",
            if count == body.position {
                Ok(format!("{count} events, as the checkpoint states"))
            } else {
                Err(format!("{count} events, but the checkpoint covers {}", body.position))
            },
        );
        let leaves: Option<Vec<_>> = events.iter().map(|e| leaf(&e.hash)).collect();
        let root = leaves.map(|leaves| merkle_root(&leaves)).unwrap_or_default();
        v.record(
            CHECKPOINT,
            "merkle_root",
            if root == body.merkle_root {
                Ok(format!("RFC 6962 root {root} of {EVENTS}"))
            } else {
                Err(format!("the checkpoint states {} but {EVENTS} gives {root}", body.merkle_root))
            },
        );
        let head = events.last().map_or(GENESIS_HASH, |e| e.hash.as_str());
        v.record(
            CHECKPOINT,
            "chain_head",
            if head == body.chain_head {
                Ok(format!("last hash of {EVENTS}"))
            } else {
                Err(format!("the checkpoint states {} but the last event of {EVENTS} has {head}", body.chain_head))
            },
        );
    }
    if let (Some(events), Some(as_of)) = (&events, manifest.as_of) {
        if let Some(last) = events.last().filter(|last| last.recorded_at > as_of) {
            v.fail(MANIFEST, "as_of", format!("as_of {as_of} is before the last event ({})", last.recorded_at));
        }
    }

    // The registers and reports, derived again from the events.
    let Some(events) = events else {
        v.fail(EVENTS, "re-projection", "not attempted: the events are missing or do not verify");
        return v;
    };
    let rendered = match fold(&events) {
        Ok(registers) => render::render(&registers, manifest.read_date),
        Err(error) => {
            v.fail(EVENTS, "re-projection", format!("the events cannot be folded into registers: {error}"));
            return v;
        }
    };
    let mut derived = PerFile {
        name: "re-projection",
        passed: 0,
        what: "registers and reports identical to a re-projection of events.ndjson at the manifest's read_date",
    };
    for (path, bytes) in &rendered {
        match files.get(path) {
            None => v.fail(path, "re-projection", "the re-projection produces this file, the pack lacks it"),
            Some(content) if content == bytes => derived.passed += 1,
            Some(_) => v.fail(
                path,
                "re-projection",
                format!("differs from the re-projection of {EVENTS} at read_date {}", manifest.read_date),
            ),
        }
    }
    derived.finish(&mut v);
    for path in files.keys().filter(|p| p.starts_with("registers/") || p.starts_with("reports/")) {
        if !rendered.contains_key(path) {
            v.fail(path, "re-projection", "the re-projection produces no such file");
        }
    }
    v.manifest = Some(manifest);
    v
}

//! A pack built from a small hand-made log verifies, and any change to any byte of any of its
//! files is caught and named.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ed25519_dalek::SigningKey;
use isms_domain::context::{ContextIssueDetails, ContextIssueEvent, IssueCategory};
use isms_domain::risk::{RiskEvent, RiskIdentified, RiskKind};
use isms_domain::Aggregate;
use isms_store::chain::envelope_hash;
use isms_store::{Envelope, TenantId, GENESIS_HASH};
use serde::Serialize;
use uuid::Uuid;

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_500) + Duration::seconds(seconds)
}

/// Appends one event of aggregate `A` to a hand-made chain.
fn append<A: Aggregate>(log: &mut Vec<Envelope>, stream_id: Uuid, version: u64, event: impl Serialize) {
    let tagged = serde_json::to_value(event).unwrap();
    let position = log.len() as u64 + 1;
    let mut envelope = Envelope {
        position,
        stream_type: A::STREAM_TYPE.into(),
        stream_id: stream_id.to_string(),
        version,
        event_id: Uuid::now_v7(),
        event_type: tagged["event_type"].as_str().unwrap().into(),
        schema_version: 1,
        recorded_at: at(position as i64 * 60),
        effective_at: None,
        tenant: TenantId::parse("acme").unwrap(),
        actor: "alice".into(),
        source: None,
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        idempotency_key: None,
        data: tagged["data"].clone(),
        prev_hash: log.last().map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone()),
        hash: String::new(),
    };
    envelope.hash = envelope_hash(&envelope);
    log.push(envelope);
}

fn log() -> Vec<Envelope> {
    let mut log = Vec::new();
    let issue = Uuid::now_v7();
    let details = |title: &str| ContextIssueDetails {
        category: IssueCategory::External,
        title: title.into(),
        description: "Customers ask for ISO/IEC 27001".into(),
        effect_on_isms: "Certification is a sales requirement".into(),
    };
    append::<isms_domain::context::ContextIssue>(
        &mut log,
        issue,
        1,
        ContextIssueEvent::ContextIssueRecorded(details("Market")),
    );
    let risk = RiskIdentified {
        kind: RiskKind::Risk,
        title: "Laptop theft".into(),
        description: "=HYPERLINK(\"x\")".into(),
        category: "physical".into(),
        owner: "alice".into(),
        asset_refs: vec!["LAPTOP-1".into()],
        threat: None,
        vulnerability: None,
    };
    append::<isms_domain::risk::Risk>(&mut log, Uuid::now_v7(), 1, RiskEvent::RiskIdentified(risk));
    append::<isms_domain::context::ContextIssue>(
        &mut log,
        issue,
        2,
        ContextIssueEvent::ContextIssueRevised(details("Market (revised)")),
    );
    log
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn pack(events: &[Envelope]) -> Vec<u8> {
    let request = PackRequest {
        tenant: "acme",
        events,
        as_of: events.last().map(|e| e.recorded_at),
        read_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        generated_at: at(10_000),
    };
    build(&request, &key()).unwrap()
}

fn failures(verification: &Verification) -> String {
    verification.failures().map(|c| format!("{}: {}: {}\n", c.file, c.name, c.detail)).collect()
}

#[test]
fn a_pack_verifies_with_its_own_key_and_with_the_trusted_key() {
    let archive = pack(&log());
    let own = verify(&archive, None);
    assert!(own.passed(), "{}", failures(&own));
    assert_eq!(own.key.as_ref().map(|k| k.1), Some(KeySource::Pack));
    let trusted = verify(&archive, Some(&key().verifying_key()));
    assert!(trusted.passed(), "{}", failures(&trusted));
    assert_eq!(trusted.key.as_ref().map(|k| k.1), Some(KeySource::Trusted));
    let manifest = trusted.manifest.unwrap();
    assert_eq!((manifest.tenant.as_str(), manifest.position), ("acme", 3));
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for path in
        [CHECKPOINT, EVENTS, PUBLIC_KEY, "registers/risks.csv", "registers/context-issues.json", "reports/soa.csv"]
    {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    assert!(verify(&pack(&[]), None).passed());
}

#[test]
fn a_wrong_trusted_key_fails_both_signatures() {
    let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
    let verification = verify(&pack(&log()), Some(&other));
    assert!(!verification.passed());
    let failed: Vec<(&str, &str)> = verification.failures().map(|c| (c.file.as_str(), c.name)).collect();
    assert_eq!(failed, [(MANIFEST_SIGNATURE, "signature"), (CHECKPOINT, "signature")]);
}

/// Rebuilds the archive with one byte of `path` flipped.
fn flipped(archive: &[u8], path: &str, offset: impl Fn(usize) -> usize) -> Vec<u8> {
    let mut files = archive::read(archive).unwrap();
    let (_, content) = files.iter_mut().find(|(p, _)| p == path).unwrap();
    let at = offset(content.len());
    content[at] ^= 0x01;
    archive::write(&files, 0).unwrap()
}

#[test]
fn flipping_any_byte_of_any_file_is_caught_and_named() {
    let archive = pack(&log());
    let paths: Vec<String> = archive::read(&archive).unwrap().into_iter().map(|(p, _)| p).collect();
    assert!(paths.len() > 40, "{paths:?}");
    for path in &paths {
        let size = archive::read(&archive).unwrap().into_iter().find(|(p, _)| p == path).unwrap().1.len();
        if size == 0 {
            continue; // an empty CSV (a register without records) has no byte to flip
        }
        // Every file in the middle; the signed and hashed files at their first and last byte too.
        let derived = path.starts_with("registers/") || path.starts_with("reports/");
        let offsets = if derived { vec![size / 2] } else { vec![0, size / 2, size - 1] };
        for offset in offsets {
            let verification = verify(&flipped(&archive, path, |_| offset), Some(&key().verifying_key()));
            assert!(!verification.passed(), "{path} byte {offset}");
            let named = verification.failures().any(|c| c.file == *path || c.detail.contains(path.as_str()));
            assert!(named, "{path} byte {offset}:\n{}", failures(&verification));
        }
    }
    // In the events the middle of the file is position 2, named as the first bad one.
    let verification = verify(&flipped(&archive, EVENTS, |size| size / 2), None);
    let chain = verification.failures().find(|c| c.file == EVENTS && c.name == "hash chain").unwrap();
    assert!(chain.detail.contains("position 2"), "{}", chain.detail);
}

#[test]
fn a_forged_register_is_caught_by_re_projection_even_when_the_manifest_is_re_signed() {
    let archive = pack(&log());
    let forger = SigningKey::from_bytes(&[9; 32]);
    let mut files = archive::read(&archive).unwrap();
    let forged = b"{\"count\":0,\"items\":[]}\n".to_vec();
    files.iter_mut().find(|(p, _)| p == "registers/risks.json").unwrap().1 = forged.clone();
    // The forger rewrites the manifest's hash, the public key and both signatures.
    let mut manifest: Manifest = serde_json::from_slice(&files[0].1).unwrap();
    let entry = manifest.files.iter_mut().find(|f| f.path == "registers/risks.json").unwrap();
    (entry.sha256, entry.size) = (sha256_hex(&forged), forged.len() as u64);
    let checkpoint: isms_store::checkpoint::SignedCheckpoint =
        serde_json::from_slice(&files.iter().find(|(p, _)| p == CHECKPOINT).unwrap().1).unwrap();
    let checkpoint = pretty(&checkpoint.body.sign(&forger));
    let public_key = pretty(&public_key_file(&forger.verifying_key()));
    for entry in &mut manifest.files {
        let bytes = if entry.path == CHECKPOINT {
            &checkpoint
        } else if entry.path == PUBLIC_KEY {
            &public_key
        } else {
            continue;
        };
        (entry.sha256, entry.size) = (sha256_hex(bytes), bytes.len() as u64);
    }
    let manifest = pretty(&manifest);
    let signature = ManifestSignature {
        algorithm: "Ed25519".into(),
        key_id: key_id(&forger.verifying_key()),
        signature: base64::engine::general_purpose::STANDARD.encode(forger.sign(&manifest).to_bytes()),
    };
    for (path, content) in &mut files {
        match path.as_str() {
            MANIFEST => *content = manifest.clone(),
            MANIFEST_SIGNATURE => *content = pretty(&signature),
            CHECKPOINT => *content = checkpoint.clone(),
            PUBLIC_KEY => *content = public_key.clone(),
            _ => {}
        }
    }
    let forged_archive = archive::write(&files, 0).unwrap();
    let verification = verify(&forged_archive, None);
    let failed: Vec<(&str, &str)> = verification.failures().map(|c| (c.file.as_str(), c.name)).collect();
    assert_eq!(failed, [("registers/risks.json", "re-projection")]);
    // With the trusted key the forgery is also caught by both signatures.
    let verification = verify(&forged_archive, Some(&key().verifying_key()));
    assert!(verification.failures().any(|c| c.file == MANIFEST_SIGNATURE && c.name == "signature"));
    assert!(verification.failures().any(|c| c.file == CHECKPOINT && c.name == "signature"));
}

#[test]
fn a_gap_in_the_events_is_refused_when_building() {
    let mut events = log();
    events.remove(1);
    let request =
        PackRequest { tenant: "acme", events: &events, as_of: None, read_date: NaiveDate::MIN, generated_at: at(0) };
    assert!(matches!(build(&request, &key()), Err(PackError::NotGapless { expected: 2, found: 3 })));
}

#[test]
fn public_keys_are_read_in_every_spelling_the_pack_writes() {
    let verifying = key().verifying_key();
    let file = public_key_file(&verifying);
    let json = serde_json::to_string(&file).unwrap();
    for text in [json.as_str(), &file.public_key, &file.public_key_pem, &hex::encode(verifying.as_bytes())] {
        assert_eq!(parse_public_key(text), Ok(verifying), "{text}");
    }
    assert!(parse_public_key("not a key").is_err());
    assert!(parse_public_key(&file.public_key[..20]).is_err());
}

//! Backup and restore, black box: an online backup taken while commands run, restored with the
//! real `isms restore`, gives a service whose chain heads and registers equal the source's at
//! the backup's positions; refusals (non-empty target, tampered archive, a server holding the
//! directory, a tenant that is not an operator) name what is wrong.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::{TestApp, ALL_SCOPES};

const BIN: &str = env!("CARGO_BIN_EXE_isms");
const TENANTS: [&str; 2] = ["acme", "globex"];

fn isms(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("ISMS_LOG", "warn").output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Keeps identifying risks in every tenant until told to stop; returns how many were acknowledged.
fn write_until(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let (client, base, tokens) =
        (app.client.clone(), app.base.clone(), TENANTS.map(|tenant| app.token("alice", tenant, ALL_SCOPES)));
    tokio::spawn(async move {
        let mut acknowledged = 0;
        while !stop.load(Ordering::Relaxed) {
            for token in &tokens {
                let response = client
                    .post(format!("{base}/api/v1/risks"))
                    .bearer_auth(token)
                    .json(&json!({"title": format!("risk {acknowledged}"), "category": "c", "owner": "alice"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 201);
                acknowledged += 1;
            }
        }
        acknowledged
    })
}

/// The tenant's register of risks and its chain head as of `position`.
async fn state_at(app: &TestApp, tenant: &str, position: Option<u64>) -> (Value, Value) {
    let token = app.token("auditor", tenant, ALL_SCOPES);
    let risks = match position {
        Some(position) => app.get(&token, &format!("/api/v1/risks?limit=500&as_of_position={position}")).await,
        None => app.get(&token, "/api/v1/risks?limit=500").await,
    };
    let risks = risks.expect(200).body["items"].clone();
    let head = match position {
        Some(position) => json!({"position": position, "hash": hash_at(app, &token, position).await}),
        None => {
            let integrity = app.get(&token, "/api/v1/integrity").await.expect(200);
            json!({"position": integrity.body["chain_head"]["position"], "hash": integrity.body["chain_head"]["hash"]})
        }
    };
    (risks, head)
}

/// The hash of the event at `position`, paging through the audit trail (the feed carries
/// CloudEvents, which have no hash).
async fn hash_at(app: &TestApp, token: &str, position: u64) -> Value {
    let mut cursor = String::new();
    loop {
        let page = app.get(token, &format!("/api/v1/audit-trail?limit=500{cursor}")).await.expect(200).body;
        if let Some(event) = page["items"].as_array().unwrap().iter().find(|e| e["position"] == position) {
            return event["hash"].clone();
        }
        let next = page["next_cursor"].as_str().unwrap_or_else(|| panic!("no event at position {position}"));
        cursor = format!("&cursor={next}");
    }
}

/// Rewrites one file of a backup archive with `change`, keeping everything else.
fn tamper(archive: &[u8], file: &str, change: impl Fn(String) -> String) -> Vec<u8> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut out = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_str().unwrap().to_owned();
        let mut content = String::new();
        entry.read_to_string(&mut content).unwrap();
        if name == file {
            content = change(content);
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        out.append_data(&mut header, &name, content.as_bytes()).unwrap();
    }
    out.into_inner().unwrap().finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_taken_under_load_restores_to_the_same_chain_heads_and_registers() {
    let source = TestApp::spawn().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers = [write_until(&source, stop.clone()), write_until(&source, stop.clone())];
    // Let the log grow a little, and take a checkpoint so the archive carries a signed one.
    while source.get(&source.alice(), "/api/v1/integrity").await.body["chain_head"]["position"].as_u64() < Some(20) {
        tokio::task::yield_now().await;
    }
    source.post(&source.alice(), "/api/v1/checkpoints", json!({})).await.expect(201);
    let response = source.client.get(format!("{}/api/v1/admin/backup", source.base)).bearer_auth(source.alice());
    let response = response.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let archive = response.bytes().await.unwrap().to_vec();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        assert!(writer.await.unwrap() > 0);
    }

    let manifest = isms_store::backup::verify(archive.as_slice(), None).expect("the online archive verifies");
    assert_eq!(manifest.tenants.len(), 2, "every tenant is in the backup");
    assert!(!manifest.includes_secrets, "an online backup never carries secrets");
    assert!(manifest.tenants.iter().any(|t| t.checkpoints == 1));

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("online.tar.gz");
    std::fs::write(&file, &archive).unwrap();
    // The operator can pin the server's key: another key is refused, the right one accepted.
    let stranger =
        isms_store::proofs::public_key_base64(&ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key());
    let elsewhere = work.path().join("pinned-wrong");
    let refused = isms(&["restore", "--from", path(&file), "--data-dir", path(&elsewhere), "--public-key", &stranger]);
    assert_eq!(refused.status.code(), Some(isms::exit_code::CHAIN_BROKEN), "{}", text(&refused));
    assert!(!elsewhere.exists());
    let server_key = isms_store::proofs::public_key_base64(
        &isms::secret::checkpoint_key(source.dir.path()).unwrap().verifying_key(),
    );
    let restored_dir = tempfile::tempdir().unwrap();
    let restored =
        isms(&["restore", "--from", path(&file), "--data-dir", path(restored_dir.path()), "--public-key", &server_key]);
    assert!(restored.status.success(), "{}", text(&restored));

    // Nothing may be restored over existing data.
    let again = isms(&["restore", "--from", path(&file), "--data-dir", path(restored_dir.path())]);
    assert_eq!(again.status.code(), Some(isms::exit_code::USAGE));
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    let copy = TestApp::spawn_in(restored_dir).await;
    for tenant in &manifest.tenants {
        let at = tenant.head_position;
        let (source_risks, source_head) = state_at(&source, tenant.tenant.as_str(), Some(at)).await;
        let (restored_risks, restored_head) = state_at(&copy, tenant.tenant.as_str(), None).await;
        assert_eq!(restored_head, source_head, "tenant {}: chain head at the backup's position", tenant.tenant);
        assert_eq!(restored_head["hash"], tenant.head_hash.as_str());
        assert_eq!(restored_risks, source_risks, "tenant {}: the register at the backup's position", tenant.tenant);
        assert!(!restored_risks.as_array().unwrap().is_empty());
    }
    let checkpoints = copy.get(&copy.alice(), "/api/v1/checkpoints").await.expect(200);
    let restored_checkpoints = checkpoints.body["items"].as_array().map_or(0, Vec::len) as u64;
    assert_eq!(
        restored_checkpoints,
        manifest.tenants.iter().find(|t| t.tenant.as_str() == "acme").unwrap().checkpoints
    );

    // The restored log projects offline too.
    let restored_path = copy.stop().await;
    let rebuilt = isms(&["rebuild", "--data-dir", path(restored_path.path())]);
    assert!(rebuilt.status.success(), "{}", text(&rebuilt));
    assert!(text(&rebuilt).contains("2 tenant(s) rebuilt"), "{}", text(&rebuilt));

    // A changed event is refused, naming the file, and nothing is written.
    let first_events = "tenants/acme/events-000000000001.ndjson";
    let tampered = tamper(&archive, first_events, |content| content.replacen("risk ", "risk X", 1));
    let tampered_file = work.path().join("tampered.tar.gz");
    std::fs::write(&tampered_file, tampered).unwrap();
    let target = work.path().join("from-tampered");
    let refused = isms(&["restore", "--from", path(&tampered_file), "--data-dir", path(&target)]);
    assert_eq!(refused.status.code(), Some(isms::exit_code::CHAIN_BROKEN));
    assert!(text(&refused).contains(first_events), "{}", text(&refused));
    assert!(!target.exists(), "nothing was written");
    // So is a manifest that does not match the files.
    let tampered = tamper(&archive, "manifest.json", |content| content.replacen("\"size\": ", "\"size\": 1", 1));
    std::fs::write(&tampered_file, tampered).unwrap();
    let refused = isms(&["restore", "--from", path(&tampered_file), "--data-dir", path(&target)]);
    assert_eq!(refused.status.code(), Some(isms::exit_code::CHAIN_BROKEN));
    assert!(text(&refused).contains("public-key.json: SHA-256"), "{}", text(&refused));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_backup_needs_a_stopped_server_and_can_carry_the_servers_secrets() {
    let source = TestApp::spawn().await;
    let retried = json!({"title": "Laptop theft", "category": "physical", "owner": "alice"});
    let first = source
        .send(
            reqwest::Method::POST,
            Some(&source.alice()),
            "/api/v1/risks",
            Some(&retried),
            &[("Idempotency-Key", "k1")],
        )
        .await
        .expect(201);
    let globex = source.token("alice", "globex", ALL_SCOPES);
    source.identify_risk(&globex, "alice").await;

    // Only admins of operator tenants may take the online backup: it holds every tenant.
    let refused = source.get(&globex, "/api/v1/admin/backup").await.expect(403);
    assert_eq!(refused.code(), "online_backup_not_allowed");
    source
        .get(&source.token("alice", "acme", "isms:read isms:write audit:read"), "/api/v1/admin/backup")
        .await
        .expect(403);

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("offline.tar.gz");
    let busy = isms(&["backup", "--data-dir", path(source.dir.path()), "--out", path(&out)]);
    assert_eq!(busy.status.code(), Some(isms::exit_code::LOCKED));
    assert!(text(&busy).contains("GET /api/v1/admin/backup"), "{}", text(&busy));
    assert!(!out.exists());

    let (acme_head, secret) = (state_at(&source, "acme", None).await.1, source.secret.clone());
    let source_dir = source.stop().await;
    let taken = isms(&["backup", "--data-dir", path(source_dir.path()), "--out", path(&out), "--include-secrets"]);
    assert!(taken.status.success(), "{}", text(&taken));
    assert!(text(&taken).contains("tenant acme: 1 events"), "{}", text(&taken));
    let exists = isms(&["backup", "--data-dir", path(source_dir.path()), "--out", path(&out)]);
    assert_eq!(exists.status.code(), Some(isms::exit_code::USAGE), "an existing archive is not overwritten");

    let restored_dir = work.path().join("restored");
    let restored = isms(&["restore", "--from", path(&out), "--data-dir", path(&restored_dir)]);
    assert!(restored.status.success(), "{}", text(&restored));
    let (restored_secret, _) = isms::secret::load_or_create(&restored_dir).unwrap();
    assert_eq!(restored_secret, secret, "the server keeps its identity");
    let restored_dir = tempfile::TempDir::new_in(work.path()).unwrap();
    let restored = isms(&["restore", "--from", path(&out), "--data-dir", path(restored_dir.path())]);
    assert!(restored.status.success(), "{}", text(&restored));
    let copy = TestApp::spawn_in(restored_dir).await;
    assert_eq!(state_at(&copy, "acme", None).await.1, acme_head);
    // Tokens minted by the source still work: the secret came back.
    assert_eq!(copy.secret, secret);
    copy.get(&source_alice(&secret), "/api/v1/risks").await.expect(200);
    // A retry of a command acknowledged before the backup is still recognised as a replay.
    let replayed = copy
        .send(reqwest::Method::POST, Some(&copy.alice()), "/api/v1/risks", Some(&retried), &[("Idempotency-Key", "k1")])
        .await
        .expect(201);
    assert_eq!(replayed.body["id"], first.body["id"]);
    assert_eq!(state_at(&copy, "acme", None).await.1, acme_head, "no new event");
}

fn source_alice(secret: &[u8]) -> String {
    crate::support::mint(secret, "alice", "acme", ALL_SCOPES)
}

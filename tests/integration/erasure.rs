//! Crypto-shredding: a person's personal fields never reach the data directory in plaintext,
//! and after their erasure no API response, export or evidence pack carries them, at any read
//! point, while the chain, checkpoints and evidence packs still verify.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::TestApp;

const BIN: &str = env!("CARGO_BIN_EXE_isms");

/// The distinctive personal values of the person erased; each is searched for as bytes,
/// case-insensitively.
const PERSONAL: &[&str] = &["quuxworth", "zebedee", "hr-q-31337"];
/// A non-personal value of the same event: it IS stored in plaintext, which shows the data
/// directory scan reads the log at all.
const NOT_PERSONAL: &str = "xylophone-research";

fn leaked(bytes: &[u8]) -> Option<&'static str> {
    let lower = bytes.to_ascii_lowercase();
    PERSONAL.iter().copied().find(|needle| lower.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files.push((path, bytes));
            }
        }
    }
    files
}

fn assert_no_plaintext_on_disk(dir: &Path) {
    let files = files_under(dir);
    assert!(files.iter().any(|(_, bytes)| contains(bytes, NOT_PERSONAL)), "the scan finds the log's plaintext");
    for (path, bytes) in &files {
        assert_eq!(leaked(bytes), None, "personal data in plaintext in {}", path.display());
    }
}

async fn get_raw(app: &TestApp, token: &str, path: &str, accept: &str) -> (u16, Vec<u8>) {
    let response = app
        .client
        .get(format!("{}/api/v1{path}", app.base))
        .bearer_auth(token)
        .header("Accept", accept)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

/// What a live event stream sends from the start until it has been quiet for a second (it
/// never ends by itself).
async fn read_event_stream(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let mut response = app
        .client
        .get(format!("{}/api/v1{path}", app.base))
        .bearer_auth(token)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = Vec::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(std::time::Duration::from_secs(1), response.chunk()).await {
        body.extend_from_slice(&chunk);
    }
    assert!(!body.is_empty(), "the stream sent the log");
    body
}

/// Every GET operation of the OpenAPI document, with the person's id (and `alice` for an
/// actor) in its path parameters; operations about other records (whose ids the tenant does
/// not have) cannot carry the person's data and are skipped. Returns the paths fetched.
async fn assert_no_personal_data_in_any_response(app: &TestApp, token: &str, person: &str, before: u64) {
    let document = app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap();
    let document: Value = document.json().await.unwrap();
    let mut fetched = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        if item.get("get").is_none() || !template.starts_with("/api/v1") {
            continue;
        }
        let path = template.trim_start_matches("/api/v1").replace("{sub}", "alice");
        let path = if path.starts_with("/people/") { path.replace("{id}", person) } else { path };
        if path.contains('{') {
            continue;
        }
        if item["get"]["responses"]["200"]["content"].get("text/event-stream").is_some() {
            let body = read_event_stream(app, token, &path).await;
            assert_eq!(leaked(&body), None, "GET {path} (event stream) leaks personal data");
            fetched += 1;
            continue;
        }
        let separator = if path.contains('?') { '&' } else { '?' };
        for query in ["", &format!("{separator}as_of_position={before}")] {
            for accept in ["application/json", "text/csv", "*/*"] {
                let (status, mut body) = get_raw(app, token, &format!("{path}{query}"), accept).await;
                if status == 200 && path == "/evidence-pack" {
                    body = isms_evidence::archive::read(&body)
                        .unwrap()
                        .into_iter()
                        .flat_map(|(name, bytes)| name.into_bytes().into_iter().chain(bytes))
                        .collect();
                }
                assert_eq!(leaked(&body), None, "GET {path}{query} ({accept}, {status}) leaks personal data");
                fetched += usize::from(status == 200);
            }
        }
    }
    // Reads whose parameters the sweep above does not fill in.
    let extra = [
        "/changes?from=0".to_owned(),
        format!("/changes?from=0&to={before}&register=people"),
        format!("/audit-trail?stream_id={person}&limit=500"),
        "/events?after=0&limit=500".to_owned(),
        format!("/people?user_name=zquuxworth&as_of_position={before}"),
    ];
    for path in &extra {
        for accept in ["application/json", "text/csv"] {
            let (status, body) = get_raw(app, token, path, accept).await;
            assert_eq!(leaked(&body), None, "GET {path} ({accept}, {status}) leaks personal data");
            fetched += usize::from(status == 200);
        }
    }
    assert!(fetched > 60, "only {fetched} reads answered 200");
}

#[tokio::test]
async fn an_erased_persons_data_is_gone_from_every_read_and_the_disk_while_the_log_still_verifies() {
    let app = TestApp::spawn().await;
    let token = app.alice();
    let joined = app
        .post(
            &token,
            "/api/v1/people",
            json!({"user_name": "zquuxworth", "external_id": "HR-Q-31337", "display_name": "Zebedee Quuxworth",
                   "email": "zebedee@quuxworth.example", "department": NOT_PERSONAL, "role": "tuba player"}),
        )
        .await
        .expect(201);
    assert_eq!(joined.body["display_name"], "Zebedee Quuxworth", "the command's answer is revealed");
    let person = joined.body["id"].as_str().unwrap().to_owned();
    let kept = app
        .post(
            &token,
            "/api/v1/people",
            json!({"user_name": "kept", "display_name": "Kept Person", "department": "x", "role": "y"}),
        )
        .await
        .expect(201);
    let kept = kept.body["id"].as_str().unwrap().to_owned();
    app.post(
        &token,
        &format!("/api/v1/people/{person}/changes"),
        json!({"display_name": "Zebedee Q. Quuxworth",
        "email": "zebedee@quuxworth.example", "department": NOT_PERSONAL, "role": "tuba lead"}),
    )
    .await
    .expect(200);
    let refused = app.post(&token, &format!("/api/v1/people/{person}/erasure"), json!({})).await.expect(409);
    assert_eq!(refused.code(), "person_not_left");
    let left = app.post(&token, &format!("/api/v1/people/{person}/departure"), json!({"left_on": "2026-06-30"})).await;
    let before_erasure = left.expect(200).body["position"].as_u64().unwrap();
    // Readable through the API, never in plaintext on disk, not even before the erasure.
    let read = app.get(&token, &format!("/api/v1/people/{person}")).await.expect(200);
    assert_eq!(read.body["display_name"], "Zebedee Q. Quuxworth");
    let history = app.get(&token, &format!("/api/v1/people/{person}/history")).await.expect(200);
    assert_eq!(history.body["items"][0]["data"]["user_name"], "zquuxworth");
    assert_no_plaintext_on_disk(app.dir.path());
    let checkpoint_before = app.post(&token, "/api/v1/checkpoints", json!({})).await;
    assert!([200, 201].contains(&checkpoint_before.status), "{}", checkpoint_before.body);

    let key_file = app.dir.path().join("keys").join("acme").join(format!("{person}.key"));
    let key_backup = std::fs::read(&key_file).expect("the person's key is in the key store, outside the log");
    let bob = app.token("bob", "acme", "isms:read isms:write audit:read");
    app.post(&bob, &format!("/api/v1/people/{person}/erasure"), json!({})).await.expect(403);
    let erased = app.post(&token, &format!("/api/v1/people/{person}/erasure"), json!({})).await.expect(200);
    assert_eq!(
        (erased.body["display_name"].as_str(), erased.body["user_name"].as_str()),
        (Some("[erased]"), Some("[erased]"))
    );
    assert_eq!(
        (erased.body["department"].as_str(), erased.body["role"].as_str()),
        (Some(NOT_PERSONAL), Some("tuba lead"))
    );
    let twice = app.post(&token, &format!("/api/v1/people/{person}/erasure"), json!({})).await.expect(409);
    assert_eq!(twice.code(), "person_already_erased");
    assert!(!key_file.exists() && key_file.with_extension("erased").exists(), "key destroyed, tombstone left");
    let unknown = format!("/api/v1/people/{}/erasure", uuid::Uuid::now_v7());
    app.post(&token, &unknown, json!({})).await.expect(404);

    // The erasure is an event of the audit trail; the earlier events are still there.
    let trail = app.get(&token, "/api/v1/audit-trail?event_type=PersonErased").await.expect(200);
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (trail.body["items"][0]["stream_id"].as_str(), trail.body["items"][0]["actor"].as_str()),
        (Some(person.as_str()), Some("alice"))
    );
    let history = app.get(&token, &format!("/api/v1/people/{person}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["PersonJoined", "PersonChanged", "PersonLeft", "AccessRemovalOpened", "PersonErased"]);
    assert_eq!(history.body["items"][0]["data"]["display_name"], "[erased]");
    // Time travel to before the erasure: the key is gone, so the past reads [erased] too.
    let past = app.get(&token, &format!("/api/v1/people/{person}?as_of_position={before_erasure}")).await.expect(200);
    assert_eq!((past.body["display_name"].as_str(), past.body["status"].as_str()), (Some("[erased]"), Some("left")));
    let other = app.get(&token, &format!("/api/v1/people/{kept}")).await.expect(200);
    assert_eq!(other.body["display_name"], "Kept Person", "nobody else is erased");

    assert_no_personal_data_in_any_response(&app, &token, &person, before_erasure).await;
    // The evidence pack verifies offline: chain, Merkle root, signatures, re-projection.
    let (status, archive) = get_raw(&app, &token, "/evidence-pack", "application/gzip").await;
    assert_eq!(status, 200);
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pack.tar.gz");
    std::fs::write(&pack, &archive).unwrap();
    // Its registers show what a reader without keys sees: [sealed], and [erased] once erased.
    let files = isms_evidence::archive::read(&archive).unwrap();
    let people = &files.iter().find(|(name, _)| name == "registers/people.json").unwrap().1;
    let people: Value = serde_json::from_slice(people).unwrap();
    let names: Vec<&str> =
        people["items"].as_array().unwrap().iter().filter_map(|p| p["display_name"].as_str()).collect();
    assert_eq!(names, ["[erased]", "[sealed]"]);
    let verified = Command::new(BIN).arg("verify-pack").arg(&pack).output().unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    // The checkpoint signed before the erasure is consistent with one signed after it.
    let checkpoint_after = app.post(&token, "/api/v1/checkpoints", json!({})).await;
    assert!([200, 201].contains(&checkpoint_after.status));
    let (from, to) = (checkpoint_before.body["position"].as_u64().unwrap(), checkpoint_after.body["position"].as_u64());
    let proof = app.get(&token, &format!("/api/v1/proofs/consistency?from={from}&to={}", to.unwrap())).await;
    let joined_position = joined.body["position"].as_u64().unwrap();
    let inclusion = app.get(&token, &format!("/api/v1/proofs/inclusion?position={joined_position}")).await;
    let public_key = app.get(&token, "/api/v1/public-key").await.expect(200);
    let inputs = [
        ("key.json", public_key.body),
        ("old.json", checkpoint_before.body),
        ("new.json", checkpoint_after.body),
        ("proof.json", proof.expect(200).body),
        ("inclusion.json", inclusion.expect(200).body),
    ];
    for (name, body) in &inputs {
        std::fs::write(work.path().join(name), body.to_string()).unwrap();
    }
    let proofs = Command::new(BIN)
        .current_dir(work.path())
        .args(["verify-proof", "--public-key", "key.json", "--old", "old.json", "--new", "new.json"])
        .args(["--proof", "proof.json", "--inclusion", "inclusion.json"])
        .output()
        .unwrap();
    assert!(proofs.status.success(), "isms verify-proof: {}", String::from_utf8_lossy(&proofs.stderr));
    assert_no_plaintext_on_disk(app.dir.path());

    // After a restart the erasure holds and the other person's key still opens their data, even
    // when an old backup of the key store (without the tombstone) was restored meanwhile: the
    // erasure is in the log, and folding it destroys the restored key again.
    let dir = app.stop().await;
    std::fs::write(&key_file, &key_backup).unwrap();
    std::fs::remove_file(key_file.with_extension("erased")).unwrap();
    let verify = Command::new(BIN).args(["verify", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(verify.status.success(), "isms verify: {}", String::from_utf8_lossy(&verify.stderr));
    let app = TestApp::spawn_in(dir).await;
    let read = app.get(&token, &format!("/api/v1/people/{person}")).await.expect(200);
    assert_eq!(read.body["email"], "[erased]");
    assert!(!key_file.exists(), "the restored key is destroyed at start-up");
    let history = app.get(&token, &format!("/api/v1/people/{person}/history")).await.expect(200);
    assert_eq!(history.body["items"][0]["data"]["user_name"], "[erased]");
    let other = app.get(&app.alice(), &format!("/api/v1/people/{kept}")).await.expect(200);
    assert_eq!(other.body["display_name"], "Kept Person");
    assert_no_plaintext_on_disk(app.dir.path());
}

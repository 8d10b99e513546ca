//! Signed checkpoints and Merkle proofs: the auditor's round trip through the API and the real
//! `isms verify-proof`, tampering named by the verifier, bad parameters, automatic checkpoints.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use isms_store::merkle;
use serde_json::{json, Value};

use crate::support::{serve_config, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_isms");

fn hash(text: &Value) -> merkle::Hash {
    hex::decode(text.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn path_of(proof: &Value) -> Vec<merkle::Hash> {
    proof["proof"].as_array().unwrap().iter().map(hash).collect()
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let file = dir.join(name);
    std::fs::write(&file, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    file.display().to_string()
}

/// Runs `isms verify-proof` with `args`; returns the exit code, stdout and stderr.
fn verify_proof(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN).arg("verify-proof").args(args).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

async fn identify_risks(app: &TestApp, token: &str, count: usize) {
    for _ in 0..count {
        app.identify_risk(token, "alice").await;
    }
}

#[tokio::test]
async fn a_later_checkpoint_is_proven_to_extend_a_stored_one_in_process_and_by_the_binary() {
    let app = TestApp::spawn().await;
    let token = app.alice();
    identify_risks(&app, &token, 3).await;
    let taken = app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(201);
    let old = taken.body.clone();
    assert_eq!(old["position"], 3);
    assert_eq!(taken.header("location").unwrap(), "/api/v1/checkpoints/3");
    let again = app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(200);
    assert_eq!(again.body, old, "the log did not grow: the same checkpoint");

    // The auditor keeps `old`; the organisation adds and changes records.
    let risk = app.identify_risk(&token, "alice").await;
    app.post(
        &token,
        &format!("/api/v1/risks/{risk}/assessments"),
        json!({"likelihood": 2, "impact": 3, "rationale": "Disk encryption on all laptops."}),
    )
    .await
    .expect(200);
    identify_risks(&app, &token, 4).await;
    let new = app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(201).body;
    assert_eq!(new["position"], 9);
    assert_eq!(new["key_id"], old["key_id"]);

    let list = app.get(&token, "/api/v1/checkpoints").await.expect(200).body;
    assert_eq!(list["items"], json!([old, new]), "oldest first");
    let first_page = app.get(&token, "/api/v1/checkpoints?limit=1").await.expect(200).body;
    assert_eq!(first_page["items"], json!([old]));
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let second_page = app.get(&token, &format!("/api/v1/checkpoints?limit=1&cursor={cursor}")).await.expect(200).body;
    assert_eq!((second_page["items"].clone(), second_page["next_cursor"].clone()), (json!([new]), Value::Null));
    assert_eq!(app.get(&token, "/api/v1/checkpoints/latest").await.expect(200).body, new);
    assert_eq!(app.get(&token, "/api/v1/checkpoints/3").await.expect(200).body, old);

    // In process: the consistency proof and every inclusion proof verify against the roots.
    let proof = app.get(&token, "/api/v1/proofs/consistency?from=3&to=9").await.expect(200).body;
    assert_eq!(app.get(&token, "/api/v1/proofs/consistency?from=3").await.expect(200).body, proof, "to = latest");
    let (old_root, new_root) = (hash(&old["merkle_root"]), hash(&new["merkle_root"]));
    assert!(merkle::verify_consistency(3, 9, &path_of(&proof), &old_root, &new_root));
    assert!(!merkle::verify_consistency(3, 9, &path_of(&proof), &new_root, &new_root));
    let events = app.get(&token, "/api/v1/audit-trail?limit=100").await.expect(200).body;
    for position in 1..=9u64 {
        let inclusion = app
            .get(&token, &format!("/api/v1/proofs/inclusion?position={position}&checkpoint=9"))
            .await
            .expect(200)
            .body;
        let event_hash = &events["items"][(position - 1) as usize]["hash"];
        assert_eq!(&inclusion["event_hash"], event_hash);
        let leaf = merkle::leaf_hash(&hex::decode(event_hash.as_str().unwrap()).unwrap());
        assert_eq!(inclusion["leaf_hash"], hex::encode(leaf));
        assert!(merkle::verify_inclusion(&leaf, position - 1, 9, &path_of(&inclusion), &new_root), "{position}");
    }
    let inclusion = app.get(&token, "/api/v1/proofs/inclusion?position=4").await.expect(200).body;
    assert_eq!(inclusion["checkpoint"], 9, "the latest checkpoint when none is named");

    // With the real binary, from the JSON bodies as the API served them.
    let key = app.get(&token, "/api/v1/public-key").await.expect(200).body;
    assert_eq!(key["key_id"], old["key_id"]);
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path();
    let key_json = write(files, "key.json", &key);
    let key_pem = files.join("key.pem");
    std::fs::write(&key_pem, key["public_key_pem"].as_str().unwrap()).unwrap();
    let key_pem = key_pem.display().to_string();
    let (old_file, new_file) = (write(files, "old.json", &old), write(files, "new.json", &new));
    let proof_file = write(files, "proof.json", &proof);
    let inclusion_file = write(files, "inclusion.json", &inclusion);
    let old_inclusion = app.get(&token, "/api/v1/proofs/inclusion?position=2&checkpoint=3").await.expect(200).body;
    let old_inclusion_file = write(files, "old-inclusion.json", &old_inclusion);

    for key in [&key_json, &key_pem] {
        let (code, stdout, stderr) = verify_proof(&[
            "--old",
            &old_file,
            "--new",
            &new_file,
            "--proof",
            &proof_file,
            "--public-key",
            key,
            "--inclusion",
            &inclusion_file,
            "--inclusion",
            &old_inclusion_file,
        ]);
        assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
        assert!(stdout.contains("ok: signature of the old checkpoint (tenant acme, position 3"), "{stdout}");
        assert!(stdout.contains("ok: consistency: the log at position 9 extends the log at position 3"), "{stdout}");
        assert!(stdout.contains("ok: inclusion: the event at position 4"), "{stdout}");
        assert!(stdout.contains("ok: inclusion: the event at position 2"), "{stdout}");
        assert!(stdout.trim_end().ends_with("verified"), "{stdout}");
    }
    let (code, stdout, _) = verify_proof(&["--checkpoint", &new_file, "--public-key", &key_json]);
    assert_eq!((code, stdout.contains("ok: signature of the new checkpoint")), (0, true));

    // Tampering is refused, naming what failed.
    let tampered = |name: &str, field: &str, value: Value, of: &Value| {
        let mut changed = of.clone();
        changed[field] = value;
        write(files, name, &changed)
    };
    let moved = tampered("moved.json", "position", json!(10), &new);
    let rerooted = tampered("rerooted.json", "merkle_root", new["merkle_root"].clone(), &old);
    let mut forged_path = proof.clone();
    forged_path["proof"][0] = json!(hex::encode([7u8; 32]));
    let forged = write(files, "forged.json", &forged_path);
    let cases: [(&[&str], &str); 6] = [
        (&["--old", &old_file, "--new", &moved, "--proof", &proof_file], "FAILED: bad signature on the new checkpoint"),
        (
            &["--old", &rerooted, "--new", &new_file, "--proof", &proof_file],
            "FAILED: bad signature on the old checkpoint",
        ),
        (&["--old", &old_file, "--new", &new_file, "--proof", &forged], "FAILED: the consistency proof does not match"),
        (&["--old", &new_file, "--new", &old_file, "--proof", &proof_file], "FAILED: sizes inconsistent"),
        (&["--new", &old_file, "--inclusion", &inclusion_file], "FAILED: sizes inconsistent"),
        (&["--new", &new_file, "--public-key", &old_file], "error: the public key"),
    ];
    for (args, message) in cases {
        let mut args = args.to_vec();
        if !args.contains(&"--public-key") {
            args.extend(["--public-key", &key_json]);
        }
        let (code, stdout, stderr) = verify_proof(&args);
        assert_ne!(code, 0, "{args:?} verified: {stdout}");
        assert!(stderr.contains(message), "{args:?}: expected '{message}' in: {stderr}");
    }
    let mut wrong_event = inclusion.clone();
    wrong_event["event_hash"] = events["items"][0]["hash"].clone();
    wrong_event["leaf_hash"] =
        json!(hex::encode(merkle::leaf_hash(&hex::decode(events["items"][0]["hash"].as_str().unwrap()).unwrap())));
    let wrong_event = write(files, "wrong-event.json", &wrong_event);
    let (code, _, stderr) = verify_proof(&["--new", &new_file, "--inclusion", &wrong_event, "--public-key", &key_json]);
    assert_eq!(code, 1);
    assert!(stderr.contains("FAILED: the inclusion proof does not match"), "{stderr}");
}

#[tokio::test]
async fn bad_parameters_are_problems_with_clear_codes() {
    let app = TestApp::spawn().await;
    let token = app.alice();
    let latest = app.get(&token, "/api/v1/checkpoints/latest").await.expect(404);
    assert_eq!(latest.code(), "checkpoint_not_found");
    assert_eq!(app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(409).code(), "log_empty");
    identify_risks(&app, &token, 2).await;
    app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(201);

    let problems = [
        ("/api/v1/proofs/consistency?from=3&to=2", 400, "invalid_proof_range"),
        ("/api/v1/proofs/consistency?from=99", 400, "invalid_proof_range"),
        ("/api/v1/proofs/consistency?from=1&to=2", 404, "checkpoint_not_found"),
        ("/api/v1/proofs/consistency?from=2&to=7", 404, "checkpoint_not_found"),
        ("/api/v1/proofs/consistency?to=2", 400, "invalid_query"),
        ("/api/v1/proofs/inclusion?position=0", 400, "position_not_in_checkpoint"),
        ("/api/v1/proofs/inclusion?position=3&checkpoint=2", 400, "position_not_in_checkpoint"),
        ("/api/v1/proofs/inclusion?position=1&checkpoint=1", 404, "checkpoint_not_found"),
        ("/api/v1/proofs/inclusion?position=one", 400, "invalid_query"),
        ("/api/v1/checkpoints/1", 404, "checkpoint_not_found"),
        ("/api/v1/checkpoints/first", 404, "checkpoint_not_found"),
        ("/api/v1/checkpoints?cursor=bm9wZQ", 400, "invalid_cursor"),
    ];
    for (path, status, code) in problems {
        let reply = app.get(&token, path).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{path}: {}", reply.body);
    }
    let proof = app.get(&token, "/api/v1/proofs/consistency?from=2&to=2").await.expect(200).body;
    assert_eq!(proof["proof"], json!([]), "a checkpoint is consistent with itself");

    let bob = app.token("bob", "acme", "isms:read isms:write");
    assert_eq!(app.post(&bob, "/api/v1/checkpoints", json!({})).await.expect(403).code(), "insufficient_scope");
    app.get(&bob, "/api/v1/proofs/consistency?from=2").await.expect(403);
    app.get(&bob, "/api/v1/public-key").await.expect(403);
    app.send(reqwest::Method::GET, None, "/api/v1/checkpoints", None, &[]).await.expect(401);
    app.send(reqwest::Method::GET, None, "/api/v1/public-key", None, &[]).await.expect(401);
    let unknown = app.post(&token, "/api/v1/checkpoints", json!({"position": 1})).await.expect(422);
    assert_eq!(unknown.code(), "invalid_body");
    app.send(reqwest::Method::POST, Some(&token), "/api/v1/checkpoints", None, &[]).await.expect(415);

    // Tenants have their own checkpoints.
    let globex = app.token("gina", "globex", "audit:read");
    app.get(&globex, "/api/v1/checkpoints/latest").await.expect(404);
    app.get(&globex, "/api/v1/checkpoints/2").await.expect(404);
    assert_eq!(app.post(&globex, "/api/v1/checkpoints", json!({})).await.expect(409).code(), "log_empty");
}

#[tokio::test]
async fn checkpoints_and_proofs_survive_a_restart() {
    let app = TestApp::spawn().await;
    let token = app.alice();
    identify_risks(&app, &token, 5).await;
    let old = app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(201).body;
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir).await;
    assert_eq!(app.get(&token, "/api/v1/checkpoints/latest").await.expect(200).body, old);
    identify_risks(&app, &token, 6).await;
    let new = app.post(&token, "/api/v1/checkpoints", json!({})).await.expect(201).body;
    let proof = app.get(&token, "/api/v1/proofs/consistency?from=5&to=11").await.expect(200).body;
    assert!(merkle::verify_consistency(
        5,
        11,
        &path_of(&proof),
        &hash(&old["merkle_root"]),
        &hash(&new["merkle_root"])
    ));
}

/// Polls the latest checkpoint until `ready` accepts it.
async fn wait_for_checkpoint(app: &TestApp, token: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = app.get(token, "/api/v1/checkpoints/latest").await;
        if reply.status == 200 && ready(&reply.body) {
            return reply.body;
        }
        assert!(Instant::now() < deadline, "no automatic checkpoint; last reply {}", reply.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn checkpoints_are_taken_every_k_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    config.checkpoints = isms_store::proofs::CheckpointPolicy { every_events: 5, interval: Duration::ZERO };
    let app = TestApp::spawn_with(dir, config).await;
    let token = app.alice();
    identify_risks(&app, &token, 4).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.get(&token, "/api/v1/checkpoints/latest").await.expect(404);
    identify_risks(&app, &token, 2).await;
    let first = wait_for_checkpoint(&app, &token, |_| true).await;
    assert!(first["position"].as_u64().unwrap() >= 5, "{first}");
    identify_risks(&app, &token, 5).await;
    let second = wait_for_checkpoint(&app, &token, |c| c["position"] != first["position"]).await;
    let list = app.get(&token, "/api/v1/checkpoints").await.expect(200).body;
    assert_eq!(list["items"], json!([first, second]));
}

#[tokio::test]
async fn checkpoints_are_taken_when_the_interval_passed_and_the_log_grew() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    config.checkpoints = isms_store::proofs::CheckpointPolicy { every_events: 0, interval: Duration::from_secs(1) };
    let app = TestApp::spawn_with(dir, config).await;
    let token = app.alice();
    identify_risks(&app, &token, 1).await;
    let checkpoint = wait_for_checkpoint(&app, &token, |_| true).await;
    assert_eq!(checkpoint["position"], 1);
}

#[tokio::test]
async fn the_operator_prints_the_public_key_the_server_serves() {
    let app = TestApp::spawn().await;
    let served = app.get(&app.token("auditor", "acme", "audit:read"), "/api/v1/public-key").await.expect(200);
    // While the server runs: the key file is read, the event log is not opened.
    let output = Command::new(BIN).args(["public-key", "--data-dir"]).arg(app.dir.path()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, served.body);
    let empty = tempfile::tempdir().unwrap();
    let missing = Command::new(BIN).args(["public-key", "--data-dir"]).arg(empty.path()).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no checkpoint key"));
}

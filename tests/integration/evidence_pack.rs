//! Evidence packs: downloaded from the API, verified offline by the real `isms verify-pack`,
//! and any byte changed in any file is caught and named.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::TestApp;

const BIN: &str = env!("CARGO_BIN_EXE_isms");

async fn download(app: &TestApp, token: &str, query: &str) -> Vec<u8> {
    // A fresh connection: the pooled one may have idled past the server's keep-alive while the
    // verify-pack runs went on, and reusing it races the server closing it (IncompleteMessage).
    let client = reqwest::Client::new();
    let response =
        client.get(format!("{}/api/v1/evidence-pack{query}", app.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"evidence-pack-acme-"), "{disposition}");
    response.bytes().await.unwrap().to_vec()
}

/// Runs `isms verify-pack` on `archive`: exit code and stdout + stderr.
fn verify_pack(dir: &Path, archive: &[u8], public_key: Option<&str>) -> (i32, String) {
    let file = dir.join("pack.tar.gz");
    std::fs::write(&file, archive).unwrap();
    let mut command = Command::new(BIN);
    command.arg("verify-pack").arg(&file);
    if let Some(key) = public_key {
        command.args(["--public-key", key]);
    }
    let output = command.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

fn file<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    &files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} in the pack")).1
}

#[tokio::test]
async fn an_evidence_pack_verifies_offline_and_names_any_tampered_file() {
    let app = TestApp::spawn().await;
    let token = app.alice();
    app.post(
        &token,
        "/api/v1/context-issues",
        json!({"category": "internal", "title": "Few engineers", "effect_on_isms": "Key-person risk"}),
    )
    .await
    .expect(201);
    let risk = app.identify_risk(&token, "alice").await;
    app.raise_nonconformity(&token, "minor").await;
    let work = tempfile::tempdir().unwrap();

    let archive = download(&app, &token, "").await;
    let files = isms_evidence::archive::read(&archive).unwrap();
    let manifest: Value = serde_json::from_slice(file(&files, "manifest.json")).unwrap();
    assert_eq!((manifest["tenant"].as_str(), manifest["position"].as_u64()), (Some("acme"), Some(3)));
    // The registers are rendered as the list endpoints render them, the CSV exports are the API's.
    let risks: Value = serde_json::from_slice(file(&files, "registers/risks.json")).unwrap();
    assert_eq!(risks["items"], app.get(&token, "/api/v1/risks").await.expect(200).body["items"]);
    assert_eq!(risks["items"][0]["id"], risk.as_str());
    let api_csv = app
        .client
        .get(format!("{}/api/v1/reports/soa", app.base))
        .bearer_auth(&token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(file(&files, "reports/soa.csv"), api_csv.as_ref());

    // Verified with the pack's own key: passes, but says it is only self-consistent.
    let (code, output) = verify_pack(work.path(), &archive, None);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("no --public-key given") && output.contains("self-consistent"), "{output}");
    // With the server's key, as a public-key.json file and as base64.
    let server_key = isms::secret::checkpoint_key(app.dir.path()).unwrap().verifying_key();
    let key_file = isms_evidence::public_key_file(&server_key);
    let key_path = work.path().join("server-key.json");
    std::fs::write(&key_path, serde_json::to_vec(&key_file).unwrap()).unwrap();
    let (code, output) = verify_pack(work.path(), &archive, Some(key_path.to_str().unwrap()));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("trusted key") && output.contains(&key_file.key_id), "{output}");
    let (code, output) = verify_pack(work.path(), &archive, Some(&key_file.public_key));
    assert_eq!(code, 0, "{output}");
    // A key the server does not hold fails both signatures.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let stranger = isms_evidence::public_key_file(&stranger).public_key;
    let (code, output) = verify_pack(work.path(), &archive, Some(&stranger));
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("FAILED  checkpoint.json: signature"), "{output}");
    assert!(output.contains("FAILED  manifest.signature.json: signature"), "{output}");
    // A key that is no key is a usage error.
    assert_eq!(verify_pack(work.path(), &archive, Some("not-a-key")).0, 2);

    // One byte flipped in any file of the pack (the archive rebuilt around it) is caught and named.
    for (path, content) in &files {
        if content.is_empty() {
            continue; // the CSV of a register without records
        }
        let mut tampered = files.clone();
        let (_, bytes) = tampered.iter_mut().find(|(p, _)| p == path).unwrap();
        bytes[content.len() / 2] ^= 0x01;
        let (code, output) =
            verify_pack(work.path(), &isms_evidence::archive::write(&tampered, 0).unwrap(), Some(&key_file.public_key));
        assert_eq!(code, 3, "{path}: {output}");
        let named = output.lines().any(|line| line.starts_with("FAILED") && line.contains(path.as_str()));
        assert!(named, "{path} is not named:\n{output}");
        if path == "events.ndjson" {
            assert!(output.contains("hash chain: broken at position 2"), "{output}");
        }
    }

    // A pack as of a position holds that prefix of the log and verifies too.
    let prefix = download(&app, &token, "?as_of_position=2").await;
    let prefix_files = isms_evidence::archive::read(&prefix).unwrap();
    let events = String::from_utf8(file(&files, "events.ndjson").to_vec()).unwrap();
    let first_two: String = events.split_inclusive('\n').take(2).collect();
    assert_eq!(file(&prefix_files, "events.ndjson"), first_two.as_bytes());
    let manifest: Value = serde_json::from_slice(file(&prefix_files, "manifest.json")).unwrap();
    assert_eq!(manifest["position"], 2);
    let nonconformities: Value = serde_json::from_slice(file(&prefix_files, "registers/nonconformities.json")).unwrap();
    assert_eq!(nonconformities["count"], 0, "the nonconformity came after position 2");
    let (code, output) = verify_pack(work.path(), &prefix, Some(&key_file.public_key));
    assert_eq!(code, 0, "{output}");

    // Only audit:read may take the log away.
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let reply = app.get(&bob, "/api/v1/evidence-pack").await.expect(403);
    assert_eq!(reply.code(), "insufficient_scope");
}

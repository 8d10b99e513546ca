//! Lifecycle of the real binary: SIGTERM in the middle of a write storm loses no acknowledged
//! command, and `isms rebuild` replays every tenant offline, naming an event that does not project.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use isms_store::{CommitBatch, SledStorage, Storage, TenantId};
use serde_json::json;

use crate::binary::{token, Server};

const BIN: &str = env!("CARGO_BIN_EXE_isms");
const WRITERS: usize = 32;

fn isms(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN).args(args).arg("--data-dir").arg(dir).env("ISMS_LOG", "warn").output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_write_storm_exits_0_and_keeps_every_acknowledged_command() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path());
    let Server { mut child, base } = Server::start(dir.path()).await;
    let acknowledged_so_far = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (base, token, counter) = (base.clone(), token.clone(), acknowledged_so_far.clone());
        writers.push(tokio::spawn(async move {
            // A client per writer: separate connections, as separate callers would have.
            let client = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            for n in 0..10_000 {
                let sent = client
                    .post(format!("{base}/api/v1/risks"))
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("writer {writer} risk {n}"), "category": "c", "owner": "alice"}))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                // Once the server stops, connections are refused or closed: the storm is over.
                let Ok(response) = sent else { break };
                if !response.status().is_success() {
                    break;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else { break };
                acknowledged.push(body["id"].as_str().unwrap().to_owned());
                counter.fetch_add(1, Ordering::Relaxed);
            }
            acknowledged
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged_so_far.load(Ordering::Relaxed) < 300 {
        assert!(Instant::now() < deadline, "the storm did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let signalled = Instant::now();
    let at_signal = acknowledged_so_far.load(Ordering::Relaxed);
    let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
    eprintln!(
        "sigterm storm: {at_signal} acknowledged before SIGTERM, {} in all; exited {} ms after SIGTERM",
        acknowledged.len(),
        signalled.elapsed().as_millis()
    );

    let verified = isms(&["verify"], dir.path());
    assert!(verified.status.success(), "{}", text(&verified));

    let Server { mut child, base } = Server::start(dir.path()).await;
    let client = reqwest::Client::new();
    let feed: serde_json::Value =
        client.get(format!("{base}/api/v1/integrity")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let head = feed["chain_head"]["position"].as_u64().unwrap();
    assert!(head >= acknowledged.len() as u64, "{head} events for {} acknowledged", acknowledged.len());
    let mut present = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/risks?limit=500");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client.get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        present.extend(page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !present.contains(*id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged risks lost: {lost:?}", lost.len(), acknowledged.len());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_replays_every_tenant_and_names_the_first_event_that_does_not_project() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path());
    let Server { mut child, base } = Server::start(dir.path()).await;
    let client = reqwest::Client::new();
    for n in 0..3 {
        let response = client
            .post(format!("{base}/api/v1/risks"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("risk {n}"), "category": "c", "owner": "alice"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let busy = isms(&["rebuild"], dir.path());
    assert_eq!(busy.status.code(), Some(isms::exit_code::LOCKED), "{}", text(&busy));
    child.kill().unwrap();
    child.wait().unwrap();

    let rebuilt = isms(&["rebuild"], dir.path());
    assert!(rebuilt.status.success(), "{}", text(&rebuilt));
    assert!(text(&rebuilt).contains("tenant acme: 3 events verified"), "{}", text(&rebuilt));

    // An event whose hash chains correctly but whose payload the risk register cannot read
    // (as a buggy writer or a missing upcaster would leave behind).
    {
        let storage = SledStorage::open(&isms::events_dir(dir.path())).unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        let mut event = storage.last_event(&tenant).unwrap().unwrap();
        event.prev_hash = event.hash.clone();
        event.position += 1;
        event.version += 1;
        event.event_id = uuid::Uuid::now_v7();
        event.event_type = "RiskAssessed".into();
        event.data = json!({"likelihood": "not a number"});
        event.hash = isms_store::chain::envelope_hash(&event);
        storage.write(&CommitBatch { events: vec![event], idempotency: Vec::new() }).unwrap();
        storage.sync().unwrap();
    }
    let failed = isms(&["rebuild"], dir.path());
    assert_eq!(failed.status.code(), Some(isms::exit_code::PROJECTION_FAILED), "{}", text(&failed));
    assert!(text(&failed).contains("position 4 (RiskAssessed on"), "{}", text(&failed));
}

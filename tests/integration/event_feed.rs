//! The event feed as CloudEvents and its live stream (Server-Sent Events): shape, type
//! filters, scopes, and resuming without gaps or repeats across restarts of either side.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{serve_config, TestApp};

#[tokio::test]
async fn the_feed_serves_cloudevents_filtered_by_type() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 4, "impact": 4}))
        .await
        .expect(200);

    let feed = app.get(&alice, "/api/v1/events?after=0&limit=10").await.expect(200).body;
    let first = &feed["items"][0];
    assert_eq!(first["specversion"], "1.0");
    assert_eq!(first["type"], "isms.risk.identified.v1");
    assert_eq!(first["subject"], risk.as_str());
    assert_eq!(first["source"], "/isms-ledger/tenants/acme");
    assert_eq!(first["datacontenttype"], "application/json");
    assert_eq!((first["position"].as_u64(), first["streamversion"].as_u64()), (Some(1), Some(1)));
    assert_eq!(first["data"]["title"], "Laptop theft");
    assert!(first["id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
    assert!(first["time"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()));
    assert_eq!(feed["items"][1]["type"], "isms.risk.assessed.v1");
    assert_eq!((feed["next_after"].as_u64(), feed["head_position"].as_u64()), (Some(2), Some(2)));

    let types = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
    };
    let assessed = app.get(&alice, "/api/v1/events?type=isms.risk.assessed.v1").await.expect(200).body;
    assert_eq!(types(&assessed), ["isms.risk.assessed.v1"]);
    let both = app.get(&alice, "/api/v1/events?type=isms.risk.assessed.v1&type=isms.risk.identified.v1").await;
    assert_eq!(types(&both.expect(200).body).len(), 2);
    let prefix = app.get(&alice, "/api/v1/events?type=isms.risk.*,isms.person.joined.v1").await.expect(200).body;
    assert_eq!(types(&prefix).len(), 2);
    let none = app.get(&alice, "/api/v1/events?type=isms.person.joined.v1").await.expect(200).body;
    assert_eq!(
        (types(&none).len(), none["next_after"].as_u64()),
        (0, Some(2)),
        "a filtered page moves past what it read"
    );

    let integrator = app.token("bridge", "acme", "integrations");
    app.get(&integrator, "/api/v1/events").await.expect(200);
    let live = app.client.get(format!("{}/api/v1/events/stream?after=99", app.base)).bearer_auth(&integrator);
    assert_eq!(live.send().await.unwrap().status(), 200, "the stream is open to integrators");
    let reader = app.token("bob", "acme", "isms:read isms:write");
    assert_eq!(app.get(&reader, "/api/v1/events").await.expect(403).code(), "insufficient_scope");
    assert_eq!(app.get(&reader, "/api/v1/events/stream").await.expect(403).code(), "insufficient_scope");
    let bad = app.send(reqwest::Method::GET, Some(&alice), "/api/v1/events/stream", None, &[("Last-Event-ID", "x")]);
    assert_eq!(bad.await.expect(400).code(), "invalid_last_event_id");
}

/// One server-sent event as a consumer sees it.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: u64,
    event: String,
    data: Value,
}

/// Reads the stream until `count` events arrived (or fails after a deadline); returns them and
/// whether a heartbeat comment was seen.
async fn read_events(mut response: reqwest::Response, count: usize) -> (Vec<Sse>, bool) {
    let (mut text, mut events, mut heartbeat) = (String::new(), Vec::new(), false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while events.len() < count {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.expect("events arrive in time");
        text.push_str(std::str::from_utf8(&chunk.unwrap().expect("the stream stays open")).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            heartbeat |= block.starts_with(": heartbeat");
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
            if let (Some(id), Some(event), Some(data)) = (field("id: "), field("event: "), field("data: ")) {
                events.push(Sse { id: id.parse().unwrap(), event, data: serde_json::from_str(&data).unwrap() });
            }
        }
    }
    (events, heartbeat)
}

async fn open_stream(app: &TestApp, last_event_id: Option<u64>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}/api/v1/events/stream", app.base)).bearer_auth(app.alice());
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response
}

#[tokio::test]
async fn a_stream_consumer_that_stores_its_position_misses_and_repeats_nothing_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    config.webhooks.stream_heartbeat = Duration::from_millis(100);
    let app = TestApp::spawn_with(dir, config.clone()).await;
    let alice = app.alice();
    for _ in 0..3 {
        app.identify_risk(&alice, "alice").await;
    }
    let mut consumed = Vec::new();

    // From the start, then live: an event recorded while connected arrives, after a heartbeat.
    let stream = open_stream(&app, None).await;
    let reader = tokio::spawn(read_events(stream, 4));
    tokio::time::sleep(Duration::from_millis(250)).await;
    app.identify_risk(&alice, "alice").await;
    let (events, heartbeat) = reader.await.unwrap();
    assert!(heartbeat, "an idle stream carries heartbeat comments");
    consumed.extend(events);

    // The consumer restarts while two events are recorded, and resumes from its stored id.
    let stored = consumed.last().unwrap().id;
    app.identify_risk(&alice, "alice").await;
    app.identify_risk(&alice, "alice").await;
    consumed.extend(read_events(open_stream(&app, Some(stored)).await, 2).await.0);

    // The server restarts on the same data directory; the consumer resumes again.
    let stored = consumed.last().unwrap().id;
    let dir = app.stop().await;
    let app = TestApp::spawn_with(dir, config).await;
    let alice = app.alice();
    app.identify_risk(&alice, "alice").await;
    consumed.extend(read_events(open_stream(&app, Some(stored)).await, 1).await.0);
    // `?after=` resumes the same way for clients that cannot set headers.
    let after = app.client.get(format!("{}/api/v1/events/stream?after=6", app.base)).bearer_auth(&alice);
    let (tail, _) = read_events(after.send().await.unwrap(), 1).await;
    assert_eq!(tail[0].id, 7);

    let log = app.get(&alice, "/api/v1/events?after=0&limit=100").await.expect(200).body;
    let log: Vec<&Value> = log["items"].as_array().unwrap().iter().collect();
    assert_eq!(consumed.len(), log.len(), "every event once: {consumed:?}");
    for (received, event) in consumed.iter().zip(log) {
        assert_eq!(received.id, event["position"].as_u64().unwrap());
        assert_eq!(received.event, event["type"].as_str().unwrap());
        assert_eq!(&received.data, event, "the data line is the feed's CloudEvent");
    }
}

/// The real binary: SIGTERM ends open streams first, so a consumer that never hangs up does
/// not hold the graceful stop for its whole 30-second timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_streams_instead_of_waiting_for_them() {
    const BIN: &str = env!("CARGO_BIN_EXE_isms");
    let dir = tempfile::tempdir().unwrap();
    let minted = std::process::Command::new(BIN)
        .args(["token", "--data-dir"])
        .arg(dir.path())
        .args(["--sub", "alice", "--tenant", "acme", "--scope", "audit:read"])
        .output()
        .unwrap();
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--bind", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .env("ISMS_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (base, client) = (format!("http://127.0.0.1:{port}"), reqwest::Client::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(tokio::time::Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stream = client.get(format!("{base}/api/v1/events/stream")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the stream opened");

    let stopping = std::time::Instant::now();
    let terminated = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
    assert!(stopping.elapsed() < Duration::from_secs(10), "stopped in {:?}", stopping.elapsed());
    let rest = tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await.expect("the stream ended");
    assert!(rest.map_or(true, |chunk| chunk.is_none()), "the stream ended cleanly or was cut");
}

//! Webhooks: a receiver on 127.0.0.1 (allow-listed) that is down for a while, across a
//! restart of the ledger, gets every event with signatures that verify under the Standard
//! Webhooks algorithm (implemented here independently); 410 disables; rotation signs twice;
//! the SSRF guard refuses internal targets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::support::{serve_config, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signatures: String,
    body: Vec<u8>,
}

/// A webhook endpoint answering with `status` (200 unless changed).
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    server: actix_web::dev::ServerHandle,
}

impl Receiver {
    async fn start(address: SocketAddr) -> Self {
        let got = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (log, answer) = (got.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (log, answer) = (log.clone(), answer.clone());
            actix_web::App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
                let (log, answer) = (log.clone(), answer.clone());
                async move {
                    let header = |name: &str| {
                        request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                    };
                    log.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signatures: header("webhook-signature"),
                        body: body.to_vec(),
                    });
                    let status = answer.load(Ordering::SeqCst);
                    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                    if status == 503 {
                        response.insert_header(("Retry-After", "1"));
                    }
                    response.finish()
                }
            }))
        })
        .workers(1)
        .bind(address)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { got, status, server: handle }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {received:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The Standard Webhooks verification, written from the specification (not the server's
/// code): HMAC-SHA256 keyed with the base64-decoded secret after `whsec_`, over
/// `{webhook-id}.{webhook-timestamp}.{body}`, base64; the header lists `v1,<sig>` entries
/// separated by spaces, and one matching entry suffices.
fn verifies(secret: &str, delivery: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(delivery.id.as_bytes());
    mac.update(b".");
    mac.update(delivery.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&delivery.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    delivery.signatures.split(' ').any(|entry| entry.strip_prefix("v1,") == Some(expected.as_str()))
}

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn allow_loopback(config: &mut isms::ServeConfig) {
    config.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    config.webhooks.retry_delays = vec![Duration::from_millis(40); 500];
    config.webhooks.connect_timeout = Duration::from_secs(1);
    config.webhooks.request_timeout = Duration::from_secs(2);
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let page = app.get(&app.alice(), &format!("/api/v1/webhooks/{webhook}/deliveries?limit=500")).await.expect(200);
    page.body["items"].as_array().unwrap().clone()
}

async fn poll<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_receiver_down_across_a_restart_gets_every_event_signed() {
    let receiver_address = free_address();
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    allow_loopback(&mut config);
    let app = TestApp::spawn_with(dir, config.clone()).await;
    let alice = app.alice();
    let created = app
        .post(&alice, "/api/v1/webhooks", json!({"url": format!("http://{receiver_address}/hook"), "event_types": []}))
        .await
        .expect(201);
    let (webhook, secret) = (created.body["id"].as_str().unwrap().to_owned(), created.body["secret"].clone());
    let secret = secret.as_str().expect("the generated secret is returned on creation").to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created.header("location").unwrap(), format!("/api/v1/webhooks/{webhook}"));
    let shown = app.get(&alice, &format!("/api/v1/webhooks/{webhook}")).await.expect(200).body;
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");
    let listed = app.get(&alice, "/api/v1/webhooks").await.expect(200).body;
    assert!(listed["items"][0].get("secret").is_none());

    for _ in 0..3 {
        app.identify_risk(&alice, "alice").await;
    }
    // The receiver is down: every delivery fails and is retried...
    poll("failed attempts", async || {
        let items = deliveries(&app, &webhook).await;
        let failing = items.iter().all(|d| d["attempt_count"].as_u64() >= Some(2) && d["status"] == "pending");
        (items.len() == 3 && failing).then_some(())
    })
    .await;
    let log = deliveries(&app, &webhook).await;
    let attempt = &log[0]["attempts"][0];
    assert!(attempt["status_code"].is_null() && attempt["error"].as_str().is_some(), "{attempt}");

    // ...and the ledger restarts mid-retry, then records more while the receiver is still down.
    let dir = app.stop().await;
    let app = TestApp::spawn_with(dir, config).await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 2, "impact": 3}))
        .await
        .expect(200);

    let receiver = Receiver::start(receiver_address).await;
    let feed = app.get(&alice, "/api/v1/events?after=0&limit=100&type=isms.risk.*").await.expect(200).body;
    let events = feed["items"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    // The subscription itself is on record, without its secret or path.
    let record = app.get(&alice, "/api/v1/events?type=isms.webhook_subscription.*").await.expect(200).body;
    assert_eq!(record["items"][0]["type"], "isms.webhook_subscription.created.v1");
    assert_eq!(record["items"][0]["data"]["target"], format!("http://{receiver_address}"));
    let whole_log = app.get(&alice, "/api/v1/audit-trail?limit=500").await.expect(200).body.to_string();
    assert!(!whole_log.contains(&secret) && !whole_log.contains("/hook"), "no secret or path in the log");
    let received = receiver
        .wait_for("every event", |got| {
            let ids: std::collections::BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
            ids.len() == 5
        })
        .await;
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for delivery in &received {
        assert!(verifies(&secret, delivery), "the signature verifies: {delivery:?}");
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let expected = format!("msg_{}", body["id"].as_str().unwrap().replace('-', ""));
        assert_eq!(delivery.id, expected, "webhook-id is stable per event");
        by_id.insert(delivery.id.clone(), body);
    }
    let delivered: Vec<&Value> = by_id.values().collect();
    let mut delivered = delivered.clone();
    delivered.sort_by_key(|e| e["position"].as_u64());
    assert_eq!(delivered, events.iter().collect::<Vec<_>>(), "each event arrives, as the feed serves it");
    let log = poll("succeeded deliveries", async || {
        let items = deliveries(&app, &webhook).await;
        items.iter().all(|d| d["status"] == "succeeded").then_some(items)
    })
    .await;
    assert_eq!(log.len(), 5);
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_and_410_disables_until_activated() {
    let receiver_address = free_address();
    let receiver = Receiver::start(receiver_address).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    allow_loopback(&mut config);
    let app = TestApp::spawn_with(dir, config).await;
    let alice = app.alice();
    let old_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    let created = app
        .post(
            &alice,
            "/api/v1/webhooks",
            json!({"url": format!("http://{receiver_address}/hook"), "secret": old_secret,
                   "event_types": ["isms.risk.identified.v1"]}),
        )
        .await
        .expect(201);
    let webhook = created.body["id"].as_str().unwrap().to_owned();
    let rotated = app.post(&alice, &format!("/api/v1/webhooks/{webhook}/secret-rotation"), json!({})).await.expect(200);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    assert_eq!(rotated.body["signing_secrets"].as_array().unwrap().len(), 2);

    let risk = app.identify_risk(&alice, "alice").await;
    // Not in the filter: never delivered.
    app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 2, "impact": 3}))
        .await
        .expect(200);
    let first = receiver.wait_for("the first delivery", |got| !got.is_empty()).await;
    assert_eq!(first[0].signatures.split(' ').count(), 2, "{:?}", first[0]);
    assert!(verifies(&old_secret, &first[0]) && verifies(&new_secret, &first[0]));

    receiver.status.store(410, Ordering::SeqCst);
    app.identify_risk(&alice, "alice").await;
    let disabled = poll("the subscription disabled by 410", async || {
        let shown = app.get(&alice, &format!("/api/v1/webhooks/{webhook}")).await.expect(200).body;
        (shown["active"] == false).then_some(shown)
    })
    .await;
    assert!(disabled["disabled_reason"].as_str().unwrap().contains("410"));
    let log = deliveries(&app, &webhook).await;
    assert_eq!(log.len(), 2, "the assessment is filtered out");
    let gone = &log[0];
    assert_eq!((gone["status"].as_str(), gone["attempts"][0]["status_code"].as_u64()), (Some("failed"), Some(410)));

    // Nothing reaches an inactive subscription; activation delivers the backlog, and a failed
    // delivery can be sent again under the same webhook-id.
    app.identify_risk(&alice, "alice").await;
    receiver.status.store(200, Ordering::SeqCst);
    let before = receiver.received().len();
    app.post(&alice, &format!("/api/v1/webhooks/{webhook}/activation"), json!({})).await.expect(200);
    receiver.wait_for("the backlog", |got| got.len() == before + 1).await;
    let redelivery = format!("/api/v1/webhooks/{webhook}/deliveries/{}/redelivery", gone["id"].as_str().unwrap());
    app.post(&alice, &redelivery, json!({})).await.expect(202);
    let again = receiver.wait_for("the redelivery", |got| got.iter().filter(|r| r.id == gone["id"]).count() == 2).await;
    assert!(again.iter().all(|r| verifies(&new_secret, r)));
    let unknown = format!("/api/v1/webhooks/{webhook}/deliveries/msg_unknown/redelivery");
    app.post(&alice, &unknown, json!({})).await.expect(404);

    // Another tenant's admin sees nothing of it.
    let stranger = app.token("mallory", "globex", crate::support::ALL_SCOPES);
    app.get(&stranger, &format!("/api/v1/webhooks/{webhook}")).await.expect(404);
    app.get(&stranger, &format!("/api/v1/webhooks/{webhook}/deliveries")).await.expect(404);
    assert!(app.get(&stranger, "/api/v1/webhooks").await.expect(200).body["items"].as_array().unwrap().is_empty());

    app.post(&alice, &format!("/api/v1/webhooks/{webhook}/deactivation"), json!({})).await.expect(200);
    app.send(reqwest::Method::DELETE, Some(&alice), &format!("/api/v1/webhooks/{webhook}"), None, &[])
        .await
        .expect(204);
    app.get(&alice, &format!("/api/v1/webhooks/{webhook}")).await.expect(404);
    receiver.server.stop(false).await;

    // Every change is in the log, with who made it: the 410 deactivation by the server.
    let trail = app.get(&alice, "/api/v1/audit-trail?stream_type=webhook_subscription").await.expect(200).body;
    let changes: Vec<(&str, &str)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event_type"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("WebhookSubscriptionCreated", "alice"),
            ("WebhookSubscriptionSecretRotated", "alice"),
            ("WebhookSubscriptionDeactivated", "isms-webhooks"),
            ("WebhookSubscriptionActivated", "alice"),
            ("WebhookSubscriptionDeactivated", "alice"),
            ("WebhookSubscriptionDeleted", "alice"),
        ]
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_guard_checks_again_at_delivery() {
    let receiver_address = free_address();
    let receiver = Receiver::start(receiver_address).await;
    receiver.status.store(503, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    allow_loopback(&mut config);
    let app = TestApp::spawn_with(dir, config.clone()).await;
    let alice = app.alice();
    let created = app.post(&alice, "/api/v1/webhooks", json!({"url": format!("http://{receiver_address}/")})).await;
    let webhook = created.expect(201).body["id"].as_str().unwrap().to_owned();
    app.identify_risk(&alice, "alice").await;
    let busy = poll("a 503 answer", async || {
        let items = deliveries(&app, &webhook).await;
        items.first().filter(|d| d["attempt_count"] == 1 && d["next_attempt_at"].is_string()).cloned()
    })
    .await;
    assert_eq!(busy["attempts"][0]["status_code"], 503);
    let at = |field: &Value| chrono::DateTime::parse_from_rfc3339(field.as_str().unwrap()).unwrap();
    let wait = at(&busy["next_attempt_at"]) - at(&busy["attempts"][0]["at"]);
    assert!(wait >= chrono::Duration::milliseconds(900), "Retry-After: 1 wins over the 40 ms schedule: {wait}");
    receiver.status.store(200, Ordering::SeqCst);
    receiver.wait_for("the retry", |got| got.len() == 2).await;

    // The same subscription after a restart without the allow-list: refused at delivery time.
    let dir = app.stop().await;
    config.webhooks.allow_hosts.clear();
    let app = TestApp::spawn_with(dir, config).await;
    app.identify_risk(&app.alice(), "alice").await;
    let refused = poll("a refused attempt", async || {
        let items = deliveries(&app, &webhook).await;
        items.first().filter(|d| d["position"] == 3 && d["attempt_count"].as_u64() >= Some(1)).cloned()
    })
    .await;
    let error = refused["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("may not target"), "{error}");
    assert_eq!(receiver.received().len(), 2, "nothing reached the receiver");
}

#[tokio::test]
async fn internal_targets_are_refused_without_an_allow_list() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8080/hook",
        "http://127.0.0.1:8080/hook",
        "ftp://93.184.216.34/hook",
    ] {
        let refused = app.post(&alice, "/api/v1/webhooks", json!({"url": url})).await.expect(422);
        assert_eq!(refused.code(), "webhook_url_refused", "{url}");
        assert_eq!(refused.body["errors"][0]["pointer"], "/url", "{url}");
    }
    let invalid = app
        .post(&alice, "/api/v1/webhooks", json!({"url": "http://10.0.0.1/", "secret": "nope", "event_types": ["Bad"]}))
        .await
        .expect(422);
    let pointers: Vec<&str> =
        invalid.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/url", "/event_types/0", "/secret"]);
    assert!(app.get(&alice, "/api/v1/webhooks").await.expect(200).body["items"].as_array().unwrap().is_empty());
    let reader = app.token("bob", "acme", "isms:read isms:write audit:read");
    app.get(&reader, "/api/v1/webhooks").await.expect(403);
    app.get(&alice, "/api/v1/webhooks/not-a-uuid").await.expect(404);
}

//! Limits (OWASP API4), black-box: oversized bodies refused before they are read, page sizes
//! capped and stated, deeply nested JSON refused cleanly, per-principal rate limiting, the
//! handler timeout, CORS closed by default and open to configured origins, security headers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use isms_api::limits::HttpLimits;
use serde_json::json;

use crate::support::{serve_config, TestApp};

async fn spawn_with_limits(limits: HttpLimits) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    config.limits = limits;
    TestApp::spawn_with(dir, config).await
}

/// The head of a command request, ending with `extra` header lines and the blank line.
fn command_head(app: &TestApp, token: &str, extra: &str) -> String {
    let host = app.base.trim_start_matches("http://");
    format!(
        "POST /api/v1/risks HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\n{extra}\r\n"
    )
}

/// Writes `head` (and `body_chunks` of a chunked body, from another thread so a server that
/// stops reading cannot block the test) on a raw connection, and returns the response (head
/// and body, as far as `Content-Length` says) and how long it took to arrive.
fn raw_exchange(app: &TestApp, head: &str, body_chunks: Option<(usize, usize)>) -> (String, Duration) {
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    if let Some((chunk_size, chunks)) = body_chunks {
        let mut writer = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = format!("{chunk_size:x}\r\n{}\r\n", " ".repeat(chunk_size));
            for _ in 0..chunks {
                if writer.write_all(chunk.as_bytes()).is_err() {
                    return;
                }
            }
            let _ = writer.write_all(b"0\r\n\r\n");
        });
    }
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&response).to_ascii_lowercase();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| line.strip_prefix("content-length:")).map(|v| v.trim());
            if body.len() >= length.and_then(|v| v.parse().ok()).unwrap_or(0) {
                break;
            }
        }
        let read = stream.read(&mut buffer).expect("a response before the read timeout");
        if read == 0 {
            break;
        }
        response.extend_from_slice(&buffer[..read]);
    }
    assert!(!response.is_empty(), "connection closed without a response");
    (String::from_utf8_lossy(&response).into_owned(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_body_is_refused_413_before_it_is_read() {
    let app = TestApp::spawn().await;
    let token = app.alice();
    let app = std::sync::Arc::new(app);
    let declared = {
        let (app, token) = (app.clone(), token.clone());
        // Only the head is sent: an answer proves the server did not wait for 10 MB.
        tokio::task::spawn_blocking(move || {
            raw_exchange(&app, &command_head(&app, &token, "Content-Length: 10485760\r\n"), None)
        })
    };
    let (status, elapsed) = declared.await.unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(elapsed < Duration::from_secs(2), "answered in {elapsed:?}");

    let chunked = {
        let (app, token) = (app.clone(), token.clone());
        // 160 chunks of 64 KiB = 10 MiB, no Content-Length.
        tokio::task::spawn_blocking(move || {
            let head = command_head(&app, &token, "Transfer-Encoding: chunked\r\n");
            raw_exchange(&app, &head, Some((64 * 1024, 160)))
        })
    };
    let (status, elapsed) = chunked.await.unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(elapsed < Duration::from_secs(5), "answered in {elapsed:?}");

    let reply = app
        .send(reqwest::Method::POST, Some(&token), "/api/v1/risks", None, &[("content-type", "application/json")])
        .await;
    assert_eq!(reply.status, 400, "an empty body is still just malformed");
    let big = json!({"title": "x".repeat(300 * 1024), "category": "c", "owner": "alice"});
    let reply = app.post(&token, "/api/v1/risks", big).await.expect(413);
    assert_eq!(reply.code(), "payload_too_large");
    assert_eq!(reply.header("content-type").as_deref(), Some("application/problem+json"));
    assert!(reply.body["detail"].as_str().unwrap().contains("262144"), "{}", reply.body);
}

#[tokio::test]
async fn every_list_caps_its_page_size_and_states_the_limit_applied() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    app.identify_risk(&alice, "alice").await;
    for path in [
        "/api/v1/risks?limit=1000000",
        "/api/v1/audit-trail?limit=1000000",
        "/api/v1/events?limit=1000000",
        "/api/v1/checkpoints?limit=1000000",
        "/api/v1/assets?limit=1000000",
    ] {
        let reply = app.get(&alice, path).await.expect(200);
        assert_eq!(reply.header("isms-page-limit").as_deref(), Some("500"), "{path}");
    }
    let reply = app.get(&alice, "/api/v1/risks").await.expect(200);
    assert_eq!(reply.header("isms-page-limit").as_deref(), Some("50"), "the default is stated too");
    assert_eq!(app.get(&alice, "/api/v1/risks?limit=0").await.expect(400).code(), "invalid_limit");
}

#[tokio::test]
async fn deeply_nested_json_is_refused_as_a_client_error() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let depth = 5_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{{\"title\": {}1{}}}", "{\"a\":".repeat(depth), "}".repeat(depth));
    for body in [arrays, objects] {
        let status = app.post_text(&alice, "/api/v1/risks", body).await.status().as_u16();
        assert!(status == 400 || status == 422, "status {status}");
    }
    app.get(&alice, "/api/v1/risks").await.expect(200);
}

#[tokio::test]
async fn a_flood_from_one_principal_gets_429_while_another_is_served() {
    // One token every 5 s: the flood below cannot earn a second one while it runs.
    let app = spawn_with_limits(HttpLimits { rate_per_second: 0.2, rate_burst: 5, ..HttpLimits::default() }).await;
    let alice = app.alice();
    let bob = app.token("bob", "acme", "isms:read");
    let flood = (0..20).map(|_| app.get(&alice, "/api/v1/risks"));
    let replies = futures_util::future::join_all(flood).await;
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(replies.iter().filter(|r| r.status == 200).count() <= 6, "at most the burst (and a refill) pass");
    assert!(limited.len() >= 14, "{} of 20 limited", limited.len());
    let refused = limited[0];
    assert_eq!(refused.code(), "rate_limited");
    let retry_after: u64 = refused.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
    assert!(refused.header("x-request-id").is_some());
    app.get(&bob, "/api/v1/risks").await.expect(200);
    let same_sub_other_tenant = app.token("alice", "globex", "isms:read");
    app.get(&same_sub_other_tenant, "/api/v1/risks").await.expect(200);
    let probes = (0..20).map(|_| app.send(reqwest::Method::GET, None, "/readyz", None, &[]));
    assert!(futures_util::future::join_all(probes).await.iter().all(|r| r.status == 200), "probes are exempt");
    // Callers without a valid token share their peer address's bucket.
    let anonymous = (0..20).map(|_| app.send(reqwest::Method::GET, None, "/api/v1/risks", None, &[]));
    let anonymous = futures_util::future::join_all(anonymous).await;
    assert!(anonymous.iter().filter(|r| r.status == 401).count() <= 6);
    assert!(anonymous.iter().any(|r| r.status == 429));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_slow_handlers_are_cut_off() {
    let app = std::sync::Arc::new(
        spawn_with_limits(HttpLimits {
            handler_timeout: Duration::from_millis(300),
            client_request_timeout: Duration::from_secs(1),
            ..HttpLimits::default()
        })
        .await,
    );
    let token = app.alice();
    // A body announced and never sent keeps the handler waiting: it is cut off, 503.
    let (stalled, token_) = (app.clone(), token.clone());
    let (response, elapsed) = tokio::task::spawn_blocking(move || {
        raw_exchange(&stalled, &command_head(&stalled, &token_, "Content-Length: 100\r\n"), None)
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    let lowercase = response.to_ascii_lowercase();
    assert!(lowercase.contains("\r\nretry-after: 1\r\n") && lowercase.contains("\r\nx-request-id: "), "{response}");
    assert!(response.contains("\"code\":\"handler_timeout\""), "{response}");
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    // A request head that never ends is answered 408 once the client request timeout passes.
    let slow = app.clone();
    let (response, elapsed) =
        tokio::task::spawn_blocking(move || raw_exchange(&slow, "POST /api/v1/risks HTTP/1.1\r\nHost: x\r\n", None))
            .await
            .unwrap();
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // Neither held the server up.
    app.post(&token, "/api/v1/risks", json!({"title": "t", "category": "c", "owner": "alice"})).await.expect(201);
}

async fn preflight(app: &TestApp, origin: &str) -> crate::support::Reply {
    app.send(
        reqwest::Method::OPTIONS,
        None,
        "/api/v1/risks",
        None,
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization, content-type, idempotency-key"),
        ],
    )
    .await
}

#[tokio::test]
async fn cors_is_closed_by_default_and_open_to_configured_origins_only() {
    let closed = TestApp::spawn().await;
    let reply = preflight(&closed, "https://app.example.com").await;
    assert!(reply.header("access-control-allow-origin").is_none(), "closed by default");
    assert_ne!(reply.status, 200);

    let app = spawn_with_limits(HttpLimits {
        cors_allowed_origins: vec!["https://app.example.com".into()],
        ..HttpLimits::default()
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com").await.expect(200);
    assert_eq!(allowed.header("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    let methods = allowed.header("access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = allowed.header("access-control-allow-headers").unwrap().to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("idempotency-key"), "{headers}");

    let refused = preflight(&app, "https://evil.example.net").await;
    assert!(refused.header("access-control-allow-origin").is_none());
    assert_ne!(refused.status, 200);

    let alice = app.alice();
    let read = app
        .send(reqwest::Method::GET, Some(&alice), "/api/v1/risks", None, &[("origin", "https://app.example.com")])
        .await;
    assert_eq!(read.header("access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    let exposed = read.header("access-control-expose-headers").unwrap().to_ascii_lowercase();
    assert!(exposed.contains("x-request-id") && exposed.contains("etag"), "{exposed}");
    let foreign = app
        .send(reqwest::Method::GET, Some(&alice), "/api/v1/risks", None, &[("origin", "https://evil.example.net")])
        .await;
    assert!(foreign.header("access-control-allow-origin").is_none(), "a browser will not hand it to the page");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let replies = [
        ("data", app.get(&alice, "/api/v1/risks").await),
        ("problem", app.get(&alice, "/api/v1/risks/not-a-uuid").await),
        ("unauthorized", app.send(reqwest::Method::GET, None, "/api/v1/risks", None, &[]).await),
        ("metrics", app.send(reqwest::Method::GET, None, "/metrics", None, &[]).await),
        ("openapi", app.send(reqwest::Method::GET, None, "/openapi.json", None, &[]).await),
    ];
    for (what, reply) in &replies {
        assert_eq!(reply.header("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        assert_eq!(reply.header("x-frame-options").as_deref(), Some("DENY"), "{what}");
        assert_eq!(reply.header("referrer-policy").as_deref(), Some("no-referrer"), "{what}");
        assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"), "{what}");
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
    let docs = app.client.get(format!("{}/docs/", app.base)).send().await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(docs.headers()["x-frame-options"], "DENY");
    let page = docs.text().await.unwrap();
    // Swagger UI must work under that policy: no inline script, every script from this origin.
    assert!(!page.contains("<script>") && !page.contains("<script type=\"text/javascript\">"), "{page}");
    for script in page.split("<script").skip(1) {
        let source = script.split("src=\"").nth(1).map(|s| s.split('"').next().unwrap_or(""));
        assert!(source.is_some_and(|s| !s.contains("://")), "a script from elsewhere or inline: {script}");
    }
}

/// The resident memory of a process, from `/proc` (Linux, where CI runs).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in kB")
}

/// Sends every request of `requests`, 32 at a time, and counts the answers by status.
async fn count_statuses<F>(requests: impl Iterator<Item = F>, statuses: &mut std::collections::BTreeMap<u16, usize>)
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>>,
{
    use futures_util::StreamExt;
    let mut answers = futures_util::stream::iter(requests).buffer_unordered(32);
    while let Some(answer) = answers.next().await {
        *statuses.entry(answer.map_or(0, |response| response.status().as_u16())).or_default() += 1;
    }
}

/// One round of abuse against the real binary: 10 MiB bodies (declared and chunked), JSON
/// nested 30,000 deep, a flood from one principal and a stream of new principals (more than
/// the limiter keeps).
async fn abuse_round(base: &str, secret: &[u8], round: usize) -> std::collections::BTreeMap<u16, usize> {
    let address = base.trim_start_matches("http://").to_owned();
    // Oversized and nested bodies come from a principal of their own each round, so the flood
    // below (which drains its principal's bucket) cannot turn their 413 and 4xx into 429.
    let token = crate::support::mint(secret, &format!("sender-{round}"), "acme", "isms:read isms:write");
    let flooder = crate::support::mint(secret, "flooder", "acme", "isms:read");
    let mut statuses = std::collections::BTreeMap::new();
    let oversized = (0..40).map(|i| {
        let (address, token) = (address.clone(), token.clone());
        tokio::task::spawn_blocking(move || {
            let chunked = i % 2 == 1;
            let framing = if chunked { "Transfer-Encoding: chunked" } else { "Content-Length: 10485760" };
            let head = format!(
                "POST /api/v1/risks HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n"
            );
            let block = " ".repeat(64 * 1024);
            let block = if chunked { format!("{:x}\r\n{block}\r\n", block.len()) } else { block };
            let mut stream = TcpStream::connect(&address).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            // Up to 10 MiB; the server answers and stops reading long before.
            for _ in 0..160 {
                if stream.write_all(block.as_bytes()).is_err() {
                    break;
                }
            }
            let mut response = [0u8; 12];
            let read = stream.read(&mut response).unwrap_or(0);
            String::from_utf8_lossy(&response[..read]).get(9..12).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0)
        })
    });
    for status in futures_util::future::join_all(oversized).await {
        *statuses.entry(status.unwrap()).or_default() += 1;
    }
    let client = reqwest::Client::new();
    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let deep = (0..40).map(|_| {
        client
            .post(format!("{base}/api/v1/risks"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(nested.clone())
            .send()
    });
    count_statuses(deep, &mut statuses).await;
    let flood = (0..1_500).map(|_| client.get(format!("{base}/api/v1/risks")).bearer_auth(&flooder).send());
    count_statuses(flood, &mut statuses).await;
    let newcomers = (0..1_500).map(|i| {
        let token = crate::support::mint(secret, &format!("visitor-{round}-{i}"), "acme", "isms:read");
        client.get(format!("{base}/api/v1/risks?limit=1000000")).bearer_auth(token).send()
    });
    count_statuses(newcomers, &mut statuses).await;
    statuses
}

/// "Memory stays flat": ten rounds of the same abuse; the resident memory of the later rounds
/// peaks no higher than that of the earlier ones, and never far above the idle server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_under_oversized_bodies_floods_and_new_principals() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = isms::secret::load_or_create(dir.path()).unwrap();
    let log_path = dir.path().join("server.log");
    let env = [("ISMS_RATE_LIMIT_MAX_PRINCIPALS", "1000".to_owned())];
    let (mut child, base) = crate::support::serve_binary_with_json_logs(dir.path(), &log_path, &env).await;
    let started = resident_kib(child.id());
    let mut resident = Vec::new();
    for round in 0..10 {
        let statuses = abuse_round(&base, &secret, round).await;
        for status in [413, 429, 200] {
            assert!(statuses.get(&status).is_some_and(|n| *n > 0), "round {round}: no {status} in {statuses:?}");
        }
        let nesting_refused = statuses.get(&400).unwrap_or(&0) + statuses.get(&422).unwrap_or(&0);
        assert_eq!(nesting_refused, 40, "round {round}: every deeply nested body refused: {statuses:?}");
        assert!(statuses.keys().all(|status| *status < 500 && *status != 0), "round {round}: {statuses:?}");
        resident.push(resident_kib(child.id()));
        eprintln!("round {round}: {statuses:?}, resident {} KiB (started at {started} KiB)", resident[round]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Between rounds the resident size swings by up to ~20 MiB (buffers and allocator arenas
    // not yet returned when it is sampled); a leak would climb instead. A round's abuse is
    // 400 MiB of oversized bodies alone, so even a small leak of it would show.
    let (early, late) = resident.split_at(resident.len() / 2);
    let (early_peak, late_peak) = (early.iter().max().unwrap(), late.iter().max().unwrap());
    assert!(*late_peak < early_peak + 16 * 1024, "resident memory climbs: {resident:?} KiB");
    assert!(
        resident.iter().all(|kib| *kib < started + 64 * 1024),
        "resident memory grew: {started} -> {resident:?} KiB"
    );
}

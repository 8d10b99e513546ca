//! `/metrics` scraped and parsed strictly as Prometheus text format 0.0.4, with its series
//! moving under load; request ids; and the security log lines of the real binary (JSON logs):
//! present for every 401 and 403, with who, route and reason, never with the token.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use crate::support::{mint, serve_binary_with_json_logs, TestApp};

/// One sample: metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape parsed with the rules of the text format 0.0.4: every sample belongs to a family
/// declared by one `# TYPE` line before it (histograms by `_bucket`, `_sum`, `_count`), names
/// and label names are valid, label values are quoted with the format's escapes, values are
/// numbers, and no series appears twice.
struct Scrape {
    types: HashMap<String, String>,
    samples: Vec<Sample>,
}

fn valid_name(name: &str, colon: bool) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert!(valid_name(&name, false), "bad label name '{name}' in {{{text}}}");
        assert_eq!(chars.next(), Some('"'), "label value must be quoted in {{{text}}}");
        let mut value = String::new();
        loop {
            match chars.next().expect("unterminated label value") {
                '\\' => match chars.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => panic!("bad escape {other:?} in {{{text}}}"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        assert!(labels.insert(name, value).is_none(), "duplicate label in {{{text}}}");
        match chars.next() {
            None => break,
            Some(',') => {}
            other => panic!("expected ',' between labels, found {other:?} in {{{text}}}"),
        }
    }
    labels
}

fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => text.parse().unwrap_or_else(|_| panic!("bad sample value '{text}'")),
    }
}

fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    if types.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|t| t == "histogram") {
                return base;
            }
        }
    }
    panic!("sample {name} has no # TYPE line before it")
}

fn parse(text: &str) -> Scrape {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(valid_name(name, true), "bad metric name {name}");
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "bad type {kind}");
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "# TYPE {name} twice");
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample: series value");
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}').expect("labels end with }"))),
            None => (series, BTreeMap::new()),
        };
        assert!(valid_name(name, true), "bad metric name {name}");
        family_of(name, &types);
        assert!(seen.insert(format!("{name}{labels:?}")), "series {name}{labels:?} twice");
        samples.push(Sample { name: name.to_owned(), labels, value: parse_value(value) });
    }
    Scrape { types, samples }
}

impl Scrape {
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .collect()
    }

    /// The value of the one series with these labels (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(name, labels);
        assert!(found.len() <= 1, "{name}{labels:?} matches {} series", found.len());
        found.first().map_or(0.0, |s| s.value)
    }

    /// Checks every series of a histogram family: buckets cumulative (monotone in `le`), the
    /// `+Inf` bucket equal to `_count`.
    fn check_histogram(&self, family: &str) {
        assert_eq!(self.types.get(family).map(String::as_str), Some("histogram"), "{family} is a histogram");
        let mut by_series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for sample in self.find(&format!("{family}_bucket"), &[]) {
            let mut labels = sample.labels.clone();
            let le = parse_value(&labels.remove("le").expect("bucket has le"));
            by_series.entry(format!("{labels:?}")).or_default().push((le, sample.value));
        }
        assert!(!by_series.is_empty(), "{family} has series");
        for (labels, mut buckets) in by_series {
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{family}{labels} buckets not monotone");
            let (le, infinite) = *buckets.last().unwrap();
            assert!(le.is_infinite(), "{family}{labels} ends with +Inf");
            let count = self
                .samples
                .iter()
                .find(|s| s.name == format!("{family}_count") && format!("{:?}", s.labels) == labels)
                .expect("a _count per series");
            assert_eq!(count.value, infinite, "{family}{labels}: +Inf bucket equals _count");
        }
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "content type {content_type}");
    parse(&response.text().await.unwrap())
}

#[tokio::test]
async fn metrics_scrape_as_prometheus_text_and_move_under_load() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let before = scrape(&app).await;
    let commands = 20;
    let writes = (0..commands).map(|_| app.identify_risk(&alice, "alice"));
    let ids = futures_util::future::join_all(writes).await;
    for id in ids.iter().take(3) {
        app.get(&alice, &format!("/api/v1/risks/{id}")).await.expect(200);
    }
    app.get(&alice, "/no/such/route/0193c7e0").await.expect(404);
    app.send(reqwest::Method::GET, None, "/api/v1/risks", None, &[]).await.expect(401);
    let after = scrape(&app).await;

    let created = [("route", "/api/v1/risks"), ("method", "POST"), ("status", "201")];
    assert_eq!(
        after.value("http_requests_total", &created) - before.value("http_requests_total", &created),
        commands as f64
    );
    assert_eq!(
        after.value("http_requests_total", &[("route", "/api/v1/risks/{id}"), ("method", "GET"), ("status", "200")]),
        3.0,
        "reads are counted under the route pattern"
    );
    assert_eq!(after.value("http_requests_total", &[("route", "unmatched"), ("status", "404")]), 1.0);
    assert_eq!(after.value("http_requests_total", &[("route", "/api/v1/risks"), ("status", "401")]), 1.0);
    for sample in &after.samples {
        for value in sample.labels.values() {
            assert!(!ids.iter().any(|id| value.contains(id.as_str())), "a raw path leaked into {sample:?}");
        }
    }
    let latency = [("route", "/api/v1/risks"), ("method", "POST")];
    assert!(after.value("http_request_duration_seconds_count", &latency) >= commands as f64);

    let appended = after.value("isms_events_appended_total", &[]) - before.value("isms_events_appended_total", &[]);
    assert!(appended >= commands as f64, "events appended moved by {appended}");
    let appends = after.value("isms_append_duration_seconds_count", &[])
        - before.value("isms_append_duration_seconds_count", &[]);
    assert_eq!(appends, commands as f64, "one append per command");
    let batched = after.value("isms_group_commit_events_sum", &[]) - before.value("isms_group_commit_events_sum", &[]);
    assert_eq!(batched, appended, "every durable event was in one group commit");
    let fsyncs = after.value("isms_fsync_duration_seconds_count", &[]);
    assert!(fsyncs >= 1.0 && fsyncs <= after.value("isms_group_commit_events_count", &[]));
    for family in [
        "http_request_duration_seconds",
        "isms_append_duration_seconds",
        "isms_fsync_duration_seconds",
        "isms_group_commit_events",
    ] {
        after.check_histogram(family);
    }
    assert_eq!(after.value("isms_projection_lag_events", &[]), 0.0, "acknowledged events are applied");
    assert_eq!(after.types.get("isms_projection_lag_events").map(String::as_str), Some("gauge"));
    assert!(after.value("process_start_time_seconds", &[]) > 1.7e9);
    assert!(!after.find("isms_startup_verification_seconds", &[]).is_empty());
    assert!(!after.find("isms_startup_rebuild_seconds", &[]).is_empty());
}

#[tokio::test]
async fn the_request_id_is_echoed_or_generated_on_every_response() {
    let app = TestApp::spawn().await;
    let echoed = app
        .send(reqwest::Method::GET, None, "/api/v1/risks", None, &[("x-request-id", "trace-abc-123")])
        .await
        .expect(401);
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("trace-abc-123"));
    assert_eq!(echoed.body["request_id"], "trace-abc-123", "the problem quotes it");
    let generated = app.get(&app.alice(), "/api/v1/risks").await.expect(200);
    let id = generated.header("x-request-id").expect("generated");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a UUID: {id}");
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert!(metrics.headers().contains_key("x-request-id"), "also outside the API");
}

fn claims(sub: &str, scope: &str, audience: &str, expires_in: i64) -> isms_api::Claims {
    let now = chrono::Utc::now().timestamp();
    isms_api::Claims {
        sub: sub.into(),
        tenant: "acme".into(),
        scope: scope.into(),
        iss: isms::DEFAULT_ISSUER.into(),
        aud: isms_api::auth::Audience::One(audience.into()),
        exp: (now + expires_in) as u64,
        nbf: None,
        iat: Some(now as u64),
    }
}

#[tokio::test]
async fn every_auth_failure_writes_a_security_line_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, _) = isms::secret::load_or_create(dir.path()).unwrap();
    let log_path = dir.path().join("server.log");
    let (mut child, base) = serve_binary_with_json_logs(dir.path(), &log_path, &[]).await;
    let client = reqwest::Client::new();

    let expired =
        isms_api::mint_hs256(&secret, &claims("mallory", "isms:read", isms::DEFAULT_AUDIENCE, -3600)).unwrap();
    let wrong_audience = isms_api::mint_hs256(&secret, &claims("eve", "isms:read", "someone-else", 3600)).unwrap();
    let forged =
        isms_api::mint_hs256(b"not the server's secret", &claims("trudy", "admin", "isms-ledger", 3600)).unwrap();
    let reader = mint(&secret, "bob", "acme", "isms:read");
    let cases: [(Option<&str>, &str, &str, u16, &str); 5] = [
        (None, "GET", "/api/v1/risks", 401, "missing_token"),
        (Some(&expired), "GET", "/api/v1/risks", 401, "expired"),
        (Some(&wrong_audience), "GET", "/api/v1/risks", 401, "wrong_audience"),
        (Some(&forged), "GET", "/api/v1/risks", 401, "bad_signature"),
        (Some(&reader), "POST", "/api/v1/risks", 403, "missing_scope"),
    ];
    let mut request_ids = Vec::new();
    for (token, method, path, status, _) in &cases {
        let mut request = client.request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.json(&json!({"title": "t", "category": "c", "owner": "bob"})).send().await.unwrap();
        assert_eq!(response.status().as_u16(), *status);
        request_ids.push(response.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    for token in [&expired, &wrong_audience, &forged, &reader] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(token.as_str()) && !log.contains(signature), "a token or signature was logged");
    }
    let stored_secret = std::fs::read_to_string(isms::secret::path(dir.path())).unwrap();
    assert!(!log.contains(stored_secret.trim()), "the secret was logged");
    let lines: Vec<Value> = log.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    assert!(!lines.is_empty(), "JSON log lines: {log}");
    for ((_, method, _, _, reason), request_id) in cases.iter().zip(&request_ids) {
        let line = lines
            .iter()
            .find(|line| line["target"] == "security" && line["span"]["request_id"] == request_id.as_str())
            .unwrap_or_else(|| panic!("no security line for {reason} (request {request_id}) in:\n{log}"));
        let fields = &line["fields"];
        assert_eq!(fields["reason"], *reason, "{line}");
        assert_eq!(fields["method"], *method, "{line}");
        assert_eq!(fields["route"], "/api/v1/risks", "{line}");
        assert_eq!(fields["peer"], "127.0.0.1", "{line}");
        assert_eq!(line["level"], "WARN");
        match *reason {
            "expired" => assert_eq!((&fields["subject"], &fields["tenant"]), (&json!("mallory"), &json!("acme"))),
            "wrong_audience" => assert_eq!(fields["subject"], "eve", "a verified signature names who"),
            "bad_signature" | "missing_token" => assert!(fields.get("subject").is_none(), "never on a forger's word"),
            "missing_scope" => {
                assert_eq!((&fields["subject"], &fields["tenant"]), (&json!("bob"), &json!("acme")));
                assert_eq!(fields["required_scope"], "isms:write");
                assert_eq!(fields["event"], "authorization_failed");
            }
            _ => unreachable!(),
        }
        if *reason != "missing_scope" {
            assert_eq!(fields["event"], "authentication_failed");
        }
    }
    // Every line written while handling a request carries its id, not only the security lines.
    let access = lines.iter().find(|line| line["fields"]["message"] == "request").expect("an access line");
    assert!(access["span"]["request_id"].is_string(), "{access}");
}

//! Mass assignment and error hygiene, over every command of the examples in `api/*.http`.
//! Server-side fields (`tenant`, `id`, `actor`, `position`, `score`, ...) and unknown fields in
//! a body are refused with 422 unless the request schema documents them, and nothing is
//! appended; malformed input is a problem document with a request id and without internals.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::matrix::{run_examples_as_tenant_b, send, Sent};
use crate::support::{TestApp, ALL_SCOPES};

/// Fields a client must never set: the server assigns them (or they do not exist).
const FORGED: [(&str, &str); 10] = [
    ("tenant", "\"globex\""),
    ("id", "\"01930000-0000-7000-8000-000000000001\""),
    ("actor", "\"mallory\""),
    ("position", "1"),
    ("score", "25"),
    ("version", "99"),
    ("created_by", "\"mallory\""),
    ("recorded_at", "\"2000-01-01T00:00:00Z\""),
    ("hash", "\"00\""),
    ("unexpected_field", "true"),
];

/// The properties the request body schema of `operation` documents.
fn documented_fields(document: &Value, operation: &str) -> BTreeSet<String> {
    let (method, path) = operation.split_once(' ').unwrap();
    let mut schema =
        &document["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]["schema"];
    if let Some(reference) = schema["$ref"].as_str() {
        schema = &document["components"]["schemas"][reference.rsplit('/').next().unwrap()];
    }
    schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn head(app: &TestApp) -> u64 {
    let tenant = isms_store::TenantId::parse("acme").unwrap();
    isms_store::EventStore::head(app.store.as_ref(), &tenant).unwrap().position
}

/// Payloads in formats defined elsewhere (SCIM, Jira and ServiceNow webhooks) carry attributes
/// the service does not use; as documented in the README, those are ignored, never stored.
fn is_foreign_format(target: &str) -> bool {
    target.starts_with("/scim/v2/")
        || target.starts_with("/api/v1/integrations/jira")
        || target.starts_with("/api/v1/integrations/servicenow")
}

/// Whatever a foreign payload recorded, no event since `before` carries the forged value, in
/// its data or as its actor or tenant.
#[track_caller]
fn assert_forged_value_not_recorded(app: &TestApp, before: u64, context: &str, value: &str) {
    let tenant = isms_store::TenantId::parse("acme").unwrap();
    let value = value.trim_matches('"');
    for event in isms_store::EventStore::read_all(app.store.as_ref(), &tenant, before, 1000).unwrap() {
        assert!(event.actor != value && event.tenant.as_str() != value, "{context}: recorded as {value}");
        if value.len() > 2 {
            assert!(!event.data.to_string().contains(value), "{context}: {value} recorded in {}", event.event_type);
        }
    }
}

/// No stack trace, source path, or storage or parser internals in what a client reads.
#[track_caller]
fn assert_clean_problem(context: &str, status: u16, text: &str) {
    let body: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("{context}: not JSON: {text}"));
    if context.contains("/scim/v2/") {
        // SCIM answers with its own error body (RFC 7644 3.12): `status` is a string there.
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{context}: {text}");
        assert_eq!(body["status"], status.to_string(), "{context}: {text}");
        assert!(body["detail"].is_string(), "{context}: {text}");
    } else {
        assert_eq!(body["status"], status, "{context}: {text}");
        assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{context}: no request id: {text}");
        assert!(body["type"].is_string() && body["title"].is_string() && body["code"].is_string(), "{context}: {text}");
    }
    for leak in ["panicked", "src/", ".rs:", "backtrace", "sled", "os error", "/root/", "/home/", "/tmp/", "RUST_"] {
        assert!(!text.contains(leak), "{context}: the problem leaks '{leak}': {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_server_side_fields_are_refused_and_change_nothing() {
    let app = TestApp::spawn_unthrottled().await;
    let sent = run_examples_as_tenant_b(&app).await;
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    let token = app.token("alice", "acme", &format!("{ALL_SCOPES} scim integrations"));
    let commands: Vec<&Sent> =
        sent.iter().filter(|s| s.method != reqwest::Method::GET && s.body.trim_start().starts_with('{')).collect();
    assert!(commands.len() > 30, "the examples hold the commands");
    let mut tried = 0;
    for command in commands {
        let documented = documented_fields(&document, &command.operation);
        for (field, value) in FORGED {
            if documented.contains(field) {
                continue;
            }
            let body = command.body.trim_start().strip_prefix('{').unwrap();
            let separator = if body.trim_start().starts_with('}') { "" } else { "," };
            let forged = Sent { body: format!("{{\"{field}\": {value}{separator}{body}"), ..clone(command) };
            let before = head(&app);
            let answer = send(&app, Some(&token), &forged).await;
            let context = format!("{} {} with '{field}'", command.method, command.target);
            if is_foreign_format(&command.target) {
                assert!(answer.status < 500, "{context}: {} {}", answer.status, answer.text);
                assert_forged_value_not_recorded(&app, before, &context, value);
            } else if (200..300).contains(&command.expected) {
                assert_eq!(answer.status, 422, "{context}: {}", answer.text);
                assert_clean_problem(&context, 422, &answer.text);
                assert_eq!(head(&app), before, "{context}: nothing was appended");
            } else {
                assert!(answer.status >= 400, "{context}: {} {}", answer.status, answer.text);
                assert_eq!(head(&app), before, "{context}: nothing was appended");
            }
            tried += 1;
        }
    }
    eprintln!("mass assignment: {tried} forged bodies refused");
}

/// Request headers as name and value.
type Headers = Vec<(String, String)>;

fn clone(sent: &Sent) -> Sent {
    Sent {
        operation: sent.operation.clone(),
        method: sent.method.clone(),
        target: sent.target.clone(),
        headers: sent.headers.clone(),
        body: sent.body.clone(),
        expected: sent.expected,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_a_clean_problem_with_a_request_id() {
    let app = TestApp::spawn_unthrottled().await;
    let sent = run_examples_as_tenant_b(&app).await;
    let token = app.token("alice", "acme", &format!("{ALL_SCOPES} scim integrations"));
    let mut operations = BTreeSet::new();
    let mut tried = 0;
    let json = ("Content-Type".to_owned(), "application/json".to_owned());
    for command in sent.iter().filter(|s| s.method != reqwest::Method::GET && !s.body.is_empty()) {
        if !operations.insert(command.operation.clone()) {
            continue;
        }
        let before = head(&app);
        let malformed: [(&str, Headers, String); 7] = [
            ("broken JSON", vec![json.clone()], "{\"title\": ".into()),
            ("an array", vec![json.clone()], "[]".into()),
            ("a number too big", vec![json.clone()], format!("{{\"likelihood\": 1{}}}", "0".repeat(400))),
            ("a lone surrogate", vec![json.clone()], "{\"title\": \"\\ud800\"}".into()),
            ("not JSON at all", vec![("Content-Type".into(), "text/plain".into())], "hello".into()),
            ("no content type", Vec::new(), command.body.clone()),
            ("deep nesting", vec![json.clone()], format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        ];
        for (case, headers, body) in malformed {
            let request = Sent { headers, body, ..clone(command) };
            let answer = send(&app, Some(&token), &request).await;
            let context = format!("{} {} with {case}", command.method, command.target);
            assert!((400..500).contains(&answer.status), "{context}: {} {}", answer.status, answer.text);
            assert_clean_problem(&context, answer.status, &answer.text);
            tried += 1;
        }
        assert_eq!(head(&app), before, "{}: nothing was appended", command.operation);
    }
    for (case, target) in [
        ("an id that is no UUID", "/api/v1/risks/not-a-uuid"),
        ("a path that does not exist", "/api/v1/../../etc/passwd"),
        ("a bad query", "/api/v1/risks?limit=-1"),
        ("a bad read point", "/api/v1/risks?as_of=yesterday"),
        ("a bad cursor", "/api/v1/risks?cursor=%00%ff"),
    ] {
        let request = Sent {
            operation: String::new(),
            method: reqwest::Method::GET,
            target: target.into(),
            headers: Vec::new(),
            body: String::new(),
            expected: 400,
        };
        let answer = send(&app, Some(&token), &request).await;
        assert!((400..500).contains(&answer.status), "{case}: {} {}", answer.status, answer.text);
        assert_clean_problem(case, answer.status, &answer.text);
        tried += 1;
    }
    eprintln!("error hygiene: {tried} malformed requests over {} commands", operations.len());
}

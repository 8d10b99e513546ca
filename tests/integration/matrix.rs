//! The tenant and scope matrices, generated from the OpenAPI document and the examples in
//! `api/*.http` (which the `api_examples` test keeps complete: every operation has one). Tenant
//! B ("acme") runs every example, so every register, report, export and the feed hold B's
//! data; then every one of those requests — B's real ids in paths, bodies and queries — is
//! replayed with tenant A's token, and with every scope. New operations join both matrices as
//! soon as they have their example.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde_json::Value;

use crate::api_examples::{example_files, example_variables, parse, route_of, substitute, Recorded};
use crate::support::{TestApp, ALL_SCOPES};

/// One example request as tenant B sent it.
pub(crate) struct Sent {
    pub(crate) operation: String,
    pub(crate) method: reqwest::Method,
    /// Path and query, without the server's address.
    pub(crate) target: String,
    /// Headers other than Authorization.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// The status the example expects.
    pub(crate) expected: u16,
}

/// A response's text, with gzip archives (evidence packs) unpacked so their files are searched.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) text: String,
}

pub(crate) async fn send(app: &TestApp, token: Option<&str>, request: &Sent) -> Answer {
    let mut builder = app.client.request(request.method.clone(), format!("{}{}", app.base, request.target));
    if let Some(token) = token {
        builder = builder.bearer_auth(token);
    }
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let mut response = builder.send().await.unwrap();
    let status = response.status().as_u16();
    let gzip = response.headers().get("content-type").is_some_and(|v| v == "application/gzip");
    // Read what arrives; a stream that stays open (a live feed) is cut after a quiet second.
    let mut bytes = Vec::new();
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout(Duration::from_secs(1), response.chunk()).await {
        bytes.extend_from_slice(&chunk);
    }
    let text = match gzip.then(|| isms_evidence::archive::read(&bytes)) {
        Some(Ok(files)) => {
            files.iter().map(|(path, content)| format!("{path}\n{}\n", String::from_utf8_lossy(content))).collect()
        }
        _ => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Answer { status, text }
}

/// Runs every example file as tenant B and returns the requests it sent.
pub(crate) async fn run_examples_as_tenant_b(app: &TestApp) -> Vec<Sent> {
    let files = example_files();
    let variables = example_variables(app);
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    let templates: Vec<String> = document["paths"].as_object().unwrap().keys().cloned().collect();
    let mut sent = Vec::new();
    for file in files {
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut recorded: HashMap<String, Recorded> = HashMap::new();
        for example in parse(&file_name, &std::fs::read_to_string(&file).unwrap()) {
            let context = format!("{file_name}: '{}'", example.title);
            let url = substitute(&example.url, &variables, &recorded, &context);
            let mut headers = Vec::new();
            let mut token = None;
            for (name, value) in &example.headers {
                let value = substitute(value, &variables, &recorded, &context);
                match value.strip_prefix("Bearer ") {
                    Some(bearer) if name.eq_ignore_ascii_case("authorization") => token = Some(bearer.to_owned()),
                    _ => headers.push((name.clone(), value)),
                }
            }
            let request = Sent {
                operation: format!("{} {}", example.method, route_of(&url, &app.base, &templates)),
                method: example.method.clone(),
                target: url.trim_start_matches(&app.base).to_owned(),
                headers,
                body: substitute(&example.body, &variables, &recorded, &context),
                expected: example.expect,
            };
            let mut builder = app.client.request(request.method.clone(), &url);
            if let Some(token) = &token {
                builder = builder.bearer_auth(token);
            }
            for (name, value) in &request.headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            let response = builder.body(request.body.clone()).send().await.unwrap();
            assert_eq!(response.status().as_u16(), example.expect, "{context}");
            let headers = response.headers().clone();
            let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
            if let Some(name) = example.name {
                recorded.insert(name, Recorded { body, headers });
            }
            sent.push(request);
        }
    }
    sent
}

fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok() && text.len() == 36
}

/// What only tenant B's data contains: every id and hash of its log, and every piece of free
/// text its users wrote.
fn markers_of(app: &TestApp, tenant: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let tenant = isms_store::TenantId::parse(tenant).unwrap();
    let events = isms_store::EventStore::read_all(app.store.as_ref(), &tenant, 0, usize::MAX).unwrap();
    assert!(events.len() > 50, "the examples wrote tenant B's data");
    let (mut ids, mut texts) = (BTreeSet::new(), BTreeSet::new());
    for event in events {
        ids.extend([event.event_id.to_string(), event.hash.clone(), event.correlation_id.to_string()]);
        if is_uuid(&event.stream_id) {
            ids.insert(event.stream_id.clone());
        }
        let mut found = Vec::new();
        strings(&event.data, &mut found);
        for text in found {
            if is_uuid(&text) {
                ids.insert(text);
            } else if text.len() >= 12 && text.contains(' ') {
                texts.insert(text);
            }
        }
    }
    (ids, texts)
}

/// The last position of the intruder's tenant.
fn a_head(app: &TestApp) -> u64 {
    let tenant = isms_store::TenantId::parse("globex").unwrap();
    isms_store::EventStore::head(app.store.as_ref(), &tenant).unwrap().position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_never_reads_a_byte_of_tenant_b() {
    let app = TestApp::spawn_unthrottled().await;
    let sent = run_examples_as_tenant_b(&app).await;
    let (ids, texts) = markers_of(&app, "acme");
    // Text that an empty server also answers with (catalogs, report headings) is not B's.
    let empty = TestApp::spawn_unthrottled().await;
    let intruder = "mallory";
    let a_on = |app: &TestApp| app.token(intruder, "globex", &format!("{ALL_SCOPES} scim integrations"));
    let mut replayed = BTreeSet::new();
    let mut leaks = Vec::new();
    // Reads first, while tenant A has written nothing; then the commands.
    let (reads, commands): (Vec<&Sent>, Vec<&Sent>) = sent.iter().partition(|s| s.method == reqwest::Method::GET);
    for request in reads.iter().chain(&commands) {
        if request.operation == "GET /api/v1/admin/backup" {
            // The online backup holds every tenant by design; only an operator tenant's admin
            // gets it (tested in backup_restore.rs), so A, not an operator, is refused.
            assert_eq!(send(&app, Some(&a_on(&app)), request).await.status, 403);
            replayed.insert(request.operation.clone());
            continue;
        }
        let a_head_before = a_head(&app);
        let answer = send(&app, Some(&a_on(&app)), request).await;
        let own = format!("{} {:?} {}", request.target, request.headers, request.body);
        assert!(answer.status < 500, "{} {}: {} {}", request.method, request.target, answer.status, answer.text);
        assert!(answer.status != 401 && answer.status != 403, "{}: {}", request.operation, answer.status);
        let names_b = ids.iter().any(|id| own.contains(id.as_str()));
        // A ticketing delivery's ids (delivery id, ticket key) are the sender's, not B's: A's own
        // Jira may send the same ones.
        let senders_ids = request.target.starts_with("/api/v1/integrations/jira")
            || request.target.starts_with("/api/v1/integrations/servicenow");
        if request.method != reqwest::Method::GET && names_b && !senders_ids {
            // Refused, or (a delivery answered 202 with what it ignored) nothing recorded for A.
            let refused = answer.status >= 400 || a_head(&app) == a_head_before;
            assert!(refused, "{} on B's ids succeeded for A: {}", request.operation, answer.text);
        }
        let baseline = if request.method == reqwest::Method::GET {
            Some(send(&empty, Some(&a_on(&empty)), request).await.text)
        } else {
            None
        };
        for marker in ids.iter().chain(texts.iter().filter(|_| baseline.is_some())) {
            let leaked = answer.text.contains(marker.as_str())
                && !own.contains(marker.as_str())
                && !baseline.as_ref().is_some_and(|b| b.contains(marker.as_str()));
            if leaked {
                leaks.push(format!(
                    "{} {} answered {} with B's '{marker}'",
                    request.method, request.target, answer.status
                ));
            }
        }
        replayed.insert(request.operation.clone());
    }
    assert!(leaks.is_empty(), "tenant A read tenant B's data:\n{}", leaks.join("\n"));
    // The control: the same search does find B's data in what B itself reads.
    let own_feed = Sent {
        operation: String::new(),
        method: reqwest::Method::GET,
        target: "/api/v1/events?limit=500".into(),
        headers: Vec::new(),
        body: String::new(),
        expected: 200,
    };
    let own = send(&app, Some(&app.token("alice", "acme", ALL_SCOPES)), &own_feed).await.text;
    assert!(ids.iter().filter(|id| own.contains(id.as_str())).count() > 100, "the search finds B's ids");
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let operation = format!("{} {path}", method.to_uppercase());
            assert!(replayed.contains(&operation), "{operation} was not replayed by tenant A");
        }
    }
    eprintln!(
        "tenant matrix: {} requests over {} operations, {} ids and {} texts of B searched",
        sent.len(),
        replayed.len(),
        ids.len(),
        texts.len()
    );
}

/// The scopes each operation documents (`security: [{"bearer": [...]}, ...]`); `None` for
/// operations without a security requirement (health, the document itself).
fn documented_scopes(document: &Value, operation: &str) -> Option<BTreeSet<String>> {
    let (method, path) = operation.split_once(' ').unwrap();
    let security = document["paths"][path][method.to_lowercase()]["security"].as_array()?;
    Some(
        security
            .iter()
            .flat_map(|requirement| requirement["bearer"].as_array().cloned().unwrap_or_default())
            .map(|scope| scope.as_str().unwrap().to_owned())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_documented_scopes_get_past_authorization() {
    let app = TestApp::spawn_unthrottled().await;
    let sent = run_examples_as_tenant_b(&app).await;
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    const SCOPES: [&str; 4] = ["isms:read", "isms:write", "audit:read", "admin"];
    let mut granted: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for request in &sent {
        let Some(documented) = documented_scopes(&document, &request.operation) else { continue };
        assert!(!documented.is_empty(), "{} documents a bearer requirement without a scope", request.operation);
        let missing = send(&app, None, request).await;
        if missing.status != 401 {
            wrong.push(format!("{} without a token: {}", request.operation, missing.status));
        }
        for scope in std::iter::once("").chain(SCOPES) {
            let answer = send(&app, Some(&app.token("scoper", "acme", scope)), request).await;
            let refused = answer.status == 401 || answer.status == 403;
            checked += 1;
            if documented.contains(scope) {
                *granted.entry((request.operation.clone(), scope.to_owned())).or_default() |= !refused;
            } else if answer.status != 403 {
                wrong.push(format!("{} with only '{scope}': {} {}", request.operation, answer.status, answer.text));
            }
        }
    }
    for ((operation, scope), passed) in &granted {
        if !passed {
            wrong.push(format!("{operation} documents '{scope}' but refused it on every example"));
        }
    }
    assert!(wrong.is_empty(), "the scope matrix disagrees with the OpenAPI document:\n{}", wrong.join("\n"));
    eprintln!("scope matrix: {checked} scoped requests, {} documented operation-scope pairs", granted.len());
}

//! Runs every example request in `api/*.http` against a live server, so the examples never rot.
//!
//! Grammar (see `api/README.md`): requests are separated by `###` lines; `# @name NAME` and
//! `# @expect STATUS` annotate a request; then `METHOD URL`, headers, a blank line, a body.
//! `{{base}}`, `{{token}}`, `{{token_bob}}`, `{{token_carol}}`, `{{token_auditor}}`, `{{token_integrations}}` and
//! `{{NAME.response.body.$.a.0.b}}` / `{{NAME.response.headers.Header}}` are substituted.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::{TestApp, ALL_SCOPES};

pub(crate) struct Example {
    pub(crate) title: String,
    pub(crate) name: Option<String>,
    pub(crate) expect: u16,
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

/// Splits a file into request blocks: each starts at a `###` line; text before the first one
/// is a file comment.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line.starts_with("###") {
            blocks.push(vec![line]);
        } else if let Some(block) = blocks.last_mut() {
            block.push(line);
        }
    }
    blocks
}

pub(crate) fn parse(file: &str, text: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    for block in blocks(text) {
        let title = block[0].trim_start_matches('#').trim().to_owned();
        let mut lines = block[1..].iter().copied();
        let (mut name, mut expect) = (None, None);
        let mut request_line = None;
        for line in lines.by_ref() {
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("# @name ") {
                name = Some(rest.trim().to_owned());
            } else if let Some(rest) = trimmed.strip_prefix("# @expect ") {
                expect =
                    Some(rest.trim().parse::<u16>().unwrap_or_else(|_| panic!("{file}: bad @expect in '{title}'")));
            } else if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
                continue;
            } else {
                request_line = Some(trimmed.to_owned());
                break;
            }
        }
        let Some(request_line) = request_line else { continue };
        let (method, url) =
            request_line.split_once(' ').unwrap_or_else(|| panic!("{file}: bad request line '{request_line}'"));
        let mut headers = Vec::new();
        for line in lines.by_ref() {
            if line.trim().is_empty() {
                break;
            }
            let (header, value) = line.split_once(':').unwrap_or_else(|| panic!("{file}: bad header '{line}'"));
            headers.push((header.trim().to_owned(), value.trim().to_owned()));
        }
        let body: Vec<&str> = lines.collect();
        examples.push(Example {
            expect: expect.unwrap_or_else(|| panic!("{file}: '{title}' has no # @expect")),
            title,
            name,
            method: method.trim().parse().unwrap(),
            url: url.trim().to_owned(),
            headers,
            body: body.join("\n").trim().to_owned(),
        });
    }
    examples
}

pub(crate) struct Recorded {
    pub(crate) body: Value,
    pub(crate) headers: reqwest::header::HeaderMap,
}

pub(crate) fn substitute(
    text: &str,
    variables: &HashMap<&str, String>,
    recorded: &HashMap<String, Recorded>,
    context: &str,
) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap_or_else(|| panic!("{context}: unclosed {{{{")) + start;
        let expression = rest[start + 2..end].trim();
        let value = if let Some(value) = variables.get(expression) {
            value.clone()
        } else if let Some((name, path)) = expression.split_once(".response.body.$.") {
            let response =
                recorded.get(name).unwrap_or_else(|| panic!("{context}: no earlier response named '{name}'"));
            let mut value = &response.body;
            for part in path.split('.') {
                value = match part.parse::<usize>() {
                    Ok(index) => &value[index],
                    Err(_) => &value[part],
                };
            }
            match value {
                Value::String(s) => s.clone(),
                Value::Null => panic!("{context}: {expression} is missing in the response"),
                other => other.to_string(),
            }
        } else if let Some((name, header)) = expression.split_once(".response.headers.") {
            let response =
                recorded.get(name).unwrap_or_else(|| panic!("{context}: no earlier response named '{name}'"));
            response
                .headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{context}: no header {header}"))
                .to_owned()
        } else {
            panic!("{context}: unknown variable {expression}");
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn api_examples_run_against_a_live_server() {
    let files = example_files();
    assert!(!files.is_empty(), "api/*.http examples exist");
    let app = TestApp::spawn().await;
    let variables = example_variables(&app);
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    let templates: Vec<String> = document["paths"].as_object().unwrap().keys().cloned().collect();
    let mut covered = std::collections::HashSet::new();
    let mut count = 0;
    for file in files {
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut recorded: HashMap<String, Recorded> = HashMap::new();
        for example in parse(&file_name, &text) {
            let context = format!("{file_name}: '{}'", example.title);
            let url = substitute(&example.url, &variables, &recorded, &context);
            let mut request = app.client.request(example.method.clone(), &url);
            for (name, value) in &example.headers {
                request = request.header(name.as_str(), substitute(value, &variables, &recorded, &context));
            }
            if !example.body.is_empty() {
                request = request.body(substitute(&example.body, &variables, &recorded, &context));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
            assert_eq!(status, example.expect, "{context}: {} {url} answered {body}", example.method);
            covered.insert(format!("{} {}", example.method, route_of(&url, &app.base, &templates)));
            if let Some(name) = example.name {
                recorded.insert(name, Recorded { body, headers });
            }
            count += 1;
        }
    }
    // Every operation of the OpenAPI document has at least one example.
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let operation = format!("{} {path}", method.to_uppercase());
            assert!(covered.contains(&operation), "no example in api/*.http for {operation}");
        }
    }
    assert!(count > 30, "ran {count} examples");
    // The examples touch every register: the registers kept live by the commit listener must
    // equal the registers folded again from the log.
    let tenant = isms_store::TenantId::parse("acme").unwrap();
    let rebuilt = isms_app::LiveProjections::with_keys(app.projections.keys().clone());
    rebuilt.rebuild(app.store.as_ref()).unwrap();
    let rebuilt = rebuilt.tenant(&tenant).unwrap();
    let live = app.projections.tenant(&tenant).unwrap();
    let (rebuilt, live) = (rebuilt.read().unwrap(), live.read().unwrap());
    assert!(*rebuilt == *live, "live registers differ from a replay of the log");
    assert!(!live.people.is_empty() && !live.soa.is_empty() && !live.management_reviews.is_empty());
}

/// Maps a concrete URL back to the OpenAPI path template it matches: a `{param}` segment
/// matches any one segment; among several matches the one with the most literal segments wins
/// (so `/controls/catalogs` would beat `/controls/{id}`).
/// The variables every `api/*.http` file may use: the base URL and the tokens of the table in
/// `api/README.md` (all of tenant `acme`).
/// Every `api/*.http` example file, in file-name order (the order the README lists them).
pub(crate) fn example_files() -> Vec<std::path::PathBuf> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../api");
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    files.sort();
    files
}

pub(crate) fn example_variables(app: &TestApp) -> HashMap<&'static str, String> {
    HashMap::from([
        ("base", app.base.clone()),
        ("token", app.token("alice", "acme", ALL_SCOPES)),
        ("token_bob", app.token("bob", "acme", "isms:read isms:write")),
        ("token_carol", app.token("carol", "acme", "isms:read isms:write audit:read")),
        ("token_auditor", app.token("erin", "acme", "audit:read")),
        ("token_scim", app.token("okta-client-0oa1b2c3", "acme", "scim")),
        ("token_integrations", app.token("lms-client-7", "acme", "integrations")),
    ])
}

pub(crate) fn route_of(url: &str, base: &str, templates: &[String]) -> String {
    let path = url.trim_start_matches(base).split('?').next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').collect();
    templates
        .iter()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches = parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| part.starts_with('{') || part == segment);
            matches.then(|| (parts.iter().filter(|p| !p.starts_with('{')).count(), template))
        })
        .max_by_key(|(literal, _)| *literal)
        .map_or_else(|| path.to_owned(), |(_, template)| template.clone())
}

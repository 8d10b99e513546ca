//! The committed OpenAPI document is the generated one, and it keeps the conventions.

use serde_json::Value;

#[test]
fn committed_openapi_matches_the_generated_document() {
    let generated = isms_api::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json exists");
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: regenerate it with `cargo run -p isms -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_operation_is_documented_for_client_generators() {
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{name}: operationId"));
            assert!(operation_ids.insert(id.to_owned()), "{name}: duplicate operationId {id}");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: summary");
            assert!(
                operation["security"][0]["bearer"].as_array().is_some_and(|s| s.len() == 1),
                "{name}: bearer scope"
            );
            let responses = operation["responses"].as_object().unwrap();
            // Section: HR provisioning and training integrations.
            // SCIM routes answer with SCIM's own error body (RFC 7644 3.12), not RFC 9457.
            if path.starts_with("/scim/v2/") {
                for status in ["401", "403"] {
                    let content = &responses[status]["content"]["application/scim+json"]["schema"]["$ref"];
                    assert_eq!(content, "#/components/schemas/ScimErrorBody", "{name}: {status} SCIM error");
                }
                continue;
            }
            for status in ["401", "403", "500"] {
                let content = &responses[status]["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(content, "#/components/schemas/Problem", "{name}: {status} problem");
            }
            if method == "post" || method == "put" {
                assert!(operation["requestBody"]["content"]["application/json"].is_object(), "{name}: request body");
                for status in ["400", "409", "412", "413", "422"] {
                    assert!(responses.contains_key(status), "{name}: {status}");
                }
            }
        }
    }
    assert!(operation_ids.len() >= 23);
}

/// Every `$ref` in the document names a schema the document defines (schemathesis found the
/// `Problem` schema of every error response missing).
#[test]
fn every_reference_resolves() {
    fn references(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(|r| r.as_str()) {
                    out.push(reference.to_owned());
                }
                map.values().for_each(|v| references(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }
    let document: serde_json::Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{reference}"));
        assert!(document["components"]["schemas"].get(name).is_some(), "{reference} does not resolve");
    }
}

/// utoipa keys component schemas by the Rust type's name and silently keeps the last of two
/// types with the same name, so one operation would be documented with the other's body
/// (schemathesis found `POST /audits` documented with the stage-audit plan).
#[test]
fn no_two_schema_types_share_a_name() {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    let mut owners: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in files.iter().filter(|f| f.components().any(|c| c.as_os_str() == "src")) {
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let mut deriving_schema = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[derive(") && line.contains("ToSchema") {
                deriving_schema = true;
            } else if deriving_schema && line.starts_with("#[schema(as =") {
                deriving_schema = false;
            } else if deriving_schema && (line.starts_with("pub struct ") || line.starts_with("pub enum ")) {
                let name = line.split_whitespace().nth(2).unwrap_or_default();
                let name = name.split(['<', '{', '(', ';']).next().unwrap_or_default().to_owned();
                owners.entry(name).or_default().push(file.display().to_string());
                deriving_schema = false;
            }
        }
    }
    assert!(owners.len() > 100, "the scan found the schema types ({} found)", owners.len());
    let shared: Vec<_> = owners.iter().filter(|(_, files)| files.len() > 1).collect();
    assert!(shared.is_empty(), "schema names used by more than one type: {shared:?}");
}

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

//! The scope of the ISMS (4.3) over HTTP: versions, rules, If-Match, time travel.

use serde_json::json;

use crate::support::{Reply, TestApp};

async fn put(app: &TestApp, body: serde_json::Value, headers: &[(&str, &str)]) -> Reply {
    app.send(reqwest::Method::PUT, Some(&app.alice()), "/api/v1/scope", Some(&body), headers).await
}

fn scope(statement: &str) -> serde_json::Value {
    json!({
        "statement": statement,
        "boundaries": {"organizational": "Design department", "physical": "Tokyo office", "technological": "LAN"},
        "interfaces_and_dependencies": ["Payroll provider"],
        "exclusions": [{"description": "Osaka office", "justification": "No customer data"}],
        "sites": ["Tokyo"]
    })
}

#[tokio::test]
async fn the_scope_is_defined_in_versions_and_read_as_of_any_point() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let undefined = app.get(&alice, "/api/v1/scope").await.expect(404);
    assert_eq!(undefined.code(), "not_found");
    app.get(&alice, "/api/v1/scope/history").await.expect(404);

    let first = put(&app, scope("Design services"), &[("if-match", "\"0\"")]).await.expect(200);
    assert_eq!((first.body["version"].as_u64(), first.header("etag").as_deref()), (Some(1), Some("\"1\"")));
    assert_eq!(first.body["exclusions"][0]["justification"], "No customer data");
    let same = put(&app, scope("Design services"), &[]).await.expect(409);
    assert_eq!(same.code(), "nothing_changed");
    let stale = put(&app, scope("Design and support"), &[("if-match", "\"0\"")]).await.expect(412);
    assert_eq!(stale.body["current_version"], 1);
    let second = put(&app, scope("Design and support services"), &[("if-match", "\"1\"")]).await.expect(200);
    assert_eq!(second.body["version"], 2);

    let mut unjustified = scope("Design services");
    unjustified["exclusions"] = json!([
        {"description": "Cafeteria", "justification": " "},
        {"description": "Osaka office", "justification": "No customer data"},
        {"description": "Parking", "justification": ""}
    ]);
    let refused = put(&app, unjustified, &[]).await.expect(422);
    let pointers: Vec<&str> =
        refused.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/exclusions/0/justification", "/exclusions/2/justification"]);
    let one =
        json!({"statement": "x", "boundaries": {}, "exclusions": [{"description": "Cafeteria", "justification": ""}]});
    assert_eq!(put(&app, one, &[]).await.expect(422).code(), "exclusion_justification_required");

    let bob = app.token("bob", "acme", "isms:read isms:write");
    let forbidden = app.send(reqwest::Method::PUT, Some(&bob), "/api/v1/scope", Some(&scope("x")), &[]).await;
    forbidden.expect(403);
    let now = app.get(&bob, "/api/v1/scope").await.expect(200);
    assert_eq!(now.body["statement"], "Design and support services");
    let position = first.body["position"].as_u64().unwrap();
    let then = app.get(&alice, &format!("/api/v1/scope?as_of_position={position}")).await.expect(200);
    assert_eq!((then.body["version"].as_u64(), then.body["statement"].as_str()), (Some(1), Some("Design services")));
    let history = app.get(&alice, "/api/v1/scope/history").await.expect(200);
    let versions: Vec<u64> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["data"]["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(history.body["items"][0]["event_type"], "ScopeDefined");
}

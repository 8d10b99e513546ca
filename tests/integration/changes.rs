//! What changed between two points over HTTP: an SoA decision changed field by field, a risk
//! added, the SoA line of the control its treatment names, the `register` filter, `from` as an
//! instant, and the refusals (order, unknown register, malformed points, scope).

use serde_json::{json, Value};

use crate::support::TestApp;

/// The register named `name` in a change set.
fn register<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["registers"].as_array().and_then(|r| r.iter().find(|r| r["register"] == name)).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn a_decision_changed_since_a_position_reads_field_by_field() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let decided = app
        .post(
            &alice,
            "/api/v1/soa/5.15/decision",
            json!({"applicable": true, "justification": "Access is role-based."}),
        )
        .await
        .expect(200);
    let since = decided.body["position"].as_u64().unwrap();

    let nothing = app.get(&alice, &format!("/api/v1/changes?from={since}")).await.expect(200);
    assert_eq!(
        (nothing.body["from"]["position"].as_u64(), nothing.body["to"]["position"].as_u64()),
        (Some(since), Some(since))
    );
    let registers = nothing.body["registers"].as_array().unwrap();
    assert_eq!(registers.len(), 21, "every register is listed, empty or not");
    assert!(registers
        .iter()
        .all(|r| r["added"] == json!([]) && r["changed"] == json!([]) && r["removed"] == json!([])));
    let audit_time = nothing.body["to"]["as_of"].as_str().unwrap().to_owned();

    app.post(
        &alice,
        "/api/v1/soa/5.15/decision",
        json!({"applicable": false, "justification": "Handled by the parent company."}),
    )
    .await
    .expect(200);
    let risk = app.identify_risk(&alice, "alice").await;
    app.post(
        &alice,
        &format!("/api/v1/risks/{risk}/assessments"),
        json!({"likelihood": 3, "impact": 4, "rationale": "r"}),
    )
    .await
    .expect(200);
    let treatment = json!({"option": "modify", "controls": ["8.8"], "actions": ["Patch monthly"], "owner": "alice",
                           "due_date": "2027-03-31", "target_residual_likelihood": 1, "target_residual_impact": 2});
    let treated = app.post(&alice, &format!("/api/v1/risks/{risk}/treatment"), treatment).await.expect(200);

    let changes = app.get(&alice, &format!("/api/v1/changes?from={since}")).await.expect(200);
    assert_eq!(changes.body["to"]["position"], treated.body["position"]);
    let soa = register(&changes.body, "soa");
    assert_eq!(
        soa["changed"],
        json!([
            {"id": "5.15", "fields": [
                {"field": "/decision/applicable", "old": true, "new": false},
                {"field": "/decision/justification",
                 "old": "Access is role-based.", "new": "Handled by the parent company."}
            ]},
            {"id": "8.8", "fields": [{"field": "/linked_risk_ids", "old": [], "new": [risk]}]}
        ])
    );
    let risks = register(&changes.body, "risks");
    assert_eq!(risks["added"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (risks["added"][0]["id"].as_str(), risks["added"][0]["status"].as_str()),
        (Some(risk.as_str()), Some("treatment_planned"))
    );
    assert_eq!(risks["changed"], json!([]));
    let others = changes.body["registers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["register"] != "soa" && r["register"] != "risks");
    assert!(others.into_iter().all(|r| r["added"] == json!([]) && r["changed"] == json!([])));

    // From an instant: the same as from the position recorded then.
    let by_time = app.get(&alice, &format!("/api/v1/changes?from={audit_time}")).await.expect(200);
    assert_eq!(by_time.body["registers"], changes.body["registers"]);
    assert_eq!(by_time.body["from"]["position"].as_u64(), Some(since));

    // One register, and `to` as a position: the risk as identified only.
    let only =
        app.get(&alice, &format!("/api/v1/changes?from={since}&to={}&register=risks", since + 2)).await.expect(200);
    let listed: Vec<&str> =
        only.body["registers"].as_array().unwrap().iter().filter_map(|r| r["register"].as_str()).collect();
    assert_eq!(listed, ["risks"]);
    assert_eq!(only.body["registers"][0]["added"][0]["status"], "identified");
    let soa_only = app.get(&alice, &format!("/api/v1/changes?from={since}&register=soa")).await.expect(200);
    assert_eq!(soa_only.body["registers"], json!([soa]));
}

#[tokio::test]
async fn wrong_points_and_registers_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    app.identify_risk(&alice, "alice").await;
    app.identify_risk(&alice, "alice").await;

    let reversed = app.get(&alice, "/api/v1/changes?from=2&to=1").await.expect(400);
    assert_eq!(reversed.code(), "from_after_to");
    let instants =
        app.get(&alice, "/api/v1/changes?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z").await.expect(400);
    assert_eq!(instants.code(), "from_after_to");
    let unknown = app.get(&alice, "/api/v1/changes?from=0&register=hazards").await.expect(400);
    assert_eq!(unknown.code(), "unknown_register");
    let detail = unknown.body["detail"].as_str().unwrap();
    assert!(detail.contains("risks") && detail.contains("soa") && detail.contains("context-issues"), "{detail}");
    assert_eq!(app.get(&alice, "/api/v1/changes?from=yesterday").await.expect(400).code(), "invalid_query");
    assert_eq!(app.get(&alice, "/api/v1/changes").await.expect(400).code(), "invalid_query");
    let beyond = app.get(&alice, "/api/v1/changes?from=0&to=99").await.expect(422);
    assert_eq!(beyond.code(), "invalid_read_point");

    // A time-zone offset (with its '+' unencoded, as a space) reads like the UTC instant.
    let offset = app.get(&alice, "/api/v1/changes?from=2020-01-01T09:00:00+09:00").await.expect(200);
    assert_eq!(offset.body["from"]["as_of"], "2020-01-01T00:00:00Z");
    assert_eq!(register(&offset.body, "risks")["added"].as_array().map(Vec::len), Some(2));

    let reader = app.token("bob", "acme", "isms:read isms:write");
    app.get(&reader, "/api/v1/changes?from=0").await.expect(403);
}

//! Every business rule answered over HTTP with 409 and its own code.

use serde_json::json;

use crate::support::TestApp;

fn treatment(l: u8, i: u8) -> serde_json::Value {
    json!({"option": "modify", "controls": ["8.1"], "owner": "bob", "target_residual_likelihood": l, "target_residual_impact": i})
}

#[tokio::test]
async fn risk_rules_are_refused_with_409_and_their_code() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let risk = app.identify_risk(&alice, "alice").await;
    let path = |tail: &str| format!("/api/v1/risks/{risk}/{tail}");

    assert_eq!(app.post(&alice, &path("treatment"), treatment(1, 1)).await.expect(409).code(), "risk_not_assessed");
    assert_eq!(app.post(&alice, &path("acceptance"), json!({})).await.expect(409).code(), "risk_treatment_not_decided");
    app.post(&alice, &path("assessments"), json!({"likelihood": 5, "impact": 5})).await.expect(200);
    assert_eq!(app.post(&alice, &path("acceptance"), json!({})).await.expect(409).code(), "risk_treatment_not_decided");
    app.post(&alice, &path("treatment"), treatment(3, 3)).await.expect(200);
    assert_eq!(
        app.post(&bob, &path("acceptance"), json!({})).await.expect(409).code(),
        "risk_acceptance_not_authorized"
    );
    let no_justification = app.post(&alice, &path("acceptance"), json!({})).await.expect(409);
    assert_eq!(no_justification.code(), "residual_above_threshold_needs_justification");
    app.post(&alice, &path("acceptance"), json!({"justification": "budget approved for 2027"})).await.expect(200);
    assert_eq!(
        app.post(&alice, &path("acceptance"), json!({"justification": "again"})).await.expect(409).code(),
        "risk_already_accepted"
    );
    app.post(&alice, &path("closure"), json!({"reason": "asset retired"})).await.expect(200);
    assert_eq!(app.post(&alice, &path("treatment"), treatment(1, 1)).await.expect(409).code(), "risk_closed");
    assert_eq!(app.post(&alice, &path("closure"), json!({"reason": "again"})).await.expect(409).code(), "risk_closed");
    // Reassessment is the one way back.
    let reopened = app.post(&alice, &path("assessments"), json!({"likelihood": 1, "impact": 1})).await.expect(200);
    assert_eq!(reopened.body["status"], "assessed");

    // Invalid input is 422 with a pointer, and changes nothing.
    let before = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200);
    let bad = app
        .post(
            &alice,
            &path("treatment"),
            json!({"option": "modify", "controls": ["8.35", "5.1"], "owner": " ",
        "target_residual_likelihood": 1, "target_residual_impact": 1}),
        )
        .await
        .expect(422);
    let pointers: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, vec!["/controls/0", "/owner"]);
    let modify_without_controls = app
        .post(
            &alice,
            &path("treatment"),
            json!({"option": "modify", "owner": "bob",
        "target_residual_likelihood": 1, "target_residual_impact": 1}),
        )
        .await;
    assert_eq!(modify_without_controls.expect(422).code(), "treatment_controls_required");
    let after = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200);
    assert_eq!(before.body, after.body);
}

#[tokio::test]
async fn nonconformity_rules_are_refused_with_409_and_their_code() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let nc = app.raise_nonconformity(&alice, "major").await;
    let path = |tail: &str| format!("/api/v1/nonconformities/{nc}/{tail}");
    let actions = json!({"actions": [{"description": "restore test", "owner": "bob", "due_date": "2020-01-31"}]});

    assert_eq!(
        app.post(&alice, &path("corrective-actions"), actions.clone()).await.expect(409).code(),
        "root_cause_required"
    );
    assert_eq!(
        app.post(&alice, &path("effectiveness-review"), json!({"effective": true})).await.expect(409).code(),
        "no_corrective_actions"
    );
    app.post(&alice, &path("root-cause"), json!({"analysis": "no schedule"})).await.expect(200);
    let planned = app.post(&alice, &path("corrective-actions"), actions).await.expect(200);
    assert_eq!(
        (planned.body["overdue"].as_bool(), planned.body["corrective_actions"][0]["overdue"].as_bool()),
        (Some(true), Some(true))
    );
    let overdue = app.get(&alice, "/api/v1/nonconformities?overdue=true").await.expect(200);
    assert_eq!(overdue.body["items"].as_array().unwrap().len(), 1);
    let action = planned.body["corrective_actions"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&alice, &path("closure"), json!({})).await.expect(409).code(), "corrective_actions_incomplete");
    assert_eq!(
        app.post(&alice, &path("effectiveness-review"), json!({"effective": true})).await.expect(409).code(),
        "corrective_actions_incomplete"
    );
    let unknown =
        app.post(&bob, &path(&format!("corrective-actions/{}/completion", uuid::Uuid::now_v7())), json!({})).await;
    assert_eq!(unknown.expect(404).code(), "corrective_action_not_found");
    app.post(&bob, &path(&format!("corrective-actions/{action}/completion")), json!({"note": "done"}))
        .await
        .expect(200);
    let twice = app.post(&bob, &path(&format!("corrective-actions/{action}/completion")), json!({})).await;
    assert_eq!(twice.expect(409).code(), "corrective_action_already_completed");
    assert_eq!(app.post(&alice, &path("closure"), json!({})).await.expect(409).code(), "effectiveness_not_verified");
    assert_eq!(
        app.post(&bob, &path("effectiveness-review"), json!({"effective": true})).await.expect(409).code(),
        "four_eyes_violation"
    );
    let not_effective = app
        .post(&alice, &path("effectiveness-review"), json!({"effective": false, "note": "failed again"}))
        .await
        .expect(200);
    assert_eq!(not_effective.body["status"], "open");
    assert_eq!(app.post(&alice, &path("closure"), json!({})).await.expect(409).code(), "effectiveness_not_verified");
    let replanned = app
        .post(
            &alice,
            &path("corrective-actions"),
            json!({"actions": [{"description": "automate restores", "owner": "bob", "due_date": "2099-01-31"}]}),
        )
        .await
        .expect(200);
    let second = replanned.body["corrective_actions"][1]["id"].as_str().unwrap().to_owned();
    app.post(&bob, &path(&format!("corrective-actions/{second}/completion")), json!({})).await.expect(200);
    app.post(&alice, &path("effectiveness-review"), json!({"effective": true})).await.expect(200);
    app.post(&alice, &path("closure"), json!({"note": "closed"})).await.expect(200);
    assert_eq!(
        app.post(&alice, &path("correction"), json!({"description": "late"})).await.expect(409).code(),
        "nonconformity_closed"
    );
    let closed = app.get(&alice, &format!("/api/v1/nonconformities/{nc}")).await.expect(200);
    let _ = closed.body["overdue"].clone();
    // `overdue` is computed for the date being read: the open action due in 2099 is overdue
    // when the register is read as of 2100, not today.
    let later = app.raise_nonconformity(&alice, "minor").await;
    let action = json!({"actions": [{"description": "later", "owner": "bob", "due_date": "2099-06-30"}]});
    app.post(&alice, &format!("/api/v1/nonconformities/{later}/corrective-actions"), action).await.expect(200);
    let today = app.get(&alice, "/api/v1/nonconformities?overdue=true").await.expect(200);
    assert_eq!(today.body["items"].as_array().unwrap().len(), 0);
    let in_2100 = app.get(&alice, "/api/v1/nonconformities?overdue=true&as_of=2100-01-01T00:00:00Z").await.expect(200);
    assert_eq!(in_2100.body["items"].as_array().unwrap().len(), 1);
    assert_eq!((closed.body["status"].as_str(), closed.body["overdue"].as_bool()), (Some("closed"), Some(false)));
}

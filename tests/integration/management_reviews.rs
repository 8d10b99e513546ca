//! Management review (9.3) over HTTP: inputs prefilled from the registers, closing rules.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_review_closes_only_with_every_input_recorded_and_keeps_what_was_shown() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    app.raise_nonconformity(&alice, "major").await;
    app.raise_nonconformity(&alice, "minor").await;
    let review = app
        .post(
            &alice,
            "/api/v1/management-reviews",
            json!({"title": "2026 review", "scheduled_on": "2026-12-15", "chair": "ceo"}),
        )
        .await
        .expect(201);
    assert_eq!(review.body["period_start_on"], "2025-12-15", "first review: twelve months back by default");
    let id = review.body["id"].as_str().unwrap().to_owned();
    let path = |tail: &str| format!("/api/v1/management-reviews/{id}{tail}");

    let drafts = app.get(&alice, &path("/input-draft")).await.expect(200);
    let trend = drafts.body["drafts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["category"] == "nonconformity_trends")
        .unwrap()
        .clone();
    assert!(trend["summary"].as_str().unwrap().contains("major: 1, minor: 1"), "{trend}");
    assert_eq!(trend["record_ids"].as_array().unwrap().len(), 2);

    let prefilled = app.post(&alice, &path("/inputs/prefill"), json!({})).await.expect(200);
    let recorded = prefilled.body["inputs"].as_array().unwrap();
    assert!(recorded.iter().all(|i| i["prefilled"] == true));
    assert_eq!(recorded.len(), drafts.body["drafts"].as_array().unwrap().len());

    app.post(&alice, &path("/meeting"), json!({"held_on": "2026-12-15", "attendees": ["ceo", "ciso"]}))
        .await
        .expect(200);
    app.post(&alice, &path("/outputs"), json!({"decisions": [{"kind": "continual_improvement", "description": "Quarterly restore tests"}],
                                                "actions": [{"description": "Budget", "owner": "cfo", "due_date": "2027-03-31"}]}))
        .await
        .expect(200);
    // A third nonconformity after the inputs were recorded does not change what was shown.
    app.raise_nonconformity(&alice, "minor").await;
    let missing = prefilled.body["missing_inputs"].as_array().unwrap().clone();
    if !missing.is_empty() {
        let refused = app.post(&alice, &path("/closure"), json!({})).await.expect(409);
        assert_eq!(refused.code(), "management_review_inputs_missing");
        let inputs: Vec<_> =
            missing.iter().map(|c| json!({"category": c, "summary": "Reviewed in the meeting."})).collect();
        app.post(&alice, &path("/inputs"), json!({"inputs": inputs})).await.expect(200);
    }
    let closed = app.post(&alice, &path("/closure"), json!({})).await.expect(200);
    assert_eq!(closed.body["status"], "closed");
    let kept = closed.body["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["category"] == "nonconformity_trends")
        .unwrap()
        .clone();
    assert_eq!(kept["summary"], trend["summary"]);
    let action = closed.body["actions"][0]["id"].as_str().unwrap().to_owned();
    app.post(&alice, &path(&format!("/actions/{action}/completion")), json!({"note": "approved"})).await.expect(200);

    let next = app
        .post(
            &alice,
            "/api/v1/management-reviews",
            json!({"title": "2027 review", "scheduled_on": "2027-06-15", "chair": "ceo"}),
        )
        .await
        .expect(201);
    assert_eq!(next.body["period_start_on"], "2026-12-15", "the next review starts where the last meeting was");
}

#[tokio::test]
async fn review_rules_answer_409_with_their_codes() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let review = app
        .post(&alice, "/api/v1/management-reviews", json!({"title": "r", "scheduled_on": "2026-12-15", "chair": "ceo"}))
        .await
        .expect(201);
    let id = review.body["id"].as_str().unwrap();
    let path = |tail: &str| format!("/api/v1/management-reviews/{id}{tail}");
    assert_eq!(app.post(&alice, &path("/closure"), json!({})).await.expect(409).code(), "management_review_not_held");
    let outputs = json!({"decisions": [{"kind": "resources", "description": "hire"}]});
    assert_eq!(
        app.post(&alice, &path("/outputs"), outputs.clone()).await.expect(409).code(),
        "management_review_not_held"
    );
    app.post(&alice, &path("/meeting"), json!({"held_on": "2026-12-15", "attendees": ["ceo"]})).await.expect(200);
    assert_eq!(
        app.post(&alice, &path("/meeting"), json!({"held_on": "2026-12-16", "attendees": ["ceo"]}))
            .await
            .expect(409)
            .code(),
        "management_review_already_held"
    );
    app.post(&alice, &path("/outputs"), outputs).await.expect(200);
    let refused = app.post(&alice, &path("/closure"), json!({})).await.expect(409);
    assert_eq!(refused.code(), "management_review_inputs_missing");
    assert!(refused.body["detail"].as_str().unwrap().contains("audit_results"));
    let bad = app
        .post(
            &alice,
            "/api/v1/management-reviews",
            json!({"title": "r", "scheduled_on": "2026-12-15", "period_start_on": "2027-01-01", "chair": "ceo"}),
        )
        .await
        .expect(422);
    assert_eq!(bad.body["errors"][0]["pointer"], "/period_start_on");
}

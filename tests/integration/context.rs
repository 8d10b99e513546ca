//! The context register (4.1) over HTTP: lifecycle, rules, time travel.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn context_issues_are_revised_retired_and_readable_as_of_any_point() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let issue = json!({"category": "external", "title": "顧客の機密情報の漏洩", "effect_on_isms": "信用の低下"});
    let recorded = app.post(&alice, "/api/v1/context-issues", issue.clone()).await.expect(201);
    let id = recorded.body["id"].as_str().unwrap().to_owned();
    assert_eq!(recorded.header("location").unwrap(), format!("/api/v1/context-issues/{id}"));
    assert_eq!(recorded.body["title"], "顧客の機密情報の漏洩");

    let same = app.post(&alice, &format!("/api/v1/context-issues/{id}/revisions"), issue.clone()).await.expect(409);
    assert_eq!(same.code(), "nothing_changed");
    let mut revised = issue.clone();
    revised["category"] = json!("internal");
    app.post(&alice, &format!("/api/v1/context-issues/{id}/revisions"), revised.clone()).await.expect(200);
    app.post(&alice, &format!("/api/v1/context-issues/{id}/retirement"), json!({"reason": "ended"})).await.expect(200);
    let retired = app.post(&alice, &format!("/api/v1/context-issues/{id}/revisions"), issue.clone()).await.expect(409);
    assert_eq!(retired.code(), "context_issue_retired");

    let now = app.get(&alice, &format!("/api/v1/context-issues/{id}")).await.expect(200);
    assert_eq!((now.body["status"].as_str(), now.body["category"].as_str()), (Some("retired"), Some("internal")));
    let then = app.get(&alice, &format!("/api/v1/context-issues/{id}?as_of_position=1")).await.expect(200);
    assert_eq!((then.body["status"].as_str(), then.body["category"].as_str()), (Some("active"), Some("external")));
    let listed = app.get(&alice, "/api/v1/context-issues?status=active&as_of_position=1").await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let active_now = app.get(&alice, "/api/v1/context-issues?status=active").await.expect(200);
    assert!(active_now.body["items"].as_array().unwrap().is_empty());
    let history = app.get(&alice, &format!("/api/v1/context-issues/{id}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ContextIssueRecorded", "ContextIssueRevised", "ContextIssueRetired"]);

    let invalid = app
        .post(&alice, "/api/v1/context-issues", json!({"category": "internal", "title": " ", "effect_on_isms": ""}))
        .await
        .expect(422);
    let pointers: Vec<&str> =
        invalid.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/title", "/effect_on_isms"]);
}

#[tokio::test]
async fn risks_link_to_existing_context_issues_only() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let issue = app
        .post(
            &alice,
            "/api/v1/context-issues",
            json!({"category": "internal", "title": "Remote work", "effect_on_isms": "Laptops leave the office"}),
        )
        .await
        .expect(201);
    let issue_id = issue.body["id"].as_str().unwrap();
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = app
        .post(&alice, &format!("/api/v1/risks/{risk}/sources"), json!({"context_issue_ids": [issue_id, unknown]}))
        .await
        .expect(422);
    assert_eq!(missing.body["errors"][0]["pointer"], "/context_issue_ids/1");
    assert_eq!(missing.code(), "referenced_record_not_found");
    let no_requirement = app
        .post(&alice, &format!("/api/v1/risks/{risk}/sources"), json!({"requirement_ids": [uuid::Uuid::now_v7()]}))
        .await
        .expect(422);
    assert_eq!(no_requirement.body["errors"][0]["pointer"], "/requirement_ids/0");
    let linked = app
        .post(&alice, &format!("/api/v1/risks/{risk}/sources"), json!({"context_issue_ids": [issue_id]}))
        .await
        .expect(200);
    assert_eq!(linked.body["context_issue_ids"], json!([issue_id]));
    let again = app
        .post(&alice, &format!("/api/v1/risks/{risk}/sources"), json!({"context_issue_ids": [issue_id]}))
        .await
        .expect(409);
    assert_eq!(again.code(), "nothing_changed");
}

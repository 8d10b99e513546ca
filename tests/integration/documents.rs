//! Documented information (7.5) over HTTP: one draft at a time, four-eyes approval,
//! publication superseding the previous version, review dates, withdrawal.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn versions_are_drafted_reviewed_approved_by_another_and_published() {
    let app = TestApp::spawn().await;
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let carol = app.token("carol", "acme", "isms:read isms:write audit:read");
    let invalid = app
        .post(
            &bob,
            "/api/v1/documents",
            json!({"title": " ", "document_type": "procedure", "owner": "bob",
                                                  "review_interval_months": 0}),
        )
        .await
        .expect(422);
    let pointers: Vec<&str> =
        invalid.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/title", "/review_interval_months"]);
    let registered = app
        .post(
            &bob,
            "/api/v1/documents",
            json!({"title": "Backup procedure", "document_type": "procedure",
                                                  "owner": "bob", "review_interval_months": 12}),
        )
        .await
        .expect(201);
    assert_eq!(registered.body["status"], "draft");
    let id = registered.body["id"].as_str().unwrap().to_owned();
    let path = |step: &str| format!("/api/v1/documents/{id}/{step}");
    let version = |label: &str| json!({"label": label, "change_summary": "first", "content_ref": "sha256:abc"});

    let none = app.post(&bob, &path("submission"), json!({})).await.expect(409);
    assert_eq!(none.code(), "document_no_pending_version");
    app.post(&bob, &path("versions"), version("1.0")).await.expect(200);
    let second = app.post(&bob, &path("versions"), version("1.1")).await.expect(409);
    assert_eq!(second.code(), "document_draft_already_open");
    let unreviewed = app.post(&carol, &path("approval"), json!({})).await.expect(409);
    assert_eq!(unreviewed.code(), "document_version_not_in_review");
    app.post(&bob, &path("submission"), json!({})).await.expect(200);
    let own = app.post(&bob, &path("approval"), json!({})).await.expect(409);
    assert_eq!(own.code(), "approver_is_author");
    let approved = app.post(&carol, &path("approval"), json!({"note": "ok"})).await.expect(200);
    assert_eq!(approved.body["versions"][0]["approved_by"], "carol");
    let published = app.post(&carol, &path("publication"), json!({})).await.expect(200);
    assert_eq!(published.body["status"], "published");
    let first_version = published.body["versions"][0]["version_id"].clone();
    assert_eq!(published.body["published_version_id"], first_version);
    let due = chrono::Utc::now().date_naive().checked_add_months(chrono::Months::new(12)).unwrap();
    assert_eq!(published.body["review_due_on"], due.to_string());
    assert_eq!(published.body["review_overdue"], false);

    let taken = app.post(&bob, &path("versions"), version("1.0")).await.expect(409);
    assert_eq!(taken.code(), "document_version_label_taken");
    app.post(&bob, &path("versions"), version("1.1")).await.expect(200);
    let unapproved = app.post(&carol, &path("publication"), json!({})).await.expect(409);
    assert_eq!(unapproved.code(), "document_version_not_approved");
    let rejected = app.post(&carol, &path("rejection"), json!({"reason": "not needed"})).await.expect(200);
    assert!(rejected.body["pending_version_id"].is_null());
    app.post(&bob, &path("versions"), version("1.1")).await.expect(200);
    app.post(&bob, &path("submission"), json!({})).await.expect(200);
    app.post(&carol, &path("approval"), json!({})).await.expect(200);
    let republished = app.post(&carol, &path("publication"), json!({"note": "announced"})).await.expect(200);
    let statuses: Vec<&str> =
        republished.body["versions"].as_array().unwrap().iter().map(|v| v["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["superseded", "rejected", "published"]);

    // Read for a date after the review is due, the document is overdue.
    let overdue = app.get(&carol, "/api/v1/documents?review_overdue=true&as_of=2099-01-01T00:00:00Z").await;
    assert_eq!(overdue.expect(200).body["items"].as_array().unwrap().len(), 1);
    let today = app.get(&carol, "/api/v1/documents?review_overdue=true").await.expect(200);
    assert!(today.body["items"].as_array().unwrap().is_empty());
    let filtered = app.get(&bob, "/api/v1/documents?document_type=procedure&owner=bob&status=published").await;
    assert_eq!(filtered.expect(200).body["items"].as_array().unwrap().len(), 1);
    let then = app.get(&carol, &format!("/api/v1/documents/{id}?as_of_position={}", published.body["position"])).await;
    assert_eq!(then.expect(200).body["published_version_id"], first_version);

    let withdrawn = app.post(&bob, &path("withdrawal"), json!({"reason": "replaced"})).await.expect(200);
    assert_eq!(
        (withdrawn.body["status"].as_str(), withdrawn.body["review_overdue"].as_bool()),
        (Some("withdrawn"), Some(false))
    );
    let late = app.post(&bob, &path("versions"), version("2.0")).await.expect(409);
    assert_eq!(late.code(), "document_withdrawn");
    let history = app.get(&carol, &format!("/api/v1/documents/{id}/history")).await.expect(200);
    let last_two: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(3)
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(last_two, ["DocumentWithdrawn", "DocumentVersionSuperseded", "DocumentVersionPublished"]);
}

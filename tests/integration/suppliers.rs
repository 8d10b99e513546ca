//! Suppliers (A.5.19 to A.5.22) over HTTP: approval under a security agreement, reviews,
//! derived overdue and expiry, termination.

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_risky_supplier_is_approved_under_a_security_agreement_and_reviewed_on_time() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let supplier = json!({"name": "CloudHost", "services": "IaaS", "owner": "alice", "risk_rating": "high",
                          "handles_personal_data": true});
    let proposed = app.post(&alice, "/api/v1/suppliers", supplier.clone()).await.expect(201);
    let id = proposed.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (proposed.body["status"].as_str(), proposed.body["needs_security_agreement"].as_bool()),
        (Some("proposed"), Some(true))
    );
    let path = |what: &str| format!("/api/v1/suppliers/{id}/{what}");

    let refused = app.post(&alice, &path("approval"), json!({})).await.expect(409);
    assert_eq!(refused.code(), "supplier_agreement_required");
    let backwards = json!({"title": "MSA", "signed_on": "2026-04-01", "expires_on": "2026-04-01",
                           "security_requirements": ["ISO 27001"]});
    let backwards = app.post(&alice, &path("agreements"), backwards).await.expect(422);
    assert_eq!(
        (backwards.code(), backwards.body["errors"][0]["pointer"].as_str()),
        ("dates_out_of_order", Some("/expires_on"))
    );
    let bare = json!({"title": "Order form", "signed_on": "2026-04-01"});
    app.post(&alice, &path("agreements"), bare).await.expect(200);
    assert_eq!(app.post(&alice, &path("approval"), json!({})).await.expect(409).code(), "supplier_agreement_required");
    let msa = json!({"title": "MSA", "signed_on": "2026-04-01", "expires_on": "2099-03-31",
                     "security_requirements": ["ISO 27001 kept valid", "Incidents reported within 24 hours"]});
    let recorded = app.post(&alice, &path("agreements"), msa).await.expect(200);
    assert!(uuid::Uuid::parse_str(recorded.body["agreements"][1]["agreement_id"].as_str().unwrap()).is_ok());
    let approved = app.post(&alice, &path("approval"), json!({"note": "due diligence done"})).await.expect(200);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(app.post(&alice, &path("approval"), json!({})).await.expect(409).code(), "supplier_already_approved");

    let late = json!({"reviewed_on": "2025-01-10", "outcome": "issues_found", "next_review_due_on": "2025-07-10"});
    let reviewed = app.post(&alice, &path("reviews"), late).await.expect(200);
    assert_eq!(
        (reviewed.body["review_overdue"].as_bool(), reviewed.body["next_review_due_on"].as_str()),
        (Some(true), Some("2025-07-10"))
    );
    let overdue = app.get(&alice, "/api/v1/suppliers?review_overdue=true&status=approved&risk_rating=high").await;
    assert_eq!(overdue.expect(200).body["items"].as_array().unwrap().len(), 1);
    let recent = json!({"reviewed_on": "2026-01-10", "outcome": "satisfactory", "next_review_due_on": "2099-01-10"});
    let reviewed = app.post(&alice, &path("reviews"), recent).await.expect(200);
    assert_eq!(reviewed.body["review_overdue"], false);
    // Reading as of the first review shows it overdue again.
    let position = reviewed.body["position"].as_u64().unwrap() - 1;
    let then = app.get(&alice, &format!("/api/v1/suppliers/{id}?as_of_position={position}")).await.expect(200);
    assert_eq!(then.body["review_overdue"], true);

    let mut critical = supplier.clone();
    critical["risk_rating"] = json!("critical");
    app.post(&alice, &path("revisions"), critical).await.expect(200);
    app.post(&alice, &path("termination"), json!({"terminated_on": "2026-11-01", "reason": "moved"})).await.expect(200);
    let after = app
        .post(
            &alice,
            &path("reviews"),
            json!({"reviewed_on": "2026-11-02", "outcome": "satisfactory",
                                                          "next_review_due_on": "2027-11-02"}),
        )
        .await;
    assert_eq!(after.expect(409).code(), "supplier_terminated");
    let history = app.get(&alice, &format!("/api/v1/suppliers/{id}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "SupplierProposed",
            "SupplierAgreementRecorded",
            "SupplierAgreementRecorded",
            "SupplierApproved",
            "SupplierReviewed",
            "SupplierReviewed",
            "SupplierRevised",
            "SupplierTerminated"
        ]
    );
}

#[tokio::test]
async fn an_approved_supplier_needs_cover_before_becoming_risky_and_shows_expired_agreements() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let low = json!({"name": "Stationery Co", "services": "office supplies", "owner": "bob", "risk_rating": "low",
                     "handles_personal_data": false});
    let id =
        app.post(&alice, "/api/v1/suppliers", low.clone()).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let path = |what: &str| format!("/api/v1/suppliers/{id}/{what}");
    app.post(
        &alice,
        &path("agreements"),
        json!({"title": "Contract", "signed_on": "2020-01-01",
                                                  "expires_on": "2021-01-01", "security_requirements": ["NDA"]}),
    )
    .await
    .expect(200);
    let approved = app.post(&alice, &path("approval"), json!({})).await.expect(200);
    assert_eq!(approved.body["agreement_expired"], true);
    assert_eq!(approved.body["agreements"][0]["expired"], true);
    let mut personal = low.clone();
    personal["handles_personal_data"] = json!(true);
    let refused = app.post(&alice, &path("revisions"), personal).await.expect(409);
    assert_eq!(refused.code(), "supplier_agreement_required");
    let future = json!({"title": "Contract", "signed_on": "2099-01-01"});
    let future = app.post(&alice, &path("agreements"), future).await.expect(422);
    assert_eq!(future.code(), "date_in_future");
    let invalid = app
        .post(
            &alice,
            "/api/v1/suppliers",
            json!({"name": " ", "services": "", "owner": "x", "risk_rating": "low",
                                                   "handles_personal_data": false}),
        )
        .await
        .expect(422);
    let pointers: Vec<&str> =
        invalid.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/name", "/services"]);
}

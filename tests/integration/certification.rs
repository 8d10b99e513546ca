//! The certification cycle over HTTP: stage order, the certificate's derived dates, yearly
//! surveillance, and what is upcoming or overdue.

use serde_json::{json, Value};

use crate::support::TestApp;

fn items(record: &Value, field: &str) -> Vec<(String, String)> {
    record[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["item"].as_str().unwrap().to_owned(), i["due_on"].as_str().unwrap().to_owned()))
        .collect()
}

fn item(name: &str, due_on: &str) -> (String, String) {
    (name.to_owned(), due_on.to_owned())
}

#[tokio::test]
async fn a_cycle_runs_stage1_stage2_certificate_and_two_surveillance_audits_in_order() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let opened = app
        .post(
            &alice,
            "/api/v1/certification-cycles",
            json!({"certification_body": "JMAQA", "scope_reference": "SCOPE-1"}),
        )
        .await
        .expect(201);
    let id = opened.body["id"].as_str().unwrap().to_owned();
    assert_eq!(opened.body["standard"], "ISO/IEC 27001:2022");
    let path = |what: &str| format!("/api/v1/certification-cycles/{id}/{what}");

    let early = app.post(&alice, &path("stage2-audit/plan"), json!({"planned_on": "2020-02-01"})).await.expect(409);
    assert_eq!(early.code(), "stage1_not_passed");
    let certificate = json!({"certificate_number": "IS 1", "issued_on": "2020-03-01"});
    assert_eq!(
        app.post(&alice, &path("certificate"), certificate.clone()).await.expect(409).code(),
        "stage2_not_recommended"
    );
    let surveillance = |on: &str| json!({"completed_on": on, "result": "maintained"});
    let without = app.post(&alice, &path("surveillance-audits"), surveillance("2021-02-20")).await.expect(409);
    assert_eq!(without.code(), "certificate_not_issued");
    let unplanned = json!({"completed_on": "2019-12-01", "result": "not_ready"});
    let unplanned = app.post(&alice, &path("stage1-audit/completion"), unplanned).await.expect(409);
    assert_eq!(unplanned.code(), "certification_audit_not_planned");

    app.post(&alice, &path("gap-diagnosis"), json!({"completed_on": "2019-10-01", "summary": "3 gaps"}))
        .await
        .expect(200);
    let before_gap =
        app.post(&alice, &path("stage1-audit/plan"), json!({"planned_on": "2019-09-01"})).await.expect(422);
    assert_eq!(
        (before_gap.code(), before_gap.body["errors"][0]["pointer"].as_str()),
        ("dates_out_of_order", Some("/planned_on"))
    );
    let planned = app.post(&alice, &path("stage1-audit/plan"), json!({"planned_on": "2019-12-01"})).await.expect(200);
    assert_eq!(planned.body["upcoming"], json!({"item": "stage1_audit", "due_on": "2019-12-01"}));
    assert_eq!(items(&planned.body, "overdue"), [item("stage1_audit", "2019-12-01")]);
    let not_ready =
        json!({"completed_on": "2019-12-01", "result": "not_ready", "findings_summary": "no internal audit"});
    app.post(&alice, &path("stage1-audit/completion"), not_ready).await.expect(200);
    assert_eq!(
        app.post(&alice, &path("stage2-audit/plan"), json!({"planned_on": "2020-02-01"})).await.expect(409).code(),
        "stage1_not_passed"
    );
    app.post(&alice, &path("stage1-audit/plan"), json!({"planned_on": "2020-01-10"})).await.expect(200);
    let ready = json!({"completed_on": "2020-01-10", "result": "ready_for_stage2"});
    app.post(&alice, &path("stage1-audit/completion"), ready).await.expect(200);
    app.post(&alice, &path("stage2-audit/plan"), json!({"planned_on": "2020-02-01"})).await.expect(200);
    let recommended = json!({"completed_on": "2020-02-03", "result": "recommended"});
    app.post(&alice, &path("stage2-audit/completion"), recommended).await.expect(200);

    let certified = app.post(&alice, &path("certificate"), certificate.clone()).await.expect(200);
    let record = &certified.body;
    assert_eq!(record["certificate"]["expires_on"], "2023-03-01");
    assert_eq!(record["recertification_due_on"], "2023-03-01");
    assert_eq!(record["surveillance_audits"][0]["due_on"], "2021-03-01");
    assert_eq!(record["surveillance_audits"][1]["due_on"], "2022-03-01");
    assert_eq!(record["upcoming"], json!({"item": "first_surveillance_audit", "due_on": "2021-03-01"}));
    assert_eq!(
        items(record, "overdue"),
        [
            item("first_surveillance_audit", "2021-03-01"),
            item("second_surveillance_audit", "2022-03-01"),
            item("recertification", "2023-03-01")
        ]
    );
    assert_eq!(
        app.post(&alice, &path("certificate"), certificate).await.expect(409).code(),
        "certificate_already_issued"
    );
    let overdue = app.get(&alice, "/api/v1/certification-cycles?overdue=true&status=open").await.expect(200);
    assert_eq!(overdue.body["items"].as_array().unwrap().len(), 1);

    let first = app.post(&alice, &path("surveillance-audits"), surveillance("2021-02-20")).await.expect(200);
    assert_eq!(first.body["surveillance_audits"][0]["completed_on"], "2021-02-20");
    assert_eq!(first.body["upcoming"]["item"], "second_surveillance_audit");
    let backwards = app.post(&alice, &path("surveillance-audits"), surveillance("2021-02-19")).await.expect(422);
    assert_eq!(backwards.code(), "dates_out_of_order");
    app.post(&alice, &path("surveillance-audits"), surveillance("2022-03-05")).await.expect(200);
    let third = app.post(&alice, &path("surveillance-audits"), surveillance("2022-12-01")).await.expect(409);
    assert_eq!(third.code(), "surveillance_audits_complete");

    let closed = app.post(&alice, &path("closure"), json!({"reason": "recertified"})).await.expect(200);
    assert_eq!((closed.body["upcoming"].clone(), closed.body["overdue"].clone()), (Value::Null, json!([])));
    assert_eq!(
        app.post(&alice, &path("closure"), json!({"reason": "again"})).await.expect(409).code(),
        "certification_cycle_closed"
    );
    let history = app.get(&alice, &format!("/api/v1/certification-cycles/{id}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "CertificationCycleOpened",
            "GapDiagnosisCompleted",
            "Stage1AuditPlanned",
            "Stage1AuditCompleted",
            "Stage1AuditPlanned",
            "Stage1AuditCompleted",
            "Stage2AuditPlanned",
            "Stage2AuditCompleted",
            "CertificateIssued",
            "SurveillanceAuditCompleted",
            "SurveillanceAuditCompleted",
            "CertificationCycleClosed"
        ]
    );
    // As of the certificate, the cycle was open with everything still to come.
    let position = certified.body["position"].as_u64().unwrap();
    let then =
        app.get(&alice, &format!("/api/v1/certification-cycles/{id}?as_of_position={position}")).await.expect(200);
    assert_eq!(
        (then.body["status"].as_str(), then.body["surveillance_audits"][0]["completed_on"].clone()),
        (Some("open"), Value::Null)
    );
}

#[tokio::test]
async fn a_planned_audit_in_the_future_is_upcoming_but_not_overdue() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let opened = app
        .post(&alice, "/api/v1/certification-cycles", json!({"certification_body": "BSI", "scope_reference": "S"}))
        .await
        .expect(201);
    let id = opened.body["id"].as_str().unwrap();
    let planned = app
        .post(
            &alice,
            &format!("/api/v1/certification-cycles/{id}/stage1-audit/plan"),
            json!({"planned_on": "2099-01-10"}),
        )
        .await
        .expect(200);
    assert_eq!(planned.body["upcoming"], json!({"item": "stage1_audit", "due_on": "2099-01-10"}));
    assert_eq!(planned.body["overdue"], json!([]));
    let future = json!({"completed_on": "2099-01-10", "result": "ready_for_stage2"});
    let future = app.post(&alice, &format!("/api/v1/certification-cycles/{id}/stage1-audit/completion"), future).await;
    assert_eq!(future.expect(422).code(), "date_in_future");
    let blank = app
        .post(&alice, "/api/v1/certification-cycles", json!({"certification_body": "", "scope_reference": " "}))
        .await
        .expect(422);
    assert_eq!(blank.body["errors"].as_array().unwrap().len(), 2);
}

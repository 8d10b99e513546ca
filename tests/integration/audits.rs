//! Internal audit (9.2) over HTTP: one programme per year, auditor independence, findings that
//! raise nonconformities exactly once with the finding's event as their cause.

use serde_json::{json, Value};

use crate::support::TestApp;

fn programme(year: i32) -> Value {
    json!({"year": year, "objectives": "実務現場の弱点を見つける事", "scope": "Whole ISMS",
           "criteria": "ISO/IEC 27001:2022", "methods": "Interviews, sampling", "responsibilities": "ISMS manager"})
}

fn audit_plan(programme_id: &str, auditors: &[&str], auditees: &[&str]) -> Value {
    json!({"programme_id": programme_id, "title": "Backups", "scope": "IT operations", "criteria": "A.8.13",
           "auditors": auditors, "auditees": auditees,
           "planned_start_on": "2026-10-05", "planned_end_on": "2026-10-06"})
}

fn event_types(history: &Value) -> Vec<String> {
    history["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn one_programme_per_year_revised_and_approved() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let created = app.post(&alice, "/api/v1/audit-programmes", programme(2026)).await.expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("location").unwrap(), format!("/api/v1/audit-programmes/{id}"));
    let second = app.post(&alice, "/api/v1/audit-programmes", programme(2026)).await.expect(409);
    assert_eq!(second.code(), "audit_programme_year_taken");
    app.post(&alice, "/api/v1/audit-programmes", programme(2027)).await.expect(201);
    let bad = app
        .post(
            &alice,
            "/api/v1/audit-programmes",
            json!({"year": 1999, "objectives": "", "scope": "s",
        "criteria": "c", "methods": "m", "responsibilities": "r"}),
        )
        .await
        .expect(422);
    let pointers: Vec<&str> =
        bad.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/year", "/objectives"]);

    let approved = app.post(&alice, &format!("/api/v1/audit-programmes/{id}/approval"), json!({})).await.expect(200);
    assert_eq!(
        (approved.body["status"].as_str(), approved.body["approved_by"].as_str()),
        (Some("approved"), Some("alice"))
    );
    let again = app.post(&alice, &format!("/api/v1/audit-programmes/{id}/approval"), json!({})).await.expect(409);
    assert_eq!(again.code(), "audit_programme_already_approved");
    let mut revision = programme(2026);
    revision.as_object_mut().unwrap().remove("year");
    let same = app.post(&alice, &format!("/api/v1/audit-programmes/{id}/revisions"), revision.clone()).await;
    assert_eq!(same.expect(409).code(), "nothing_changed");
    revision["objectives"] = json!("Confirm the effect of the reorganisation");
    let revised = app.post(&alice, &format!("/api/v1/audit-programmes/{id}/revisions"), revision).await.expect(200);
    assert_eq!(revised.body["status"], "draft");
    let listed = app.get(&alice, "/api/v1/audit-programmes?year=2026").await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let then =
        app.get(&alice, &format!("/api/v1/audit-programmes/{id}?as_of_position={}", approved.body["position"])).await;
    assert_eq!(then.expect(200).body["status"], "approved");
    let history = app.get(&alice, &format!("/api/v1/audit-programmes/{id}/history")).await.expect(200);
    assert_eq!(
        event_types(&history.body),
        ["AuditProgrammeEstablished", "AuditProgrammeApproved", "AuditProgrammeRevised"]
    );
}

#[tokio::test]
async fn auditors_are_independent_and_only_they_run_the_audit() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let programme_id = app.post(&alice, "/api/v1/audit-programmes", programme(2026)).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own_area = app.post(&alice, "/api/v1/audits", audit_plan(&programme_id, &["carol", "bob"], &["bob"])).await;
    assert_eq!(own_area.expect(409).code(), "auditor_not_independent");
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = app.post(&alice, "/api/v1/audits", audit_plan(&unknown, &["carol"], &["bob"])).await.expect(422);
    assert_eq!(
        (missing.code(), missing.body["errors"][0]["pointer"].as_str()),
        ("referenced_record_not_found", Some("/programme_id"))
    );
    let mut backwards = audit_plan(&programme_id, &["carol"], &["bob"]);
    backwards["planned_end_on"] = json!("2026-10-01");
    assert_eq!(app.post(&alice, "/api/v1/audits", backwards).await.expect(422).code(), "planned_end_before_start");
    let empty = app.post(&alice, "/api/v1/audits", audit_plan(&programme_id, &[], &["bob"])).await.expect(422);
    assert_eq!(empty.body["errors"][0]["pointer"], "/auditors");

    let planned = app.post(&alice, "/api/v1/audits", audit_plan(&programme_id, &["carol"], &["bob"])).await.expect(201);
    let id = planned.body["id"].as_str().unwrap();
    let by_auditee = app.post(&bob, &format!("/api/v1/audits/{id}/start"), json!({})).await.expect(409);
    assert_eq!(by_auditee.code(), "not_an_auditor");
    let by_other = app.post(&alice, &format!("/api/v1/audits/{id}/start"), json!({})).await.expect(409);
    assert_eq!(by_other.code(), "not_an_auditor");
    let finding = json!({"finding_type": "observation", "reference": "9.2", "description": "d", "evidence": "e"});
    let early =
        app.post(&app.token("carol", "acme", "isms:write"), &format!("/api/v1/audits/{id}/findings"), finding).await;
    assert_eq!(early.expect(409).code(), "audit_not_started");
    let carol = app.token("carol", "acme", "isms:read isms:write");
    let started = app.post(&carol, &format!("/api/v1/audits/{id}/start"), json!({"note": "opening meeting"})).await;
    assert_eq!(started.expect(200).body["status"], "in_progress");
    let listed =
        app.get(&alice, &format!("/api/v1/audits?auditor=carol&status=in_progress&programme_id={programme_id}")).await;
    assert_eq!(listed.expect(200).body["items"].as_array().unwrap().len(), 1);
    let none = app.get(&alice, "/api/v1/audits?auditor=bob").await.expect(200);
    assert!(none.body["items"].as_array().unwrap().is_empty());
}

/// An audit of bob's area, started by its auditor carol: the audit id, carol's token and the
/// start's answer.
async fn started_audit(app: &TestApp) -> (String, String, Value) {
    let alice = app.alice();
    let carol = app.token("carol", "acme", "isms:read isms:write");
    let programme_id = app.post(&alice, "/api/v1/audit-programmes", programme(2026)).await.expect(201).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let audit = app.post(&alice, "/api/v1/audits", audit_plan(&programme_id, &["carol"], &["bob"])).await.expect(201);
    let id = audit.body["id"].as_str().unwrap().to_owned();
    let started = app.post(&carol, &format!("/api/v1/audits/{id}/start"), json!({})).await.expect(200);
    (id, carol, started.body)
}

fn major_finding() -> Value {
    json!({"finding_type": "nonconformity_major", "reference": "A.8.13",
           "description": "Backups are never test-restored\nNo restore test in 12 months.",
           "evidence": "Backup log 2026"})
}

#[tokio::test]
async fn a_nonconformity_finding_raises_one_nonconformity_caused_by_the_finding_event() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let (id, carol, started) = started_audit(&app).await;
    let finding = major_finding();
    let path = format!("/api/v1/audits/{id}/findings");
    let key = [("Idempotency-Key", "finding-1")];
    let first = app.send(reqwest::Method::POST, Some(&carol), &path, Some(&finding), &key).await.expect(200);
    let recorded = &first.body["findings"][0];
    let finding_id = recorded["finding_id"].as_str().unwrap().to_owned();
    assert_eq!(recorded["nonconformity_id"].as_str(), Some(finding_id.as_str()));

    let nc = app.get(&alice, &format!("/api/v1/nonconformities/{finding_id}")).await.expect(200);
    assert_eq!(nc.body["source"], "internal_audit");
    assert_eq!(nc.body["severity"], "major");
    assert_eq!(nc.body["reference"], "A.8.13");
    assert_eq!(nc.body["title"], "Backups are never test-restored");
    assert_eq!(nc.body["detected_at"], recorded["recorded_at"]);

    let audit_history = app.get(&alice, &format!("/api/v1/audits/{id}/history")).await.expect(200);
    let finding_event = audit_history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "AuditFindingRecorded")
        .unwrap()
        .clone();
    let nc_history = app.get(&alice, &format!("/api/v1/nonconformities/{finding_id}/history")).await.expect(200);
    let raised = &nc_history.body["items"][0];
    assert_eq!(raised["event_type"], "NonconformityRaised");
    assert_eq!(raised["causation_id"], finding_event["event_id"]);
    assert_eq!(raised["correlation_id"], finding_event["correlation_id"]);
    assert_eq!(raised["actor"], "carol");

    // A retry replays the answer and raises nothing more.
    let replay = app.send(reqwest::Method::POST, Some(&carol), &path, Some(&finding), &key).await.expect(200);
    assert_eq!(replay.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(replay.body["findings"][0]["finding_id"].as_str(), Some(finding_id.as_str()));
    let nc_history = app.get(&alice, &format!("/api/v1/nonconformities/{finding_id}/history")).await.expect(200);
    assert_eq!(nc_history.body["items"].as_array().unwrap().len(), 1);
    let from_audits = app.get(&alice, "/api/v1/nonconformities?source=internal_audit").await.expect(200);
    assert_eq!(from_audits.body["items"].as_array().unwrap().len(), 1);

    // Other kinds of finding raise nothing.
    let observation = json!({"finding_type": "observation", "reference": "9.2", "description": "Agenda not shared",
                             "evidence": "Interview"});
    let observed = app.post(&carol, &path, observation.clone()).await.expect(200);
    assert!(observed.body["findings"][1]["nonconformity_id"].is_null());
    let nonconformities = app.get(&alice, "/api/v1/nonconformities").await.expect(200);
    assert_eq!(nonconformities.body["items"].as_array().unwrap().len(), 1);

    let reported = app.post(&carol, &format!("/api/v1/audits/{id}/report"), json!({"summary": "One major NC."})).await;
    assert_eq!(reported.expect(200).body["status"], "reported");
    let late = app.post(&carol, &path, observation).await.expect(409);
    assert_eq!(late.code(), "audit_already_reported");

    let before = app.get(&alice, &format!("/api/v1/audits/{id}?as_of_position={}", started["position"])).await;
    let before = before.expect(200);
    assert_eq!(before.body["status"], "in_progress");
    assert!(before.body["findings"].as_array().unwrap().is_empty());
    assert_eq!(
        event_types(&app.get(&alice, &format!("/api/v1/audits/{id}/history")).await.expect(200).body),
        ["AuditPlanned", "AuditStarted", "AuditFindingRecorded", "AuditFindingRecorded", "AuditReported"]
    );
}

#[tokio::test]
async fn concurrent_retries_of_a_finding_raise_one_nonconformity() {
    let app = TestApp::spawn().await;
    let (id, carol, _) = started_audit(&app).await;
    let (path, finding) = (format!("/api/v1/audits/{id}/findings"), major_finding());
    let key = [("Idempotency-Key", "finding-race")];
    let retries = (0..8).map(|_| app.send(reqwest::Method::POST, Some(&carol), &path, Some(&finding), &key));
    let replies = futures_util::future::join_all(retries).await;
    for reply in &replies {
        let in_flight = reply.status == 409 && reply.code() == "idempotency_key_in_flight";
        assert!(reply.status == 200 || in_flight, "unexpected reply {} {}", reply.status, reply.body);
    }
    let answered = replies.iter().find(|r| r.status == 200).expect("one retry succeeded");
    let finding_id = answered.body["findings"][0]["finding_id"].as_str().unwrap();
    let audit = app.get(&app.alice(), &format!("/api/v1/audits/{id}")).await.expect(200);
    assert_eq!(audit.body["findings"].as_array().unwrap().len(), 1);
    let history = app.get(&app.alice(), &format!("/api/v1/nonconformities/{finding_id}/history")).await.expect(200);
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
    let listed = app.get(&app.alice(), "/api/v1/nonconformities").await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

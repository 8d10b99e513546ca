//! Bitemporal facts, the audit trail for people (CSV, correlation, causation, per-actor
//! activity), recorded reads of personal data, and the auditor's read-only access.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::support::{Reply, TestApp};

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Percent-encodes a query value (RFC 3339 offsets and cursors carry `+`, `:` and `=`).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn items(reply: &Reply) -> &Vec<Value> {
    reply.body["items"].as_array().unwrap()
}

fn event_types(reply: &Reply) -> Vec<&str> {
    items(reply).iter().map(|e| e["event_type"].as_str().unwrap()).collect()
}

async fn report_incident(app: &TestApp, token: &str, detected_at: DateTime<Utc>) -> String {
    let body = json!({"title": "Laptop stolen", "detected_at": rfc3339(detected_at)});
    app.post(token, "/api/v1/incidents", body).await.expect(201).body["id"].as_str().unwrap().to_owned()
}

/// A GET answered as text (CSV), with its headers.
async fn get_text(app: &TestApp, token: &str, path: &str, accept: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response =
        app.client.get(format!("{}{path}", app.base)).bearer_auth(token).header("Accept", accept).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn facts_carry_their_business_time_and_late_ones_are_flagged_backdated() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let detected = Utc::now() - Duration::days(3);
    let late = report_incident(&app, &alice, detected).await;
    let prompt = report_incident(&app, &alice, Utc::now() - Duration::hours(2)).await;
    let risk = app.identify_risk(&alice, "alice").await;

    let history = app.get(&alice, &format!("/api/v1/incidents/{late}/history")).await.expect(200);
    let reported = &items(&history)[0];
    assert_eq!(reported["effective_at"].as_str(), Some(rfc3339(detected).as_str()));
    assert_eq!(reported["backdated"], true);
    let history = app.get(&alice, &format!("/api/v1/incidents/{prompt}/history")).await.expect(200);
    assert_eq!(items(&history)[0]["backdated"], false);
    let history = app.get(&alice, &format!("/api/v1/risks/{risk}/history")).await.expect(200);
    assert_eq!((&items(&history)[0]["effective_at"], &items(&history)[0]["backdated"]), (&Value::Null, &json!(false)));

    let backdated = app.get(&alice, "/api/v1/audit-trail?backdated=true").await.expect(200);
    assert_eq!(items(&backdated).iter().map(|e| e["stream_id"].as_str().unwrap()).collect::<Vec<_>>(), [&late]);
    let yesterday = query_value(&rfc3339(Utc::now() - Duration::days(1)));
    let earlier = app.get(&alice, &format!("/api/v1/audit-trail?effective_to={yesterday}")).await.expect(200);
    assert_eq!(event_types(&earlier), ["IncidentReported"]);
    // Events without a business time of their own took effect when they were recorded.
    let since = app.get(&alice, &format!("/api/v1/audit-trail?effective_from={yesterday}")).await.expect(200);
    assert_eq!(event_types(&since), ["IncidentReported", "RiskIdentified"]);

    // Registers filter records by the business time they took effect (as_of stays on recorded time).
    let listed = app.get(&alice, &format!("/api/v1/incidents?effective_to={yesterday}")).await.expect(200);
    assert_eq!(items(&listed).iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), [&late]);
    let listed = app.get(&alice, &format!("/api/v1/incidents?effective_from={yesterday}")).await.expect(200);
    assert_eq!(items(&listed).iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), [&prompt]);
    let risks = app.get(&alice, &format!("/api/v1/risks?effective_to={yesterday}")).await.expect(200);
    assert!(items(&risks).is_empty());
    let ncs = app.get(&alice, &format!("/api/v1/nonconformities?effective_from={yesterday}")).await.expect(200);
    assert!(items(&ncs).is_empty());

    // The chain still verifies with business times in it, from position 1.
    assert!(app.store.verify_new_events().unwrap() >= 3);
}

#[tokio::test]
async fn the_audit_trail_follows_a_request_and_the_events_it_caused_and_exports_csv() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let carol = app.token("carol", "acme", "isms:read isms:write");
    let programme = json!({"year": 2026, "objectives": "o", "scope": "s", "criteria": "c", "methods": "m",
                           "responsibilities": "r"});
    let programme = app.post(&alice, "/api/v1/audit-programmes", programme).await.expect(201);
    let plan = json!({"programme_id": programme.body["id"], "title": "Backups", "scope": "IT", "criteria": "A.8.13",
                      "auditors": ["carol"], "auditees": ["bob"],
                      "planned_start_on": "2026-10-05", "planned_end_on": "2026-10-06"});
    let audit = app.post(&alice, "/api/v1/audits", plan).await.expect(201).body["id"].as_str().unwrap().to_owned();
    app.post(&carol, &format!("/api/v1/audits/{audit}/start"), json!({})).await.expect(200);
    let finding = json!({"finding_type": "nonconformity_minor", "reference": "A.8.13",
                         "description": "Backups are never test-restored", "evidence": "Backup log"});
    let request_id = uuid::Uuid::now_v7().to_string();
    let path = format!("/api/v1/audits/{audit}/findings");
    let headers = [("X-Request-Id", request_id.as_str())];
    app.send(reqwest::Method::POST, Some(&carol), &path, Some(&finding), &headers).await.expect(200);

    let by_request = app.get(&alice, &format!("/api/v1/audit-trail?correlation_id={request_id}")).await.expect(200);
    assert_eq!(event_types(&by_request), ["AuditFindingRecorded", "NonconformityRaised"]);
    let cause = items(&by_request)[0]["event_id"].as_str().unwrap().to_owned();
    let caused = app.get(&alice, &format!("/api/v1/audit-trail?caused_by={cause}")).await.expect(200);
    assert_eq!(event_types(&caused), ["NonconformityRaised"]);
    assert_eq!(items(&caused)[0]["causation_id"].as_str(), Some(cause.as_str()));
    let nothing = app.get(&alice, &format!("/api/v1/audit-trail?caused_by={}", uuid::Uuid::now_v7())).await;
    assert!(items(&nothing.expect(200)).is_empty());

    // CSV: one row per event, the same filters, paged with Isms-Next-Cursor.
    let (status, headers, text) = get_text(&app, &alice, "/api/v1/audit-trail?stream_type=audit", "text/csv").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let rows: Vec<&str> = text.split("\r\n").filter(|row| !row.is_empty()).collect();
    assert!(rows[0].starts_with("position,recorded_at,effective_at,backdated,actor,source,event_type,stream_type"));
    assert_eq!(rows.len(), 1 + 3, "AuditPlanned, AuditStarted, AuditFindingRecorded");
    assert!(rows[3].contains(",carol,,AuditFindingRecorded,audit,"), "no source: carol called the API herself");
    let (_, headers, first) = get_text(&app, &alice, "/api/v1/audit-trail?limit=1", "text/csv").await;
    let cursor = headers["isms-next-cursor"].to_str().unwrap().to_owned();
    assert_eq!(first.split("\r\n").filter(|row| !row.is_empty()).count(), 2);
    let next = format!("/api/v1/audit-trail?limit=1&cursor={}", query_value(&cursor));
    let (_, _, second) = get_text(&app, &alice, &next, "text/csv").await;
    assert!(second.split("\r\n").nth(1).unwrap().starts_with("2,"));
    // JSON stays the default.
    let (_, headers, _) = get_text(&app, &alice, "/api/v1/audit-trail?limit=1", "*/*").await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));

    let activity = app.get(&alice, "/api/v1/actors/carol/activity?latest=2").await.expect(200);
    assert_eq!(activity.body["actor"], "carol");
    assert_eq!(activity.body["event_count"], 3);
    assert_eq!(
        activity.body["by_event_type"],
        json!({"AuditStarted": 1, "AuditFindingRecorded": 1,
                                                       "NonconformityRaised": 1})
    );
    assert_eq!(activity.body["by_stream_type"], json!({"audit": 2, "nonconformity": 1}));
    let latest: Vec<&str> =
        activity.body["latest"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(latest, ["NonconformityRaised", "AuditFindingRecorded"]);
    assert!(activity.body["first_activity_at"].as_str() <= activity.body["last_activity_at"].as_str());
    let nobody = app.get(&alice, "/api/v1/actors/mallory/activity").await.expect(200);
    assert_eq!((nobody.body["event_count"].as_u64(), &nobody.body["first_activity_at"]), (Some(0), &Value::Null));
    let bob = app.token("bob", "acme", "isms:read isms:write");
    assert_eq!(app.get(&bob, "/api/v1/actors/carol/activity").await.expect(403).code(), "insufficient_scope");
}

#[tokio::test]
async fn reads_of_personal_data_are_recorded_before_they_are_answered() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let bob = app.token("bob", "acme", "isms:read");
    let joined = json!({"user_name": "hanako", "display_name": "佐藤 花子", "department": "development",
                        "role": "engineer"});
    let person = app.post(&alice, "/api/v1/people", joined).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let trail = "/api/v1/audit-trail?stream_type=personal_data_access";
    assert!(items(&app.get(&alice, trail).await.expect(200)).is_empty(), "commands are not reads");

    let request_id = uuid::Uuid::now_v7().to_string();
    let headers = [("Isms-Purpose", "異動に伴うアクセス権の見直し"), ("X-Request-Id", request_id.as_str())];
    let read = app.send(reqwest::Method::GET, Some(&bob), &format!("/api/v1/people/{person}"), None, &headers).await;
    let read_position = read.expect(200).header("isms-position").unwrap();
    app.get(&bob, "/api/v1/people?department=development").await.expect(200);
    app.get(&bob, "/api/v1/reports/personal-information").await.expect(200);
    // Nothing disclosed, nothing recorded.
    app.get(&bob, &format!("/api/v1/people/{}", uuid::Uuid::now_v7())).await.expect(404);
    let bad = [("Isms-Purpose", "line\tbreak")];
    let refused = app.send(reqwest::Method::GET, Some(&bob), &format!("/api/v1/people/{person}"), None, &bad).await;
    assert_eq!(refused.expect(400).code(), "invalid_purpose");
    // Other reads write nothing.
    app.get(&bob, "/api/v1/risks").await.expect(200);

    let reads = app.get(&alice, trail).await.expect(200);
    let data: Vec<&Value> = items(&reads).iter().map(|e| &e["data"]).collect();
    assert_eq!(
        data,
        [
            &json!({"subject_read": person, "reader": "bob", "purpose": "異動に伴うアクセス権の見直し"}),
            &json!({"subject_read": "list", "reader": "bob", "purpose": null}),
            &json!({"subject_read": "personal-information", "reader": "bob", "purpose": null}),
        ]
    );
    let first = &items(&reads)[0];
    assert_eq!((first["event_type"].as_str(), first["actor"].as_str()), (Some("PersonalDataRead"), Some("bob")));
    assert_eq!(first["correlation_id"].as_str(), Some(request_id.as_str()));
    // The answer reflects the log as read; the record of the read comes right after it.
    assert_eq!(first["position"].as_u64(), Some(read_position.parse::<u64>().unwrap() + 1));
    assert_eq!(app.get(&bob, trail).await.expect(403).code(), "insufficient_scope");
    let tenant = isms_store::TenantId::parse("acme").unwrap();
    assert_eq!(app.projections.tenant(&tenant).unwrap().read().unwrap().personal_data_access.reads, 3);
}

/// Every operation of the OpenAPI document as (method, path with each `{param}` filled in).
fn operations(document: &Value, fill: &str) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|segment| if segment.starts_with('{') { fill } else { segment })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            operations.push((method.to_uppercase(), concrete.clone(), operation["security"].clone()));
        }
    }
    operations
}

#[tokio::test]
async fn an_auditor_token_reads_everything_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let auditor = app.token("erin", "acme", "audit:read");
    let risk = app.identify_risk(&alice, "alice").await;
    let nc = app.raise_nonconformity(&alice, "minor").await;
    let incident = report_incident(&app, &alice, Utc::now() - Duration::days(2)).await;
    let position = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200).header("isms-position").unwrap();

    for path in [
        "/api/v1/risks".to_owned(),
        format!("/api/v1/risks/{risk}"),
        format!("/api/v1/risks/{risk}/history"),
        format!("/api/v1/risks?as_of_position={position}"),
        "/api/v1/nonconformities".to_owned(),
        format!("/api/v1/nonconformities/{nc}"),
        format!("/api/v1/incidents/{incident}?as_of=2030-01-01T00:00:00Z"),
        "/api/v1/context-issues".to_owned(),
        "/api/v1/assets".to_owned(),
        "/api/v1/people".to_owned(),
        "/api/v1/suppliers".to_owned(),
        "/api/v1/soa".to_owned(),
        "/api/v1/risk-criteria".to_owned(),
        "/api/v1/reports/dashboard".to_owned(),
        "/api/v1/reports/risk-heat-map".to_owned(),
        "/api/v1/reports/traceability".to_owned(),
        "/api/v1/reports/readiness".to_owned(),
        "/api/v1/reports/personal-information".to_owned(),
        "/api/v1/audit-trail".to_owned(),
        "/api/v1/events".to_owned(),
        "/api/v1/integrity".to_owned(),
    ] {
        let reply = app.get(&auditor, &path).await;
        assert_eq!(reply.status, 200, "GET {path} with audit:read only: {}", reply.body);
    }

    // Every read the document lists is open to the auditor, and every command refuses them.
    let document: Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    let (mut reads, mut commands) = (0, 0);
    for (method, path, security) in operations(&document, &uuid::Uuid::now_v7().to_string()) {
        // Administration (the online backup of every tenant) is for operators, never for auditors.
        if !path.starts_with("/api/v1") || path.starts_with("/api/v1/admin/") {
            continue;
        }
        let url = format!("{}{path}", app.base);
        let reply = app.client.request(method.parse().unwrap(), &url).bearer_auth(&auditor).json(&json!({})).send();
        let status = reply.await.unwrap().status().as_u16();
        if method == "GET" {
            reads += 1;
            // Tenant settings that hold secrets (webhooks) are read with `admin` only.
            let admin_only = security.as_array().unwrap().iter().all(|s| s == &json!({"bearer": ["admin"]}));
            assert!(status != 401 && (status != 403 || admin_only), "GET {path} refused the auditor ({status})");
            if security.as_array().unwrap().contains(&json!({"bearer": ["isms:read"]})) {
                assert!(
                    security.as_array().unwrap().contains(&json!({"bearer": ["audit:read"]})),
                    "{path}: {security}"
                );
            }
        } else if security.to_string().contains("audit:read") {
            // Commands documented for auditors change no record: asking for a signed checkpoint.
            assert_eq!(path, "/api/v1/checkpoints", "{method} {path} is open to auditors: {security}");
            assert!(status < 300, "{method} {path} refused the auditor ({status})");
        } else {
            commands += 1;
            assert_eq!(status, 403, "{method} {path} let the auditor through");
        }
    }
    assert!(reads > 40 && commands > 40, "{reads} reads, {commands} commands");
    // And nothing changed but the auditor's recorded reads of personal data.
    let trail = app.get(&alice, "/api/v1/audit-trail?actor=erin&limit=500").await.expect(200);
    assert!(event_types(&trail).iter().all(|t| *t == "PersonalDataRead"), "{:?}", event_types(&trail));
}

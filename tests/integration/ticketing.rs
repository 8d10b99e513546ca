//! Ticketing integrations: recorded Jira Cloud and ServiceNow payloads, signed as the vendors
//! sign them, move corrective actions and keep incidents; redeliveries are duplicates; bad
//! signatures change nothing; what is not acted on is reported.

use hmac::{Hmac, Mac};
use isms_api::ticketing::{TicketingSecret, TicketingSettings};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::support::{serve_config, Reply, TestApp};

const JIRA_SECRET: &str = "jira-webhook-secret-for-acme";
const SERVICENOW_SECRET: &str = "servicenow-secret-for-acme";
const GLOBEX_JIRA_SECRET: &str = "jira-webhook-secret-for-globex";

async fn spawn() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = serve_config(dir.path());
    let secret = |tenant: &str, system: &str, secret: &str| TicketingSecret {
        tenant: tenant.into(),
        system: system.into(),
        secret: secret.into(),
        client_id: None,
    };
    config.ticketing = TicketingSettings {
        secrets: vec![
            secret("acme", "jira", JIRA_SECRET),
            secret("acme", "servicenow", SERVICENOW_SECRET),
            secret("globex", "jira", GLOBEX_JIRA_SECRET),
        ],
        ..TicketingSettings::default()
    };
    TestApp::spawn_with(dir, config).await
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts raw bytes, as the vendor does: the signature covers exactly these bytes.
async fn deliver(app: &TestApp, system: &str, body: &[u8], headers: &[(&str, String)]) -> Reply {
    let mut request = app
        .client
        .post(format!("{}/api/v1/integrations/{system}", app.base))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    Reply { status, headers, body }
}

async fn jira(app: &TestApp, body: &[u8], delivery: &str) -> Reply {
    let headers =
        [("x-hub-signature", sign(JIRA_SECRET, body)), ("x-atlassian-webhook-identifier", delivery.to_owned())];
    deliver(app, "jira", body, &headers).await
}

async fn servicenow(app: &TestApp, body: &[u8]) -> Reply {
    deliver(app, "servicenow", body, &[("x-signature", sign(SERVICENOW_SECRET, body))]).await
}

/// A minor nonconformity with one action planned for Jira project OPS, and its ids.
async fn planned_action(app: &TestApp) -> (String, String) {
    let alice = app.alice();
    let nc = app.raise_nonconformity(&alice, "minor").await;
    let planned = app
        .post(
            &alice,
            &format!("/api/v1/nonconformities/{nc}/corrective-actions"),
            json!({"actions": [{"description": "Quarterly restore test with sign-off", "owner": "bob",
                                "due_date": "2027-01-31", "ticket_system": "jira", "ticket_project": "OPS"}]}),
        )
        .await
        .expect(200);
    let action = planned.body["corrective_actions"][0]["id"].as_str().unwrap().to_owned();
    (nc, action)
}

async fn link(app: &TestApp, token: &str, nc: &str, action: &str, body: Value) -> Reply {
    let path = format!("/api/v1/nonconformities/{nc}/corrective-actions/{action}/ticket");
    app.send(reqwest::Method::PUT, Some(token), &path, Some(&body), &[]).await
}

#[tokio::test]
async fn a_jira_issue_closed_moves_the_linked_corrective_action_once() {
    let app = spawn().await;
    let (nc, action) = planned_action(&app).await;
    // The bridge saw CorrectiveActionPlanned (with what it needs) and reports the ticket it opened.
    let audit = app.get(&app.alice(), &format!("/api/v1/nonconformities/{nc}/history")).await.expect(200);
    let plan = &audit.body["items"][1];
    assert_eq!(plan["event_type"], "CorrectiveActionPlanned", "{}", audit.body);
    assert_eq!(plan["data"]["nonconformity_title"], "Backups never restored");
    assert_eq!((&plan["data"]["ticket_system"], &plan["data"]["ticket_project"]), (&json!("jira"), &json!("OPS")));
    let bridge = app.token("jira-bridge", "acme", "integrations");
    let ticket = json!({"system": "jira", "key": "OPS-42", "url": "https://example.atlassian.net/browse/OPS-42"});
    let linked = link(&app, &bridge, &nc, &action, ticket.clone()).await.expect(200);
    assert_eq!(linked.body["corrective_actions"][0]["ticket"]["key"], "OPS-42");
    assert_eq!(linked.body["corrective_actions"][0]["ticket_key"], "OPS-42");
    assert_eq!(linked.body["corrective_actions"][0]["ticket"]["project"], "OPS");
    // PUT again: the same link, no new event.
    let again = link(&app, &bridge, &nc, &action, ticket).await.expect(200);
    assert_eq!(again.header("etag"), linked.header("etag"));

    // Moving the ticket to In Progress is not mapped: reported, nothing recorded.
    let progress = jira(&app, &fixture("jira/issue_updated_in_progress.json"), "delivery-1").await.expect(202);
    assert_eq!(progress.body["ignored"][0]["code"], "status_not_mapped", "{}", progress.body);

    let done = fixture("jira/issue_updated_done.json");
    let reply = jira(&app, &done, "delivery-2").await.expect(200);
    assert_eq!(reply.body["outcome"], "processed", "{}", reply.body);
    assert_eq!(reply.body["recorded"][0]["event_types"], json!(["CorrectiveActionCompleted"]));
    let record = app.get(&app.alice(), &format!("/api/v1/nonconformities/{nc}")).await.expect(200);
    let moved = &record.body["corrective_actions"][0];
    assert_eq!((&moved["completed"], &moved["completed_by"]), (&json!(true), &json!("jira")), "{moved}");
    assert_eq!(moved["ticket"]["completion"]["changed_by"], "Jane Doe");
    assert_eq!(moved["ticket"]["completion"]["from_status"], "In Progress");
    assert_eq!(moved["ticket"]["completion"]["delivery_id"], "delivery-2");
    assert_eq!(record.body["status"], "awaiting_verification");

    // Jira retries the same delivery: a duplicate, nothing new in the log.
    let redelivered = jira(&app, &done, "delivery-2").await.expect(200);
    assert_eq!(redelivered.body["outcome"], "duplicate", "{}", redelivered.body);
    let after = app.get(&app.alice(), &format!("/api/v1/nonconformities/{nc}")).await.expect(200);
    assert_eq!(after.body["version"], record.body["version"]);
    // Another delivery of the same state is refused by the action's rule, and said so.
    let later = jira(&app, &done, "delivery-3").await.expect(202);
    assert_eq!(later.body["ignored"][0]["code"], "corrective_action_already_completed", "{}", later.body);
}

#[tokio::test]
async fn a_jira_incident_issue_created_reports_an_incident() {
    let app = spawn().await;
    let reply = jira(&app, &fixture("jira/issue_created_incident.json"), "delivery-sec-7").await.expect(200);
    let recorded = &reply.body["recorded"][0];
    assert_eq!(recorded["register"], "incidents", "{}", reply.body);
    assert_eq!(recorded["event_types"], json!(["IncidentReported", "IncidentTicketLinked", "IncidentTicketUpdated"]));
    let incident = app.get(&app.alice(), &format!("/api/v1/incidents/{}", recorded["id"].as_str().unwrap())).await;
    let incident = incident.expect(200).body;
    assert_eq!(incident["title"], "Credential phishing mail reported by three users");
    assert_eq!(
        (&incident["reported_by"], &incident["detected_at"]),
        (&json!("Ken Sato"), &json!("2026-11-24T08:35:30Z"))
    );
    assert_eq!(incident["status"], "reported");
    assert_eq!(incident["ticket"]["key"], "SEC-7");
    assert_eq!(incident["ticket"]["url"], "https://example.atlassian.net/browse/SEC-7");
    assert_eq!(incident["ticket"]["priority"], "Highest");
    // The integration is the actor of what it recorded.
    assert_eq!(incident["created_by"], "jira");

    // The ticket moves on in Jira: the same incident records its new state.
    let mut update: Value = serde_json::from_slice(&fixture("jira/issue_created_incident.json")).unwrap();
    update["webhookEvent"] = json!("jira:issue_updated");
    update["issue"]["fields"]["status"] = json!({"name": "Investigating", "statusCategory": {"key": "indeterminate"}});
    update["changelog"] =
        json!({"id": "1", "items": [{"field": "status", "fromString": "Open", "toString": "Investigating"}]});
    let update = serde_json::to_vec(&update).unwrap();
    let updated = jira(&app, &update, "delivery-sec-7-b").await.expect(200);
    assert_eq!(updated.body["recorded"][0]["id"], recorded["id"], "{}", updated.body);
    let id = recorded["id"].as_str().unwrap();
    let incident = app.get(&app.alice(), &format!("/api/v1/incidents/{id}")).await.expect(200).body;
    assert_eq!((&incident["ticket"]["status"], &incident["version"]), (&json!("Investigating"), &json!(4)));
    // A later delivery with nothing new for the register (a comment, say) is reported, not recorded.
    let unchanged = jira(&app, &update, "delivery-sec-7-c").await.expect(202);
    assert_eq!(unchanged.body["ignored"][0]["code"], "nothing_changed", "{}", unchanged.body);
}

#[tokio::test]
async fn servicenow_create_then_update_keeps_one_incident() {
    let app = spawn().await;
    let created = servicenow(&app, &fixture("servicenow/incident_created.json")).await.expect(200);
    let id = created.body["recorded"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["delivery_id"], "9d385017c611228701d22104cc95c371:0");
    let resolved = fixture("servicenow/incident_resolved.json");
    let updated = servicenow(&app, &resolved).await.expect(200);
    assert_eq!(updated.body["recorded"][0]["id"], id.as_str(), "{}", updated.body);
    assert_eq!(updated.body["recorded"][0]["event_types"], json!(["IncidentTicketUpdated"]));
    let incident = app.get(&app.alice(), &format!("/api/v1/incidents/{id}")).await.expect(200).body;
    assert_eq!(incident["ticket"]["status"], "Resolved", "{incident}");
    assert_eq!(
        (&incident["ticket"]["priority"], &incident["ticket"]["changed_by"]),
        (&json!("2 - High"), &json!("beth.anglin"))
    );
    assert_eq!(incident["ticket"]["changed_at"], "2026-11-25T14:12:09Z");
    let list = app.get(&app.alice(), "/api/v1/incidents").await.expect(200).body;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // The same record version again (sys_id and sys_mod_count unchanged) is a duplicate.
    let again = servicenow(&app, &resolved).await.expect(200);
    assert_eq!(again.body["outcome"], "duplicate", "{}", again.body);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_records_nothing() {
    let app = spawn().await;
    let body = fixture("jira/issue_created_incident.json");
    let forged = [("x-hub-signature", sign("not-the-secret", &body)), ("x-atlassian-webhook-identifier", "d".into())];
    let refused = deliver(&app, "jira", &body, &forged).await.expect(401);
    assert_eq!(refused.code(), "invalid_signature");
    deliver(&app, "jira", &body, &[]).await.expect(401);
    // A body altered after signing does not verify either.
    let mut altered = body.clone();
    altered.extend_from_slice(b" ");
    let stale = [("x-hub-signature", sign(JIRA_SECRET, &body))];
    deliver(&app, "jira", &altered, &stale).await.expect(401);
    // A ServiceNow secret does not sign Jira deliveries.
    deliver(&app, "jira", &body, &[("x-hub-signature", sign(SERVICENOW_SECRET, &body))]).await.expect(401);
    let incidents = app.get(&app.alice(), "/api/v1/incidents").await.expect(200);
    assert_eq!(incidents.body["items"], json!([]));
    assert_eq!(incidents.body["position"], 0);

    // The secret picks the tenant: globex's secret files the incident under globex only.
    let globex = [("x-hub-signature", sign(GLOBEX_JIRA_SECRET, &body))];
    deliver(&app, "jira", &body, &globex).await.expect(200);
    assert_eq!(app.get(&app.alice(), "/api/v1/incidents").await.body["items"], json!([]));
    let globex_token = app.token("alice", "globex", "isms:read");
    assert_eq!(app.get(&globex_token, "/api/v1/incidents").await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn what_a_delivery_does_not_act_on_is_reported() {
    let app = spawn().await;
    let unknown = jira(&app, &fixture("jira/issue_updated_unknown_key.json"), "d-unknown").await.expect(202);
    assert_eq!(unknown.body["outcome"], "ignored");
    assert_eq!(unknown.body["ignored"][0]["code"], "unknown_ticket_key", "{}", unknown.body);
    assert!(unknown.body["ignored"][0]["detail"].as_str().unwrap().contains("WEB-311"));

    let mut deleted: Value = serde_json::from_slice(&fixture("jira/issue_created_incident.json")).unwrap();
    deleted["webhookEvent"] = json!("jira:issue_deleted");
    let deleted = serde_json::to_vec(&deleted).unwrap();
    let reply = jira(&app, &deleted, "d-deleted").await.expect(202);
    assert_eq!(reply.body["ignored"][0]["code"], "event_type_ignored");
    assert_eq!(app.get(&app.alice(), "/api/v1/incidents").await.body["position"], 0);
}

#[tokio::test]
async fn bearer_tokens_need_the_integrations_scope_and_real_payloads_fit_the_body_limit() {
    let app = spawn().await;
    let mut large: Value = serde_json::from_slice(&fixture("jira/issue_created_incident.json")).unwrap();
    // Jira payloads with a long description and many fields reach ~100 KB.
    large["issue"]["fields"]["description"] = json!("Mail headers and log excerpts follow.\n".repeat(3_000));
    let body = serde_json::to_vec(&large).unwrap();
    assert!(body.len() > 100_000);
    let writer = app.token("alice", "acme", "isms:write");
    let bearer = |token: &str| [("authorization", format!("Bearer {token}"))];
    deliver(&app, "jira", &body, &bearer(&writer)).await.expect(403);
    let integration = app.token("sso-bridge", "acme", "integrations");
    let reply = deliver(&app, "jira", &body, &bearer(&integration)).await.expect(200);
    let id = reply.body["recorded"][0]["id"].as_str().unwrap();
    let incident = app.get(&app.alice(), &format!("/api/v1/incidents/{id}")).await.expect(200).body;
    assert_eq!(incident["created_by"], "sso-bridge");
    assert_eq!(incident["description"].as_str().unwrap().chars().count(), 10_000);
}

#[tokio::test]
async fn linking_a_ticket_is_validated_and_refused_on_a_closed_nonconformity() {
    let app = spawn().await;
    let (nc, action) = planned_action(&app).await;
    let reader = app.token("eve", "acme", "isms:read");
    link(&app, &reader, &nc, &action, json!({"system": "jira", "key": "OPS-1"})).await.expect(403);
    let invalid =
        link(&app, &app.alice(), &nc, &action, json!({"system": "Service Now", "key": " ", "url": "ftp://x"}))
            .await
            .expect(422);
    let pointers: Vec<&str> =
        invalid.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/system", "/key", "/url"]);
    let unknown = format!("/api/v1/nonconformities/{nc}/corrective-actions/{}/ticket", uuid::Uuid::now_v7());
    let body = json!({"system": "jira", "key": "OPS-1"});
    app.send(reqwest::Method::PUT, Some(&app.alice()), &unknown, Some(&body), &[]).await.expect(404);

    let alice = app.alice();
    let base = format!("/api/v1/nonconformities/{nc}");
    app.post(&alice, &format!("{base}/corrective-actions/{action}/completion"), json!({})).await.expect(200);
    app.post(&alice, &format!("{base}/effectiveness-review"), json!({"effective": true})).await.expect(200);
    app.post(&alice, &format!("{base}/closure"), json!({})).await.expect(200);
    let closed = link(&app, &alice, &nc, &action, body).await.expect(409);
    assert_eq!(closed.code(), "nonconformity_closed");
}

//! Incidents (A.5.24 to A.5.28, A.6.8) over HTTP: the forward-only lifecycle, the 72-hour
//! notification deadline of a personal data breach, and one nonconformity per incident.

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::support::TestApp;

fn rfc3339(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn report(app: &TestApp, token: &str, detected_days_ago: i64) -> Value {
    let detected_at = rfc3339(Utc::now() - Duration::days(detected_days_ago));
    app.post(
        token,
        "/api/v1/incidents",
        json!({"title": "Laptop stolen", "detected_at": detected_at, "reporter": "dave"}),
    )
    .await
    .expect(201)
    .body
}

#[tokio::test]
async fn an_incident_moves_forward_only_and_closes_after_lessons_learned() {
    let app = TestApp::spawn().await;
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let incident = report(&app, &bob, 0).await;
    let id = incident["id"].as_str().unwrap();
    assert_eq!((incident["reported_by"].as_str(), incident["status"].as_str()), (Some("dave"), Some("reported")));
    let path = |step: &str| format!("/api/v1/incidents/{id}/{step}");
    let step = json!({"description": "Remote wipe issued"});
    let early = app.post(&bob, &path("containment"), step.clone()).await.expect(409);
    assert_eq!(early.code(), "incident_transition_not_allowed");
    let triage = json!({"severity": "high", "category": "physical", "personal_data_breach": false});
    let triaged = app.post(&bob, &path("triage"), triage.clone()).await.expect(200);
    assert!(triaged.body["notification_due_at"].is_null());
    let not_breach = app
        .post(&bob, &path("authority-notification"), json!({"notified_at": rfc3339(Utc::now()), "authority": "PPC"}))
        .await
        .expect(409);
    assert_eq!(not_breach.code(), "not_a_personal_data_breach");
    app.post(&bob, &path("containment"), step.clone()).await.expect(200);
    let backwards = app.post(&bob, &path("triage"), triage).await.expect(409);
    assert_eq!(backwards.code(), "incident_transition_not_allowed");
    app.post(&bob, &path("resolution"), json!({"description": "Device replaced"})).await.expect(200);
    let unlearned = app.post(&bob, &path("closure"), json!({})).await.expect(409);
    assert_eq!(unlearned.code(), "lessons_learned_required");
    let empty = app.post(&bob, &path("lessons-learned"), json!({"description": " "})).await.expect(422);
    assert_eq!(empty.body["errors"][0]["pointer"], "/description");
    app.post(&bob, &path("lessons-learned"), json!({"description": "Never leave devices in cars"})).await.expect(200);
    let closed = app.post(&bob, &path("closure"), json!({"note": "done"})).await.expect(200);
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(closed.body["lessons_learned"]["text"], "Never leave devices in cars");
    let after = app.post(&bob, &path("lessons-learned"), json!({"description": "more"})).await.expect(409);
    assert_eq!(after.code(), "incident_closed");

    let future = rfc3339(Utc::now() + Duration::days(1));
    let invalid = app.post(&bob, "/api/v1/incidents", json!({"title": "x", "detected_at": future})).await.expect(422);
    assert_eq!(
        (invalid.code(), invalid.body["errors"][0]["pointer"].as_str()),
        ("detected_in_future", Some("/detected_at"))
    );
    let listed = app.get(&bob, "/api/v1/incidents?status=closed&category=physical&severity=high").await.expect(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_personal_data_breach_is_due_for_notification_within_72_hours() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let incident = report(&app, &alice, 5).await;
    let id = incident["id"].as_str().unwrap();
    let breach = json!({"severity": "critical", "category": "data_loss", "personal_data_breach": true});
    let triaged = app.post(&alice, &format!("/api/v1/incidents/{id}/triage"), breach).await.expect(200);
    let detected_at = chrono::DateTime::parse_from_rfc3339(incident["detected_at"].as_str().unwrap()).unwrap();
    let deadline = chrono::DateTime::parse_from_rfc3339(triaged.body["notification_due_at"].as_str().unwrap()).unwrap();
    assert_eq!(deadline - detected_at, Duration::hours(72));
    assert_eq!(triaged.body["notification_overdue"], true);
    let overdue = app.get(&alice, "/api/v1/incidents?notification_overdue=true&personal_data_breach=true").await;
    assert_eq!(overdue.expect(200).body["items"].as_array().unwrap().len(), 1);

    let notification = json!({"notified_at": rfc3339(Utc::now()), "authority": "PPC", "reference": "R-1"});
    let path = format!("/api/v1/incidents/{id}/authority-notification");
    let notified = app.post(&alice, &path, notification.clone()).await.expect(200);
    assert_eq!(notified.body["notification_overdue"], false);
    assert_eq!(notified.body["notification"]["late"], true);
    assert_eq!(app.post(&alice, &path, notification).await.expect(409).code(), "authority_already_notified");
    let before = app.get(&alice, &format!("/api/v1/incidents/{id}?as_of_position={}", triaged.body["position"])).await;
    assert_eq!(before.expect(200).body["notification_overdue"], true);
    // A breach detected today is not overdue.
    let fresh = report(&app, &alice, 0).await;
    let fresh_id = fresh["id"].as_str().unwrap();
    let breach = json!({"severity": "low", "category": "phishing", "personal_data_breach": true});
    let triaged = app.post(&alice, &format!("/api/v1/incidents/{fresh_id}/triage"), breach).await.expect(200);
    assert_eq!(triaged.body["notification_overdue"], false);
    let early = json!({"notified_at": rfc3339(Utc::now() - Duration::days(1)), "authority": "PPC"});
    let refused = app.post(&alice, &format!("/api/v1/incidents/{fresh_id}/authority-notification"), early).await;
    assert_eq!(refused.expect(422).code(), "notified_before_detection");
}

#[tokio::test]
async fn an_incident_raises_one_nonconformity_caused_by_its_latest_event() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let incident = report(&app, &alice, 1).await;
    let id = incident["id"].as_str().unwrap();
    let path = format!("/api/v1/incidents/{id}/nonconformity");
    let raised = app.post(&alice, &path, json!({"severity": "minor", "reference": "A.8.1"})).await.expect(200);
    let nc_id = raised.body["nonconformity"]["nonconformity_id"].as_str().unwrap().to_owned();
    let nc = app.get(&alice, &format!("/api/v1/nonconformities/{nc_id}")).await.expect(200);
    assert_eq!((nc.body["source"].as_str(), nc.body["severity"].as_str()), (Some("incident"), Some("minor")));
    assert_eq!((nc.body["title"].as_str(), nc.body["reference"].as_str()), (Some("Laptop stolen"), Some("A.8.1")));
    assert_eq!(nc.body["detected_at"], incident["detected_at"]);

    let history = app.get(&alice, &format!("/api/v1/incidents/{id}/history")).await.expect(200);
    let latest = history.body["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(latest["event_type"], "NonconformityRaisedForIncident");
    let nc_history = app.get(&alice, &format!("/api/v1/nonconformities/{nc_id}/history")).await.expect(200);
    assert_eq!(nc_history.body["items"][0]["causation_id"], latest["event_id"]);

    let again = app.post(&alice, &path, json!({"severity": "major"})).await.expect(409);
    assert_eq!(again.code(), "incident_nonconformity_already_raised");
    assert_eq!(again.body["nonconformity_id"].as_str(), Some(nc_id.as_str()));
    assert_eq!(again.header("content-type").as_deref(), Some("application/problem+json"));
    assert!(again.body["request_id"].is_string());
    let all = app.get(&alice, "/api/v1/nonconformities?source=incident").await.expect(200);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
}

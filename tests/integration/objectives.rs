//! The objectives register (6.2) over HTTP: lifecycle, rules, filters, time travel.

use serde_json::{json, Value};

use crate::support::TestApp;

/// A date relative to today, as the API writes it; negative is in the past.
pub fn days_from_today(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

pub fn objective(risk_ids: &[&str], due_date: &str) -> Value {
    json!({
        "title": "機密情報の取扱いに関する教育の徹底",
        "target": "Every employee completes the course",
        "target_value": 100,
        "unit": "%",
        "owner": "alice",
        "resources": "E-learning platform",
        "due_date": due_date,
        "evaluation_method": "Completion report",
        "plan": "Publish the course, remind monthly",
        "risk_ids": risk_ids
    })
}

/// Sets an objective addressing `risk_ids` and returns its id.
pub async fn set_objective(app: &TestApp, token: &str, risk_ids: &[&str], due_date: &str) -> String {
    let reply = app.post(token, "/api/v1/objectives", objective(risk_ids, due_date)).await.expect(201);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn ids(reply: &crate::support::Reply) -> Vec<&str> {
    reply.body["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn objectives_are_set_followed_and_concluded_once() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing =
        app.post(&alice, "/api/v1/objectives", objective(&[&risk, &unknown], &days_from_today(90))).await.expect(422);
    assert_eq!(
        (missing.code(), missing.body["errors"][0]["pointer"].as_str()),
        ("referenced_record_not_found", Some("/risk_ids/1"))
    );
    let mut unitless = objective(&[], &days_from_today(90));
    unitless["target_value"] = Value::Null;
    let invalid = app.post(&alice, "/api/v1/objectives", unitless).await.expect(422);
    assert_eq!(invalid.body["errors"][0]["pointer"], "/unit");
    let mut too_precise = objective(&[], &days_from_today(90));
    too_precise["target_value"] = json!(0.1234567);
    assert_eq!(app.post(&alice, "/api/v1/objectives", too_precise).await.expect(422).code(), "invalid_quantity");

    let set =
        app.post(&alice, "/api/v1/objectives", objective(&[&risk, &risk], &days_from_today(90))).await.expect(201);
    let id = set.body["id"].as_str().unwrap().to_owned();
    assert_eq!(set.header("location").unwrap(), format!("/api/v1/objectives/{id}"));
    assert_eq!((set.body["status"].as_str(), set.body["overdue"].as_bool()), (Some("active"), Some(false)));
    assert_eq!(set.body["risk_ids"], json!([risk]), "repeated links are kept once");
    let revisions = format!("/api/v1/objectives/{id}/revisions");
    let same = app.post(&alice, &revisions, objective(&[&risk], &days_from_today(90))).await;
    assert_eq!(same.expect(409).code(), "nothing_changed");

    let progress = format!("/api/v1/objectives/{id}/progress");
    let future = app.post(&alice, &progress, json!({"observed_on": days_from_today(1), "note": "n"})).await.expect(422);
    assert_eq!((future.code(), future.body["errors"][0]["pointer"].as_str()), ("date_in_future", Some("/observed_on")));
    let recorded = app
        .post(&alice, &progress, json!({"observed_on": days_from_today(0), "note": "62 of 80", "value": 77.5}))
        .await
        .expect(200);
    let report = &recorded.body["progress"][0];
    assert_eq!((report["value"].as_f64(), report["recorded_by"].as_str()), (Some(77.5), Some("alice")));
    assert!(uuid::Uuid::parse_str(report["id"].as_str().unwrap()).is_ok());

    let outcome = format!("/api/v1/objectives/{id}/outcome");
    let silent = app.post(&alice, &outcome, json!({"outcome": "not_achieved"})).await.expect(422);
    assert_eq!(silent.code(), "objective_outcome_note_required");
    let achieved = app.post(&alice, &outcome, json!({"outcome": "achieved"})).await.expect(200);
    assert_eq!(achieved.body["status"], "achieved");
    assert_eq!(achieved.body["conclusion"]["concluded_by"], "alice");
    let again = app.post(&alice, &outcome, json!({"outcome": "not_achieved", "note": "x"})).await.expect(409);
    assert_eq!(again.code(), "objective_concluded");
    let late = app.post(&alice, &progress, json!({"observed_on": days_from_today(0), "note": "n"})).await.expect(409);
    assert_eq!(late.code(), "objective_concluded");

    let history = app.get(&alice, &format!("/api/v1/objectives/{id}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ObjectiveSet", "ObjectiveProgressRecorded", "ObjectiveConcluded"]);
    let position = set.body["position"].as_u64().unwrap();
    let then = app.get(&alice, &format!("/api/v1/objectives/{id}?as_of_position={position}")).await.expect(200);
    assert_eq!(
        (then.body["status"].as_str(), then.body["progress"].as_array().map(Vec::len)),
        (Some("active"), Some(0))
    );
}

#[tokio::test]
async fn objectives_are_filtered_by_owner_status_overdue_and_risk() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let addressing = set_objective(&app, &alice, &[&risk], &days_from_today(30)).await;
    let late = set_objective(&app, &alice, &[], &days_from_today(-1)).await;
    let mut bobs = objective(&[], &days_from_today(30));
    bobs["owner"] = json!("bob");
    let bobs = app.post(&alice, "/api/v1/objectives", bobs).await.expect(201).body["id"].as_str().unwrap().to_owned();

    let by_risk = app.get(&alice, &format!("/api/v1/objectives?risk_id={risk}")).await.expect(200);
    assert_eq!(ids(&by_risk), [addressing.as_str()]);
    let overdue = app.get(&alice, "/api/v1/objectives?overdue=true").await.expect(200);
    assert_eq!(ids(&overdue), [late.as_str()]);
    let owned = app.get(&alice, "/api/v1/objectives?owner=bob").await.expect(200);
    assert_eq!(ids(&owned), [bobs.as_str()]);

    let withdrawn = app
        .post(&alice, &format!("/api/v1/objectives/{late}/withdrawal"), json!({"reason": "merged"}))
        .await
        .expect(200);
    assert_eq!(
        (withdrawn.body["status"].as_str(), withdrawn.body["overdue"].as_bool()),
        (Some("withdrawn"), Some(false))
    );
    let revisions = format!("/api/v1/objectives/{late}/revisions");
    let revised = app.post(&alice, &revisions, objective(&[], &days_from_today(9))).await;
    assert_eq!(revised.expect(409).code(), "objective_withdrawn");
    let listed = app.get(&alice, "/api/v1/objectives?status=withdrawn").await.expect(200);
    assert_eq!(ids(&listed), [late.as_str()]);
    assert!(ids(&app.get(&alice, "/api/v1/objectives?overdue=true").await.expect(200)).is_empty());
}

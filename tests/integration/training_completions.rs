//! Training completions from a learning platform: batches answered item by item, idempotent by
//! the sender's completion id even across a restart, attributed to the platform's client id.

use serde_json::{json, Value};

use crate::support::TestApp;

const PATH: &str = "/api/v1/integrations/training-completions";

fn ids(outcome: &Value, list: &str) -> Vec<String> {
    outcome[list].as_array().unwrap().iter().map(|i| i["completion_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_batch_is_recorded_once_and_unknown_people_and_courses_are_reported_back() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let person = json!({"user_name": "hanako", "external_id": "HR-1", "display_name": "Hanako", "department": "dev",
                        "role": "engineer"});
    let person = app.post(&alice, "/api/v1/people", person).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let course = json!({"title": "Security awareness 2026", "topic": "awareness", "validity_months": 12});
    let course =
        app.post(&alice, "/api/v1/training-courses", course).await.expect(201).body["id"].as_str().unwrap().to_owned();
    let lms = app.token("lms-client-7", "acme", "integrations");
    let batch = json!({"completions": [
        {"completion_id": "c-1", "external_id": "HR-1", "course_title": "security AWARENESS 2026", "completed_on": "2026-01-10", "score": 90},
        {"completion_id": "c-2", "user_name": "HANAKO", "course_id": course, "completed_on": "2026-01-11"},
        {"completion_id": "c-1", "external_id": "HR-1", "course_id": course, "completed_on": "2026-01-10"},
        {"completion_id": "c-3", "external_id": "HR-404", "course_id": course, "completed_on": "2026-01-10"},
        {"completion_id": "c-4", "external_id": "HR-1", "course_title": "Unknown course", "completed_on": "2026-01-10"},
        {"completion_id": "c-5", "external_id": "HR-1", "user_name": "hanako", "course_id": course, "completed_on": "2026-01-10"},
        {"completion_id": "c-6", "external_id": "HR-1", "course_id": course, "completed_on": "2999-01-01"}
    ]});
    let first = app.post(&lms, PATH, batch.clone()).await.expect(200).body;
    assert_eq!(ids(&first, "recorded"), ["c-1", "c-2"]);
    assert_eq!(ids(&first, "duplicate"), ["c-1"]);
    let rejected: Vec<(&str, &str)> = first["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["completion_id"].as_str().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [("c-3", "unknown_person"), ("c-4", "unknown_course"), ("c-5", "invalid_item"), ("c-6", "date_in_future")]
    );
    assert_eq!(first["recorded"][0]["person_id"], person.as_str());

    // Resent, and resent again after a restart: the log itself says what is recorded.
    let again = app.post(&lms, PATH, batch.clone()).await.expect(200).body;
    assert!(again["recorded"].as_array().unwrap().is_empty());
    assert_eq!(ids(&again, "duplicate"), ["c-1", "c-2", "c-1"]);
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir).await;
    let lms = app.token("lms-client-7", "acme", "integrations");
    let after_restart = app.post(&lms, PATH, batch).await.expect(200).body;
    assert_eq!(ids(&after_restart, "duplicate"), ["c-1", "c-2", "c-1"]);

    let alice = app.alice();
    let history = app.get(&alice, &format!("/api/v1/people/{person}/history")).await.expect(200);
    let completions: Vec<&Value> =
        history.body["items"].as_array().unwrap().iter().filter(|e| e["event_type"] == "TrainingCompleted").collect();
    assert_eq!(completions.len(), 2, "each completion recorded exactly once");
    assert!(completions.iter().all(|e| e["actor"] == "lms-client-7" && e["source"] == "training"));
    let read = app.get(&alice, &format!("/api/v1/people/{person}")).await.expect(200);
    assert_eq!(read.body["training_completions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_integrations_scope_is_required_and_an_empty_batch_is_invalid() {
    let app = TestApp::spawn().await;
    let writer = app.token("bob", "acme", "isms:read isms:write");
    let refused = app.post(&writer, PATH, json!({"completions": []})).await.expect(403);
    assert_eq!(refused.code(), "insufficient_scope");
    let lms = app.token("lms", "acme", "integrations");
    let empty = app.post(&lms, PATH, json!({"completions": []})).await.expect(422);
    assert_eq!(empty.body["errors"][0]["pointer"], "/completions");
}

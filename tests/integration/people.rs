//! People (7.2, 7.3) over HTTP: joiners, movers and leavers; training assignments and
//! completions; awareness coverage per department.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::support::TestApp;

fn person(user_name: &str, department: &str) -> Value {
    json!({"user_name": user_name, "display_name": user_name, "department": department, "role": "engineer"})
}

async fn join(app: &TestApp, token: &str, user_name: &str, department: &str) -> String {
    let joined = app.post(token, "/api/v1/people", person(user_name, department)).await.expect(201);
    joined.body["id"].as_str().unwrap().to_owned()
}

async fn course(app: &TestApp, token: &str, topic: &str, validity_months: Option<u16>) -> String {
    let body = json!({"title": format!("{topic} course"), "topic": topic, "validity_months": validity_months});
    let defined = app.post(token, "/api/v1/training-courses", body).await.expect(201);
    defined.body["id"].as_str().unwrap().to_owned()
}

fn pointers(reply: &crate::support::Reply) -> Vec<String> {
    reply.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn joiners_movers_and_leavers_keep_user_names_unique_among_those_who_have_not_left() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let mut joining = person("hanako", "development");
    joining["external_id"] = json!("HR-1");
    joining["email"] = json!("hanako@example.com");
    let joined = app.post(&alice, "/api/v1/people", joining).await.expect(201);
    let id = joined.body["id"].as_str().unwrap().to_owned();
    assert_eq!(joined.header("location").unwrap(), format!("/api/v1/people/{id}"));
    assert_eq!((joined.body["status"].as_str(), joined.body["external_id"].as_str()), (Some("active"), Some("HR-1")));

    let taken = app.post(&alice, "/api/v1/people", person("HANAKO", "sales")).await.expect(409);
    assert_eq!(taken.code(), "person_user_name_taken");
    let mut unknown_manager = person("taro", "sales");
    unknown_manager["manager_id"] = json!(uuid::Uuid::now_v7());
    unknown_manager["email"] = json!("not an address");
    let invalid = app.post(&alice, "/api/v1/people", unknown_manager).await.expect(422);
    assert_eq!(pointers(&invalid), ["/email"]);
    let mut unknown_manager = person("taro", "sales");
    unknown_manager["manager_id"] = json!(uuid::Uuid::now_v7());
    let missing = app.post(&alice, "/api/v1/people", unknown_manager).await.expect(422);
    assert_eq!((missing.code(), pointers(&missing)), ("referenced_record_not_found", vec!["/manager_id".to_owned()]));

    let manager = join(&app, &alice, "kenji", "development").await;
    let moved = json!({"display_name": "Hanako", "department": "security", "role": "analyst", "manager_id": manager});
    let changed = app.post(&alice, &format!("/api/v1/people/{id}/changes"), moved.clone()).await.expect(200);
    assert_eq!(
        (changed.body["department"].as_str(), changed.body["manager_id"].as_str()),
        (Some("security"), Some(manager.as_str()))
    );
    let same = app.post(&alice, &format!("/api/v1/people/{id}/changes"), moved.clone()).await.expect(409);
    assert_eq!(same.code(), "nothing_changed");
    let own = json!({"display_name": "Hanako", "department": "security", "role": "analyst", "manager_id": id});
    let own = app.post(&alice, &format!("/api/v1/people/{id}/changes"), own).await.expect(422);
    assert_eq!(pointers(&own), ["/manager_id"]);

    let listed =
        app.get(&alice, "/api/v1/people?department=security&status=active&user_name=Hanako&external_id=HR-1").await;
    assert_eq!(listed.expect(200).body["items"].as_array().unwrap().len(), 1);

    app.post(&alice, &format!("/api/v1/people/{id}/departure"), json!({"left_on": "2026-10-31"})).await.expect(200);
    let after = app.post(&alice, &format!("/api/v1/people/{id}/changes"), moved).await.expect(409);
    assert_eq!(after.code(), "person_left");
    let again = app.post(&alice, &format!("/api/v1/people/{id}/departure"), json!({"left_on": "2026-11-01"})).await;
    assert_eq!(again.expect(409).code(), "person_left");
    // The user name is free again once its holder left.
    join(&app, &alice, "hanako", "sales").await;

    let left = app.get(&alice, "/api/v1/people?status=left").await.expect(200);
    assert_eq!(left.body["items"][0]["left_on"], "2026-10-31");
    let then = app.get(&alice, &format!("/api/v1/people/{id}?as_of_position=1")).await.expect(200);
    assert_eq!((then.body["status"].as_str(), then.body["department"].as_str()), (Some("active"), Some("development")));
    let history = app.get(&alice, &format!("/api/v1/people/{id}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["PersonJoined", "PersonChanged", "PersonLeft", "AccessRemovalOpened"]);
    assert_eq!(history.body["items"][0]["data"]["user_name"], "hanako");
}

#[tokio::test]
async fn training_is_assigned_completed_once_per_completion_id_and_expires_with_the_course_validity() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let id = join(&app, &alice, "hanako", "development").await;
    let awareness = course(&app, &alice, "awareness", Some(12)).await;
    let today = Utc::now().date_naive();
    let path = |what: &str| format!("/api/v1/people/{id}/{what}");

    let unknown = app
        .post(&alice, &path("training-assignments"), json!({"course_id": uuid::Uuid::now_v7(), "due_date": today}))
        .await
        .expect(422);
    assert_eq!((unknown.code(), pointers(&unknown)), ("referenced_record_not_found", vec!["/course_id".to_owned()]));
    let overdue_by = today - Duration::days(3);
    let assigned = app
        .post(&alice, &path("training-assignments"), json!({"course_id": awareness, "due_date": overdue_by}))
        .await
        .expect(200);
    assert_eq!(assigned.body["training_assignments"][0]["overdue"], true);
    assert_eq!(assigned.body["overdue_training"], true);
    let overdue = app.get(&alice, "/api/v1/people?overdue_training=true").await.expect(200);
    assert_eq!(overdue.body["items"].as_array().unwrap().len(), 1);
    let duplicate = app
        .post(&alice, &path("training-assignments"), json!({"course_id": awareness, "due_date": today}))
        .await
        .expect(409);
    assert_eq!(duplicate.code(), "training_already_assigned");

    let completion = json!({"course_id": awareness, "completed_on": today, "completion_id": "lms-1", "score": 90});
    let completed = app.post(&alice, &path("training-completions"), completion.clone()).await.expect(200);
    let record = &completed.body;
    assert_eq!(record["training_assignments"][0]["completion_id"], "lms-1");
    assert_eq!(record["training_assignments"][0]["overdue"], false);
    assert_eq!(record["training_completions"][0]["current"], true);
    assert_eq!(record["training_completions"][0]["validity_months"], 12);
    let expected_expiry = today.checked_add_months(chrono::Months::new(12)).unwrap().to_string();
    assert_eq!(record["training_completions"][0]["expires_on"], expected_expiry.as_str());
    let resent = app.post(&alice, &path("training-completions"), completion).await.expect(409);
    assert_eq!(resent.code(), "training_completion_already_recorded");

    let old = json!({"course_id": awareness, "completed_on": "2020-01-15", "completion_id": "lms-0"});
    let old = app.post(&alice, &path("training-completions"), old).await.expect(200);
    assert_eq!(old.body["training_completions"][1]["expires_on"], "2021-01-15");
    assert_eq!(old.body["training_completions"][1]["current"], false);
    let future = json!({"course_id": awareness, "completed_on": today + Duration::days(2), "completion_id": "lms-9"});
    let future = app.post(&alice, &path("training-completions"), future).await.expect(422);
    assert_eq!((future.code(), pointers(&future)), ("date_in_future", vec!["/completed_on".to_owned()]));
    let bad_score = json!({"course_id": awareness, "completed_on": today, "completion_id": "lms-8", "score": 101});
    assert_eq!(pointers(&app.post(&alice, &path("training-completions"), bad_score).await.expect(422)), ["/score"]);

    app.post(&alice, &format!("/api/v1/training-courses/{awareness}/retirement"), json!({"reason": "replaced"}))
        .await
        .expect(200);
    let retired = app
        .post(&alice, &path("training-assignments"), json!({"course_id": awareness, "due_date": today}))
        .await
        .expect(409);
    assert_eq!(retired.code(), "training_course_retired");
    let courses = app.get(&alice, "/api/v1/training-courses?topic=awareness&status=retired").await.expect(200);
    assert_eq!(courses.body["items"].as_array().unwrap().len(), 1);

    app.post(&alice, &path("departure"), json!({"left_on": today})).await.expect(200);
    let technical = course(&app, &alice, "technical", None).await;
    let left = app
        .post(&alice, &path("training-assignments"), json!({"course_id": technical, "due_date": today}))
        .await
        .expect(409);
    assert_eq!(left.code(), "person_left");
}

#[tokio::test]
async fn awareness_coverage_counts_active_people_per_department() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let today = Utc::now().date_naive();
    let awareness = course(&app, &alice, "awareness", Some(12)).await;
    let technical = course(&app, &alice, "technical", Some(12)).await;
    let aware = join(&app, &alice, "aware", "development").await;
    let unaware = join(&app, &alice, "unaware", "development").await;
    let late = join(&app, &alice, "late", "sales").await;
    let gone = join(&app, &alice, "gone", "sales").await;
    let before = app.get(&alice, "/api/v1/reports/awareness").await.expect(200);
    let position_before = before.body["position"].as_u64().unwrap();

    let complete = |course: &str, id: &str| {
        (
            format!("/api/v1/people/{id}/training-completions"),
            json!({"course_id": course, "completed_on": today, "completion_id": format!("{id}-{course}")}),
        )
    };
    for (path, body) in [complete(&awareness, &aware), complete(&technical, &unaware), complete(&awareness, &gone)] {
        app.post(&alice, &path, body).await.expect(200);
    }
    let due = json!({"course_id": awareness, "due_date": today - Duration::days(1)});
    app.post(&alice, &format!("/api/v1/people/{late}/training-assignments"), due).await.expect(200);
    app.post(&alice, &format!("/api/v1/people/{gone}/departure"), json!({"left_on": today})).await.expect(200);

    let report = app.get(&alice, "/api/v1/reports/awareness").await.expect(200).body;
    assert_eq!(report["reported_for"], today.to_string());
    assert_eq!(
        report["departments"],
        json!([
            {"department": "development", "active_people": 2, "with_current_awareness": 1,
             "coverage_percent": 50.0, "overdue_assignments": 0},
            {"department": "sales", "active_people": 1, "with_current_awareness": 0,
             "coverage_percent": 0.0, "overdue_assignments": 1}
        ])
    );
    assert_eq!(report["totals"]["active_people"], 3);
    assert_eq!(report["totals"]["coverage_percent"], 33.3);

    let then =
        app.get(&alice, &format!("/api/v1/reports/awareness?as_of_position={position_before}")).await.expect(200);
    assert_eq!(then.body["totals"]["active_people"], 4);
    assert_eq!(then.body["totals"]["with_current_awareness"], 0);
    let bob = app.token("bob", "acme", "isms:read");
    app.get(&bob, &format!("/api/v1/reports/awareness?as_of_position={position_before}")).await.expect(403);
}

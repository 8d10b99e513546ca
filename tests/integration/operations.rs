//! The operational planning register (8.1) over HTTP: lifecycle, rules, filters, time travel.

use serde_json::{json, Value};

use crate::objectives::{days_from_today, set_objective};
use crate::support::TestApp;

pub fn plan(objective_ids: &[&str], risk_ids: &[&str], start: &str, due: &str) -> Value {
    json!({
        "title": "機密情報の取扱い教育の運用",
        "owner": "bob",
        "starts_on": start,
        "due_date": due,
        "objective_ids": objective_ids,
        "risk_ids": risk_ids
    })
}

/// Draws up a plan carrying out `objective_ids` and returns its id.
pub async fn draw_up_plan(app: &TestApp, token: &str, objective_ids: &[&str]) -> String {
    let body = plan(objective_ids, &[], &days_from_today(0), &days_from_today(60));
    let reply = app.post(token, "/api/v1/operational-plans", body).await.expect(201);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn ids(reply: &crate::support::Reply) -> Vec<&str> {
    reply.body["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn plans_need_links_and_sane_dates_and_move_only_forward() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let objective = set_objective(&app, &alice, &[], &days_from_today(90)).await;
    let (start, due) = (days_from_today(0), days_from_today(60));

    let reversed = app.post(&alice, "/api/v1/operational-plans", plan(&[&objective], &[], &due, &start)).await;
    let reversed = reversed.expect(422);
    assert_eq!(
        (reversed.code(), reversed.body["errors"][0]["pointer"].as_str()),
        ("operational_plan_due_before_start", Some("/due_date"))
    );
    let unlinked = app.post(&alice, "/api/v1/operational-plans", plan(&[], &[], &start, &due)).await.expect(422);
    assert_eq!(unlinked.code(), "operational_plan_links_required");
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = app.post(&alice, "/api/v1/operational-plans", plan(&[], &[&unknown], &start, &due)).await.expect(422);
    assert_eq!(
        (missing.code(), missing.body["errors"][0]["pointer"].as_str()),
        ("referenced_record_not_found", Some("/risk_ids/0"))
    );

    let drawn = app.post(&alice, "/api/v1/operational-plans", plan(&[&objective], &[], &start, &due)).await.expect(201);
    let id = drawn.body["id"].as_str().unwrap().to_owned();
    assert_eq!(drawn.header("location").unwrap(), format!("/api/v1/operational-plans/{id}"));
    assert_eq!(drawn.body["status"], "planned");
    let path = |step: &str| format!("/api/v1/operational-plans/{id}/{step}");
    let early = app.post(&alice, &path("completion"), json!({})).await.expect(409);
    assert_eq!(early.code(), "operational_plan_transition_not_allowed");
    let started = app.post(&alice, &path("operation"), json!({"note": "launched"})).await.expect(200);
    assert_eq!(
        (started.body["status"].as_str(), started.body["operation"]["by"].as_str()),
        (Some("in_operation"), Some("alice"))
    );
    let twice = app.post(&alice, &path("operation"), json!({})).await.expect(409);
    assert_eq!(twice.code(), "operational_plan_transition_not_allowed");
    let mut revised = plan(&[&objective], &[], &start, &days_from_today(30));
    revised["description"] = json!("Shorter");
    app.post(&alice, &path("revisions"), revised.clone()).await.expect(200);
    app.post(&alice, &path("completion"), json!({"note": "all enrolled"})).await.expect(200);
    let closed = app.post(&alice, &path("revisions"), plan(&[&objective], &[], &start, &due)).await.expect(409);
    assert_eq!(closed.code(), "operational_plan_closed");
    assert_eq!(
        app.post(&alice, &path("retirement"), json!({"reason": "x"})).await.expect(409).code(),
        "operational_plan_closed"
    );

    let history = app.get(&alice, &path("history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "OperationalPlanDrawnUp",
            "OperationalPlanPutIntoOperation",
            "OperationalPlanRevised",
            "OperationalPlanCompleted"
        ]
    );
    let position = drawn.body["position"].as_u64().unwrap();
    let then = app.get(&alice, &format!("/api/v1/operational-plans/{id}?as_of_position={position}")).await.expect(200);
    assert_eq!((then.body["status"].as_str(), then.body["due_date"].as_str()), (Some("planned"), Some(due.as_str())));
}

#[tokio::test]
async fn plans_are_filtered_by_link_status_owner_and_overdue() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let objective = set_objective(&app, &alice, &[&risk], &days_from_today(90)).await;
    let for_objective = draw_up_plan(&app, &alice, &[&objective]).await;
    let late = plan(&[], &[&risk], &days_from_today(-30), &days_from_today(-1));
    let late = app.post(&alice, "/api/v1/operational-plans", late).await.expect(201);
    let late = late.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&alice, &format!("/api/v1/operational-plans/{late}")).await.expect(200).body["overdue"], true);

    let by_objective =
        app.get(&alice, &format!("/api/v1/operational-plans?objective_id={objective}")).await.expect(200);
    assert_eq!(ids(&by_objective), [for_objective.as_str()]);
    let by_risk = app.get(&alice, &format!("/api/v1/operational-plans?risk_id={risk}")).await.expect(200);
    assert_eq!(ids(&by_risk), [late.as_str()]);
    let overdue = app.get(&alice, "/api/v1/operational-plans?overdue=true&owner=bob").await.expect(200);
    assert_eq!(ids(&overdue), [late.as_str()]);
    assert!(ids(&app.get(&alice, "/api/v1/operational-plans?owner=carol").await.expect(200)).is_empty());

    let retired = app
        .post(&alice, &format!("/api/v1/operational-plans/{late}/retirement"), json!({"reason": "replaced"}))
        .await
        .expect(200);
    assert_eq!((retired.body["status"].as_str(), retired.body["overdue"].as_bool()), (Some("retired"), Some(false)));
    let listed = app.get(&alice, "/api/v1/operational-plans?status=planned").await.expect(200);
    assert_eq!(ids(&listed), [for_objective.as_str()]);
}

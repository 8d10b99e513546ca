//! The seed's traceability table: a chain entered through the API comes back intact, in UTF-8,
//! as JSON and CSV; broken chains are flagged.

use serde_json::{json, Value};

use crate::support::TestApp;

const ISSUE: &str = "顧客の機密情報の漏洩";
const PARTY: &str = "顧客";
const NEED: &str = "情報の機密性、契約の履行";
const RISK: &str = "機密情報の漏洩による信用の低下";
const OBJECTIVE: &str = "機密情報の取扱いに関する教育・運用管理の徹底";

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> String {
    app.post(token, path, body).await.expect(201).body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_seed_row_round_trips_in_json_and_csv_and_broken_chains_are_flagged() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let issue = created(
        &app,
        &alice,
        "/api/v1/context-issues",
        json!({"category": "external", "title": ISSUE, "effect_on_isms": "信用の低下"}),
    )
    .await;
    let party =
        created(&app, &alice, "/api/v1/interested-parties", json!({"name": PARTY, "category": "customer"})).await;
    let with_need = app
        .post(&alice, &format!("/api/v1/interested-parties/{party}/requirements"),
            json!({"description": NEED, "addressed_by_isms": true, "how_addressed": OBJECTIVE, "context_issue_ids": [issue]}))
        .await
        .expect(200);
    let need = with_need.body["requirements"][0]["requirement_id"].as_str().unwrap().to_owned();
    let risk =
        created(&app, &alice, "/api/v1/risks", json!({"title": RISK, "category": "confidentiality", "owner": "alice"}))
            .await;
    app.post(&alice, &format!("/api/v1/risks/{risk}/sources"), json!({"requirement_ids": [need]})).await.expect(200);
    let before_objective = app.get(&alice, "/api/v1/reports/traceability").await.expect(200);
    assert_eq!(before_objective.body["broken"]["risks_without_objective"], json!([risk]));

    let objective = created(&app, &alice, "/api/v1/objectives", json!({
        "title": OBJECTIVE, "target": "全従業員が年次教育を修了する", "target_value": 100, "unit": "%", "owner": "alice",
        "resources": "e-learning", "due_date": "2027-03-31", "evaluation_method": "修了率", "plan": "年次教育の実施と毎月の督促",
        "risk_ids": [risk]})).await;
    let plan = created(
        &app,
        &alice,
        "/api/v1/operational-plans",
        json!({
        "title": "機密情報の取扱い教育の運用", "owner": "bob", "starts_on": "2026-10-01", "due_date": "2027-03-31",
        "objective_ids": [objective]}),
    )
    .await;
    let unmeasured = app.get(&alice, "/api/v1/reports/traceability").await.expect(200);
    assert_eq!(unmeasured.body["broken"]["objectives_not_measured"], json!([objective]));
    let metric = created(
        &app,
        &alice,
        "/api/v1/metrics",
        json!({
        "name": "教育修了率", "what_is_measured": "修了者の割合", "method": "LMS export", "frequency": "monthly",
        "measured_by": "bob", "analysed_by": "alice", "unit": "%", "target_value": 90, "direction": "at_least",
        "objective_ids": [objective], "operational_plan_ids": [plan]}),
    )
    .await;
    app.post(
        &alice,
        &format!("/api/v1/metrics/{metric}/measurements"),
        json!({"value": 95, "measured_on": "2026-11-20"}),
    )
    .await
    .expect(200);
    app.post(
        &alice,
        &format!("/api/v1/metrics/{metric}/evaluations"),
        json!({"period_start_on": "2026-11-01", "period_end_on": "2026-11-30", "conclusion": "目標達成"}),
    )
    .await
    .expect(200);

    let matrix = app.get(&alice, "/api/v1/reports/traceability").await.expect(200);
    let rows = matrix.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", matrix.body);
    let row = &rows[0];
    let labels: Vec<&str> =
        ["context_issue", "interested_party", "need", "risk", "objective", "operational_control", "monitoring_item"]
            .iter()
            .map(|column| row[column]["label"].as_str().unwrap())
            .collect();
    assert_eq!(labels, [ISSUE, PARTY, NEED, RISK, OBJECTIVE, "機密情報の取扱い教育の運用", "教育修了率"]);
    assert_eq!(row["plan"], "年次教育の実施と毎月の督促");
    assert_eq!(row["evaluation"]["met"], true);
    assert_eq!(row["breaks"], json!([]));
    assert!(matrix.body["broken"].as_object().unwrap().values().all(|ids| ids.as_array().unwrap().is_empty()));

    let csv = app
        .client
        .get(format!("{}/api/v1/reports/traceability", app.base))
        .bearer_auth(&alice)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = csv.bytes().await.unwrap();
    let text = std::str::from_utf8(&bytes).expect("the CSV is UTF-8");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with(
        "context_issue_4_1,context_category,interested_party_4_2,need_4_2,risk_or_opportunity_6_1_1,objective_6_2"
    ));
    // Japanese text comes back byte for byte, unquoted (no comma, quote or line break in it).
    let expected_start = format!("{ISSUE},external,{PARTY},{NEED},{RISK},{OBJECTIVE},年次教育の実施と毎月の督促,機密情報の取扱い教育の運用,教育修了率,");
    assert!(lines[1].starts_with(&expected_start), "{}", lines[1]);
    assert!(lines[1].contains(&issue) && lines[1].contains(&need) && lines[1].contains(&metric));

    // As of before the objective existed, the chain stopped at the risk.
    let position = before_objective.body["position"].as_u64().unwrap();
    let earlier = app.get(&alice, &format!("/api/v1/reports/traceability?as_of_position={position}")).await.expect(200);
    assert_eq!(earlier.body["rows"][0]["breaks"], json!(["no_objective"]));
}

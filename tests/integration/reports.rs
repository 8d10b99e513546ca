//! Reports over the registers: the risk heat map (JSON and SVG).

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn the_heat_map_counts_open_risks_inherent_and_residual_and_renders_as_svg() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let empty = app.get(&alice, "/api/v1/reports/risk-heat-map").await.expect(200);
    assert_eq!(empty.body["inherent"]["cells"].as_array().unwrap().len(), 25);
    assert_eq!(empty.body["inherent"]["total"], 0);

    let treated = app.identify_risk(&alice, "alice").await;
    app.post(&alice, &format!("/api/v1/risks/{treated}/assessments"), json!({"likelihood": 4, "impact": 5}))
        .await
        .expect(200);
    let treatment = json!({"option": "modify", "controls": ["8.24"], "owner": "bob",
                           "target_residual_likelihood": 2, "target_residual_impact": 3});
    app.post(&alice, &format!("/api/v1/risks/{treated}/treatment"), treatment).await.expect(200);
    let closed = app.identify_risk(&alice, "alice").await;
    app.post(&alice, &format!("/api/v1/risks/{closed}/assessments"), json!({"likelihood": 4, "impact": 5}))
        .await
        .expect(200);
    app.post(&alice, &format!("/api/v1/risks/{closed}/closure"), json!({"reason": "asset retired"})).await.expect(200);
    app.identify_risk(&alice, "alice").await;

    let map = app.get(&alice, "/api/v1/reports/risk-heat-map").await.expect(200);
    let cell = |matrix: &str, l: u64, i: u64| {
        map.body[matrix]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["likelihood"] == l && c["impact"] == i)
            .unwrap()
            .clone()
    };
    assert_eq!(cell("inherent", 4, 5)["count"], 1, "the closed risk is not counted");
    assert_eq!(cell("inherent", 4, 5)["risk_ids"], json!([treated]));
    assert_eq!(cell("inherent", 4, 5)["level"], "critical");
    assert_eq!(cell("residual", 2, 3)["count"], 1);
    assert_eq!((map.body["inherent"]["total"].as_u64(), map.body["unassessed"].as_u64()), (Some(1), Some(1)));

    let earlier = app.get(&alice, "/api/v1/reports/risk-heat-map?as_of_position=2").await.expect(200);
    assert_eq!(earlier.body["inherent"]["total"], 1);
    assert_eq!(earlier.body["residual"]["total"], 0);

    let svg = app
        .client
        .get(format!("{}/api/v1/reports/risk-heat-map", app.base))
        .bearer_auth(&alice)
        .header("accept", "image/svg+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let text = svg.text().await.unwrap();
    let document = roxmltree::Document::parse(&text).expect("the heat map is well-formed SVG");
    let root = document.root_element();
    assert_eq!((root.tag_name().name(), root.tag_name().namespace()), ("svg", Some("http://www.w3.org/2000/svg")));
    let cells = root.descendants().filter(|n| n.has_tag_name("g")).count();
    assert_eq!(cells, 50, "two 5x5 matrices");
    let legend = root.descendants().filter(|n| n.has_tag_name("rect")).count() - cells;
    assert_eq!(legend, 4, "one legend entry per level");
    let counts: Vec<&str> = root.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
    assert!(counts.contains(&"1"));
}

#[tokio::test]
async fn the_dashboard_counts_records_by_status_and_overdue_ones() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let major = app.raise_nonconformity(&alice, "major").await;
    let minor = app.raise_nonconformity(&alice, "minor").await;
    let actions = json!({"actions": [{"description": "fix", "owner": "bob", "due_date": "2020-01-31"}]});
    app.post(&alice, &format!("/api/v1/nonconformities/{minor}/corrective-actions"), actions).await.expect(200);
    app.identify_risk(&alice, "alice").await;

    let board = app.get(&alice, "/api/v1/reports/dashboard").await.expect(200);
    let register = |name: &str| {
        board.body["registers"].as_array().unwrap().iter().find(|r| r["register"] == name).unwrap().clone()
    };
    let ncs = register("nonconformities");
    assert_eq!(ncs["total"], 2);
    assert_eq!(ncs["by_status"], json!({"open": 1, "actions_planned": 1}));
    assert_eq!(ncs["overdue_ids"], json!([minor]));
    assert_eq!(register("risks")["by_status"], json!({"identified": 1}));
    assert_eq!(board.body["open_major_nonconformities"], json!([major]));
    assert_eq!(board.body["overdue_total"], 1);
    assert_eq!(register("soa")["by_status"], json!({"not_decided": 93}));
    assert_eq!(board.body["registers"].as_array().unwrap().len(), 18, "every register is on the dashboard");

    let before = app.get(&alice, "/api/v1/reports/dashboard?as_of_position=1").await.expect(200);
    let records: u64 = before.body["registers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["register"] != "soa")
        .map(|r| r["total"].as_u64().unwrap())
        .sum();
    assert_eq!(records, 1, "one nonconformity at position 1");
}

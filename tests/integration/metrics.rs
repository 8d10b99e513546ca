//! The monitoring and measurement register (9.1) over HTTP: measurements, evaluations computed
//! by the server, who may evaluate, the series over time, filters.

use serde_json::{json, Value};

use crate::objectives::{days_from_today, set_objective};
use crate::operations::draw_up_plan;
use crate::support::{Reply, TestApp};

fn metric(frequency: &str, objective_ids: &[&str], operational_plan_ids: &[&str]) -> Value {
    json!({
        "name": "Course completion rate",
        "what_is_measured": "Share of employees who completed the course",
        "method": "Platform export divided by headcount",
        "frequency": frequency,
        "measured_by": "bob",
        "analysed_by": "carol",
        "unit": "%",
        "target_value": 90,
        "direction": "at_least",
        "objective_ids": objective_ids,
        "operational_plan_ids": operational_plan_ids
    })
}

fn ids(reply: &Reply) -> Vec<&str> {
    reply.body["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn evaluations_are_computed_from_the_last_measurement_and_made_by_the_analyser() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let (bob, carol) =
        (app.token("bob", "acme", "isms:read isms:write"), app.token("carol", "acme", "isms:read isms:write"));
    let objective = set_objective(&app, &alice, &[], &days_from_today(90)).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = app.post(&alice, "/api/v1/metrics", metric("monthly", &[&objective], &[&unknown])).await.expect(422);
    assert_eq!(missing.body["errors"][0]["pointer"], "/operational_plan_ids/0");
    let defined = app.post(&alice, "/api/v1/metrics", metric("monthly", &[&objective], &[])).await.expect(201);
    let id = defined.body["id"].as_str().unwrap().to_owned();
    assert_eq!(defined.header("location").unwrap(), format!("/api/v1/metrics/{id}"));
    let measurements = format!("/api/v1/metrics/{id}/measurements");
    let evaluations = format!("/api/v1/metrics/{id}/evaluations");

    let future = app.post(&bob, &measurements, json!({"value": 1, "measured_on": days_from_today(1)})).await;
    assert_eq!(future.expect(422).code(), "date_in_future");
    // Recorded out of date order: the series and the evaluation follow the dates.
    for (value, days) in [(80, -20), (60, -40), (95, -5)] {
        app.post(&bob, &measurements, json!({"value": value, "measured_on": days_from_today(days)})).await.expect(200);
    }
    let (from, to) = (days_from_today(-45), days_from_today(-10));
    let period = json!({"period_start_on": from, "period_end_on": to, "conclusion": "Behind target"});

    let by_measurer = app.post(&bob, &evaluations, period.clone()).await.expect(409);
    assert_eq!(by_measurer.code(), "metric_evaluation_not_authorized");
    let mut claimed = period.clone();
    claimed["met"] = json!(true);
    assert_eq!(app.post(&carol, &evaluations, claimed).await.expect(422).code(), "invalid_body");
    let empty =
        json!({"period_start_on": days_from_today(-100), "period_end_on": days_from_today(-90), "conclusion": "x"});
    assert_eq!(app.post(&carol, &evaluations, empty).await.expect(409).code(), "no_measurement_in_period");
    let reversed = json!({"period_start_on": to, "period_end_on": from, "conclusion": "x"});
    let reversed = app.post(&carol, &evaluations, reversed).await.expect(422);
    assert_eq!(
        (reversed.code(), reversed.body["errors"][0]["pointer"].as_str()),
        ("evaluation_period_reversed", Some("/period_end_on"))
    );

    let evaluated = app.post(&carol, &evaluations, period).await.expect(200);
    let evaluation = &evaluated.body["evaluations"][0];
    assert_eq!((evaluation["met"].as_bool(), evaluation["measured_value"].as_f64()), (Some(false), Some(80.0)));
    assert_eq!(evaluation["evaluated_by"], "carol");
    let whole = json!({"period_start_on": from, "period_end_on": days_from_today(0), "conclusion": "On target"});
    let by_admin = app.post(&alice, &evaluations, whole).await.expect(200);
    assert_eq!(by_admin.body["evaluations"][1]["met"], true);
    assert_eq!(
        (by_admin.body["measurement_count"].as_u64(), by_admin.body["last_measurement"]["value"].as_f64()),
        (Some(3), Some(95.0))
    );

    let series = app.get(&alice, &format!("/api/v1/metrics/{id}/series")).await.expect(200);
    let values: Vec<f64> =
        series.body["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!((values, series.body["target_value"].as_f64()), (vec![60.0, 80.0, 95.0], Some(90.0)));
    let limited = app.get(&alice, &format!("/api/v1/metrics/{id}/series?from={}&to={to}", days_from_today(-30))).await;
    assert_eq!(limited.expect(200).body["points"].as_array().unwrap().len(), 1);
    let position = defined.body["position"].as_u64().unwrap() + 1;
    let then = app.get(&alice, &format!("/api/v1/metrics/{id}/series?as_of_position={position}")).await.expect(200);
    assert_eq!(then.body["points"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&bob, &format!("/api/v1/metrics/{id}/series?as_of_position=1")).await.expect(403).code(),
        "insufficient_scope"
    );
    let backwards = app.get(&alice, &format!("/api/v1/metrics/{id}/series?from={to}&to={from}")).await.expect(400);
    assert_eq!(backwards.code(), "from_after_to");

    let history = app.get(&alice, &format!("/api/v1/metrics/{id}/history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "MetricDefined",
            "MeasurementRecorded",
            "MeasurementRecorded",
            "MeasurementRecorded",
            "MetricEvaluated",
            "MetricEvaluated"
        ]
    );
}

#[tokio::test]
async fn overdue_measurements_filters_and_retirement() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let objective = set_objective(&app, &alice, &[], &days_from_today(90)).await;
    let plan = draw_up_plan(&app, &alice, &[&objective]).await;
    let monthly = app.post(&alice, "/api/v1/metrics", metric("monthly", &[&objective], &[])).await.expect(201);
    let monthly = monthly.body["id"].as_str().unwrap().to_owned();
    let daily = app.post(&alice, "/api/v1/metrics", metric("daily", &[], &[&plan])).await.expect(201);
    let daily = daily.body["id"].as_str().unwrap().to_owned();
    let measured = app
        .post(
            &alice,
            &format!("/api/v1/metrics/{daily}/measurements"),
            json!({"value": 91, "measured_on": days_from_today(-2)}),
        )
        .await
        .expect(200);
    assert_eq!(measured.body["measurement_overdue"], true, "a daily metric last measured two days ago");
    let fresh = app.get(&alice, &format!("/api/v1/metrics/{monthly}")).await.expect(200);
    assert_eq!(fresh.body["measurement_overdue"], false, "a monthly metric defined today");

    assert_eq!(ids(&app.get(&alice, "/api/v1/metrics?measurement_overdue=true").await.expect(200)), [daily.as_str()]);
    assert_eq!(
        ids(&app.get(&alice, &format!("/api/v1/metrics?objective_id={objective}")).await.expect(200)),
        [monthly.as_str()]
    );
    assert_eq!(
        ids(&app.get(&alice, &format!("/api/v1/metrics?operational_plan_id={plan}")).await.expect(200)),
        [daily.as_str()]
    );

    let retired = app
        .post(&alice, &format!("/api/v1/metrics/{daily}/retirement"), json!({"reason": "replaced"}))
        .await
        .expect(200);
    assert_eq!(
        (retired.body["status"].as_str(), retired.body["measurement_overdue"].as_bool()),
        (Some("retired"), Some(false))
    );
    let refused = app
        .post(
            &alice,
            &format!("/api/v1/metrics/{daily}/measurements"),
            json!({"value": 1, "measured_on": days_from_today(0)}),
        )
        .await
        .expect(409);
    assert_eq!(refused.code(), "metric_retired");
    assert_eq!(ids(&app.get(&alice, "/api/v1/metrics?status=retired").await.expect(200)), [daily.as_str()]);
    let same =
        app.post(&alice, &format!("/api/v1/metrics/{monthly}/revisions"), metric("monthly", &[&objective], &[])).await;
    assert_eq!(same.expect(409).code(), "nothing_changed");
}

//! The README's walk-through, end to end, plus time travel and rebuild checks.

use serde_json::json;

use crate::support::{TestApp, ALL_SCOPES};

#[tokio::test]
async fn a_risk_and_a_nonconformity_run_their_whole_lifecycle_and_every_step_is_in_the_audit_trail() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let carol = app.token("carol", "acme", "isms:read isms:write audit:read");

    let risk = app.identify_risk(&alice, "alice").await;
    let assessed = app
        .post(
            &alice,
            &format!("/api/v1/risks/{risk}/assessments"),
            json!({"likelihood": 4, "impact": 4, "rationale": "two thefts last year"}),
        )
        .await
        .expect(200);
    assert_eq!(
        (assessed.body["assessment"]["score"].as_u64(), assessed.body["assessment"]["level"].as_str()),
        (Some(16), Some("high"))
    );
    assert_eq!(assessed.header("etag").as_deref(), Some("\"2\""));
    let treated = app
        .post(
            &alice,
            &format!("/api/v1/risks/{risk}/treatment"),
            json!({"option": "modify", "controls": ["8.1", "A.5.15"], "actions": ["encrypt disks"], "owner": "bob",
                   "due_date": "2027-03-31", "target_residual_likelihood": 2, "target_residual_impact": 3}),
        )
        .await
        .expect(200);
    assert_eq!(treated.body["treatment"]["controls"], json!(["8.1", "5.15"]));
    assert_eq!(treated.body["treatment"]["residual_score"], 6);
    app.post(&alice, &format!("/api/v1/risks/{risk}/acceptance"), json!({})).await.expect(200);

    let nc = app.raise_nonconformity(&alice, "major").await;
    app.post(
        &alice,
        &format!("/api/v1/nonconformities/{nc}/correction"),
        json!({"description": "restored once by hand"}),
    )
    .await
    .expect(200);
    app.post(&alice, &format!("/api/v1/nonconformities/{nc}/root-cause"), json!({"analysis": "no schedule, no owner"}))
        .await
        .expect(200);
    let planned = app
        .post(
            &alice,
            &format!("/api/v1/nonconformities/{nc}/corrective-actions"),
            json!({"actions": [{"description": "quarterly restore test", "owner": "alice", "due_date": "2027-01-31", "ticket_key": "OPS-42"}]}),
        )
        .await
        .expect(200);
    let action = planned.body["corrective_actions"][0]["id"].as_str().unwrap().to_owned();
    app.post(
        &alice,
        &format!("/api/v1/nonconformities/{nc}/corrective-actions/{action}/completion"),
        json!({"note": "done"}),
    )
    .await
    .expect(200);
    app.post(
        &carol,
        &format!("/api/v1/nonconformities/{nc}/effectiveness-review"),
        json!({"effective": true, "note": "two tests passed"}),
    )
    .await
    .expect(200);
    let closed = app
        .post(&carol, &format!("/api/v1/nonconformities/{nc}/closure"), json!({"note": "closing"}))
        .await
        .expect(200);
    assert_eq!(closed.body["status"], "closed");

    let trail = app.get(&alice, "/api/v1/audit-trail?limit=500").await.expect(200);
    let items = trail.body["items"].as_array().unwrap();
    let steps: Vec<(&str, &str)> =
        items.iter().map(|e| (e["event_type"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert_eq!(
        steps,
        vec![
            ("RiskIdentified", "alice"),
            ("RiskAssessed", "alice"),
            ("RiskTreatmentPlanned", "alice"),
            ("RiskResidualAccepted", "alice"),
            ("NonconformityRaised", "alice"),
            ("CorrectionRecorded", "alice"),
            ("RootCauseRecorded", "alice"),
            ("CorrectiveActionPlanned", "alice"),
            ("CorrectiveActionCompleted", "alice"),
            ("EffectivenessReviewed", "carol"),
            ("NonconformityClosed", "carol"),
        ]
    );
    for (index, event) in items.iter().enumerate() {
        assert_eq!(event["position"].as_u64(), Some(index as u64 + 1));
        assert!(event["recorded_at"].as_str().is_some() && event["hash"].as_str().unwrap().len() == 64);
    }
    let only_carol = app.get(&alice, "/api/v1/audit-trail?actor=carol").await.expect(200);
    assert_eq!(only_carol.body["items"].as_array().unwrap().len(), 2);
    let (from, to) = (items[4]["recorded_at"].as_str().unwrap(), items[6]["recorded_at"].as_str().unwrap());
    let window = app.get(&alice, &format!("/api/v1/audit-trail?from={from}&to={to}")).await.expect(200);
    let positions: Vec<u64> =
        window.body["items"].as_array().unwrap().iter().map(|e| e["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, vec![5, 6, 7]);
    let paged = app.get(&alice, "/api/v1/audit-trail?limit=4").await.expect(200);
    let cursor = paged.body["next_cursor"].as_str().unwrap().to_owned();
    let next = app.get(&alice, &format!("/api/v1/audit-trail?limit=4&cursor={cursor}")).await.expect(200);
    assert_eq!(next.body["items"][0]["position"], 5);

    let integrity = app.get(&alice, "/api/v1/integrity").await.expect(200);
    assert_eq!(integrity.body["chain_head"]["position"], 11);
    assert_eq!(integrity.body["chain_head"]["hash"], items[10]["hash"]);

    let history = app.get(&alice, &format!("/api/v1/risks/{risk}/history")).await.expect(200);
    assert_eq!(history.body["items"].as_array().unwrap().len(), 4);

    // Rebuilding the read models from the log gives exactly the live ones.
    let rebuilt = isms_app::LiveProjections::with_keys(app.projections.keys().clone());
    rebuilt.rebuild(app.store.as_ref()).unwrap();
    let tenant = isms_store::TenantId::parse("acme").unwrap();
    let live = app.projections.tenant(&tenant).unwrap().read().unwrap().clone();
    let replayed = rebuilt.tenant(&tenant).unwrap().read().unwrap().clone();
    assert_eq!(live, replayed);
    assert_eq!(live.position, 11);
}

#[tokio::test]
async fn registers_read_as_of_a_time_or_position_show_the_earlier_state() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let first = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200);
    let between = chrono::DateTime::parse_from_rfc3339(first.body["updated_at"].as_str().unwrap()).unwrap().to_utc();
    // recorded_at has microsecond precision; make sure the next event is recorded later.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 2, "impact": 2}))
        .await
        .expect(200);

    let as_of = between.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
    let earlier = app.get(&alice, &format!("/api/v1/risks?as_of={as_of}")).await.expect(200);
    assert_eq!(earlier.body["items"][0]["status"], "identified");
    assert_eq!(earlier.body["position"], 1);
    let record = app.get(&alice, &format!("/api/v1/risks/{risk}?as_of_position=1")).await.expect(200);
    assert_eq!(
        (record.body["status"].as_str(), record.header("isms-position").as_deref()),
        (Some("identified"), Some("1"))
    );
    let now = app.get(&alice, "/api/v1/risks").await.expect(200);
    assert_eq!((now.body["items"][0]["status"].as_str(), now.body["position"].as_u64()), (Some("assessed"), Some(2)));
    let before_everything = app.get(&alice, &format!("/api/v1/risks/{risk}?as_of_position=0")).await;
    assert_eq!(before_everything.status, 404);

    // Time travel is an audit capability.
    let reader = app.token("rita", "acme", "isms:read");
    assert_eq!(app.get(&reader, "/api/v1/risks?as_of_position=1").await.expect(403).code(), "insufficient_scope");
    assert_eq!(app.get(&alice, "/api/v1/risks?as_of_position=99").await.expect(422).code(), "invalid_read_point");
    let both = app.get(&alice, &format!("/api/v1/risks?as_of_position=1&as_of={as_of}")).await;
    assert_eq!(both.expect(400).code(), "conflicting_read_point");
    let _ = ALL_SCOPES;
}

#[tokio::test]
async fn criteria_changes_never_rewrite_old_scores() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 3, "impact": 3}))
        .await
        .expect(200);
    let criteria = app.get(&alice, "/api/v1/risk-criteria").await.expect(200);
    assert_eq!(criteria.body["version"], 0);
    let mut three_by_three = json!({
        "likelihood_scale": [{"value": 1, "label": "low"}, {"value": 2, "label": "medium"}, {"value": 3, "label": "high"}],
        "impact_scale": [{"value": 1, "label": "low"}, {"value": 2, "label": "medium"}, {"value": 3, "label": "high"}],
        "level_bands": [{"level": "low", "min_score": 1, "max_score": 2}, {"level": "medium", "min_score": 3, "max_score": 5},
                        {"level": "high", "min_score": 6, "max_score": 9}],
        "acceptance_threshold": 4
    });
    let writer = app.token("bob", "acme", "isms:read isms:write");
    let forbidden =
        app.send(reqwest::Method::PUT, Some(&writer), "/api/v1/risk-criteria", Some(&three_by_three), &[]).await;
    assert_eq!(forbidden.expect(403).code(), "insufficient_scope");
    let defined = app
        .send(reqwest::Method::PUT, Some(&alice), "/api/v1/risk-criteria", Some(&three_by_three), &[])
        .await
        .expect(200);
    assert_eq!(defined.body["version"], 1);
    let old = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200);
    assert_eq!(
        (old.body["assessment"]["score"].as_u64(), old.body["assessment"]["criteria_version"].as_u64()),
        (Some(9), Some(0))
    );
    let out_of_scale =
        app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 5, "impact": 1})).await;
    assert_eq!(out_of_scale.expect(422).code(), "likelihood_out_of_scale");
    let reassessed = app
        .post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 3, "impact": 3}))
        .await
        .expect(200);
    assert_eq!(
        (reassessed.body["assessment"]["level"].as_str(), reassessed.body["assessment"]["criteria_version"].as_u64()),
        (Some("high"), Some(1))
    );
    three_by_three["level_bands"][1]["min_score"] = json!(4);
    let invalid =
        app.send(reqwest::Method::PUT, Some(&alice), "/api/v1/risk-criteria", Some(&three_by_three), &[]).await;
    assert_eq!(invalid.expect(422).code(), "invalid_risk_criteria");
}

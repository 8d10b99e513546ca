//! The readiness report (gap diagnosis) over HTTP: every requirement a gap on an empty tenant,
//! rows turning partial and met as records arrive, and the earlier picture by time travel.

use serde_json::{json, Value};

use crate::support::{Reply, TestApp};

fn row<'a>(report: &'a Reply, clause: &str) -> &'a Value {
    report.body["requirements"].as_array().unwrap().iter().find(|r| r["clause"] == clause).unwrap()
}

fn status<'a>(report: &'a Reply, clause: &str) -> &'a str {
    row(report, clause)["status"].as_str().unwrap()
}

fn section(report: &Reply, name: &str) -> f64 {
    let sections = report.body["sections"].as_array().unwrap();
    sections.iter().find(|s| s["section"] == name).unwrap()["readiness_percent"].as_f64().unwrap()
}

async fn read(app: &TestApp, token: &str, query: &str) -> Reply {
    app.get(token, &format!("/api/v1/reports/readiness{query}")).await.expect(200)
}

fn overall(report: &Reply) -> f64 {
    report.body["overall_percent"].as_f64().unwrap()
}

#[tokio::test]
async fn readiness_rises_as_the_registers_fill_and_reads_as_of_an_earlier_point() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let carol = app.token("carol", "acme", "isms:read isms:write");

    let empty = read(&app, &bob, "").await;
    let rows = empty.body["requirements"].as_array().unwrap();
    assert_eq!(rows.len(), 25);
    assert!(rows.iter().all(|r| r["status"] == "gap" && r["gap"].is_string()), "{rows:?}");
    assert_eq!(overall(&empty), 0.0);
    assert_eq!(empty.body["annex_a"]["undecided"], 93);
    assert_eq!(empty.body["sections"].as_array().unwrap().len(), 8);
    assert_eq!(empty.body["position"], 0);

    // 4.1: an internal issue only is partial; both categories are met.
    let issue =
        |category: &str| json!({"category": category, "title": format!("{category} issue"), "effect_on_isms": "x"});
    let internal = app.post(&alice, "/api/v1/context-issues", issue("internal")).await.expect(201);
    assert_eq!(status(&read(&app, &bob, "").await, "4.1"), "partial");
    let after_internal = internal.body["position"].as_u64().unwrap();
    app.post(&alice, "/api/v1/context-issues", issue("external")).await.expect(201);
    let context = read(&app, &bob, "").await;
    assert_eq!((status(&context, "4.1"), &row(&context, "4.1")["gap"]), ("met", &Value::Null));
    assert_eq!(row(&context, "4.1")["evidence"].as_array().unwrap().len(), 2);
    assert_eq!(row(&context, "4.1")["evidence"][0]["register"], "context-issues");
    assert_eq!(status(&context, "4.4"), "partial");
    assert!(section(&context, "4") > 0.0);

    // 4.2: a party with a requirement the ISMS addresses.
    let party = app
        .post(&alice, "/api/v1/interested-parties", json!({"name": "顧客", "category": "customer", "description": "d"}))
        .await
        .expect(201);
    let party_id = party.body["id"].as_str().unwrap();
    assert_eq!(status(&read(&app, &bob, "").await, "4.2"), "partial", "a party without requirements");
    let requirement = json!({"description": "NDA", "addressed_by_isms": true, "how_addressed": "Training"});
    app.post(&alice, &format!("/api/v1/interested-parties/{party_id}/requirements"), requirement).await.expect(200);

    // 4.3: the scope with its boundaries and an interface (admin).
    let scope = json!({
        "statement": "Design services",
        "boundaries": {"organizational": "Design", "physical": "Tokyo", "technological": "Corporate network"},
        "interfaces_and_dependencies": ["Payroll outsourced"]
    });
    app.send(reqwest::Method::PUT, Some(&alice), "/api/v1/scope", Some(&scope), &[]).await.expect(200);
    let context = read(&app, &bob, "").await;
    assert_eq!([status(&context, "4.2"), status(&context, "4.3")], ["met", "met"]);
    assert_eq!(row(&context, "4.3")["evidence"], json!([{"register": "scope", "id": "current"}]));

    // 6.1: a risk linked to the issue, assessed under the tenant's own criteria and treated.
    let risk = app.identify_risk(&alice, "alice").await;
    let unassessed = read(&app, &bob, "").await;
    assert_eq!(status(&unassessed, "6.1.1"), "partial", "not linked to the context");
    assert_eq!(status(&unassessed, "6.1.2"), "gap");
    assert_eq!(row(&unassessed, "6.1.2")["lacking"], json!([{"register": "risks", "id": risk}]));
    let issue_id = internal.body["id"].as_str().unwrap();
    app.post(&alice, &format!("/api/v1/risks/{risk}/sources"), json!({"context_issue_ids": [issue_id]}))
        .await
        .expect(200);
    app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 4, "impact": 4}))
        .await
        .expect(200);
    assert_eq!(status(&read(&app, &bob, "").await, "6.1.2"), "partial", "the default criteria");
    let scale = |labels: [&str; 5]| -> Vec<Value> {
        labels.iter().enumerate().map(|(i, label)| json!({"value": i + 1, "label": label})).collect()
    };
    let criteria = json!({
        "likelihood_scale": scale(["rare", "unlikely", "possible", "likely", "almost_certain"]),
        "impact_scale": scale(["negligible", "minor", "moderate", "major", "severe"]),
        "level_bands": [
            {"level": "low", "min_score": 1, "max_score": 4},
            {"level": "medium", "min_score": 5, "max_score": 9},
            {"level": "high", "min_score": 10, "max_score": 16},
            {"level": "critical", "min_score": 17, "max_score": 25}
        ],
        "acceptance_threshold": 9
    });
    app.send(reqwest::Method::PUT, Some(&alice), "/api/v1/risk-criteria", Some(&criteria), &[]).await.expect(200);
    let treatment = json!({"option": "modify", "controls": ["8.24"], "owner": "alice",
                           "target_residual_likelihood": 2, "target_residual_impact": 2});
    app.post(&alice, &format!("/api/v1/risks/{risk}/treatment"), treatment).await.expect(200);
    let planned = read(&app, &bob, "").await;
    for (clause, expected) in
        [("6.1.1", "met"), ("6.1.2", "met"), ("8.2", "met"), ("6.1.3", "partial"), ("8.3", "partial")]
    {
        assert_eq!(status(&planned, clause), expected, "{clause}: {}", row(&planned, clause));
    }
    assert!(row(&planned, "6.1.3")["gap"].as_str().unwrap().contains("93 of 93 Annex A controls"));
    assert_eq!(status(&planned, "4.4"), "partial", "9.1 has nothing yet");

    // Annex A: the control the treatment names, decided applicable and implemented.
    app.post(&alice, "/api/v1/soa/8.24/decision", json!({"applicable": true, "justification": "Encryption"}))
        .await
        .expect(200);
    let decided = read(&app, &bob, "").await;
    assert_eq!(decided.body["annex_a"]["controls"][0]["status"], "gap");
    assert_eq!(decided.body["annex_a"]["undecided"], 92);
    let implementation = json!({"status": "implemented", "owner": "alice", "evidence_refs": ["POL-07"]});
    app.post(&alice, "/api/v1/soa/8.24/implementation", implementation).await.expect(200);
    let implemented = read(&app, &bob, "").await;
    let control = &implemented.body["annex_a"]["controls"][0];
    assert_eq!((control["control_id"].as_str(), control["status"].as_str()), (Some("8.24"), Some("met")));
    assert_eq!(control["linked_risk_ids"], json!([risk]));
    assert_eq!(status(&implemented, "8.3"), "met");
    // One of 93 rows met: 100 x 1 / 93 = 1.1 %.
    assert_eq!(section(&implemented, "A"), 1.1);

    // 5.2 and 7.5: a policy published after four-eyes approval; 5.1 still needs a review.
    let policy = app
        .post(
            &bob,
            "/api/v1/documents",
            json!({"title": "Information security policy", "document_type": "policy",
                                                "owner": "bob", "review_interval_months": 12}),
        )
        .await
        .expect(201);
    let path = |step: &str| format!("/api/v1/documents/{}/{step}", policy.body["id"].as_str().unwrap());
    let registered = read(&app, &bob, "").await;
    assert_eq!([status(&registered, "5.2"), status(&registered, "7.5")], ["partial", "partial"]);
    app.post(&bob, &path("versions"), json!({"label": "1.0", "content_ref": "sha256:abc"})).await.expect(200);
    app.post(&bob, &path("submission"), json!({})).await.expect(200);
    app.post(&carol, &path("approval"), json!({})).await.expect(200);
    app.post(&carol, &path("publication"), json!({})).await.expect(200);

    // 5.3: the risk owner is an active person with a role.
    app.post(
        &alice,
        "/api/v1/people",
        json!({"user_name": "alice", "display_name": "Alice", "department": "IT",
                                              "role": "CISO"}),
    )
    .await
    .expect(201);

    // 10.2: a nonconformity with an overdue corrective action shows as partial and as overdue.
    let nc = app.raise_nonconformity(&alice, "minor").await;
    let actions = json!({"actions": [{"description": "Restore test", "owner": "bob", "due_date": "2020-01-31"}]});
    app.post(&alice, &format!("/api/v1/nonconformities/{nc}/corrective-actions"), actions).await.expect(200);

    let later = read(&app, &bob, "").await;
    for (clause, expected) in [
        ("5.1", "partial"),
        ("5.2", "met"),
        ("5.3", "met"),
        ("7.4", "partial"),
        ("7.5", "met"),
        ("10.1", "partial"),
        ("10.2", "partial"),
    ] {
        assert_eq!(status(&later, clause), expected, "{clause}: {}", row(&later, clause));
    }
    assert!(row(&later, "7.4")["gap"].as_str().unwrap().contains("communication"));
    assert_eq!(row(&later, "10.2")["lacking"], json!([{"register": "nonconformities", "id": nc}]));
    let overdue = later.body["overdue"].as_array().unwrap();
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(
        (overdue[0]["register"].as_str(), overdue[0]["id"].as_str(), overdue[0]["due_on"].as_str()),
        (Some("nonconformities"), Some(nc.as_str()), Some("2020-01-31"))
    );
    assert!(overall(&later) > overall(&implemented) && overall(&implemented) > overall(&context));
    assert!(later.body["upcoming_certification_dates"].as_array().unwrap().is_empty());

    // Time travel: the picture after the first issue, worse than now.
    let earlier = read(&app, &alice, &format!("?as_of_position={after_internal}")).await;
    assert_eq!(earlier.body["position"], after_internal);
    assert_eq!([status(&earlier, "4.1"), status(&earlier, "4.2"), status(&earlier, "5.2")], ["partial", "gap", "gap"]);
    assert!(overall(&earlier) < overall(&later));
    assert_eq!(earlier.body["annex_a"]["undecided"], 93);
}

//! The Annex A catalogs and the Statement of Applicability (6.1.3 d) over HTTP: catalog counts
//! and correspondence, the decision and implementation rules, the link to risk treatment, and
//! the JSON and CSV exports with time travel.

use serde_json::{json, Value};

use crate::support::TestApp;

fn items(body: &Value, key: &str) -> Vec<Value> {
    body[key].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_catalogs_list_every_control_with_its_counterparts() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let latest = app.get(&alice, "/api/v1/controls").await.expect(200);
    assert_eq!((latest.body["catalog"].as_str(), latest.body["count"].as_u64()), (Some("iso27001-2022"), Some(93)));
    let controls = items(&latest.body, "controls");
    assert_eq!(controls.len(), 93);
    let new: Vec<&str> =
        controls.iter().filter(|c| c["new_in_2022"] == json!(true)).map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(new, ["5.7", "5.23", "5.30", "7.4", "8.9", "8.10", "8.11", "8.12", "8.16", "8.23", "8.28"]);
    for (theme, count) in [("organizational", 37), ("people", 8), ("physical", 14), ("technological", 34)] {
        let page = app.get(&alice, &format!("/api/v1/controls?theme={theme}")).await.expect(200);
        assert_eq!(page.body["count"], count, "{theme}");
        assert_eq!(controls.iter().filter(|c| c["theme"] == theme).count(), count);
    }
    let crypto = app.get(&alice, "/api/v1/controls/8.24").await.expect(200);
    assert_eq!(crypto.body["iso27001_2013"], json!(["A.10.1.1", "A.10.1.2"]));

    let old = app.get(&alice, "/api/v1/controls?catalog=iso27001-2013").await.expect(200);
    assert_eq!((old.body["catalog"].as_str(), old.body["count"].as_u64()), (Some("iso27001-2013"), Some(114)));
    assert!(items(&old.body, "controls").iter().all(|c| !c["iso27001_2022"].as_array().unwrap().is_empty()));
    let access = app.get(&alice, "/api/v1/controls?catalog=iso27001-2013&theme=A.9").await.expect(200);
    assert_eq!(access.body["count"], 14);
    let both = app.get(&alice, "/api/v1/controls/A.18.2.3?catalog=iso27001-2013").await.expect(200);
    assert_eq!(both.body["iso27001_2022"], json!(["5.36", "8.8"]));

    let unknown = app.get(&alice, "/api/v1/controls?catalog=nist-800-53").await.expect(400);
    assert_eq!(unknown.code(), "unknown_catalog");
    assert_eq!(app.get(&alice, "/api/v1/controls?theme=legal").await.expect(400).code(), "unknown_theme");
    app.get(&alice, "/api/v1/controls/9.1").await.expect(404);
    app.get(&alice, "/api/v1/controls/8.24?catalog=iso27001-2013").await.expect(404);
    let no_read = app.token("dave", "acme", "isms:write");
    app.get(&no_read, "/api/v1/controls").await.expect(403);
}

#[tokio::test]
async fn decisions_and_implementation_follow_the_rules_of_the_statement() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let empty = app.get(&alice, "/api/v1/soa").await.expect(200);
    assert_eq!((empty.body["count"].as_u64(), empty.body["version"].as_u64()), (Some(93), Some(0)));
    let first = &empty.body["items"][0];
    assert_eq!((first["control_id"].as_str(), first["status"].as_str()), (Some("5.1"), Some("not_decided")));
    assert!(first["decision"].is_null());

    let implementation = json!({"status": "implemented", "owner": "alice", "evidence_refs": ["POL-05 Access policy"]});
    let early = app.post(&alice, "/api/v1/soa/5.15/implementation", implementation.clone()).await.expect(409);
    assert_eq!(early.code(), "soa_applicability_not_decided");
    for applicable in [true, false] {
        let bare = json!({"applicable": applicable, "justification": "  "});
        let refused = app.post(&alice, "/api/v1/soa/5.15/decision", bare).await.expect(422);
        assert_eq!(
            (refused.code(), refused.body["errors"][0]["pointer"].as_str()),
            ("soa_justification_required", Some("/justification"))
        );
    }

    let decision = json!({"applicable": true, "justification": "Access to customer data is restricted."});
    let decided = app
        .send(
            reqwest::Method::POST,
            Some(&alice),
            "/api/v1/soa/A.5.15/decision",
            Some(&decision),
            &[("If-Match", "\"0\"")],
        )
        .await
        .expect(200);
    assert_eq!(
        (decided.body["control_id"].as_str(), decided.body["status"].as_str()),
        (Some("5.15"), Some("not_implemented"))
    );
    assert_eq!(decided.header("etag").as_deref(), Some("\"1\""));
    app.post(&alice, "/api/v1/soa/5.15/decision", decision.clone()).await.expect(409);
    let recorded = app.post(&alice, "/api/v1/soa/5.15/implementation", implementation.clone()).await.expect(200);
    assert_eq!(
        (recorded.body["status"].as_str(), recorded.body["owner"].as_str()),
        (Some("implemented"), Some("alice"))
    );
    assert_eq!(recorded.body["evidence_refs"], json!(["POL-05 Access policy"]));
    let excluded = json!({"applicable": false, "justification": "No longer needed."});
    let implemented = app.post(&alice, "/api/v1/soa/5.15/decision", excluded.clone()).await.expect(409);
    assert_eq!(implemented.code(), "soa_control_implemented");

    let no_cloud = json!({"applicable": false, "justification": "We use no cloud services."});
    app.post(&alice, "/api/v1/soa/5.23/decision", no_cloud).await.expect(200);
    let planned = json!({"status": "planned", "owner": "bob"});
    let refused = app.post(&alice, "/api/v1/soa/5.23/implementation", planned).await.expect(409);
    assert_eq!(refused.code(), "soa_control_not_applicable");
    let invalid = json!({"status": "planned", "owner": " ", "evidence_refs": ["ok", ""]});
    let fields = app.post(&alice, "/api/v1/soa/8.8/implementation", invalid).await.expect(422);
    let pointers: Vec<&str> =
        fields.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/owner", "/evidence_refs/1"]);
    app.post(&alice, "/api/v1/soa/9.99/decision", decision.clone()).await.expect(404);
    app.get(&alice, "/api/v1/soa/5.38").await.expect(404);

    let applicable = app.get(&alice, "/api/v1/soa?applicable=true").await.expect(200);
    assert_eq!(
        items(&applicable.body, "items").iter().map(|i| i["control_id"].clone()).collect::<Vec<_>>(),
        [json!("5.15")]
    );
    let not_applicable = app.get(&alice, "/api/v1/soa?applicable=false&theme=organizational").await.expect(200);
    assert_eq!(not_applicable.body["items"][0]["control_id"], "5.23");
    let undecided = app.get(&alice, "/api/v1/soa?status=not_decided").await.expect(200);
    assert_eq!((undecided.body["count"].as_u64(), undecided.body["version"].as_u64()), (Some(91), Some(3)));

    let one = app.get(&alice, "/api/v1/soa/5.15").await.expect(200);
    assert_eq!((one.body["version"].as_u64(), one.header("etag").as_deref()), (Some(2), Some("\"2\"")));
    let before = app.get(&alice, "/api/v1/soa/5.15?as_of_position=1").await.expect(200);
    assert_eq!(before.body["status"], "not_implemented");
    let history = app.get(&alice, "/api/v1/soa/5.15/history").await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ControlApplicabilityDecided", "ControlImplementationRecorded"]);
    app.get(&alice, "/api/v1/soa/8.1/history").await.expect(404);
    let bob = app.token("bob", "acme", "isms:read isms:write");
    app.get(&bob, "/api/v1/soa/5.15/history").await.expect(403);
}

/// Identifies a risk and plans its treatment with control 8.24; returns the risk id.
async fn risk_treated_with_cryptography(app: &TestApp, token: &str) -> String {
    let risk = app.identify_risk(token, "alice").await;
    app.post(token, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 4, "impact": 4}))
        .await
        .expect(200);
    let treatment = json!({"option": "modify", "controls": ["8.24"], "owner": "alice",
                           "target_residual_likelihood": 2, "target_residual_impact": 2});
    app.post(token, &format!("/api/v1/risks/{risk}/treatment"), treatment).await.expect(200);
    risk
}

#[tokio::test]
async fn a_control_named_by_an_open_risk_treatment_cannot_be_excluded_until_the_risk_is_closed() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = risk_treated_with_cryptography(&app, &alice).await;
    let linked = app.get(&alice, "/api/v1/soa/8.24").await.expect(200);
    assert_eq!(linked.body["linked_risk_ids"], json!([risk]));
    assert!(linked.body["decision"].is_null());

    let exclusion = json!({"applicable": false, "justification": "Data is not encrypted by us."});
    let refused = app.post(&alice, "/api/v1/soa/8.24/decision", exclusion.clone()).await.expect(409);
    assert_eq!(refused.code(), "control_required_by_risk_treatment");
    assert!(refused.body["detail"].as_str().unwrap().contains(&risk), "{}", refused.body);
    let inclusion = json!({"applicable": true, "justification": "Treats the laptop theft risk."});
    let included = app.post(&alice, "/api/v1/soa/8.24/decision", inclusion).await.expect(200);
    assert_eq!(included.body["linked_risk_ids"], json!([risk]));

    app.post(&alice, &format!("/api/v1/risks/{risk}/closure"), json!({"reason": "Laptops retired"})).await.expect(200);
    let excluded = app.post(&alice, "/api/v1/soa/8.24/decision", exclusion).await.expect(200);
    assert_eq!(
        excluded.body["decision"],
        json!({"applicable": false, "justification": "Data is not encrypted by us."})
    );
    assert_eq!(excluded.body["linked_risk_ids"], json!([]));
}

/// Splits a CSV export into records (they end with CRLF; line breaks inside cells are LF).
fn records(text: &str) -> Vec<&str> {
    text.strip_suffix("\r\n").unwrap_or(text).split("\r\n").collect()
}

#[tokio::test]
async fn the_soa_exports_as_json_and_csv_at_any_read_point() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = risk_treated_with_cryptography(&app, &alice).await;
    let decision = json!({"applicable": true, "justification": "Protects customer data, \"at rest\", in transit."});
    let first = app.post(&alice, "/api/v1/soa/8.24/decision", decision).await.expect(200);
    let first_position = first.body["position"].as_u64().unwrap();
    let implementation = json!({"status": "partially_implemented", "owner": "bob",
                                "evidence_refs": ["POL-07 Cryptography policy", "SEC-142 disk encryption"]});
    app.post(&alice, "/api/v1/soa/8.24/implementation", implementation).await.expect(200);

    let report = app.get(&alice, "/api/v1/reports/soa").await.expect(200);
    assert_eq!((report.body["count"].as_u64(), report.body["version"].as_u64()), (Some(93), Some(2)));
    assert!(report.body["as_of"].is_string() && report.body["position"].as_u64() == Some(first_position + 1));
    let crypto = items(&report.body, "items").into_iter().find(|i| i["control_id"] == "8.24").unwrap();
    assert_eq!((crypto["status"].as_str(), crypto["owner"].as_str()), (Some("partially_implemented"), Some("bob")));
    assert_eq!(crypto["linked_risk_ids"], json!([risk]));
    let earlier = app.get(&alice, &format!("/api/v1/reports/soa?as_of_position={first_position}")).await.expect(200);
    let crypto_then = items(&earlier.body, "items").into_iter().find(|i| i["control_id"] == "8.24").unwrap();
    assert_eq!((earlier.body["version"].as_u64(), crypto_then["status"].as_str()), (Some(1), Some("not_implemented")));
    assert_eq!(earlier.body["position"].as_u64(), Some(first_position));
    let bob = app.token("bob", "acme", "isms:read");
    app.get(&bob, &format!("/api/v1/reports/soa?as_of_position={first_position}")).await.expect(403);
    let xml =
        app.send(reqwest::Method::GET, Some(&alice), "/api/v1/reports/soa", None, &[("Accept", "application/xml")]);
    assert_eq!(xml.await.expect(200).body["count"], 93);

    let csv = |query: String| {
        let request = app.client.get(format!("{}/api/v1/reports/soa{query}", app.base)).bearer_auth(&alice);
        async move {
            let response = request.header("Accept", "text/csv").send().await.unwrap();
            assert_eq!(response.status(), 200);
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            (content_type, response.text().await.unwrap())
        }
    };
    let (content_type, text) = csv(String::new()).await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let rows = records(&text);
    assert_eq!(rows.len(), 94);
    let header = "control_id,title,theme,applicable,justification,status,owner,evidence_refs,linked_risk_ids,\
                  version,as_of,position";
    assert_eq!(rows[0], header);
    let as_of = report.body["as_of"].as_str().unwrap();
    let position = first_position + 1;
    assert!(
        rows[1].starts_with("5.1,Policies for information security,organizational,,,not_decided,,,,2,"),
        "{}",
        rows[1]
    );
    let crypto_row = rows.iter().find(|r| r.starts_with("8.24,")).unwrap();
    assert_eq!(
        *crypto_row,
        format!(
            "8.24,Use of cryptography,technological,true,\"Protects customer data, \"\"at rest\"\", in transit.\",\
             partially_implemented,bob,\"POL-07 Cryptography policy\nSEC-142 disk encryption\",\
             {risk},2,{as_of},{position}"
        )
    );
    let (_, earlier_text) = csv(format!("?as_of_position={first_position}")).await;
    let earlier_row = records(&earlier_text).into_iter().find(|r| r.starts_with("8.24,")).unwrap().to_owned();
    assert!(earlier_row.contains(&format!(",not_implemented,,,{risk},1,")), "{earlier_row}");
    assert!(earlier_row.ends_with(&format!(",{first_position}")), "{earlier_row}");
}

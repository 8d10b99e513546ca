//! The asset inventory, its classification scheme and the personal-information register over
//! HTTP: lifecycle, rules, filters, time travel.

use serde_json::{json, Value};

use crate::support::{Reply, TestApp};

fn asset(name: &str, classification: &str) -> Value {
    json!({"type": "hardware", "name": name, "owner": "bob", "location": "Tokyo office",
           "classification": classification, "confidentiality": 2, "integrity": 2, "availability": 3})
}

fn customer_list() -> Value {
    json!({"type": "information", "name": "顧客名簿", "owner": "alice", "classification": "confidential",
           "confidentiality": 3, "integrity": 2, "availability": 2, "personal_data": true,
           "personal_information_items": ["氏名", "メールアドレス"], "purpose_of_use": "Project communication",
           "retention_period": "5 years", "legal_basis": "Contract", "third_party_provision": true,
           "third_party_recipients": ["Parent company"], "entrusted_processors": ["CRM provider"]})
}

fn pointers(reply: &Reply) -> Vec<&str> {
    reply.body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect()
}

async fn put_scheme(app: &TestApp, labels: &[&str]) -> Reply {
    let labels: Vec<Value> = labels.iter().map(|l| json!({"label": l})).collect();
    let body = json!({ "labels": labels });
    app.send(reqwest::Method::PUT, Some(&app.alice()), "/api/v1/asset-classification-scheme", Some(&body), &[]).await
}

#[tokio::test]
async fn assets_are_changed_retired_filtered_and_read_as_of_any_point() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let registered = app.post(&alice, "/api/v1/assets", asset("Laptop", "internal")).await.expect(201);
    let id = registered.body["id"].as_str().unwrap().to_owned();
    assert_eq!(registered.header("location").unwrap(), format!("/api/v1/assets/{id}"));
    assert_eq!(
        (registered.body["type"].as_str(), registered.body["personal_data"].as_bool()),
        (Some("hardware"), Some(false))
    );
    let path = |tail: &str| format!("/api/v1/assets/{id}/{tail}");

    let same = app.post(&alice, &path("changes"), asset("Laptop", "internal")).await.expect(409);
    assert_eq!(same.code(), "nothing_changed");
    let changed = app.post(&alice, &path("changes"), asset("Laptop", "confidential")).await.expect(200);
    assert_eq!(changed.body["classification"], "confidential");
    app.post(&alice, "/api/v1/assets", asset("Server", "internal")).await.expect(201);

    let by_label = app.get(&alice, "/api/v1/assets?classification=confidential&type=hardware&owner=bob").await;
    assert_eq!(by_label.expect(200).body["items"].as_array().unwrap().len(), 1);
    let software = app.get(&alice, "/api/v1/assets?type=software").await.expect(200);
    assert!(software.body["items"].as_array().unwrap().is_empty());

    app.post(&alice, &path("retirement"), json!({"reason": "Disposed of"})).await.expect(200);
    let retired = app.post(&alice, &path("changes"), asset("Laptop", "public")).await.expect(409);
    assert_eq!(retired.code(), "asset_retired");
    let active = app.get(&alice, "/api/v1/assets?status=active").await.expect(200);
    assert_eq!(active.body["items"][0]["name"], "Server");
    let position = registered.body["position"].as_u64().unwrap();
    let then = app.get(&alice, &format!("/api/v1/assets/{id}?as_of_position={position}")).await.expect(200);
    assert_eq!(
        (then.body["classification"].as_str(), then.body["status"].as_str()),
        (Some("internal"), Some("active"))
    );
    let history = app.get(&alice, &path("history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["AssetRegistered", "AssetChanged", "AssetRetired"]);

    let mut bad = asset(" ", "internal");
    bad["confidentiality"] = json!(4);
    bad["availability"] = json!(0);
    let refused = app.post(&alice, "/api/v1/assets", bad).await.expect(422);
    assert_eq!(pointers(&refused), ["/name", "/confidentiality", "/availability"]);
    let mut one = asset("Laptop", "internal");
    one["integrity"] = json!(9);
    assert_eq!(app.post(&alice, "/api/v1/assets", one).await.expect(422).code(), "asset_value_out_of_range");
}

#[tokio::test]
async fn labels_come_from_the_tenant_scheme_and_labels_in_use_stay() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let default = app.get(&alice, "/api/v1/asset-classification-scheme").await.expect(200);
    let labels: Vec<&str> =
        default.body["labels"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["public", "internal", "confidential", "strictly_confidential"]);
    assert_eq!((default.body["version"].as_u64(), default.header("etag").as_deref()), (Some(0), Some("\"0\"")));

    let unknown = app.post(&alice, "/api/v1/assets", asset("Vault", "secret")).await.expect(422);
    assert_eq!((unknown.code(), pointers(&unknown)), ("unknown_classification_label", vec!["/classification"]));
    let defined = put_scheme(&app, &["public", "internal", "secret"]).await.expect(200);
    assert_eq!(defined.body["version"], 1);
    let vault = app.post(&alice, "/api/v1/assets", asset("Vault", "secret")).await.expect(201);
    let vault_id = vault.body["id"].as_str().unwrap();

    let in_use = put_scheme(&app, &["public", "internal"]).await.expect(409);
    assert_eq!(in_use.code(), "classification_label_in_use");
    assert_eq!(put_scheme(&app, &["public", "internal", "secret"]).await.expect(409).code(), "nothing_changed");
    let twice = put_scheme(&app, &["public", "public"]).await.expect(422);
    assert_eq!((twice.code(), pointers(&twice)), ("invalid_classification_scheme", vec!["/labels/1/label"]));
    let bob = app.token("bob", "acme", "isms:read isms:write");
    let body = json!({"labels": [{"label": "public"}]});
    let forbidden =
        app.send(reqwest::Method::PUT, Some(&bob), "/api/v1/asset-classification-scheme", Some(&body), &[]).await;
    forbidden.expect(403);

    // Once no live asset carries it, the label may go.
    app.post(&alice, &format!("/api/v1/assets/{vault_id}/retirement"), json!({"reason": "Emptied"})).await.expect(200);
    put_scheme(&app, &["public", "internal"]).await.expect(200);
    let then = app
        .get(&alice, &format!("/api/v1/asset-classification-scheme?as_of_position={}", vault.body["position"]))
        .await
        .expect(200);
    assert_eq!((then.body["version"].as_u64(), then.body["labels"].as_array().unwrap().len()), (Some(1), 3));
    assert_eq!(defined.body["labels"][2]["label"], "secret");
}

#[tokio::test]
async fn personal_data_needs_the_register_attributes_and_feeds_the_personal_information_register() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let mut incomplete = customer_list();
    for field in ["personal_information_items", "purpose_of_use", "legal_basis"] {
        incomplete.as_object_mut().unwrap().remove(field);
    }
    let refused = app.post(&alice, "/api/v1/assets", incomplete).await.expect(422);
    assert_eq!(refused.code(), "personal_data_attributes_required");
    assert_eq!(pointers(&refused), ["/personal_information_items", "/purpose_of_use", "/legal_basis"]);
    let mut stray = asset("Laptop", "internal");
    stray["retention_period"] = json!("1 year");
    let refused = app.post(&alice, "/api/v1/assets", stray).await.expect(422);
    assert_eq!(
        (refused.code(), pointers(&refused)),
        ("personal_data_attributes_not_applicable", vec!["/retention_period"])
    );

    app.post(&alice, "/api/v1/assets", asset("Laptop", "internal")).await.expect(201);
    let list = app.post(&alice, "/api/v1/assets", customer_list()).await.expect(201);
    let list_id = list.body["id"].as_str().unwrap().to_owned();
    assert_eq!(list.body["personal_information_items"], json!(["氏名", "メールアドレス"]));
    let personal = app.get(&alice, "/api/v1/assets?personal_data=true").await.expect(200);
    assert_eq!(personal.body["items"].as_array().unwrap().len(), 1);

    let bob = app.token("bob", "acme", "isms:read");
    let report = app.get(&bob, "/api/v1/reports/personal-information").await.expect(200);
    let rows = report.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["asset_id"], list_id.as_str());
    assert_eq!((rows[0]["owner"].as_str(), rows[0]["classification"].as_str()), (Some("alice"), Some("confidential")));
    assert_eq!(rows[0]["third_party_recipients"], json!(["Parent company"]));
    assert_eq!(report.body["position"], list.body["position"]);

    app.post(&alice, &format!("/api/v1/assets/{list_id}/retirement"), json!({"reason": "Migrated"})).await.expect(200);
    let now = app.get(&alice, "/api/v1/reports/personal-information").await.expect(200);
    assert!(now.body["items"].as_array().unwrap().is_empty());
    let at = list.body["position"].as_u64().unwrap();
    let then = app.get(&alice, &format!("/api/v1/reports/personal-information?as_of_position={at}")).await.expect(200);
    assert_eq!((then.body["items"].as_array().unwrap().len(), then.body["position"].as_u64()), (1, Some(at)));
    app.get(&bob, &format!("/api/v1/reports/personal-information?as_of_position={at}")).await.expect(403);
}

//! Interested parties and their requirements (4.2) over HTTP: lifecycle, rules, filters, time
//! travel, and resolving a requirement id from the registers.

use serde_json::{json, Value};

use crate::support::TestApp;

fn requirement_ids(party: &Value) -> Vec<String> {
    party["requirements"].as_array().unwrap().iter().map(|r| r["requirement_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn parties_keep_their_requirements_through_revision_withdrawal_and_retirement() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let issue = app
        .post(
            &alice,
            "/api/v1/context-issues",
            json!({"category": "external", "title": "顧客の機密情報の漏洩", "effect_on_isms": "信用の低下"}),
        )
        .await
        .expect(201);
    let issue_id = issue.body["id"].as_str().unwrap().to_owned();
    let party = json!({"name": "顧客", "category": "customer"});
    let registered = app.post(&alice, "/api/v1/interested-parties", party.clone()).await.expect(201);
    let id = registered.body["id"].as_str().unwrap().to_owned();
    assert_eq!(registered.header("location").unwrap(), format!("/api/v1/interested-parties/{id}"));
    let path = |tail: &str| format!("/api/v1/interested-parties/{id}/{tail}");

    let same = app.post(&alice, &path("revisions"), party.clone()).await.expect(409);
    assert_eq!(same.code(), "nothing_changed");
    let silent = app
        .post(&alice, &path("requirements"), json!({"description": "情報の機密性", "addressed_by_isms": true}))
        .await
        .expect(422);
    assert_eq!(
        (silent.code(), &silent.body["errors"][0]["pointer"]),
        ("how_addressed_required", &json!("/how_addressed"))
    );
    let unknown_issue = uuid::Uuid::now_v7();
    let dangling = app
        .post(
            &alice,
            &path("requirements"),
            json!({"description": "情報の機密性", "context_issue_ids": [issue_id, unknown_issue]}),
        )
        .await
        .expect(422);
    assert_eq!(dangling.code(), "referenced_record_not_found");
    assert_eq!(dangling.body["errors"][0]["pointer"], "/context_issue_ids/1");

    let addressed = json!({"description": "情報の機密性、契約の履行", "addressed_by_isms": true,
        "how_addressed": "機密情報の取扱いに関する教育", "context_issue_ids": [issue_id]});
    let first = app.post(&alice, &path("requirements"), addressed).await.expect(200);
    assert_eq!(first.body["unaddressed_requirements"], 0);
    let second =
        app.post(&alice, &path("requirements"), json!({"description": "Yearly audit report"})).await.expect(200);
    let ids = requirement_ids(&second.body);
    assert_eq!(ids.len(), 2);
    assert_eq!(second.body["unaddressed_requirements"], 1);
    assert_eq!(second.body["requirements"][0]["context_issue_ids"], json!([issue_id]));

    // The registers resolve a requirement id to its party, as the traceability matrix does.
    let tenant = isms_store::TenantId::parse("acme").unwrap();
    let registers = app.projections.tenant(&tenant).unwrap().read().unwrap().clone();
    let (owner, found) = registers.requirement(uuid::Uuid::parse_str(&ids[1]).unwrap()).unwrap();
    assert_eq!((owner.id.as_str(), found.requirement.description.as_str()), (id.as_str(), "Yearly audit report"));
    assert!(registers.requirement(unknown_issue).is_none());

    let unaddressed = app.get(&alice, "/api/v1/interested-parties?addressed=false").await.expect(200);
    assert_eq!(unaddressed.body["items"].as_array().unwrap().len(), 1);
    let missing = json!({"requirement_id": uuid::Uuid::now_v7(), "description": "x"});
    let not_found = app.post(&alice, &path("requirement-revisions"), missing).await.expect(404);
    assert_eq!(not_found.code(), "requirement_not_found");
    let revised = app
        .post(
            &alice,
            &path("requirement-revisions"),
            json!({"requirement_id": ids[1], "description": "Yearly audit report", "addressed_by_isms": true,
                   "how_addressed": "Internal audit summary sent each April"}),
        )
        .await
        .expect(200);
    assert_eq!(revised.body["unaddressed_requirements"], 0);
    let fully = app.get(&alice, "/api/v1/interested-parties?addressed=true&category=customer").await.expect(200);
    assert_eq!(fully.body["items"].as_array().unwrap().len(), 1);

    let withdrawal = json!({"requirement_id": ids[1], "reason": "The customer dropped the clause."});
    let withdrawn = app.post(&alice, &path("requirement-withdrawals"), withdrawal.clone()).await.expect(200);
    assert_eq!(withdrawn.body["requirements"][1]["status"], "withdrawn");
    let again = app.post(&alice, &path("requirement-withdrawals"), withdrawal).await.expect(409);
    assert_eq!(again.code(), "requirement_withdrawn");

    app.post(&alice, &path("retirement"), json!({"reason": "Contract ended"})).await.expect(200);
    let retired = app.post(&alice, &path("requirements"), json!({"description": "New"})).await.expect(409);
    assert_eq!(retired.code(), "interested_party_retired");

    // Time travel: the party as it stood after its second requirement.
    let then_position = second.body["position"].as_u64().unwrap();
    let then = app.get(&alice, &format!("/api/v1/interested-parties/{id}?as_of_position={then_position}")).await;
    let then = then.expect(200);
    assert_eq!(
        (then.body["status"].as_str(), then.body["unaddressed_requirements"].as_u64()),
        (Some("active"), Some(1))
    );
    let active_then =
        app.get(&alice, &format!("/api/v1/interested-parties?status=active&as_of_position={then_position}")).await;
    assert_eq!(active_then.expect(200).body["items"].as_array().unwrap().len(), 1);
    let active_now = app.get(&alice, "/api/v1/interested-parties?status=active").await.expect(200);
    assert!(active_now.body["items"].as_array().unwrap().is_empty());

    let history = app.get(&alice, &path("history")).await.expect(200);
    let types: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "InterestedPartyRegistered",
            "InterestedPartyRequirementAdded",
            "InterestedPartyRequirementAdded",
            "InterestedPartyRequirementRevised",
            "InterestedPartyRequirementWithdrawn",
            "InterestedPartyRetired"
        ]
    );
}

#[tokio::test]
async fn a_party_with_invalid_fields_is_refused_naming_each_field() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let invalid =
        app.post(&alice, "/api/v1/interested-parties", json!({"name": " ", "category": "customer"})).await.expect(422);
    assert_eq!(invalid.body["errors"][0]["pointer"], "/name");
    let unknown_category =
        app.post(&alice, "/api/v1/interested-parties", json!({"name": "X", "category": "alien"})).await.expect(422);
    assert_eq!(unknown_category.code(), "invalid_body");
    let not_a_party = app.get(&alice, &format!("/api/v1/interested-parties/{}", uuid::Uuid::now_v7())).await;
    not_a_party.expect(404);
    let listed = app.get(&alice, "/api/v1/interested-parties").await.expect(200);
    assert!(listed.body["items"].as_array().unwrap().is_empty());
}

//! HTTP conventions: If-Match, Idempotency-Key, pagination, limits, problem details.

use reqwest::Method;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn stale_if_match_gets_412_with_the_current_version() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let path = format!("/api/v1/risks/{risk}/assessments");
    let body = json!({"likelihood": 2, "impact": 2});
    let stale = app.send(Method::POST, Some(&alice), &path, Some(&body), &[("if-match", "\"7\"")]).await.expect(412);
    assert_eq!((stale.code(), stale.body["current_version"].as_u64()), ("precondition_failed", Some(1)));
    let fresh = app.send(Method::POST, Some(&alice), &path, Some(&body), &[("if-match", "\"1\"")]).await.expect(200);
    assert_eq!(fresh.header("etag").as_deref(), Some("\"2\""));
    let garbage = app.send(Method::POST, Some(&alice), &path, Some(&body), &[("if-match", "v2")]).await;
    assert_eq!(garbage.expect(400).code(), "invalid_if_match");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_record_without_if_match_all_succeed() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let alice = app.alice();
    let risk = app.identify_risk(&alice, "alice").await;
    let mut tasks = Vec::new();
    for n in 0..8u64 {
        let (app, alice, risk) = (app.clone(), alice.clone(), risk.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"likelihood": n % 5 + 1, "impact": 2});
            app.post(&alice, &format!("/api/v1/risks/{risk}/assessments"), body).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200, "a lost race is retried against the winner's durable write");
    }
    let record = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200);
    assert_eq!(record.body["version"], 9);
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response_and_refuse_another_body() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let body = json!({"title": "Phishing", "category": "people", "owner": "alice"});
    let key = [("idempotency-key", "create-phishing-1")];
    let first = app.send(Method::POST, Some(&alice), "/api/v1/risks", Some(&body), &key).await.expect(201);
    let again = app.send(Method::POST, Some(&alice), "/api/v1/risks", Some(&body), &key).await.expect(201);
    assert_eq!(first.body, again.body);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(first.header("location"), again.header("location"));
    let other = json!({"title": "Phishing 2", "category": "people", "owner": "alice"});
    let reused = app.send(Method::POST, Some(&alice), "/api/v1/risks", Some(&other), &key).await.expect(422);
    assert_eq!(reused.code(), "idempotency_key_reused");
    // Keys belong to the caller: bob may use the same key for his own request.
    let bob = app.token("bob", "acme", "isms:read isms:write");
    app.send(Method::POST, Some(&bob), "/api/v1/risks", Some(&body), &key).await.expect(201);
    let list = app.get(&alice, "/api/v1/risks").await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);

    // Concurrent retries of one keyed command append it once.
    let body = json!({"title": "Ransomware", "category": "technical", "owner": "alice"});
    let mut replies = Vec::new();
    for _ in 0..8 {
        replies.push(app.send(
            Method::POST,
            Some(&alice),
            "/api/v1/risks",
            Some(&body),
            &[("idempotency-key", "ransomware")],
        ));
    }
    let replies = futures_util::future::join_all(replies).await;
    assert!(replies.iter().all(|r| r.status == 201 || (r.status == 409 && r.code() == "idempotency_key_in_flight")));
    let list = app.get(&alice, "/api/v1/audit-trail?event_type=RiskIdentified").await.expect(200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn lists_page_with_opaque_cursors_and_cap_the_page_size() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.identify_risk(&alice, "alice").await);
    }
    let first = app.get(&alice, "/api/v1/risks?limit=2").await.expect(200);
    let mut seen: Vec<String> =
        first.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    let mut cursor = first.body["next_cursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let page = app.get(&alice, &format!("/api/v1/risks?limit=2&cursor={next}")).await.expect(200);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        cursor = page.body["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ids);
    let capped = app.get(&alice, "/api/v1/risks?limit=1000000").await.expect(200);
    assert_eq!(capped.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(app.get(&alice, "/api/v1/risks?limit=0").await.expect(400).code(), "invalid_limit");
    assert_eq!(app.get(&alice, "/api/v1/risks?cursor=%%%").await.expect(400).code(), "invalid_cursor");
    let by_owner = app.get(&alice, "/api/v1/risks?owner=nobody").await.expect(200);
    assert_eq!(by_owner.body["items"].as_array().unwrap().len(), 0);
    let feed = app.get(&alice, "/api/v1/events?after=3&limit=10").await.expect(200);
    assert_eq!((feed.body["items"][0]["position"].as_u64(), feed.body["next_after"].as_u64()), (Some(4), Some(5)));
}

#[tokio::test]
async fn bad_requests_get_problem_details_and_change_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let big = json!({"title": "x", "category": "y", "owner": "alice", "description": "z".repeat(300 * 1024)});
    assert_eq!(app.post(&alice, "/api/v1/risks", big).await.expect(413).code(), "payload_too_large");
    let raw = app
        .client
        .post(format!("{}/api/v1/risks", app.base))
        .bearer_auth(&alice)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 415);
    let malformed = app
        .client
        .post(format!("{}/api/v1/risks", app.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .header("x-request-id", "trace-me-123")
        .body("{\"title\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    assert_eq!(malformed.headers()["content-type"], "application/problem+json");
    assert_eq!(malformed.headers()["x-request-id"], "trace-me-123");
    let problem: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(
        (problem["code"].as_str(), problem["request_id"].as_str(), problem["instance"].as_str()),
        (Some("malformed_json"), Some("trace-me-123"), Some("/api/v1/risks"))
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested = app.post_text(&alice, "/api/v1/risks", deep).await;
    assert!(matches!(nested.status().as_u16(), 400 | 422));
    for field in ["tenant", "id", "actor", "position", "score"] {
        let mut body = json!({"title": "t", "category": "c", "owner": "alice"});
        body[field] = json!("injected");
        let reply = app.post(&alice, "/api/v1/risks", body).await.expect(422);
        assert_eq!(reply.code(), "invalid_body", "{field}");
    }
    let missing =
        app.post(&alice, "/api/v1/risks", json!({"title": "  ", "category": "", "owner": "alice"})).await.expect(422);
    assert_eq!(missing.body["errors"].as_array().unwrap().len(), 2);
    let earliest = app.get(&alice, "/api/v1/audit-trail?from=-262143-01-01T00:00:00Z").await;
    assert_eq!(earliest.status, 200, "the earliest representable instant is a valid bound");
    let unknown = app.get(&alice, "/api/v1/nothing-here").await.expect(404);
    assert_eq!(unknown.code(), "not_found");
    let trail = app.get(&alice, "/api/v1/audit-trail").await.expect(200);
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 0, "no refused request appended anything");
    assert!(app.get(&alice, "/api/v1/risks/not-a-uuid").await.expect(404).header("x-request-id").is_some());
}

#[tokio::test]
async fn health_docs_and_openapi_are_served_without_a_token() {
    let app = TestApp::spawn().await;
    for path in ["/livez", "/readyz", "/openapi.json", "/docs/"] {
        let response = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let document: serde_json::Value =
        app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

/// What schemathesis found between the document and the server: a documented path asked with
/// another method was 404 (now 405 naming the methods in `Allow`); a feed position above
/// `int64` was accepted although the document types positions as `int64`; a valid
/// 10,000-character text, sent with its characters escaped as Python's `json.dumps` does,
/// was refused 413 by the former 64 KiB body limit.
#[tokio::test]
async fn what_schemathesis_found_stays_fixed() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let trace = app.send(Method::TRACE, Some(&alice), "/api/v1/risks", None, &[]).await.expect(405);
    assert_eq!(trace.code(), "method_not_allowed");
    assert_eq!(trace.header("allow").as_deref(), Some("GET, POST"));
    let id = app.identify_risk(&alice, "alice").await;
    let delete = app.send(Method::DELETE, Some(&alice), &format!("/api/v1/risks/{id}"), None, &[]).await.expect(405);
    assert_eq!(delete.header("allow").as_deref(), Some("GET"));
    app.send(Method::TRACE, Some(&alice), "/api/v1/no-such-register", None, &[]).await.expect(404);

    let auditor = app.token("carol", "acme", "audit:read");
    let beyond = app.get(&auditor, "/api/v1/events?after=9223372036854775808").await.expect(400);
    assert_eq!(beyond.code(), "invalid_query");
    app.get(&auditor, "/api/v1/events?after=9223372036854775807").await.expect(200);

    // 10,000 emoji, each escaped as a surrogate pair: 120,000 bytes of JSON for one field.
    let escaped = "\\ud83d\\ude00".repeat(10_000);
    let body = format!(r#"{{"title": "Emoji", "category": "c", "owner": "alice", "description": "{escaped}"}}"#);
    let reply = app.post_text(&alice, "/api/v1/risks", body).await;
    assert_eq!(reply.status(), 201, "{}", reply.text().await.unwrap());
}

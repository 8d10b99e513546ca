//! Tokens: every bad token is a 401, a missing scope a 403, another tenant's record a 404.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::TestApp;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign(secret: &[u8], header: Header, claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn claims() -> Value {
    json!({"sub": "alice", "tenant": "acme", "scope": "isms:read", "iss": "isms-local", "aud": "isms-ledger", "exp": now() + 600})
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401() {
    let app = TestApp::spawn().await;
    let hs256 = || Header::new(Algorithm::HS256);
    let with = |field: &str, value: Value| {
        let mut c = claims();
        c[field] = value;
        c
    };
    let without = |field: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    let mut jku = hs256();
    jku.jku = Some("https://attacker.example/jwks.json".into());
    let cases: Vec<(&str, String)> = vec![
        ("expired", sign(&app.secret, hs256(), &with("exp", json!(now() - 120)))),
        ("not yet valid", sign(&app.secret, hs256(), &with("nbf", json!(now() + 600)))),
        ("exp of the wrong type", sign(&app.secret, hs256(), &with("exp", json!("tomorrow")))),
        ("nbf of the wrong type", sign(&app.secret, hs256(), &with("nbf", json!("now")))),
        ("wrong issuer", sign(&app.secret, hs256(), &with("iss", json!("someone-else")))),
        ("wrong audience", sign(&app.secret, hs256(), &with("aud", json!("another-api")))),
        ("missing sub", sign(&app.secret, hs256(), &without("sub"))),
        ("missing exp", sign(&app.secret, hs256(), &without("exp"))),
        ("missing tenant", sign(&app.secret, hs256(), &without("tenant"))),
        ("bad tenant", sign(&app.secret, hs256(), &with("tenant", json!("../etc")))),
        ("other key", sign(b"0123456789abcdef0123456789abcdef", hs256(), &claims())),
        ("jku header", sign(&app.secret, jku, &claims())),
        ("alg none", format!("{}.{}.", encode(&json!({"alg": "none", "typ": "JWT"})), encode(&claims()))),
        ("garbage", "not-a-jwt".into()),
    ];
    for (case, token) in cases {
        let reply = app.get(&token, "/api/v1/risks").await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.body);
        assert!(reply.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{case}");
        assert_eq!(reply.code(), "unauthorized");
    }
    let missing = app.send(reqwest::Method::GET, None, "/api/v1/risks", None, &[]).await.expect(401);
    assert!(missing.header("www-authenticate").is_some());
    // An audience list that includes ours is accepted (RFC 7519 allows either form).
    app.get(&sign(&app.secret, hs256(), &with("aud", json!(["another-api", "isms-ledger"]))), "/api/v1/risks")
        .await
        .expect(200);
    // Within the 30 s leeway an expired token still passes.
    app.get(&sign(&app.secret, hs256(), &with("exp", json!(now() - 5))), "/api/v1/risks").await.expect(200);
}

#[tokio::test]
async fn scopes_gate_routes_and_tenants_never_see_each_other() {
    let app = TestApp::spawn().await;
    let alice = app.alice();
    let reader = app.token("rita", "acme", "isms:read");
    let intruder = app.token("mallory", "globex", "isms:read isms:write audit:read admin");
    let risk = app.identify_risk(&alice, "alice").await;
    let nc = app.raise_nonconformity(&alice, "minor").await;

    assert_eq!(
        app.post(&reader, "/api/v1/risks", json!({"title": "t", "category": "c", "owner": "o"}))
            .await
            .expect(403)
            .code(),
        "insufficient_scope"
    );
    assert_eq!(app.get(&reader, "/api/v1/audit-trail").await.expect(403).code(), "insufficient_scope");
    assert_eq!(
        app.get(&reader, &format!("/api/v1/risks/{risk}/history")).await.expect(403).code(),
        "insufficient_scope"
    );
    app.get(&reader, &format!("/api/v1/risks/{risk}")).await.expect(200);

    for path in [
        format!("/api/v1/risks/{risk}"),
        format!("/api/v1/risks/{risk}/history"),
        format!("/api/v1/nonconformities/{nc}"),
        format!("/api/v1/nonconformities/{nc}/history"),
    ] {
        assert_eq!(app.get(&intruder, &path).await.status, 404, "{path}");
    }
    let assess =
        app.post(&intruder, &format!("/api/v1/risks/{risk}/assessments"), json!({"likelihood": 1, "impact": 1})).await;
    assert_eq!(assess.status, 404);
    let close = app.post(&intruder, &format!("/api/v1/nonconformities/{nc}/closure"), json!({})).await;
    assert_eq!(close.status, 404);
    for path in ["/api/v1/risks", "/api/v1/nonconformities", "/api/v1/audit-trail", "/api/v1/events"] {
        let reply = app.get(&intruder, path).await.expect(200);
        assert_eq!(reply.body["items"], json!([]), "{path}");
    }
    let integrity = app.get(&intruder, "/api/v1/integrity").await.expect(200);
    assert_eq!(integrity.body["chain_head"]["position"], 0);
    // The intruder's own writes start their own log at position 1.
    let own = app
        .post(&intruder, "/api/v1/risks", json!({"title": "t", "category": "c", "owner": "mallory"}))
        .await
        .expect(201);
    assert_eq!(own.body["position"], 1);
    let mine = app.get(&alice, &format!("/api/v1/risks/{risk}")).await.expect(200);
    assert_eq!(mine.body["version"], 1);
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures")).join(name)
}

fn sign_with(algorithm: Algorithm, private_pem: &str, kid: Option<&str>) -> String {
    let pem = std::fs::read(fixture(private_pem)).unwrap();
    let key = match algorithm {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
        _ => EncodingKey::from_ed_pem(&pem).unwrap(),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims(), &key).unwrap()
}

async fn spawn_external(verification: isms::TokenVerification) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::serve_config(dir.path());
    config.verification = verification;
    TestApp::spawn_with(dir, config).await
}

#[tokio::test]
async fn an_external_issuers_public_key_verifies_its_tokens_and_nothing_else() {
    let app = spawn_external(isms::TokenVerification::PublicKey {
        algorithm: Algorithm::EdDSA,
        pem_file: fixture("ed25519-public.pem"),
    })
    .await;
    app.get(&sign_with(Algorithm::EdDSA, "ed25519-private.pem", None), "/api/v1/risks").await.expect(200);
    // Algorithm confusion: an HS256 token keyed with the public key's bytes.
    let public = std::fs::read(fixture("ed25519-public.pem")).unwrap();
    app.get(&sign(&public, Header::new(Algorithm::HS256), &claims()), "/api/v1/risks").await.expect(401);
    // The local secret is not accepted once an external issuer is configured.
    app.get(&app.token("alice", "acme", "isms:read"), "/api/v1/risks").await.expect(401);
    app.get(&sign_with(Algorithm::ES256, "es256-private.pem", None), "/api/v1/risks").await.expect(401);
}

#[tokio::test]
async fn a_jwks_file_picks_keys_by_kid() {
    let app = spawn_external(isms::TokenVerification::Jwks { file: fixture("jwks.json") }).await;
    app.get(&sign_with(Algorithm::ES256, "es256-private.pem", Some("test-es256")), "/api/v1/risks").await.expect(200);
    app.get(&sign_with(Algorithm::EdDSA, "ed25519-private.pem", Some("test-ed25519")), "/api/v1/risks")
        .await
        .expect(200);
    for (case, token) in [
        ("unknown kid", sign_with(Algorithm::ES256, "es256-private.pem", Some("other"))),
        ("no kid", sign_with(Algorithm::ES256, "es256-private.pem", None)),
        ("kid of another algorithm", sign_with(Algorithm::ES256, "es256-private.pem", Some("test-ed25519"))),
    ] {
        assert_eq!(app.get(&token, "/api/v1/risks").await.status, 401, "{case}");
    }
}

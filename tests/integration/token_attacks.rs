//! The JWT negative suite against the real binary, configured the way a deployment with an
//! external identity provider is (a JWKS file with ES256 and EdDSA keys) and logging JSON:
//! every forged, stale, mistyped or self-keyed token is a 401, and each refusal is logged as an
//! authentication failure without the token's text.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::serve_binary_with_json_logs;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures")).join(name)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims() -> Value {
    json!({"sub": "alice", "tenant": "acme", "scope": "isms:read", "iss": "isms-local", "aud": "isms-ledger",
           "exp": now() + 600, "nbf": now() - 5})
}

fn es256() -> EncodingKey {
    EncodingKey::from_ec_pem(&std::fs::read(fixture("es256-private.pem")).unwrap()).unwrap()
}

fn es256_header() -> Header {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("test-es256".into());
    header
}

fn sign(header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, &es256()).unwrap()
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn with(field: &str, value: Value) -> Value {
    let mut c = claims();
    c[field] = value;
    c
}

fn without(field: &str) -> Value {
    let mut c = claims();
    c.as_object_mut().unwrap().remove(field);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_token_is_a_logged_401_against_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let jwks = [("ISMS_JWT_JWKS_FILE", fixture("jwks.json").display().to_string())];
    let (mut child, base) = serve_binary_with_json_logs(&dir.path().join("data"), &log_path, &jwks).await;
    let client = reqwest::Client::new();

    let es256_public_pem = std::fs::read(fixture("es256-public.pem")).unwrap();
    let jwks: Value = serde_json::from_slice(&std::fs::read(fixture("jwks.json")).unwrap()).unwrap();
    let mut jku = es256_header();
    jku.jku = Some("https://attacker.example/jwks.json".into());
    let mut x5u = es256_header();
    x5u.x5u = Some("https://attacker.example/cert.pem".into());
    let mut embedded_jwk = es256_header();
    embedded_jwk.jwk = Some(serde_json::from_value(jwks["keys"][0].clone()).unwrap());
    let mut unknown_kid = es256_header();
    unknown_kid.kid = Some("someone-elses-key".into());
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = Some("test-es256".into());
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": "test-es256"})), b64(&claims())),
        ),
        (
            "HS256 keyed with the configured ES256 public key (algorithm confusion)",
            jsonwebtoken::encode(&confused, &claims(), &EncodingKey::from_secret(&es256_public_pem)).unwrap(),
        ),
        ("expired", sign(&es256_header(), &with("exp", json!(now() - 120)))),
        ("nbf in the future", sign(&es256_header(), &with("nbf", json!(now() + 600)))),
        ("exp as a string", sign(&es256_header(), &with("exp", json!((now() + 600).to_string())))),
        ("nbf as a string", sign(&es256_header(), &with("nbf", json!((now() + 600).to_string())))),
        ("wrong aud", sign(&es256_header(), &with("aud", json!("another-api")))),
        ("wrong iss", sign(&es256_header(), &with("iss", json!("https://attacker.example")))),
        ("missing sub", sign(&es256_header(), &without("sub"))),
        ("unknown kid", sign(&unknown_kid, &claims())),
        ("jku header", sign(&jku, &claims())),
        ("jwk header", sign(&embedded_jwk, &claims())),
        ("x5u header", sign(&x5u, &claims())),
    ];
    // The suite proves something only if a good token of the same shape passes.
    let good = client.get(format!("{base}/api/v1/risks")).bearer_auth(sign(&es256_header(), &claims())).send().await;
    assert_eq!(good.unwrap().status().as_u16(), 200, "a valid ES256 token is accepted");
    for (case, token) in &cases {
        let response = client.get(format!("{base}/api/v1/risks")).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{case}");
        assert!(response.headers().get("www-authenticate").is_some(), "{case}");
    }

    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let failures: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["event"] == "authentication_failed")
        .collect();
    assert_eq!(failures.len(), cases.len(), "one authentication failure logged per attack:\n{log}");
    for failure in &failures {
        assert_eq!(failure["target"], "security", "{failure}");
        assert_eq!(failure["fields"]["route"], "/api/v1/risks", "{failure}");
    }
    for (case, token) in &cases {
        // Neither the whole token nor its signature (the secret-like part) is ever logged.
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(token.as_str()), "{case}: the token is in the log");
        assert!(signature.len() < 8 || !log.contains(signature), "{case}: the signature is in the log");
    }
}

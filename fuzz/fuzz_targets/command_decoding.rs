//! Command decoding through the real HTTP application (in memory): the first byte picks a
//! command route of the OpenAPI document, the rest is the body. Whatever the body, the answer
//! is a 2xx or a 4xx problem — never a 5xx, never a panic.
#![no_main]

use std::sync::Arc;

use actix_web::test;
use libfuzzer_sys::fuzz_target;

type AppService =
    actix_service::boxed::BoxService<actix_http::Request, actix_web::dev::ServiceResponse, actix_web::Error>;

struct Target {
    runtime: actix_web::rt::Runtime,
    routes: Vec<String>,
    token: String,
    /// Built once: building the app also builds the whole OpenAPI document.
    service: AppService,
}

thread_local! {
    // actix's runtime is tied to its thread; libFuzzer calls the target on one thread. Leaked,
    // so no destructor runs at exit (the runtime's would touch thread-locals already gone).
    static TARGET: &'static Target = Box::leak(Box::new(build()));
}

fn build() -> Target {
    let runtime = actix_web::rt::Runtime::new().unwrap();
    let projections = Arc::new(isms_app::LiveProjections::new());
    let storage: Arc<dyn isms_store::Storage> = Arc::new(isms_store::MemoryStorage::new());
    let store = isms_store::GroupCommitStore::start(storage.clone(), projections.clone(), Default::default()).unwrap();
    let store: Arc<dyn isms_store::EventStore> = Arc::new(store);
    let signing_key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    // As `isms::start` wires them: checkpoints live outside `isms_api::app`.
    let checkpoints = actix_web::web::Data::from(Arc::new(isms_store::proofs::Checkpoints::new(
        store.clone(),
        storage,
        signing_key.clone(),
    )));
    let secret = b"fuzzing-secret-fuzzing-secret-32";
    let state = isms_api::ServerState {
        ledger: actix_web::web::Data::new(isms_app::Ledger::new(store, projections)),
        authenticator: actix_web::web::Data::new(isms_api::Authenticator::hs256(secret, "isms-local", "isms-ledger")),
        checkpoint_key: actix_web::web::Data::new(signing_key),
        access_removal: actix_web::web::Data::new(Default::default()),
        ticketing: actix_web::web::Data::new(Default::default()),
        // libFuzzer sends as fast as it can from one token: no rate limit.
        limits: actix_web::web::Data::new(isms_api::limits::Limiter::new(isms_api::limits::HttpLimits {
            rate_per_second: 0.0,
            ..Default::default()
        })),
        telemetry: actix_web::web::Data::new(Default::default()),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = isms_api::Claims {
        sub: "fuzz".into(),
        tenant: "acme".into(),
        scope: "isms:read isms:write audit:read admin".into(),
        iss: "isms-local".into(),
        aud: isms_api::auth::Audience::One("isms-ledger".into()),
        exp: now + 86_400,
        nbf: None,
        iat: None,
    };
    let token = isms_api::mint_hs256(secret, &claims).unwrap();
    // Every command of the document; path ids are a fixed UUID (unknown records answer 404
    // only after the body was decoded and validated, so decoding is exercised anyway).
    let document: serde_json::Value = serde_json::from_str(&isms_api::openapi_json()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if item.get("post").is_some() {
            let mut concrete = String::new();
            for segment in path.split('/').filter(|s| !s.is_empty()) {
                concrete.push('/');
                concrete.push_str(if segment.starts_with('{') {
                    "01930000-0000-7000-8000-000000000001"
                } else {
                    segment
                });
            }
            routes.push(concrete);
        }
    }
    let service = runtime.block_on(async {
        actix_service::boxed::service(test::init_service(isms_api::app(Some(state)).0.app_data(checkpoints)).await)
    });
    Target { runtime, routes, token, service }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    TARGET.with(|target| {
        let route = &target.routes[usize::from(selector) % target.routes.len()];
        target.runtime.block_on(async {
            let request = test::TestRequest::post()
                .uri(route)
                .insert_header(("Authorization", format!("Bearer {}", target.token)))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(body.to_vec())
                .to_request();
            let response = test::call_service(&target.service, request).await;
            assert!(
                !response.status().is_server_error(),
                "{route} answered {} to {:?}",
                response.status(),
                String::from_utf8_lossy(body)
            );
        });
    });
});

//! Property test: the store behaves like a plain in-memory model under random appends with
//! expected versions and idempotency keys, across restarts of the sled backend.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use isms_store::*;
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

struct Nothing;
impl CommitListener for Nothing {
    fn committed(&self, _: &[Envelope]) {}
}

#[derive(Debug, Clone)]
enum Step {
    Append { tenant: u8, stream: u8, expected: Expected, events: u8, key: Option<u8> },
    Restart,
}

#[derive(Debug, Clone, Copy)]
enum Expected {
    Any,
    NoStream,
    Exact(u64),
}

fn step() -> impl Strategy<Value = Step> {
    let expected = prop_oneof![Just(Expected::Any), Just(Expected::NoStream), (0u64..4).prop_map(Expected::Exact)];
    prop_oneof![
        9 => (0u8..2, 0u8..3, expected, 1u8..4, proptest::option::of(0u8..4))
            .prop_map(|(tenant, stream, expected, events, key)| Step::Append { tenant, stream, expected, events, key }),
        1 => Just(Step::Restart),
    ]
}

/// What the store should hold: per tenant, the (stream, payload) of every event in order.
#[derive(Default)]
struct Model {
    log: HashMap<u8, Vec<(u8, u64)>>,
    versions: HashMap<(u8, u8), u64>,
    keys: HashSet<(u8, u8)>,
}

fn tenant_id(tenant: u8) -> TenantId {
    TenantId::parse(&format!("tenant-{tenant}")).unwrap()
}

fn open(dir: &std::path::Path) -> (Arc<dyn Storage>, GroupCommitStore) {
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir).unwrap());
    let store = GroupCommitStore::start(storage.clone(), Arc::new(Nothing), WriterConfig::default()).unwrap();
    (storage, store)
}

fn run(steps: Vec<Step>) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut storage, mut store) = open(dir.path());
    let mut model = Model::default();
    let mut payload = 0u64;
    for step in steps {
        match step {
            Step::Restart => {
                store.shutdown();
                drop(store);
                drop(storage);
                (storage, store) = open(dir.path());
                assert!(chain::verify_all(storage.as_ref(), true).unwrap().is_ok(), "chain verifies after restart");
            }
            Step::Append { tenant, stream, expected, events, key } => {
                let current = model.versions.get(&(tenant, stream)).copied().unwrap_or(0);
                let first_payload = payload;
                let request = AppendRequest {
                    tenant: tenant_id(tenant),
                    stream: StreamRef::new("risk", format!("s{stream}")),
                    expected: match expected {
                        Expected::Any => ExpectedVersion::Any,
                        Expected::NoStream => ExpectedVersion::NoStream,
                        Expected::Exact(v) => ExpectedVersion::Exact(v),
                    },
                    events: (0..events)
                        .map(|i| NewEvent {
                            event_type: "E".into(),
                            schema_version: 1,
                            data: json!({"n": first_payload + u64::from(i)}),
                            effective_at: None,
                        })
                        .collect(),
                    meta: CommandMeta {
                        actor: "model".into(),
                        correlation_id: Uuid::now_v7(),
                        causation_id: None,
                        source: None,
                        idempotency: key.map(|k| IdempotencyClaim {
                            key: format!("k{k}"),
                            fingerprint: "f".into(),
                            status: 200,
                        }),
                    },
                };
                let outcome = runtime.block_on(store.append(request));
                let version_ok = match expected {
                    Expected::Any => true,
                    Expected::NoStream => current == 0,
                    Expected::Exact(v) => v == current,
                };
                let key_taken = key.is_some_and(|k| model.keys.contains(&(tenant, k)));
                match outcome {
                    Ok(appended) => {
                        assert!(version_ok && !key_taken, "append accepted against the model");
                        assert_eq!(appended.version(), current + u64::from(events));
                        let log = model.log.entry(tenant).or_default();
                        for i in 0..u64::from(events) {
                            log.push((stream, first_payload + i));
                        }
                        assert_eq!(appended.position(), log.len() as u64);
                        model.versions.insert((tenant, stream), current + u64::from(events));
                        if let Some(k) = key {
                            model.keys.insert((tenant, k));
                        }
                        payload += u64::from(events);
                    }
                    Err(AppendError::Conflict { actual, .. }) => {
                        assert!(!version_ok, "conflict only on a version mismatch");
                        assert_eq!(actual, current);
                    }
                    Err(AppendError::DuplicateIdempotencyKey(_)) => assert!(version_ok && key_taken),
                    Err(other) => panic!("unexpected {other}"),
                }
            }
        }
        // After every step the store's log equals the model's, tenant by tenant: the whole log,
        // each stream in version order, the chain head, and which idempotency keys are taken.
        for tenant in 0..2u8 {
            let log = model.log.get(&tenant).map_or(&[][..], Vec::as_slice);
            let head = store.head(&tenant_id(tenant)).unwrap();
            assert_eq!(head.position, log.len() as u64, "the head is the model's last position");
            for stream in 0..3u8 {
                let events = store.read_stream(&tenant_id(tenant), &StreamRef::new("risk", format!("s{stream}")), None);
                let payloads: Vec<u64> = events.unwrap().iter().map(|e| e.data["n"].as_u64().unwrap()).collect();
                let expected: Vec<u64> = log.iter().filter(|(s, _)| *s == stream).map(|(_, n)| *n).collect();
                assert_eq!(payloads, expected, "stream s{stream} in version order");
                let version = model.versions.get(&(tenant, stream)).copied().unwrap_or(0);
                assert_eq!(payloads.len() as u64, version);
            }
            for key in 0..4u8 {
                let record = store.idempotency(&tenant_id(tenant), "model", &format!("k{key}")).unwrap();
                assert_eq!(record.is_some(), model.keys.contains(&(tenant, key)), "key k{key} taken as in the model");
            }
            let stored: Vec<(u8, u64)> = store
                .read_all(&tenant_id(tenant), 0, 10_000)
                .unwrap()
                .iter()
                .map(|e| (e.stream_id[1..].parse().unwrap(), e.data["n"].as_u64().unwrap()))
                .collect();
            assert_eq!(&stored, model.log.get(&tenant).unwrap_or(&Vec::new()));
        }
    }
    store.shutdown();
}

/// 24 cases in CI; `PROPTEST_CASES=1000` for the long run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]
    #[test]
    fn the_store_matches_a_simple_model(steps in proptest::collection::vec(step(), 1..40)) {
        run(steps);
    }
}

//! One contract, run against every storage backend.

use std::sync::{Arc, Mutex};

use isms_store::*;
use serde_json::json;
use uuid::Uuid;

#[derive(Default)]
struct Recorder(Mutex<Vec<Position>>);

impl CommitListener for Recorder {
    fn committed(&self, events: &[Envelope]) {
        self.0.lock().unwrap().extend(events.iter().map(|e| e.position));
    }
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn request(tenant_name: &str, stream_id: &str, expected: ExpectedVersion, count: usize) -> AppendRequest {
    AppendRequest {
        tenant: tenant(tenant_name),
        stream: StreamRef::new("risk", stream_id),
        expected,
        events: (0..count)
            .map(|i| NewEvent {
                event_type: "RiskIdentified".into(),
                schema_version: 1,
                data: json!({"n": i}),
                // Events of one append may state different business times, or none.
                effective_at: (i % 2 == 1).then(|| detected_on_new_years_eve() + chrono::Duration::hours(i as i64)),
            })
            .collect(),
        meta: CommandMeta {
            actor: "alice".into(),
            correlation_id: Uuid::now_v7(),
            causation_id: None,
            source: None,
            idempotency: None,
        },
    }
}

fn detected_on_new_years_eve() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2025-12-31T22:00:00Z").unwrap().to_utc()
}

async fn contract(storage: Arc<dyn Storage>) {
    let recorder = Arc::new(Recorder::default());
    let store = GroupCommitStore::start(storage.clone(), recorder.clone(), WriterConfig::default()).unwrap();

    // Expected versions are enforced atomically.
    let first = store.append(request("acme", "r1", ExpectedVersion::NoStream, 2)).await.unwrap();
    assert_eq!((first.version(), first.position()), (2, 2));
    let stored = store.read_stream(&tenant("acme"), &StreamRef::new("risk", "r1"), None).unwrap();
    let effective: Vec<_> = stored.iter().map(|e| e.effective_at).collect();
    assert_eq!(effective, [None, Some(detected_on_new_years_eve() + chrono::Duration::hours(1))]);
    assert!(stored.iter().all(|e| chain::envelope_hash(e) == e.hash));
    let conflict = store.append(request("acme", "r1", ExpectedVersion::NoStream, 1)).await.unwrap_err();
    assert!(matches!(conflict, AppendError::Conflict { actual: 2, .. }));
    let conflict = store.append(request("acme", "r1", ExpectedVersion::Exact(1), 1)).await.unwrap_err();
    assert!(matches!(conflict, AppendError::Conflict { actual: 2, .. }));
    store.append(request("acme", "r1", ExpectedVersion::Exact(2), 1)).await.unwrap();
    store.append(request("acme", "r1", ExpectedVersion::Any, 1)).await.unwrap();

    // Tenants have their own positions and chains and never see each other's events.
    let other = store.append(request("globex", "r1", ExpectedVersion::NoStream, 1)).await.unwrap();
    assert_eq!(other.position(), 1);
    assert_eq!(store.read_stream(&tenant("globex"), &StreamRef::new("risk", "r1"), None).unwrap().len(), 1);
    assert_eq!(store.read_stream(&tenant("acme"), &StreamRef::new("risk", "r1"), None).unwrap().len(), 4);
    assert!(store.read_all(&tenant("acme"), 0, 100).unwrap().iter().all(|e| e.tenant.as_str() == "acme"));

    // 64 concurrent appenders: gapless positions, nothing lost or doubled.
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for writer in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for round in 0..10 {
                let appended = store
                    .append(request("acme", &format!("s{writer}-{round}"), ExpectedVersion::NoStream, 1))
                    .await
                    .unwrap();
                positions.push(appended.position());
            }
            positions
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    acknowledged.sort_unstable();
    assert_eq!(acknowledged, (5..=644).collect::<Vec<_>>());
    let all = store.read_all(&tenant("acme"), 0, 10_000).unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), (1..=644).collect::<Vec<_>>());
    assert!(all.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at && w[1].prev_hash == w[0].hash));
    assert_eq!(store.head(&tenant("acme")).unwrap().hash, all.last().unwrap().hash);
    let committed = recorder.0.lock().unwrap().clone();
    assert_eq!(committed.len(), 645, "the listener saw every event once");

    // Time travel lookups.
    let third = &all[2];
    let recorded_by_then = all.iter().filter(|e| e.recorded_at <= third.recorded_at).count() as u64;
    assert_eq!(store.position_at(&tenant("acme"), third.recorded_at).unwrap(), recorded_by_then);
    assert_eq!(store.position_at(&tenant("acme"), chrono::DateTime::<chrono::Utc>::UNIX_EPOCH).unwrap(), 0);

    // Idempotency records land with their events, and a key cannot be claimed twice.
    let mut keyed = request("acme", "k1", ExpectedVersion::NoStream, 1);
    keyed.meta.idempotency = Some(IdempotencyClaim { key: "key-1".into(), fingerprint: "f".into(), status: 201 });
    let appended = store.append(keyed.clone()).await.unwrap();
    let record = store.idempotency(&tenant("acme"), "alice", "key-1").unwrap().unwrap();
    assert_eq!((record.position, record.status), (appended.position(), 201));
    keyed.stream = StreamRef::new("risk", "k2");
    assert!(matches!(store.append(keyed).await.unwrap_err(), AppendError::DuplicateIdempotencyKey(_)));

    // Background verification covers exactly the durable events and advances the marks.
    assert_eq!(store.verify_new_events().unwrap(), 646);
    assert_eq!(store.verified(&tenant("acme")).unwrap().unwrap().position, 645);
    assert_eq!(store.verify_new_events().unwrap(), 0);
    match chain::verify_all(storage.as_ref(), true).unwrap() {
        Ok(reports) => assert_eq!(reports.len(), 2),
        Err(broken) => panic!("{broken}"),
    }
    store.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_keeps_the_contract() {
    contract(Arc::new(MemoryStorage::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_backend_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(SledStorage::open(dir.path()).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_events_survive_reopening_and_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path()).unwrap());
        let store = GroupCommitStore::start(storage, Arc::new(Recorder::default()), WriterConfig::default()).unwrap();
        for i in 0..5 {
            store.append(request("acme", &format!("r{i}"), ExpectedVersion::NoStream, 1)).await.unwrap();
        }
        // A second open of the same directory is refused while the first holds it.
        assert!(matches!(SledStorage::open(dir.path()), Err(StoreError::Locked(_))));
    }
    {
        let storage = SledStorage::open(dir.path()).unwrap();
        assert_eq!(storage.last_event(&tenant("acme")).unwrap().unwrap().position, 5);
        assert!(chain::verify_all(&storage, true).unwrap().is_ok());
    }
    // Flip the actor of position 3 directly in sled.
    {
        let db = sled::open(dir.path()).unwrap();
        let (key, value) = db
            .iter()
            .map(|e| e.unwrap())
            .find(|(_, v)| serde_json::from_slice::<Envelope>(v).map(|e| e.position == 3).unwrap_or(false))
            .unwrap();
        let tampered = String::from_utf8(value.to_vec()).unwrap().replace("\"alice\"", "\"mallory\"");
        db.insert(key, tampered.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let storage = SledStorage::open(dir.path()).unwrap();
    let broken = chain::verify_all(&storage, true).unwrap().unwrap_err();
    assert_eq!(broken.position, 3);
    assert!(broken.to_string().contains("position 3"));
}

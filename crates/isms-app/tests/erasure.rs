//! Erasure over the application with an in-memory log: the log holds only ciphertext, the
//! live registers and a replay cached before the erasure forget the person, and a rebuild
//! from the log with the same keys gives the live registers again.

use std::sync::Arc;

use chrono::NaiveDate;
use isms_app::{CommandContext, Creation, Ledger, LiveProjections, ReadPoint};
use isms_domain::people::{Person, PersonJoined, PersonProfile};
use isms_domain::Actor;
use isms_store::{GroupCommitStore, MemoryStorage, Storage, TenantId, WriterConfig};
use uuid::Uuid;

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn context() -> CommandContext {
    CommandContext {
        tenant: acme(),
        actor: Actor { subject: "alice".into(), is_admin: true },
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        idempotency: None,
        if_match: None,
        source: None,
    }
}

fn display_name(ledger: &Ledger, person: Uuid, point: ReadPoint) -> String {
    let (name, _) = ledger
        .with_registers(&acme(), point, |registers, _| {
            registers.people[&person].state.profile.as_ref().unwrap().display_name.clone()
        })
        .unwrap();
    name
}

#[tokio::test]
async fn an_erasure_wipes_live_registers_and_cached_replays_and_the_log_holds_no_plaintext() {
    let projections = Arc::new(LiveProjections::new());
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let store = Arc::new(GroupCommitStore::start(storage, projections.clone(), WriterConfig::default()).unwrap());
    let ledger = Ledger::new(store.clone(), projections.clone());
    let person = Uuid::now_v7();
    let joined = PersonJoined {
        user_name: "zq".into(),
        external_id: None,
        profile: PersonProfile {
            display_name: "Zebedee Quuxworth".into(),
            email: None,
            department: "dev".into(),
            role: "tuba".into(),
            manager_id: None,
        },
    };
    let id = person.to_string();
    ledger
        .execute::<Person>(&context(), &id, Creation::NewStream, Person::exists, |p| p.join(joined.clone(), None))
        .await
        .unwrap();
    let left_on = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let left = ledger
        .execute::<Person>(&context(), &id, Creation::ExistingStream, Person::exists, |p| {
            p.leave(left_on, isms_domain::access_removal::AccessRemovalPlan::new(left_on, 5, &[]))
        })
        .await
        .unwrap();
    let before = ReadPoint::Position(left.entry.position);
    assert_eq!(display_name(&ledger, person, ReadPoint::Latest), "Zebedee Quuxworth");
    assert_eq!(display_name(&ledger, person, before), "Zebedee Quuxworth", "this replay is now cached");
    let stored = ledger.log().read_all(&acme(), 0, 10).unwrap();
    assert!(stored.iter().all(|e| !e.data.to_string().contains("Quuxworth")), "the log holds ciphertext only");

    ledger.execute::<Person>(&context(), &id, Creation::ExistingStream, Person::exists, Person::erase).await.unwrap();
    assert_eq!(display_name(&ledger, person, ReadPoint::Latest), "[erased]");
    assert_eq!(display_name(&ledger, person, before), "[erased]", "the cached replay was dropped");

    let rebuilt = LiveProjections::with_keys(projections.keys().clone());
    rebuilt.rebuild(store.as_ref()).unwrap();
    let live = projections.tenant(&acme()).unwrap().read().unwrap().clone();
    assert_eq!(*rebuilt.tenant(&acme()).unwrap().read().unwrap(), live);
}

//! The audit trail's causal and bitemporal filters and the per-actor activity, over the
//! application with an in-memory log.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use isms_app::{AuditFilter, CommandContext, Creation, Ledger, LiveProjections, ReadPoint};
use isms_domain::nonconformity::{Nonconformity, NonconformityRaised, NonconformitySource, Severity};
use isms_domain::Actor;
use isms_store::{Envelope, EventStore, GroupCommitStore, MemoryStorage, Storage, StreamRef, TenantId, WriterConfig};
use uuid::Uuid;

fn ledger() -> Ledger {
    let projections = Arc::new(LiveProjections::new());
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let store = GroupCommitStore::start(storage, projections.clone(), WriterConfig::default()).unwrap();
    let store: Arc<dyn EventStore> = Arc::new(store);
    Ledger::new(store, projections)
}

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// Raises a nonconformity detected at `detected_at` as `actor`, caused by `cause`; its event.
async fn raise(ledger: &Ledger, actor: &str, cause: Option<Uuid>, detected_at: DateTime<Utc>) -> Envelope {
    let context = CommandContext {
        tenant: acme(),
        actor: Actor { subject: actor.into(), is_admin: false },
        correlation_id: Uuid::now_v7(),
        causation_id: cause,
        idempotency: None,
        if_match: None,
        source: None,
    };
    let raised = NonconformityRaised {
        title: "Backups never restored".into(),
        description: String::new(),
        source: NonconformitySource::InternalAudit,
        severity: Severity::Minor,
        reference: None,
        detected_at,
    };
    let id = Uuid::now_v7().to_string();
    ledger
        .execute::<Nonconformity>(&context, &id, Creation::NewStream, Nonconformity::exists, |nc| {
            nc.raise(raised.clone())
        })
        .await
        .unwrap();
    let (events, _) = ledger.history(&acme(), &StreamRef::new("nonconformity", id), ReadPoint::Latest).unwrap();
    events.into_iter().next().unwrap()
}

fn ids(events: &[Envelope]) -> Vec<Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

#[tokio::test]
async fn caused_by_follows_causation_transitively_and_pages() {
    let ledger = ledger();
    let now = Utc::now();
    let root = raise(&ledger, "carol", None, now).await;
    let unrelated = raise(&ledger, "carol", None, now).await;
    let child = raise(&ledger, "policy", Some(root.event_id), now).await;
    raise(&ledger, "policy", Some(unrelated.event_id), now).await;
    let grandchild = raise(&ledger, "policy", Some(child.event_id), now).await;

    let filter = AuditFilter { caused_by: Some(root.event_id), ..Default::default() };
    let (all, next) = ledger.audit_trail(&acme(), &filter, 0, 50).unwrap();
    assert_eq!((ids(&all), next), (vec![child.event_id, grandchild.event_id], None));

    let (first, next) = ledger.audit_trail(&acme(), &filter, 0, 1).unwrap();
    assert_eq!(ids(&first), [child.event_id]);
    let (second, _) = ledger.audit_trail(&acme(), &filter, next.unwrap(), 1).unwrap();
    assert_eq!(ids(&second), [grandchild.event_id]);

    let leaf = AuditFilter { caused_by: Some(grandchild.event_id), ..Default::default() };
    assert!(ledger.audit_trail(&acme(), &leaf, 0, 50).unwrap().0.is_empty());
    let unknown = AuditFilter { caused_by: Some(Uuid::now_v7()), ..Default::default() };
    assert!(ledger.audit_trail(&acme(), &unknown, 0, 50).unwrap().0.is_empty());
}

#[tokio::test]
async fn effective_time_filters_read_business_time_and_fall_back_to_recorded_time() {
    let ledger = ledger();
    let now = Utc::now();
    let last_week = raise(&ledger, "carol", None, now - Duration::days(7)).await;
    let today = raise(&ledger, "carol", None, now).await;
    assert_eq!(last_week.effective_at, Some(now - Duration::days(7)));

    let backdated = AuditFilter { backdated: Some(true), ..Default::default() };
    assert_eq!(ids(&ledger.audit_trail(&acme(), &backdated, 0, 50).unwrap().0), [last_week.event_id]);
    let on_time = AuditFilter { backdated: Some(false), ..Default::default() };
    assert_eq!(ids(&ledger.audit_trail(&acme(), &on_time, 0, 50).unwrap().0), [today.event_id]);

    let before_yesterday = AuditFilter { effective_to: Some(now - Duration::days(1)), ..Default::default() };
    assert_eq!(ids(&ledger.audit_trail(&acme(), &before_yesterday, 0, 50).unwrap().0), [last_week.event_id]);
    let since_yesterday = AuditFilter { effective_from: Some(now - Duration::days(1)), ..Default::default() };
    assert_eq!(ids(&ledger.audit_trail(&acme(), &since_yesterday, 0, 50).unwrap().0), [today.event_id]);
    // Recorded time is another axis: both were recorded just now.
    let recorded_since_yesterday = AuditFilter { from: Some(now - Duration::days(1)), ..Default::default() };
    assert_eq!(ledger.audit_trail(&acme(), &recorded_since_yesterday, 0, 50).unwrap().0.len(), 2);

    // A record takes effect at the first business time its events state.
    let (entry, _) = ledger.record::<Nonconformity>(&acme(), &last_week.stream_id, ReadPoint::Latest).unwrap();
    assert_eq!(entry.unwrap().effective_time(), now - Duration::days(7));
}

#[tokio::test]
async fn actor_activity_counts_one_subjects_events() {
    let ledger = ledger();
    let now = Utc::now();
    raise(&ledger, "carol", None, now).await;
    raise(&ledger, "dave", None, now).await;
    let last = raise(&ledger, "carol", None, now).await;
    let activity = ledger.actor_activity(&acme(), "carol", None, None, 1).unwrap();
    assert_eq!(activity.events, 2);
    assert_eq!(activity.by_event_type.get("NonconformityRaised"), Some(&2));
    assert_eq!(activity.by_stream_type.get("nonconformity"), Some(&2));
    assert_eq!(activity.last_at, Some(last.recorded_at));
    assert_eq!(ids(&activity.latest), [last.event_id]);
    let nobody = ledger.actor_activity(&acme(), "mallory", None, None, 20).unwrap();
    assert_eq!((nobody.events, nobody.first_at, nobody.latest.len()), (0, None, 0));
}

//! Subscriptions, the durable outbox, the dispatcher and the delivery worker.
//!
//! Everything here lives in its own sled tree of the event database, outside the hash chain:
//! secrets must stay erasable, and delivery bookkeeping is not part of the ISMS record.
//!
//! | tag | key | value |
//! |-----|-----|-------|
//! | `W` | tenant, subscription | [`Subscription`] JSON (with its secrets) |
//! | `C` | tenant, subscription | cursor: last position dispatched (u64) |
//! | `D` | tenant, subscription, position | [`Delivery`] JSON (the delivery log) |
//! | `O` | due (ms), tenant, subscription, position | [`OutboxEntry`] JSON (what to attempt when) |
//!
//! The dispatcher advances a subscription's cursor and enqueues the deliveries it passed in
//! one atomic batch, so an event is enqueued exactly once per subscription. The worker takes
//! due entries by moving them forward to a lease time first, so an attempt cut short by a
//! crash is retried; at start-up leases are made due again. A pending delivery has exactly
//! one outbox entry, at its `next_attempt_at`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use isms_store::{EventStore, Position, Storage, StoreError, TenantId};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify, Semaphore};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cloudevent::{cloud_event_type, CloudEvent, TypeFilter};
use crate::lifecycle::{record as record_change, Change, SYSTEM_ACTOR};
use crate::settings::WebhookSettings;
use crate::signing::{generate_secret, secret_key, sign};
use crate::ssrf::{resolver, Guard};

const SUBSCRIPTION: u8 = b'W';
const CURSOR: u8 = b'C';
const DELIVERY: u8 = b'D';
const OUTBOX: u8 = b'O';
/// Events the dispatcher reads per step.
const DISPATCH_CHUNK: usize = 256;
/// Attempts kept in a delivery's log (the oldest are dropped; `attempt_count` keeps counting).
const KEPT_ATTEMPTS: usize = 20;
/// The longest `Retry-After` honoured, so a receiver cannot park a delivery indefinitely.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How long the worker sleeps at most, so it notices a stopped service.
const IDLE_WAKE: Duration = Duration::from_secs(2);

/// A signing secret. Several are valid while a rotated-out one is in its grace period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningSecret {
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// When a rotated-out secret stops signing; `None` for the current one.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub id: Uuid,
    pub tenant: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub disabled_reason: Option<String>,
    /// Current first.
    pub secrets: Vec<SigningSecret>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Subscription {
    fn signing_keys(&self, now: DateTime<Utc>) -> Vec<Vec<u8>> {
        self.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|until| until > now))
            .filter_map(|s| secret_key(&s.secret).ok())
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for the subscription to be activated again).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up: every retry failed, or the endpoint answered 410 Gone.
    Failed,
}

/// One try to deliver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed without an answer (refused address, timeout, connection error).
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// One event for one subscription, with every attempt to deliver it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// The `webhook-id` header: the same on every attempt and on manual redelivery.
    #[schema(example = "msg_0193c7e0000070008000000000000002")]
    pub id: String,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    /// The CloudEvents type.
    pub event_type: String,
    pub position: Position,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    /// The most recent attempts (at most 20), oldest first.
    pub attempts: Vec<Attempt>,
    /// When pending: when the next attempt is due (absent while the subscription is inactive).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Retries of the schedule used since the delivery was (re)queued.
    pub retries_used: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutboxEntry {
    tenant: String,
    subscription: Uuid,
    position: Position,
    /// Taken by a worker whose attempt has not been recorded yet.
    #[serde(default)]
    leased: bool,
}

/// What creating a subscription needs; the URL is already checked by [`Guard::check_url`].
#[derive(Debug, Clone)]
pub struct NewSubscription {
    /// Drawn by the caller, so the change can be recorded in the log before it is made.
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// `None`: generate one.
    pub secret: Option<String>,
    pub active: bool,
    /// Deliver events after this position; `None`: only events recorded from now on.
    pub after_position: Option<Position>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no such webhook subscription")]
    NotFound,
    #[error("no such delivery")]
    DeliveryNotFound,
    #[error("the delivery is still pending; it will be attempted at its next_attempt_at")]
    DeliveryPending,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Delivery counters since start, for `/metrics`.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    pub enqueued: AtomicU64,
    pub attempts: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub given_up: AtomicU64,
    pub disabled_by_gone: AtomicU64,
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("undecodable webhook {what}: {error}"))
}

fn io(error: sled::Error) -> StoreError {
    StoreError::Io(error.to_string())
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("webhook records serialize")
}

fn tenant_part(tag: u8, tenant: &str) -> Vec<u8> {
    let mut key = vec![tag];
    let len = u16::try_from(tenant.len()).unwrap_or(u16::MAX);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(&tenant.as_bytes()[..usize::from(len)]);
    key
}

fn subscription_key(tag: u8, tenant: &str, id: Uuid) -> Vec<u8> {
    let mut key = tenant_part(tag, tenant);
    key.extend_from_slice(id.as_bytes());
    key
}

fn delivery_key(tenant: &str, id: Uuid, position: Position) -> Vec<u8> {
    let mut key = subscription_key(DELIVERY, tenant, id);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

fn outbox_key(due: DateTime<Utc>, entry: &OutboxEntry) -> Vec<u8> {
    let mut key = vec![OUTBOX];
    key.extend_from_slice(&(due.timestamp_millis().max(0) as u64).to_be_bytes());
    key.extend_from_slice(&subscription_key(OUTBOX, &entry.tenant, entry.subscription)[1..]);
    key.extend_from_slice(&entry.position.to_be_bytes());
    key
}

/// Milliseconds, the outbox's resolution, so a delivery's `next_attempt_at` names its key.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    millis(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1)))
}

pub struct Webhooks {
    tree: sled::Tree,
    storage: Arc<dyn Storage>,
    events: Arc<dyn EventStore>,
    settings: WebhookSettings,
    guard: Guard,
    /// Serializes read-modify-write of delivery records between the API, dispatcher and worker.
    lock: Mutex<()>,
    wake_worker: Arc<Notify>,
    wake_dispatcher: Arc<Notify>,
    counters: Arc<DeliveryCounters>,
}

impl Webhooks {
    /// Opens the webhook tree. Leases left by an earlier run are made due now: their attempts
    /// were cut short.
    pub fn open(
        tree: sled::Tree,
        storage: Arc<dyn Storage>,
        events: Arc<dyn EventStore>,
        settings: WebhookSettings,
    ) -> Result<Arc<Self>, StoreError> {
        let guard = Guard::new(&settings.allow_hosts);
        let service = Self {
            tree,
            storage,
            events,
            settings,
            guard,
            lock: Mutex::new(()),
            wake_worker: Arc::new(Notify::new()),
            wake_dispatcher: Arc::new(Notify::new()),
            counters: Arc::default(),
        };
        service.release_leases()?;
        Ok(Arc::new(service))
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    pub fn counters(&self) -> Arc<DeliveryCounters> {
        self.counters.clone()
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn durable(&self) -> Result<(), StoreError> {
        self.storage.sync()
    }

    fn read<T: serde::de::DeserializeOwned>(&self, what: &str, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.tree.get(key).map_err(io)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| corrupt(what, e)),
            None => Ok(None),
        }
    }

    fn release_leases(&self) -> Result<(), StoreError> {
        let now = millis(Utc::now());
        let mut batch = sled::Batch::default();
        for item in self.tree.scan_prefix([OUTBOX]) {
            let (key, value) = item.map_err(io)?;
            let mut entry: OutboxEntry = serde_json::from_slice(&value).map_err(|e| corrupt("outbox entry", e))?;
            if !entry.leased {
                continue;
            }
            entry.leased = false;
            batch.remove(key);
            let dkey = delivery_key(&entry.tenant, entry.subscription, entry.position);
            if let Some(mut delivery) = self.read::<Delivery>("delivery", &dkey)? {
                delivery.next_attempt_at = Some(now);
                batch.insert(dkey, encode(&delivery));
            }
            batch.insert(outbox_key(now, &entry), encode(&entry));
        }
        self.tree.apply_batch(batch).map_err(io)?;
        self.durable()
    }

    /// Starts the dispatcher and the worker on the current tokio runtime. They hold the
    /// service weakly and end once it is dropped (or the durable-head signal closes).
    pub fn spawn(self: &Arc<Self>, head: watch::Receiver<u64>) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(resolver(&self.guard))
            .connect_timeout(self.settings.connect_timeout)
            .timeout(self.settings.request_timeout)
            .user_agent(concat!("isms-ledger-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        tokio::spawn(run_dispatcher(Arc::downgrade(self), head, self.wake_dispatcher.clone()));
        let permits = Arc::new(Semaphore::new(self.settings.max_concurrent_deliveries.max(1)));
        tokio::spawn(run_worker(Arc::downgrade(self), client, self.wake_worker.clone(), permits));
        Ok(())
    }

    // ---- subscriptions (the API) ----

    pub fn create(
        &self,
        tenant: &TenantId,
        actor: &str,
        new: NewSubscription,
    ) -> Result<(Subscription, String), WebhookError> {
        let now = Utc::now();
        let secret = new.secret.unwrap_or_else(generate_secret);
        let head = self.events.head(tenant)?.position;
        let cursor = new.after_position.map_or(head, |p| p.min(head));
        let subscription = Subscription {
            id: new.id,
            tenant: tenant.to_string(),
            url: new.url,
            event_types: new.event_types,
            description: new.description,
            active: new.active,
            disabled_reason: None,
            secrets: vec![SigningSecret { secret: secret.clone(), created_at: now, expires_at: None }],
            created_at: now,
            created_by: actor.to_owned(),
            updated_at: now,
        };
        let mut batch = sled::Batch::default();
        batch.insert(subscription_key(SUBSCRIPTION, tenant.as_str(), subscription.id), encode(&subscription));
        batch.insert(subscription_key(CURSOR, tenant.as_str(), subscription.id), &cursor.to_be_bytes());
        self.tree.apply_batch(batch).map_err(io)?;
        self.durable()?;
        self.wake_dispatcher.notify_one();
        Ok((subscription, secret))
    }

    pub fn list(&self, tenant: &TenantId) -> Result<Vec<Subscription>, WebhookError> {
        let mut subscriptions = Vec::new();
        for item in self.tree.scan_prefix(tenant_part(SUBSCRIPTION, tenant.as_str())) {
            let (_, value) = item.map_err(io)?;
            subscriptions.push(serde_json::from_slice(&value).map_err(|e| corrupt("subscription", e))?);
        }
        Ok(subscriptions)
    }

    pub fn get(&self, tenant: &TenantId, id: Uuid) -> Result<Subscription, WebhookError> {
        self.read("subscription", &subscription_key(SUBSCRIPTION, tenant.as_str(), id))?.ok_or(WebhookError::NotFound)
    }

    /// The position up to which events were handed to the outbox.
    pub fn cursor(&self, tenant: &TenantId, id: Uuid) -> Result<Position, WebhookError> {
        Ok(self.read_cursor(tenant.as_str(), id)?)
    }

    fn read_cursor(&self, tenant: &str, id: Uuid) -> Result<Position, StoreError> {
        let bytes = self.tree.get(subscription_key(CURSOR, tenant, id)).map_err(io)?;
        Ok(bytes.and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok()).map_or(0, u64::from_be_bytes))
    }

    /// Removes the subscription, its secrets and its delivery log. Queued attempts are dropped
    /// when they come due.
    pub fn delete(&self, tenant: &TenantId, id: Uuid) -> Result<(), WebhookError> {
        let _guard = self.locked();
        self.get(tenant, id)?;
        let mut batch = sled::Batch::default();
        batch.remove(subscription_key(SUBSCRIPTION, tenant.as_str(), id));
        batch.remove(subscription_key(CURSOR, tenant.as_str(), id));
        for item in self.tree.scan_prefix(subscription_key(DELIVERY, tenant.as_str(), id)) {
            batch.remove(item.map_err(io)?.0);
        }
        self.tree.apply_batch(batch).map_err(io)?;
        Ok(self.durable()?)
    }

    fn update(
        &self,
        tenant: &TenantId,
        id: Uuid,
        change: impl FnOnce(&mut Subscription),
    ) -> Result<Subscription, WebhookError> {
        let mut subscription = self.get(tenant, id)?;
        change(&mut subscription);
        subscription.updated_at = Utc::now();
        self.tree.insert(subscription_key(SUBSCRIPTION, tenant.as_str(), id), encode(&subscription)).map_err(io)?;
        Ok(subscription)
    }

    /// Activates or deactivates. While inactive nothing is attempted and the cursor waits;
    /// on activation the backlog is delivered.
    pub fn set_active(&self, tenant: &TenantId, id: Uuid, active: bool) -> Result<Subscription, WebhookError> {
        let _guard = self.locked();
        let subscription = self.update(tenant, id, |s| {
            s.active = active;
            if active {
                s.disabled_reason = None;
            }
        })?;
        if active {
            let now = millis(Utc::now());
            let mut batch = sled::Batch::default();
            for item in self.tree.scan_prefix(subscription_key(DELIVERY, tenant.as_str(), id)) {
                let (key, value) = item.map_err(io)?;
                let mut delivery: Delivery = serde_json::from_slice(&value).map_err(|e| corrupt("delivery", e))?;
                if delivery.status == DeliveryStatus::Pending && delivery.next_attempt_at.is_none() {
                    delivery.next_attempt_at = Some(now);
                    batch.insert(
                        outbox_key(now, &entry_of(tenant.as_str(), &delivery)),
                        encode(&entry_of(tenant.as_str(), &delivery)),
                    );
                    batch.insert(key, encode(&delivery));
                }
            }
            self.tree.apply_batch(batch).map_err(io)?;
        }
        self.durable()?;
        self.wake_dispatcher.notify_one();
        self.wake_worker.notify_one();
        Ok(subscription)
    }

    /// Starts signing with a new secret; the old ones keep signing until the grace period ends.
    pub fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: Uuid,
        secret: Option<String>,
    ) -> Result<(Subscription, String), WebhookError> {
        let _guard = self.locked();
        let now = Utc::now();
        let secret = secret.unwrap_or_else(generate_secret);
        let until = after(now, self.settings.rotation_grace);
        let subscription = self.update(tenant, id, |s| {
            s.secrets.retain(|old| old.expires_at.is_none_or(|end| end > now));
            for old in &mut s.secrets {
                old.expires_at = Some(old.expires_at.map_or(until, |end| end.min(until)));
            }
            s.secrets.insert(0, SigningSecret { secret: secret.clone(), created_at: now, expires_at: None });
        })?;
        self.durable()?;
        Ok((subscription, secret))
    }

    /// The delivery log, newest first: up to `limit` deliveries before position `before`.
    pub fn deliveries(
        &self,
        tenant: &TenantId,
        id: Uuid,
        before: Option<Position>,
        limit: usize,
    ) -> Result<Vec<Delivery>, WebhookError> {
        self.get(tenant, id)?;
        let start = delivery_key(tenant.as_str(), id, 0);
        let end = delivery_key(tenant.as_str(), id, before.unwrap_or(Position::MAX));
        let mut deliveries = Vec::new();
        for item in self.tree.range(start..end).rev().take(limit) {
            let (_, value) = item.map_err(io)?;
            deliveries.push(serde_json::from_slice(&value).map_err(|e| corrupt("delivery", e))?);
        }
        Ok(deliveries)
    }

    /// Queues a finished delivery again (same `webhook-id`), with a fresh retry schedule.
    pub fn redeliver(&self, tenant: &TenantId, id: Uuid, delivery_id: &str) -> Result<Delivery, WebhookError> {
        let _guard = self.locked();
        self.get(tenant, id)?;
        let mut found = None;
        for item in self.tree.scan_prefix(subscription_key(DELIVERY, tenant.as_str(), id)).rev() {
            let (key, value) = item.map_err(io)?;
            let delivery: Delivery = serde_json::from_slice(&value).map_err(|e| corrupt("delivery", e))?;
            if delivery.id == delivery_id {
                found = Some((key, delivery));
                break;
            }
        }
        let (key, mut delivery) = found.ok_or(WebhookError::DeliveryNotFound)?;
        if delivery.status == DeliveryStatus::Pending {
            return Err(WebhookError::DeliveryPending);
        }
        let now = millis(Utc::now());
        delivery.status = DeliveryStatus::Pending;
        delivery.retries_used = 0;
        delivery.next_attempt_at = Some(now);
        let entry = entry_of(tenant.as_str(), &delivery);
        let mut batch = sled::Batch::default();
        batch.insert(key, encode(&delivery));
        batch.insert(outbox_key(now, &entry), encode(&entry));
        self.tree.apply_batch(batch).map_err(io)?;
        self.durable()?;
        self.wake_worker.notify_one();
        Ok(delivery)
    }

    // ---- dispatcher ----

    /// Moves every active subscription's cursor to the durable head, enqueuing the events its
    /// filter takes. Returns how many deliveries were enqueued.
    fn dispatch(&self) -> Result<usize, StoreError> {
        let mut enqueued = 0;
        for item in self.tree.scan_prefix([SUBSCRIPTION]) {
            let (_, value) = item.map_err(io)?;
            let subscription: Subscription = serde_json::from_slice(&value).map_err(|e| corrupt("subscription", e))?;
            if subscription.active {
                enqueued += self.dispatch_one(&subscription)?;
            }
        }
        if enqueued > 0 {
            // No fsync of its own: the group-commit writer's next flush makes the cursors and
            // the queued deliveries durable with the events. A crash before that re-dispatches
            // from the durable cursor, queueing the same `webhook-id`s again (at least once).
            self.counters.enqueued.fetch_add(enqueued as u64, Ordering::Relaxed);
            self.wake_worker.notify_one();
        }
        Ok(enqueued)
    }

    fn dispatch_one(&self, subscription: &Subscription) -> Result<usize, StoreError> {
        let tenant = TenantId::parse(&subscription.tenant)?;
        let filter = TypeFilter::new(subscription.event_types.iter().map(String::as_str));
        let mut enqueued = 0;
        loop {
            let cursor = self.read_cursor(tenant.as_str(), subscription.id)?;
            let events = self.events.read_all(&tenant, cursor, DISPATCH_CHUNK)?;
            let Some(last) = events.last().map(|e| e.position) else { return Ok(enqueued) };
            let now = millis(Utc::now());
            let _guard = self.locked();
            if self.tree.get(subscription_key(SUBSCRIPTION, tenant.as_str(), subscription.id)).map_err(io)?.is_none() {
                return Ok(enqueued);
            }
            let mut batch = sled::Batch::default();
            for event in &events {
                let event_type = cloud_event_type(&event.stream_type, &event.event_type, event.schema_version);
                if !filter.matches(&event_type) {
                    continue;
                }
                let delivery = Delivery {
                    id: format!("msg_{}", event.event_id.simple()),
                    subscription_id: subscription.id,
                    event_id: event.event_id,
                    event_type,
                    position: event.position,
                    status: DeliveryStatus::Pending,
                    attempt_count: 0,
                    attempts: Vec::new(),
                    next_attempt_at: Some(now),
                    retries_used: 0,
                    created_at: now,
                };
                let entry = entry_of(tenant.as_str(), &delivery);
                batch.insert(delivery_key(tenant.as_str(), subscription.id, event.position), encode(&delivery));
                batch.insert(outbox_key(now, &entry), encode(&entry));
                enqueued += 1;
            }
            batch.insert(subscription_key(CURSOR, tenant.as_str(), subscription.id), &last.to_be_bytes());
            self.tree.apply_batch(batch).map_err(io)?;
            if events.len() < DISPATCH_CHUNK {
                return Ok(enqueued);
            }
        }
    }

    // ---- worker ----

    /// Takes up to `max` due entries, moving each to a lease time so a crash mid-attempt
    /// retries it. Returns them and when the next entry is due.
    fn take_due(&self, max: usize) -> Result<(Vec<OutboxEntry>, Option<DateTime<Utc>>), StoreError> {
        let now = millis(Utc::now());
        let lease = after(now, self.settings.request_timeout + self.settings.connect_timeout + Duration::from_secs(30));
        let _guard = self.locked();
        let mut taken = Vec::new();
        let mut next_due = None;
        let mut batch = sled::Batch::default();
        for item in self.tree.scan_prefix([OUTBOX]) {
            let (key, value) = item.map_err(io)?;
            let due = <[u8; 8]>::try_from(&key[1..9]).map(u64::from_be_bytes).unwrap_or(0);
            let due = DateTime::from_timestamp_millis(due as i64).unwrap_or(now);
            if due > now || taken.len() >= max {
                next_due = Some(due.max(now));
                break;
            }
            let mut entry: OutboxEntry = serde_json::from_slice(&value).map_err(|e| corrupt("outbox entry", e))?;
            batch.remove(key);
            let dkey = delivery_key(&entry.tenant, entry.subscription, entry.position);
            // No delivery record: its subscription was deleted, and the entry goes with it.
            let Some(mut delivery) = self.read::<Delivery>("delivery", &dkey)? else { continue };
            entry.leased = true;
            batch.insert(outbox_key(lease, &entry), encode(&entry));
            delivery.next_attempt_at = Some(lease);
            batch.insert(dkey, encode(&delivery));
            taken.push(entry);
        }
        self.tree.apply_batch(batch).map_err(io)?;
        Ok((taken, next_due))
    }

    /// What one attempt sends, or `None` when there is nothing to send (the subscription is
    /// gone or inactive: then the entry is dropped or parked).
    fn prepare(&self, entry: &OutboxEntry) -> Result<Option<Prepared>, StoreError> {
        let _guard = self.locked();
        let dkey = delivery_key(&entry.tenant, entry.subscription, entry.position);
        let delivery = self.read::<Delivery>("delivery", &dkey)?;
        let subscription = self
            .read::<Subscription>("subscription", &subscription_key(SUBSCRIPTION, &entry.tenant, entry.subscription))?;
        // Without its delivery record the lease is dropped at its next turn (see `take_due`).
        let Some(mut delivery) = delivery else { return Ok(None) };
        let lease = delivery.next_attempt_at.map(|at| outbox_key(at, entry));
        let Some(subscription) = subscription.filter(|s| s.active) else {
            // Inactive: parked without an outbox entry until activation queues it again.
            let mut batch = sled::Batch::default();
            if let Some(lease) = lease {
                batch.remove(lease);
            }
            delivery.next_attempt_at = None;
            batch.insert(dkey, encode(&delivery));
            self.tree.apply_batch(batch).map_err(io)?;
            return Ok(None);
        };
        let tenant = TenantId::parse(&entry.tenant)?;
        // Through the ledger's store, as the feed reads: personal fields arrive revealed (or
        // `[erased]`), so a webhook body equals the feed's event.
        let event = self
            .events
            .read_all(&tenant, entry.position - 1, 1)?
            .into_iter()
            .next()
            .filter(|event| event.position == entry.position)
            .ok_or_else(|| StoreError::Corrupt(format!("a delivery names missing position {}", entry.position)))?;
        let body = encode(&CloudEvent::from_envelope(&event, &self.settings.event_source_base));
        Ok(Some(Prepared {
            url: subscription.url.clone(),
            message_id: delivery.id,
            keys: subscription.signing_keys(Utc::now()),
            body,
        }))
    }

    /// Records an attempt and schedules what follows it. Returns why the subscription was
    /// deactivated, when the attempt did that.
    fn record(
        &self,
        entry: &OutboxEntry,
        attempt: Attempt,
        retry_after: Option<Duration>,
    ) -> Result<Option<String>, StoreError> {
        let _guard = self.locked();
        let dkey = delivery_key(&entry.tenant, entry.subscription, entry.position);
        let Some(mut delivery) = self.read::<Delivery>("delivery", &dkey)? else { return Ok(None) };
        let mut deactivated = None;
        let mut batch = sled::Batch::default();
        if let Some(at) = delivery.next_attempt_at {
            batch.remove(outbox_key(at, entry));
        }
        let now = millis(attempt.at);
        let status = attempt.status_code;
        delivery.attempt_count += 1;
        delivery.attempts.push(attempt);
        if delivery.attempts.len() > KEPT_ATTEMPTS {
            delivery.attempts.remove(0);
        }
        count(&self.counters.attempts);
        delivery.next_attempt_at = None;
        match status {
            Some(code) if (200..300).contains(&code) => {
                delivery.status = DeliveryStatus::Succeeded;
                count(&self.counters.succeeded);
            }
            Some(410) => {
                delivery.status = DeliveryStatus::Failed;
                count(&self.counters.failed_attempts);
                count(&self.counters.disabled_by_gone);
                let skey = subscription_key(SUBSCRIPTION, &entry.tenant, entry.subscription);
                if let Some(mut subscription) = self.read::<Subscription>("subscription", &skey)? {
                    let reason = format!("the endpoint answered 410 Gone at {}", now.to_rfc3339());
                    // Several deliveries may meet the 410: the change is recorded once.
                    if subscription.active {
                        deactivated = Some(reason.clone());
                    }
                    subscription.active = false;
                    subscription.disabled_reason = Some(reason);
                    subscription.updated_at = now;
                    batch.insert(skey, encode(&subscription));
                }
            }
            _ => {
                count(&self.counters.failed_attempts);
                let step = delivery.retries_used as usize;
                match self.settings.retry_delays.get(step) {
                    Some(delay) => {
                        let wait = retry_after
                            .map_or_else(|| jittered(*delay, self.settings.jitter), |w| w.min(MAX_RETRY_AFTER));
                        let next = after(now, wait);
                        delivery.retries_used += 1;
                        delivery.next_attempt_at = Some(next);
                        let queued = OutboxEntry { leased: false, ..entry.clone() };
                        batch.insert(outbox_key(next, &queued), encode(&queued));
                    }
                    None => {
                        delivery.status = DeliveryStatus::Failed;
                        count(&self.counters.given_up);
                    }
                }
            }
        }
        batch.insert(dkey, encode(&delivery));
        self.tree.apply_batch(batch).map_err(io)?;
        self.durable()?;
        Ok(deactivated)
    }
}

fn entry_of(tenant: &str, delivery: &Delivery) -> OutboxEntry {
    OutboxEntry {
        tenant: tenant.to_owned(),
        subscription: delivery.subscription_id,
        position: delivery.position,
        leased: false,
    }
}

fn jittered(delay: Duration, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    if jitter == 0.0 {
        return delay;
    }
    delay.mul_f64(rand::thread_rng().gen_range(1.0 - jitter..=1.0 + jitter))
}

struct Prepared {
    url: String,
    message_id: String,
    keys: Vec<Vec<u8>>,
    body: Vec<u8>,
}

async fn run_dispatcher(service: Weak<Webhooks>, mut head: watch::Receiver<u64>, wake: Arc<Notify>) {
    loop {
        {
            let Some(service) = service.upgrade() else { return };
            if let Err(error) = service.dispatch() {
                tracing::error!(%error, "webhook dispatch failed; retrying on the next event");
            }
        }
        tokio::select! {
            changed = head.changed() => if changed.is_err() { return },
            () = wake.notified() => {}
            () = tokio::time::sleep(IDLE_WAKE) => {}
        }
    }
}

async fn run_worker(service: Weak<Webhooks>, client: reqwest::Client, wake: Arc<Notify>, permits: Arc<Semaphore>) {
    loop {
        let wait = {
            let Some(strong) = service.upgrade() else { return };
            match strong.take_due(permits.available_permits()) {
                Ok((due, next)) => {
                    for entry in due {
                        let Ok(permit) = permits.clone().try_acquire_owned() else { break };
                        let (service, client) = (service.clone(), client.clone());
                        tokio::spawn(async move {
                            attempt(service, client, entry).await;
                            drop(permit);
                        });
                    }
                    next.map_or(IDLE_WAKE, |at| (at - Utc::now()).to_std().unwrap_or_default().min(IDLE_WAKE))
                }
                Err(error) => {
                    tracing::error!(%error, "webhook outbox read failed");
                    IDLE_WAKE
                }
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
        }
    }
}

/// One attempt. The service is held only while reading and recording, never across the
/// network call, so stopping the server is never held up by a slow receiver.
async fn attempt(service: Weak<Webhooks>, client: reqwest::Client, entry: OutboxEntry) {
    let (prepared, guard) = {
        let Some(service) = service.upgrade() else { return };
        match service.prepare(&entry) {
            Ok(Some(prepared)) => (prepared, service.guard.clone()),
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, position = entry.position, "cannot prepare a webhook delivery");
                return;
            }
        }
    };
    let at = Utc::now();
    let started = std::time::Instant::now();
    let timestamp = at.timestamp();
    let signatures: Vec<String> =
        prepared.keys.iter().map(|key| sign(key, &prepared.message_id, timestamp, &prepared.body)).collect();
    let checked = reqwest::Url::parse(&prepared.url).map_err(|e| e.to_string()).and_then(|url| {
        guard.check_literal(&url)?;
        Ok(url)
    });
    let (status_code, error, retry_after) = match checked {
        Err(reason) => (None, Some(reason), None),
        Ok(url) => {
            let sent = client
                .post(url)
                .header("webhook-id", &prepared.message_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signatures.join(" "))
                .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json")
                .body(prepared.body)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    (Some(response.status().as_u16()), None, retry_after)
                }
                Err(error) => (None, Some(error_chain(&error)), None),
            }
        }
    };
    let attempt = Attempt { at, status_code, error, duration_ms: started.elapsed().as_millis() as u64 };
    let Some(service) = service.upgrade() else { return };
    match service.record(&entry, attempt, retry_after) {
        Ok(None) => {}
        Ok(Some(reason)) => {
            let events = service.events.clone();
            drop(service);
            let Ok(tenant) = TenantId::parse(&entry.tenant) else { return };
            let change = Change::Deactivated { reason: Some(reason) };
            let recorded =
                record_change(events.as_ref(), &tenant, entry.subscription, SYSTEM_ACTOR, Uuid::now_v7(), change);
            if let Err(error) = recorded.await {
                tracing::error!(%error, "cannot record the deactivation of a webhook subscription in the log");
            }
        }
        Err(error) => tracing::error!(%error, position = entry.position, "cannot record a webhook attempt"),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value.trim()).ok()?;
    Some((at.with_timezone(&Utc) - Utc::now()).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_secs(100), 0.2);
            assert!(wait >= Duration::from_secs(80) && wait <= Duration::from_secs(120));
        }
    }

    #[test]
    fn outbox_keys_order_by_due_time() {
        let entry = OutboxEntry { tenant: "acme".into(), subscription: Uuid::now_v7(), position: 9, leased: false };
        let early = outbox_key(DateTime::from_timestamp_millis(1_000).unwrap(), &entry);
        let late = outbox_key(DateTime::from_timestamp_millis(2_000).unwrap(), &OutboxEntry { position: 1, ..entry });
        assert!(early < late);
    }
}

//! The group-commit writer and the [`EventStore`] it implements.
//!
//! One thread owns every write. Handlers queue `(request, reply)` pairs; the thread drains
//! whatever is queued, decides each request in order (expected version, idempotency key),
//! stamps positions, times and hashes, writes the whole batch atomically, makes it durable
//! (flush + fsync), hands the events to the commit listener (the projections), and only then
//! answers. Concurrent commands therefore share one fsync, and nothing is acknowledged — or
//! readable — before it is durable.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::chain::{self, envelope_hash, GENESIS_HASH};
use crate::envelope::{
    AppendError, AppendRequest, Appended, ChainHead, Envelope, ExpectedVersion, IdempotencyRecord, Position,
    StoreError, StreamRef, TenantId, VerifiedMark,
};
use crate::metrics::StoreMetrics;
use crate::storage::{CommitBatch, Storage};
use crate::{BoxFuture, EventStore};

/// Receives every committed batch, in position order, after it is durable and before any of
/// its commands is acknowledged; this is how read models stay read-your-writes consistent.
/// Called on the writer thread, so it must be quick and must not call back into the writer.
pub trait CommitListener: Send + Sync + 'static {
    fn committed(&self, events: &[Envelope]);
}

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Most requests folded into one group commit.
    pub max_batch_requests: usize,
    /// Requests that may wait for the writer before appenders are slowed down.
    pub queue_depth: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self { max_batch_requests: 1024, queue_depth: 8192 }
    }
}

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// Chain heads as of the last durable commit; readers never see past them.
type Heads = Arc<RwLock<HashMap<TenantId, ChainHead>>>;

pub struct GroupCommitStore {
    storage: Arc<dyn Storage>,
    sender: RwLock<Option<mpsc::Sender<Job>>>,
    heads: Heads,
    failure: Arc<RwLock<Option<String>>>,
    /// Writer first, then syncer: joining in this order drains every queued append.
    threads: std::sync::Mutex<Vec<JoinHandle<()>>>,
    metrics: Arc<StoreMetrics>,
}

impl GroupCommitStore {
    /// Starts the writer over `storage`. The chain should have been verified before.
    pub fn start(
        storage: Arc<dyn Storage>,
        listener: Arc<dyn CommitListener>,
        config: WriterConfig,
    ) -> Result<Self, StoreError> {
        let mut initial = HashMap::new();
        for tenant in storage.tenants()? {
            if let Some(last) = storage.last_event(&tenant)? {
                initial.insert(
                    tenant,
                    ChainHead { position: last.position, hash: last.hash, recorded_at: Some(last.recorded_at) },
                );
            }
        }
        let heads: Heads = Arc::new(RwLock::new(initial.clone()));
        let failure = Arc::new(RwLock::new(None));
        let (sender, receiver) = mpsc::channel(config.queue_depth.max(1));
        // One group may wait for the fsync while the next is staged; more would only add latency.
        let (to_syncer, staged) = std::sync::mpsc::sync_channel(1);
        let writer = Writer {
            storage: storage.clone(),
            heads: initial,
            stream_versions: HashMap::new(),
            failure: failure.clone(),
            max_batch: config.max_batch_requests.max(1),
        };
        let metrics = Arc::new(StoreMetrics::default());
        let syncer = Syncer {
            storage: storage.clone(),
            listener,
            published: heads.clone(),
            failure: failure.clone(),
            metrics: metrics.clone(),
        };
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body)
                .map_err(|e| StoreError::Io(format!("cannot start the {name} thread: {e}")))
        };
        let syncer_thread = spawn("isms-syncer", Box::new(move || syncer.run(staged)))?;
        let writer_thread = spawn("isms-writer", Box::new(move || writer.run(receiver, to_syncer)))?;
        Ok(Self {
            storage,
            sender: RwLock::new(Some(sender)),
            heads,
            failure,
            threads: std::sync::Mutex::new(vec![writer_thread, syncer_thread]),
            metrics,
        })
    }

    /// Stops taking new appends, lets the writer finish every queued one (durably), and waits
    /// for it. Used on graceful shutdown.
    pub fn shutdown(&self) {
        self.sender.write().unwrap_or_else(|p| p.into_inner()).take();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }

    /// Verifies every tenant's durable events added since its verified mark, and advances the
    /// marks, so the next start-up only checks what is newer. A break found here means the
    /// stored log changed under the running service: the writer fails closed.
    pub fn verify_new_events(&self) -> Result<u64, String> {
        let heads: Vec<(TenantId, Position)> =
            self.heads.read().unwrap_or_else(|p| p.into_inner()).iter().map(|(t, h)| (t.clone(), h.position)).collect();
        let mut checked = 0;
        for (tenant, durable) in heads {
            let mark = self.storage.verified_mark(&tenant).map_err(|e| e.to_string())?;
            if mark.as_ref().is_some_and(|m| m.position >= durable) {
                continue;
            }
            match chain::verify_chain(self.storage.as_ref(), &tenant, mark.as_ref(), Some(durable)) {
                Ok(Ok(report)) => {
                    checked += report.events_checked;
                    let mark = VerifiedMark {
                        position: report.head.position,
                        hash: report.head.hash,
                        verified_at: Utc::now(),
                    };
                    if let Err(error) = self.storage.set_verified_mark(&tenant, &mark) {
                        // The mark's fsync shares the data file with the events: a failure
                        // here means unacknowledged groups may be lost too.
                        fail_closed(&self.failure, self.storage.as_ref(), &error);
                        return Err(error.to_string());
                    }
                }
                Ok(Err(broken)) => {
                    let reason = format!("the stored log changed under the running service: {broken}");
                    fail_closed(&self.failure, self.storage.as_ref(), &StoreError::Corrupt(reason.clone()));
                    return Err(reason);
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        Ok(checked)
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The writer's measurements, for `/metrics`.
    pub fn metrics(&self) -> &Arc<StoreMetrics> {
        &self.metrics
    }

    fn durable_position(&self, tenant: &TenantId) -> Position {
        self.heads.read().unwrap_or_else(|p| p.into_inner()).get(tenant).map_or(0, |h| h.position)
    }
}

impl Drop for GroupCommitStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl EventStore for GroupCommitStore {
    fn append(&self, request: AppendRequest) -> BoxFuture<Result<Appended, AppendError>> {
        let sender = self.sender.read().unwrap_or_else(|p| p.into_inner()).clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            if request.events.is_empty() {
                return Err(StoreError::InvalidInput("an append needs at least one event".into()).into());
            }
            if request.stream.stream_type.is_empty() || request.stream.stream_id.is_empty() {
                return Err(StoreError::InvalidInput("stream type and id must not be empty".into()).into());
            }
            let sender = sender.ok_or_else(|| StoreError::WriterFailed("the store is shutting down".into()))?;
            let (reply, answer) = oneshot::channel();
            sender
                .send(Job { request, reply })
                .await
                .map_err(|_| StoreError::WriterFailed("the writer has stopped".into()))?;
            let queued = std::time::Instant::now();
            let answer =
                answer.await.map_err(|_| StoreError::WriterFailed("the writer stopped before answering".into()))?;
            metrics.append_latency.observe_duration(queued.elapsed());
            answer
        })
    }

    fn read_stream(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        up_to: Option<Position>,
    ) -> Result<Vec<Envelope>, StoreError> {
        let limit = up_to.unwrap_or(Position::MAX).min(self.durable_position(tenant));
        let mut events = Vec::new();
        for position in self.storage.stream_positions(tenant, stream)? {
            if position > limit {
                break;
            }
            let event = self
                .storage
                .event(tenant, position)?
                .ok_or_else(|| StoreError::Corrupt(format!("stream index points at missing position {position}")))?;
            events.push(event);
        }
        Ok(events)
    }

    fn read_all(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        let durable = self.durable_position(tenant);
        if after >= durable {
            return Ok(Vec::new());
        }
        let limit = limit.min(usize::try_from(durable - after).unwrap_or(usize::MAX));
        self.storage.events_after(tenant, after, limit)
    }

    fn position_at(&self, tenant: &TenantId, at: DateTime<Utc>) -> Result<Position, StoreError> {
        // recorded_at never decreases along positions, so the answer is a binary search.
        let (mut low, mut high) = (0, self.durable_position(tenant));
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            let recorded_at = self
                .storage
                .event(tenant, middle)?
                .ok_or_else(|| StoreError::Corrupt(format!("missing position {middle}")))?
                .recorded_at;
            if recorded_at <= at {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        Ok(low)
    }

    fn head(&self, tenant: &TenantId) -> Result<ChainHead, StoreError> {
        Ok(self.heads.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned().unwrap_or_else(|| ChainHead {
            position: 0,
            hash: GENESIS_HASH.to_owned(),
            recorded_at: None,
        }))
    }

    fn idempotency(&self, tenant: &TenantId, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let durable = self.durable_position(tenant);
        Ok(self.storage.idempotency(tenant, actor, key)?.filter(|record| record.position <= durable))
    }

    fn verified(&self, tenant: &TenantId) -> Result<Option<VerifiedMark>, StoreError> {
        self.storage.verified_mark(tenant)
    }

    fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        Ok(self.heads.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect())
    }

    fn failure(&self) -> Option<String> {
        failed(&self.failure)
    }
}

/// A batch written to storage, waiting for the fsync that makes it durable.
struct Staged {
    batch: CommitBatch,
    /// Each accepted request's reply and how many of the batch's events are its own, in order.
    accepted: Vec<(oneshot::Sender<Result<Appended, AppendError>>, usize)>,
    /// Requests refused for a version conflict or a taken idempotency key. The refusal may rest
    /// on a group still waiting for its fsync, so it is only sent once that group is published:
    /// a caller that re-reads after a conflict then sees the write it lost to.
    deferred: Vec<(oneshot::Sender<Result<Appended, AppendError>>, AppendError)>,
}

type Failure = Arc<RwLock<Option<String>>>;

fn failed(failure: &Failure) -> Option<String> {
    failure.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Records the first storage failure; from then on nothing more is written or acknowledged,
/// and nothing written but refused may become durable later.
fn fail_closed(failure: &Failure, storage: &dyn Storage, error: &StoreError) {
    tracing::error!(error = %error, "event log write failed; the writer stops accepting writes");
    let mut failure = failure.write().unwrap_or_else(|p| p.into_inner());
    if failure.is_none() {
        *failure = Some(error.to_string());
        storage.abandon_unsynced();
    }
}

fn refuse(staged: Staged, reason: &str) {
    for (reply, _) in staged.accepted {
        let _ = reply.send(Err(StoreError::WriterFailed(reason.to_owned()).into()));
    }
    for (reply, error) in staged.deferred {
        let _ = reply.send(Err(error));
    }
}

/// First half of the writer: decides and stamps each request, writes the group to storage.
/// Runs while the syncer fsyncs the previous group, so staging and the disk overlap.
struct Writer {
    storage: Arc<dyn Storage>,
    /// The writer's own heads, including groups not yet durable.
    heads: HashMap<TenantId, ChainHead>,
    /// Stream versions the writer has seen or set, so the common case needs no storage read.
    /// Only the writer appends, so an entry can only be stale if a group failed — and then
    /// the writer fails closed and never writes again.
    stream_versions: HashMap<(TenantId, StreamRef), u64>,
    failure: Failure,
    max_batch: usize,
}

/// Second half: makes written groups durable (one fsync may cover several), then publishes
/// them to readers and the projections, then answers.
struct Syncer {
    storage: Arc<dyn Storage>,
    listener: Arc<dyn CommitListener>,
    published: Heads,
    failure: Failure,
    metrics: Arc<StoreMetrics>,
}

impl Syncer {
    fn run(self, staged: std::sync::mpsc::Receiver<Staged>) {
        while let Ok(first) = staged.recv() {
            let mut groups = vec![first];
            groups.extend(staged.try_iter());
            if let Some(reason) = failed(&self.failure) {
                groups.into_iter().for_each(|group| refuse(group, &reason));
                continue;
            }
            let events: usize = groups.iter().map(|group| group.batch.events.len()).sum();
            let started = std::time::Instant::now();
            let synced = if events > 0 { self.storage.sync() } else { Ok(()) };
            if events > 0 {
                self.metrics.fsync_latency.observe_duration(started.elapsed());
            }
            if let Err(error) = synced {
                // The disk may hold some of these groups or none: fail closed. A restart
                // re-reads the truth and re-verifies the chain.
                fail_closed(&self.failure, self.storage.as_ref(), &error);
                groups.into_iter().for_each(|group| refuse(group, &error.to_string()));
                continue;
            }
            if events > 0 {
                self.metrics.group_commit_events.observe(events as f64);
                self.metrics.events_appended.add(events as u64);
            }
            for group in groups {
                self.publish(group);
            }
        }
    }

    fn publish(&self, group: Staged) {
        {
            let mut published = self.published.write().unwrap_or_else(|p| p.into_inner());
            for event in &group.batch.events {
                published.insert(
                    event.tenant.clone(),
                    ChainHead {
                        position: event.position,
                        hash: event.hash.clone(),
                        recorded_at: Some(event.recorded_at),
                    },
                );
            }
        }
        if !group.batch.events.is_empty() {
            self.listener.committed(&group.batch.events);
        }
        // Requests were staged in order, so each one's envelopes are the next `count` events.
        let mut events = group.batch.events.into_iter();
        for (reply, count) in group.accepted {
            let _ = reply.send(Ok(Appended { envelopes: events.by_ref().take(count).collect() }));
        }
        for (reply, error) in group.deferred {
            let _ = reply.send(Err(error));
        }
    }
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Job>, syncer: std::sync::mpsc::SyncSender<Staged>) {
        let mut jobs = Vec::with_capacity(self.max_batch);
        while let Some(first) = receiver.blocking_recv() {
            jobs.push(first);
            while jobs.len() < self.max_batch {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            if let Some(staged) = self.write_group(std::mem::take(&mut jobs)) {
                if let Err(unsent) = syncer.send(staged) {
                    refuse(unsent.0, "the writer has stopped");
                }
            }
        }
    }

    /// Stages and writes one group; returns it for the syncer, or `None` if nothing is left to
    /// answer after it.
    fn write_group(&mut self, jobs: Vec<Job>) -> Option<Staged> {
        if let Some(reason) = failed(&self.failure) {
            for job in jobs {
                let _ = job.reply.send(Err(StoreError::WriterFailed(reason.clone()).into()));
            }
            return None;
        }
        let mut batch = CommitBatch::default();
        let mut accepted = Vec::with_capacity(jobs.len());
        // Heads and stream versions move as requests are staged. If the group then fails the
        // writer fails closed and never writes again, so there is nothing to roll back.
        let mut deferred = Vec::new();
        let mut claimed_keys: Vec<(TenantId, String, String)> = Vec::new();
        for job in jobs {
            match self.stage(job.request, &mut batch, &mut claimed_keys) {
                Ok(count) => accepted.push((job.reply, count)),
                Err(error @ (AppendError::Conflict { .. } | AppendError::DuplicateIdempotencyKey(_))) => {
                    deferred.push((job.reply, error));
                }
                Err(error) => {
                    let _ = job.reply.send(Err(error));
                }
            }
        }
        if accepted.is_empty() {
            return (!deferred.is_empty()).then(|| Staged { batch, accepted, deferred });
        }
        let staged = Staged { batch, accepted, deferred };
        if let Err(error) = self.storage.write(&staged.batch) {
            fail_closed(&self.failure, self.storage.as_ref(), &error);
            refuse(staged, &error.to_string());
            return None;
        }
        Some(staged)
    }

    /// Checks one request against the state so far and adds its events to the batch; returns
    /// how many events it added.
    fn stage(
        &mut self,
        request: AppendRequest,
        batch: &mut CommitBatch,
        claimed_keys: &mut Vec<(TenantId, String, String)>,
    ) -> Result<usize, AppendError> {
        let stream_key = (request.tenant.clone(), request.stream.clone());
        let current = match self.stream_versions.get(&stream_key) {
            Some(version) => *version,
            None => self.storage.stream_version(&request.tenant, &request.stream)?,
        };
        let matches = match request.expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(version) => current == version,
        };
        if !matches {
            return Err(AppendError::Conflict { expected: request.expected, actual: current });
        }
        if let Some(claim) = &request.meta.idempotency {
            let key = (request.tenant.clone(), request.meta.actor.clone(), claim.key.clone());
            if claimed_keys.contains(&key)
                || self.storage.idempotency(&request.tenant, &request.meta.actor, &claim.key)?.is_some()
            {
                return Err(AppendError::DuplicateIdempotencyKey(claim.key.clone()));
            }
            claimed_keys.push(key);
        }
        let head = self.heads.entry(request.tenant.clone()).or_insert_with(|| ChainHead {
            position: 0,
            hash: GENESIS_HASH.to_owned(),
            recorded_at: None,
        });
        let now = Utc::now().trunc_subsecs(6);
        let recorded_at = head.recorded_at.map_or(now, |last| last.max(now));
        let start = batch.events.len();
        let mut version = current;
        for event in request.events {
            version += 1;
            let mut envelope = Envelope {
                position: head.position + 1,
                stream_type: request.stream.stream_type.clone(),
                stream_id: request.stream.stream_id.clone(),
                version,
                event_id: Uuid::now_v7(),
                event_type: event.event_type,
                schema_version: event.schema_version,
                recorded_at,
                effective_at: event.effective_at,
                tenant: request.tenant.clone(),
                actor: request.meta.actor.clone(),
                source: request.meta.source.clone(),
                correlation_id: request.meta.correlation_id,
                causation_id: request.meta.causation_id,
                idempotency_key: request.meta.idempotency.as_ref().map(|c| c.key.clone()),
                data: event.data,
                prev_hash: head.hash.clone(),
                hash: String::new(),
            };
            envelope.hash = envelope_hash(&envelope);
            *head =
                ChainHead { position: envelope.position, hash: envelope.hash.clone(), recorded_at: Some(recorded_at) };
            batch.events.push(envelope);
        }
        self.stream_versions.insert(stream_key, version);
        if let Some(claim) = request.meta.idempotency {
            let last = batch.events.last().expect("an append has at least one event");
            batch.idempotency.push((
                request.tenant.clone(),
                request.meta.actor.clone(),
                IdempotencyRecord {
                    key: claim.key,
                    fingerprint: claim.fingerprint,
                    status: claim.status,
                    stream_type: request.stream.stream_type,
                    stream_id: request.stream.stream_id,
                    version,
                    position: last.position,
                    recorded_at,
                },
            ));
        }
        Ok(batch.events.len() - start)
    }
}

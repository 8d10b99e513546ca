//! The read path: live registers, time travel, histories, the audit trail and the feed.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::Aggregate;
use isms_projections::views::is_backdated;
use isms_projections::{Entry, Register, Registers};
use isms_store::{ChainHead, Envelope, Position, StreamRef, TenantId, VerifiedMark};
use uuid::Uuid;

use std::sync::Arc;

use crate::live::replay;
use crate::{AppError, Ledger};

/// Which state of the log a read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPoint {
    Latest,
    /// After every event recorded at or before this instant.
    AsOf(DateTime<Utc>),
    /// After the events up to this position.
    Position(Position),
}

/// The point a read was resolved to, echoed to the caller so the read can be reproduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub position: Position,
    pub as_of: Option<DateTime<Utc>>,
    /// A read of the current state (no `as_of`/`as_of_position`): derived facts such as
    /// `overdue` are then computed for today, otherwise for the `as_of` date.
    pub latest: bool,
}

/// Audit-trail filters; all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub stream_type: Option<String>,
    pub stream_id: Option<String>,
    pub actor: Option<String>,
    pub event_type: Option<String>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before.
    pub to: Option<DateTime<Utc>>,
    /// Everything one request did (its `X-Request-Id` when that was a UUID).
    pub correlation_id: Option<Uuid>,
    /// Only the events this event caused, directly or through events it caused in turn.
    pub caused_by: Option<Uuid>,
    /// Only events whose business time is (or is not) more than 24 hours before their recording.
    pub backdated: Option<bool>,
    /// Effective at or after: the event's `effective_at`, or its `recorded_at` when it states
    /// no business time of its own.
    pub effective_from: Option<DateTime<Utc>>,
    /// Effective at or before (same reading of the effective time).
    pub effective_to: Option<DateTime<Utc>>,
}

impl Resolved {
    /// The date derived facts (such as `overdue`) are computed for: today for a current read,
    /// the `as_of` date when time-travelling.
    pub fn reading_date(&self) -> NaiveDate {
        if self.latest {
            Utc::now().date_naive()
        } else {
            self.as_of.unwrap_or(DateTime::<Utc>::UNIX_EPOCH).date_naive()
        }
    }
}

/// One page of a register: the records, the id to continue after (when more may follow), and
/// the read point.
#[derive(Debug)]
pub struct RegisterPage<T> {
    pub items: Vec<T>,
    pub next_after: Option<Uuid>,
    pub resolved: Resolved,
}

/// A record considered for a page read as of an earlier position: either the live entry (its
/// stream has not changed since) or one to fold from its stream up to that position.
enum Candidate<A> {
    Unchanged(Entry<A>),
    Changed(Uuid),
}

impl AuditFilter {
    fn matches(&self, event: &Envelope) -> bool {
        let effective = event.effective_at.unwrap_or(event.recorded_at);
        self.stream_type.as_ref().is_none_or(|v| *v == event.stream_type)
            && self.stream_id.as_ref().is_none_or(|v| *v == event.stream_id)
            && self.actor.as_ref().is_none_or(|v| *v == event.actor)
            && self.event_type.as_ref().is_none_or(|v| *v == event.event_type)
            && self.from.is_none_or(|from| event.recorded_at >= from)
            && self.to.is_none_or(|to| event.recorded_at <= to)
            && self.correlation_id.is_none_or(|id| id == event.correlation_id)
            && self.backdated.is_none_or(|backdated| backdated == is_backdated(event.effective_at, event.recorded_at))
            && self.effective_from.is_none_or(|from| effective >= from)
            && self.effective_to.is_none_or(|to| effective <= to)
    }
}

/// What one actor did in a tenant's log (within the recorded-time window asked for).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActorActivity {
    pub events: u64,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub by_event_type: BTreeMap<String, u64>,
    pub by_stream_type: BTreeMap<String, u64>,
    /// The actor's most recent events, newest first.
    pub latest: Vec<Envelope>,
}

impl Ledger {
    /// Resolves a read point against the tenant's durable head.
    pub fn resolve(&self, tenant: &TenantId, point: ReadPoint) -> Result<Resolved, AppError> {
        let head = self.store.head(tenant)?;
        match point {
            ReadPoint::Latest => Ok(Resolved { position: head.position, as_of: head.recorded_at, latest: true }),
            ReadPoint::AsOf(at) => {
                let position = self.store.position_at(tenant, at)?;
                Ok(Resolved { position, as_of: Some(at), latest: false })
            }
            ReadPoint::Position(position) => {
                if position > head.position {
                    return Err(AppError::InvalidReadPoint(format!(
                        "as_of_position {position} is beyond the log's last position {}",
                        head.position
                    )));
                }
                let as_of = match position {
                    0 => None,
                    p => self.store.read_all(tenant, p - 1, 1)?.first().map(|e| e.recorded_at),
                };
                Ok(Resolved { position, as_of, latest: false })
            }
        }
    }

    /// Runs `read` over the tenant's registers at `point`: the live ones for the latest state,
    /// a replay of the log otherwise.
    pub fn with_registers<T>(
        &self,
        tenant: &TenantId,
        point: ReadPoint,
        read: impl FnOnce(&Registers, &Resolved) -> T,
    ) -> Result<(T, Resolved), AppError> {
        let live = self.projections.tenant(tenant)?;
        if point == ReadPoint::Latest {
            let registers = live.read().unwrap_or_else(|p| p.into_inner());
            let resolved = Resolved { position: registers.position, as_of: registers.recorded_at, latest: true };
            return Ok((read(&registers, &resolved), resolved));
        }
        let resolved = self.resolve(tenant, point)?;
        let registers = self.replayed(tenant, resolved.position)?;
        Ok((read(&registers, &resolved), resolved))
    }

    /// A page of register `R` in creation order after `after`, of the records `keep` accepts.
    ///
    /// The current state is read from the live registers. An earlier state does not replay
    /// the log: a record exists as of position P when its first event is at or before P, and
    /// its state at P is the live one when its stream has not changed since P, or its own
    /// stream folded up to P otherwise. A page therefore costs a walk of the live register's
    /// ids plus one short stream read per record changed since P, whatever the log's length.
    /// The live register is locked only while candidates are collected, never during reads.
    pub fn page<R: Register>(
        &self,
        tenant: &TenantId,
        point: ReadPoint,
        after: Option<Uuid>,
        limit: usize,
        keep: impl Fn(&Entry<R>, &R::Record) -> bool,
    ) -> Result<RegisterPage<R::Record>, AppError> {
        use std::ops::Bound;
        const CANDIDATES_PER_LOCK: usize = 256;
        let live = self.projections.tenant(tenant)?;
        let (resolved, travelling) = match point {
            ReadPoint::Latest => {
                let registers = live.read().unwrap_or_else(|p| p.into_inner());
                (Resolved { position: registers.position, as_of: registers.recorded_at, latest: true }, false)
            }
            point => (self.resolve(tenant, point)?, true),
        };
        let today = resolved.reading_date();
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        if !travelling {
            // The live state needs no store read: the page is rendered under the read lock,
            // without copying the entries it skips.
            let registers = live.read().unwrap_or_else(|p| p.into_inner());
            let mut items = Vec::new();
            for (id, entry) in R::register(&registers).range((start, Bound::Unbounded)) {
                if !R::exists(&entry.state) {
                    continue;
                }
                let record = R::record(entry, today);
                if keep(entry, &record) {
                    if items.len() == limit {
                        let next_after = items.last().map(|(id, _): &(Uuid, _)| *id);
                        let items = items.into_iter().map(|(_, r)| r).collect();
                        return Ok(RegisterPage { items, next_after, resolved });
                    }
                    items.push((*id, record));
                }
            }
            let items = items.into_iter().map(|(_, r)| r).collect();
            return Ok(RegisterPage { items, next_after: None, resolved });
        }
        let mut items: Vec<(Uuid, R::Record)> = Vec::new();
        let mut cursor = after;
        loop {
            let mut candidates = Vec::new();
            let mut exhausted = true;
            {
                let registers = live.read().unwrap_or_else(|p| p.into_inner());
                let start = cursor.map_or(Bound::Unbounded, Bound::Excluded);
                for (id, entry) in R::register(&registers).range((start, Bound::Unbounded)) {
                    if candidates.len() == CANDIDATES_PER_LOCK {
                        exhausted = false;
                        break;
                    }
                    cursor = Some(*id);
                    if entry.position <= resolved.position {
                        candidates.push(Candidate::Unchanged(entry.clone()));
                    } else if entry.first_position <= resolved.position {
                        candidates.push(Candidate::Changed(*id));
                    }
                }
            }
            for candidate in candidates {
                let entry = match candidate {
                    Candidate::Unchanged(entry) => entry,
                    Candidate::Changed(id) => {
                        let stream = StreamRef::new(R::STREAM_TYPE, id.to_string());
                        let history = self.store.read_stream(tenant, &stream, Some(resolved.position))?;
                        match Entry::<R>::fold(&history)? {
                            Some(entry) => entry,
                            None => continue,
                        }
                    }
                };
                if !R::exists(&entry.state) {
                    continue;
                }
                let record = R::record(&entry, today);
                if keep(&entry, &record) {
                    items.push((entry.uuid(), record));
                    if items.len() > limit {
                        items.truncate(limit);
                        let next_after = items.last().map(|(id, _)| *id);
                        return Ok(RegisterPage {
                            items: items.into_iter().map(|(_, r)| r).collect(),
                            next_after,
                            resolved,
                        });
                    }
                }
            }
            if exhausted {
                return Ok(RegisterPage {
                    items: items.into_iter().map(|(_, r)| r).collect(),
                    next_after: None,
                    resolved,
                });
            }
        }
    }

    /// The registers as of `position`: the last replay when it is at that position (reports read
    /// together are read at one point), a replay from position 1 otherwise. Continuing the last
    /// replay to a later point was measured slower than replaying afresh on a million events,
    /// so it is not done.
    fn replayed(&self, tenant: &TenantId, position: Position) -> Result<Arc<Registers>, AppError> {
        let erasures = self.projections.erasures();
        if let Some((cached, at, registers)) = self.last_replay.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            if cached == tenant && *at == erasures && registers.position == position {
                return Ok(registers.clone());
            }
        }
        let registers = Arc::new(replay(self.store.as_ref(), tenant, position, None)?);
        *self.last_replay.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((tenant.clone(), erasures, registers.clone()));
        Ok(registers)
    }

    /// One record as of `point`, folded from its own stream (cheap at any point in time).
    pub fn record<A: Aggregate>(
        &self,
        tenant: &TenantId,
        stream_id: &str,
        point: ReadPoint,
    ) -> Result<(Option<Entry<A>>, Resolved), AppError> {
        let resolved = self.resolve(tenant, point)?;
        let history =
            self.store.read_stream(tenant, &StreamRef::new(A::STREAM_TYPE, stream_id), Some(resolved.position))?;
        Ok((Entry::<A>::fold(&history)?, resolved))
    }

    /// A stream's events as of `point`.
    pub fn history(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        point: ReadPoint,
    ) -> Result<(Vec<Envelope>, Resolved), AppError> {
        let resolved = self.resolve(tenant, point)?;
        Ok((self.store.read_stream(tenant, stream, Some(resolved.position))?, resolved))
    }

    /// Visits the tenant's events after `after` in position order, from the first recorded at
    /// or after `from` (recorded_at never decreases along positions, so the scan starts there)
    /// up to the last recorded at or before `to`, until `visit` breaks.
    fn scan(
        &self,
        tenant: &TenantId,
        after: Position,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mut visit: impl FnMut(Envelope) -> Result<ControlFlow<()>, AppError>,
    ) -> Result<(), AppError> {
        const SCAN_CHUNK: usize = isms_store::READ_CHUNK;
        let mut cursor = match from.and_then(|from| from.checked_sub_signed(chrono::Duration::microseconds(1))) {
            Some(just_before) => after.max(self.store.position_at(tenant, just_before)?),
            None => after,
        };
        loop {
            let chunk = self.store.read_all(tenant, cursor, SCAN_CHUNK)?;
            let exhausted = chunk.len() < SCAN_CHUNK;
            for event in chunk {
                if to.is_some_and(|to| event.recorded_at > to) {
                    return Ok(());
                }
                cursor = event.position;
                if visit(event)?.is_break() {
                    return Ok(());
                }
            }
            if exhausted {
                return Ok(());
            }
        }
    }

    /// Up to `limit` matching events after position `after`, and the cursor to continue from
    /// (the position of the last event examined) when more may follow.
    pub fn audit_trail(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        after: Position,
        limit: usize,
    ) -> Result<(Vec<Envelope>, Option<Position>), AppError> {
        let mut after = after;
        let consequences = match filter.caused_by {
            None => None,
            Some(cause) => match self.consequences(tenant, cause, filter.to)? {
                Some((position, events)) => {
                    after = after.max(position);
                    Some(events)
                }
                None => return Ok((Vec::new(), None)),
            },
        };
        let mut found = Vec::new();
        let mut next = None;
        self.scan(tenant, after, filter.from, filter.to, |event| {
            if filter.matches(&event) && consequences.as_ref().is_none_or(|ids| ids.contains(&event.event_id)) {
                let position = event.position;
                found.push(event);
                if found.len() == limit {
                    next = (position < self.store.head(tenant)?.position).then_some(position);
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok((found, next))
    }

    /// The position of event `cause` and the ids of every event it caused, directly or through
    /// events it caused in turn (`None` when the tenant has no such event). A consequence is
    /// always recorded after its cause, so one forward scan from the cause collects them all.
    fn consequences(
        &self,
        tenant: &TenantId,
        cause: Uuid,
        to: Option<DateTime<Utc>>,
    ) -> Result<Option<(Position, HashSet<Uuid>)>, AppError> {
        let Some(position) = self.position_of(tenant, cause)? else { return Ok(None) };
        let mut causes = HashSet::from([cause]);
        let mut consequences = HashSet::new();
        self.scan(tenant, position, None, to, |event| {
            if event.causation_id.is_some_and(|id| causes.contains(&id)) {
                causes.insert(event.event_id);
                consequences.insert(event.event_id);
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(Some((position, consequences)))
    }

    /// Where event `event_id` is in the tenant's log. Event ids are UUIDv7 drawn as the event is
    /// stamped, so the search starts a minute before the id's own timestamp (clock steps and
    /// the id generator's counter are far smaller) and falls back to the whole log.
    fn position_of(&self, tenant: &TenantId, event_id: Uuid) -> Result<Option<Position>, AppError> {
        let minted = event_id.get_timestamp().and_then(|ts| {
            let (seconds, nanos) = ts.to_unix();
            DateTime::<Utc>::from_timestamp(i64::try_from(seconds).ok()?, nanos)
        });
        let hint = match minted.and_then(|at| at.checked_sub_signed(chrono::Duration::minutes(1))) {
            Some(at) => self.store.position_at(tenant, at)?,
            None => 0,
        };
        for (after, to_position) in [(hint, Position::MAX), (0, hint)] {
            let mut found = None;
            self.scan(tenant, after, None, None, |event| {
                if event.event_id == event_id {
                    found = Some(event.position);
                }
                Ok(if found.is_some() || event.position >= to_position {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            })?;
            if found.is_some() || hint == 0 {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// What `actor` did, recorded between `from` and `to`: counts by event type and stream
    /// type, first and last activity, and the `latest` most recent events.
    pub fn actor_activity(
        &self,
        tenant: &TenantId,
        actor: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        latest: usize,
    ) -> Result<ActorActivity, AppError> {
        let mut activity = ActorActivity::default();
        let mut recent = VecDeque::with_capacity(latest);
        self.scan(tenant, 0, from, to, |event| {
            if event.actor == actor {
                activity.events += 1;
                activity.first_at.get_or_insert(event.recorded_at);
                activity.last_at = Some(event.recorded_at);
                *activity.by_event_type.entry(event.event_type.clone()).or_default() += 1;
                *activity.by_stream_type.entry(event.stream_type.clone()).or_default() += 1;
                if latest > 0 {
                    if recent.len() == latest {
                        recent.pop_front();
                    }
                    recent.push_back(event);
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        activity.latest = recent.into_iter().rev().collect();
        Ok(activity)
    }

    /// The tenant's chain head and how far it was verified.
    pub fn integrity(&self, tenant: &TenantId) -> Result<(ChainHead, Option<VerifiedMark>), AppError> {
        Ok((self.store.head(tenant)?, self.store.verified(tenant)?))
    }
}

//! The read path: live registers, time travel, histories, the audit trail and the feed.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::Aggregate;
use isms_projections::{Entry, Register, Registers};
use isms_store::{ChainHead, Envelope, Position, StreamRef, TenantId, VerifiedMark};
use uuid::Uuid;

use std::sync::Arc;

use crate::live::{replay, replay_onto};
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
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
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
        self.stream_type.as_ref().is_none_or(|v| *v == event.stream_type)
            && self.stream_id.as_ref().is_none_or(|v| *v == event.stream_id)
            && self.actor.as_ref().is_none_or(|v| *v == event.actor)
            && self.event_type.as_ref().is_none_or(|v| *v == event.event_type)
            && self.from.is_none_or(|from| event.recorded_at >= from)
            && self.to.is_none_or(|to| event.recorded_at <= to)
    }
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
        keep: impl Fn(&R, &R::Record) -> bool,
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
                    if !travelling || entry.position <= resolved.position {
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
                if keep(&entry.state, &record) {
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

    /// The registers as of `position`: the last replay when it is at that position, that replay
    /// continued when it is earlier, a replay from position 1 otherwise.
    fn replayed(&self, tenant: &TenantId, position: Position) -> Result<Arc<Registers>, AppError> {
        let last = self.last_replay.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let registers = match last {
            Some((cached, registers)) if cached == *tenant && registers.position == position => return Ok(registers),
            Some((cached, registers)) if cached == *tenant && registers.position < position => {
                replay_onto(self.store.as_ref(), tenant, (*registers).clone(), position)?
            }
            _ => replay(self.store.as_ref(), tenant, position)?,
        };
        let registers = Arc::new(registers);
        *self.last_replay.lock().unwrap_or_else(|p| p.into_inner()) = Some((tenant.clone(), registers.clone()));
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

    /// Up to `limit` matching events after position `after`, and the cursor to continue from
    /// (the position of the last event examined) when more may follow.
    pub fn audit_trail(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        after: Position,
        limit: usize,
    ) -> Result<(Vec<Envelope>, Option<Position>), AppError> {
        const SCAN_CHUNK: usize = isms_store::READ_CHUNK;
        let mut found = Vec::new();
        // recorded_at never decreases along positions: skip straight to `from`, stop after `to`.
        let mut cursor = match filter.from {
            Some(from) => match from.checked_sub_signed(chrono::Duration::microseconds(1)) {
                Some(just_before) => after.max(self.store.position_at(tenant, just_before)?),
                None => after,
            },
            None => after,
        };
        loop {
            let chunk = self.store.read_all(tenant, cursor, SCAN_CHUNK)?;
            let exhausted = chunk.len() < SCAN_CHUNK;
            for event in chunk {
                if filter.to.is_some_and(|to| event.recorded_at > to) {
                    return Ok((found, None));
                }
                cursor = event.position;
                if filter.matches(&event) {
                    found.push(event);
                    if found.len() == limit {
                        let more = cursor < self.store.head(tenant)?.position;
                        return Ok((found, more.then_some(cursor)));
                    }
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
    }

    /// The tenant's chain head and how far it was verified.
    pub fn integrity(&self, tenant: &TenantId) -> Result<(ChainHead, Option<VerifiedMark>), AppError> {
        Ok((self.store.head(tenant)?, self.store.verified(tenant)?))
    }
}

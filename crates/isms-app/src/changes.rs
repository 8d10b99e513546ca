//! Changes between two points of the log, computed from the events between them rather than
//! from two full replays.
//!
//! A record's rendering at `from` and at `to` can differ for three reasons, each handled here:
//! 1. its stream has events in `(from, to]`: the stream is folded up to each point and rendered
//!    (one stream read, split at `from`);
//! 2. a derived fact depends on the read date (`overdue`, ...) and the two points are read on
//!    different dates: the records no event touched are rendered for both dates from one state
//!    of the registers (their state is the same at both points), and listed where they differ;
//! 3. the SoA line of a control shows the open risks whose treatment names it: a risk with
//!    events in the range changes the lines of the controls its treatment names at either
//!    point. Those lines are rendered with linked risks made of the touched risks as folded at
//!    each point plus the untouched risks naming the control, which are the same at both points.
//!
//! The registers for 2 and 3 are the live ones when `to` is at or near the head (the streams
//! touched after `to` are folded individually instead), otherwise one replay up to `to`; they are
//! only read at all when a date or a risk's treatment requires it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use isms_domain::risk::Risk;
use isms_domain::Aggregate;
use isms_projections::reports::changes::{controls_treated_by, soa_line, RegisterChanges, RegisterKind, Shape, Sides};
use isms_projections::views::soa::risks_by_control;
use isms_projections::{Entry, Registers};
use isms_store::{Envelope, Position, StreamRef, TenantId};
use uuid::Uuid;

use crate::live::replay;
use crate::{AppError, Ledger};

/// One end of a comparison: a log position and the date derived facts are computed for there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangePoint {
    pub position: Position,
    pub read_on: NaiveDate,
}

/// The ids of the streams with events in a range of positions, by stream type.
#[derive(Debug, Default)]
struct Touched(HashMap<String, BTreeSet<String>>);

impl Touched {
    fn ids(&self, stream_type: &str) -> impl Iterator<Item = &String> {
        self.0.get(stream_type).into_iter().flatten()
    }

    fn contains(&self, stream_type: &str, id: &str) -> bool {
        self.0.get(stream_type).is_some_and(|ids| ids.contains(id))
    }
}

/// Reads each stream once, up to `to`, however many registers need it.
struct Streams<'a> {
    ledger: &'a Ledger,
    tenant: &'a TenantId,
    up_to: Position,
    read: HashMap<(String, String), Vec<Envelope>>,
}

impl Streams<'_> {
    fn get(&mut self, stream_type: &str, id: &str) -> Result<&[Envelope], AppError> {
        let key = (stream_type.to_owned(), id.to_owned());
        if !self.read.contains_key(&key) {
            let stream = StreamRef::new(stream_type, id);
            let events = self.ledger.store.read_stream(self.tenant, &stream, Some(self.up_to))?;
            self.read.insert(key.clone(), events);
        }
        Ok(self.read.get(&key).map(Vec::as_slice).unwrap_or_default())
    }
}

/// The events of a stream up to `from` and up to `to` (the whole slice, read up to `to`).
fn split(events: &[Envelope], from: Position) -> (&[Envelope], &[Envelope]) {
    (&events[..events.partition_point(|e| e.position <= from)], events)
}

/// What the registers at `to` contribute for the records no event touched in `(from, to]`.
#[derive(Default)]
struct Untouched {
    /// Per register of `drifting`, the records whose rendering differs between the two dates.
    drift: Vec<Vec<Sides>>,
    /// Per control of interest, the untouched open risks whose treatment names it.
    linked: BTreeMap<String, Vec<Uuid>>,
}

impl Ledger {
    /// Per register of `kinds` (in that order, empty ones included), what was added, changed
    /// and removed between `from` and `to` (`from.position <= to.position`).
    pub fn changes(
        &self,
        tenant: &TenantId,
        from: ChangePoint,
        to: ChangePoint,
        kinds: &[&RegisterKind],
    ) -> Result<Vec<RegisterChanges>, AppError> {
        if from.position > to.position {
            return Err(AppError::InvalidReadPoint(format!(
                "from (position {}) is after to (position {})",
                from.position, to.position
            )));
        }
        let touched = self.touched_between(tenant, from.position, to.position)?;
        let mut streams = Streams { ledger: self, tenant, up_to: to.position, read: HashMap::new() };
        let mut sides: Vec<Vec<Sides>> = vec![Vec::new(); kinds.len()];

        // Records with events in the range, folded to both points.
        for (kind, sides) in kinds.iter().zip(&mut sides) {
            let (Shape::Records { render, .. } | Shape::Singleton { render }) = kind.shape else { continue };
            for id in touched.ids(kind.stream_type) {
                let (before, after) = split(streams.get(kind.stream_type, id)?, from.position);
                sides.push((id.clone(), render(before, from.read_on)?, render(after, to.read_on)?));
            }
        }

        // For the SoA: the controls each touched risk's treatment names at each point.
        let soa = kinds.iter().position(|kind| matches!(kind.shape, Shape::StatementOfApplicability));
        let mut named_by_touched: BTreeMap<String, [BTreeSet<Uuid>; 2]> = BTreeMap::new();
        if soa.is_some() {
            for id in touched.ids(Risk::STREAM_TYPE) {
                let Ok(risk_id) = Uuid::parse_str(id) else { continue };
                let (before, after) = split(streams.get(Risk::STREAM_TYPE, id)?, from.position);
                for (side, events) in [before, after].into_iter().enumerate() {
                    for control in
                        Entry::<Risk>::fold(events)?.map(|e| controls_treated_by(&e.state)).unwrap_or_default()
                    {
                        named_by_touched.entry(control).or_default()[side].insert(risk_id);
                    }
                }
            }
        }
        // Where the touched risks naming a control are the same at both points, so are its
        // linked risks, whatever the untouched ones: only the other controls need them.
        let needs_untouched: BTreeSet<String> =
            named_by_touched.iter().filter(|(_, [old, new])| old != new).map(|(control, _)| control.clone()).collect();

        // Records no event touched whose rendering depends on the read date, when the dates differ.
        let drifting: Vec<usize> = if from.read_on == to.read_on {
            Vec::new()
        } else {
            (0..kinds.len()).filter(|&i| matches!(kinds[i].shape, Shape::Records { .. })).collect()
        };

        let mut untouched = Untouched::default();
        if !drifting.is_empty() || !needs_untouched.is_empty() {
            let (found, late) = self.with_registers_at(tenant, to.position, |registers| {
                read_untouched(registers, kinds, &drifting, &needs_untouched, &touched, from.read_on, to.read_on)
            })?;
            untouched = found;
            // Streams with events after `to` are not at their `to` state in the live registers:
            // fold them up to `to` instead.
            for (&i, drift) in drifting.iter().zip(&mut untouched.drift) {
                let Shape::Records { render, .. } = kinds[i].shape else { continue };
                let stream_type = kinds[i].stream_type;
                drift.retain(|(id, _, _)| !late.contains(stream_type, id));
                for id in late.ids(stream_type).filter(|id| !touched.contains(stream_type, id)) {
                    let events = streams.get(stream_type, id)?;
                    let (old, new) = (render(events, from.read_on)?, render(events, to.read_on)?);
                    if old != new {
                        drift.push((id.clone(), old, new));
                    }
                }
            }
            if !needs_untouched.is_empty() {
                for id in late.ids(Risk::STREAM_TYPE).filter(|id| !touched.contains(Risk::STREAM_TYPE, id)) {
                    let Ok(risk_id) = Uuid::parse_str(id) else { continue };
                    untouched.linked.values_mut().for_each(|risks| risks.retain(|r| *r != risk_id));
                    let entry = Entry::<Risk>::fold(streams.get(Risk::STREAM_TYPE, id)?)?;
                    for control in entry.map(|e| controls_treated_by(&e.state)).unwrap_or_default() {
                        if needs_untouched.contains(&control) {
                            untouched.linked.entry(control).or_default().push(risk_id);
                        }
                    }
                }
            }
        }
        for (i, drift) in drifting.iter().zip(untouched.drift) {
            sides[*i].extend(drift);
        }

        if let Some(soa) = soa {
            let stream_type = kinds[soa].stream_type;
            let controls: BTreeSet<&String> = touched.ids(stream_type).chain(named_by_touched.keys()).collect();
            for control in controls {
                let [old_named, new_named] = named_by_touched.get(control).cloned().unwrap_or_default();
                let shared = untouched.linked.get(control).cloned().unwrap_or_default();
                // A line whose own stream has no events in the range is the same at both points
                // but for its linked risks, so its own events need not be read.
                let (before, after) = if touched.contains(stream_type, control) {
                    split(streams.get(stream_type, control)?, from.position)
                } else {
                    (&[][..], &[][..])
                };
                let old = soa_line(control, before, shared.iter().chain(&old_named).copied().collect())?;
                let new = soa_line(control, after, shared.iter().chain(&new_named).copied().collect())?;
                sides[soa].push((control.clone(), old, new));
            }
        }
        Ok(kinds.iter().zip(sides).map(|(kind, sides)| kind.changes(sides)).collect())
    }

    /// The ids of the streams with events in `(after, up_to]`.
    fn touched_between(&self, tenant: &TenantId, after: Position, up_to: Position) -> Result<Touched, AppError> {
        let mut touched = Touched::default();
        let mut cursor = after;
        while cursor < up_to {
            let events = self.store.read_all(tenant, cursor, isms_store::READ_CHUNK)?;
            let Some(last) = events.last() else { break };
            cursor = last.position;
            for event in events.into_iter().take_while(|e| e.position <= up_to) {
                touched.0.entry(event.stream_type).or_default().insert(event.stream_id);
            }
        }
        Ok(touched)
    }

    /// Runs `read` over registers that hold every stream at its state at `position`, except the
    /// streams returned with it (those with events after `position`). The live registers serve
    /// when catching up from them costs less than a replay from the start, a replay otherwise.
    fn with_registers_at<T>(
        &self,
        tenant: &TenantId,
        position: Position,
        read: impl FnOnce(&Registers) -> T,
    ) -> Result<(T, Touched), AppError> {
        let live = self.projections.tenant(tenant)?;
        let registers = live.read().unwrap_or_else(|p| p.into_inner());
        let live_position = registers.position;
        if live_position >= position && live_position - position <= position {
            let found = read(&registers);
            drop(registers);
            return Ok((found, self.touched_between(tenant, position, live_position)?));
        }
        drop(registers);
        let registers = replay(self.store.as_ref(), tenant, position, None)?;
        Ok((read(&registers), Touched::default()))
    }
}

fn read_untouched(
    registers: &Registers,
    kinds: &[&RegisterKind],
    drifting: &[usize],
    controls: &BTreeSet<String>,
    touched: &Touched,
    from_on: NaiveDate,
    to_on: NaiveDate,
) -> Untouched {
    let drift = drifting
        .iter()
        .map(|&i| match kinds[i].shape {
            Shape::Records { drift, .. } => {
                let stream_type = kinds[i].stream_type;
                drift(registers, from_on, to_on, &|id| touched.contains(stream_type, id))
            }
            _ => Vec::new(),
        })
        .collect();
    let linked = if controls.is_empty() {
        BTreeMap::new()
    } else {
        risks_by_control(registers)
            .into_iter()
            .filter(|(control, _)| controls.contains(*control))
            .map(|(control, risks)| {
                let untouched =
                    risks.into_iter().filter(|id| !touched.contains(Risk::STREAM_TYPE, &id.to_string())).collect();
                (control.to_owned(), untouched)
            })
            .collect()
    };
    Untouched { drift, linked }
}

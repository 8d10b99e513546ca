use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use isms_domain::criteria::CriteriaState;
use isms_domain::nonconformity::Nonconformity;
use isms_domain::risk::Risk;
use isms_domain::Aggregate;
use isms_store::{Envelope, Position};
use uuid::Uuid;

/// An event the read side cannot interpret: a bug or an unknown schema, never ignored silently.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot project event at position {position} ({event_type}): {reason}")]
pub struct ProjectionError {
    pub position: Position,
    pub event_type: String,
    pub reason: String,
}

/// Decodes an envelope's payload into an aggregate's event type.
pub fn decode_event<A: Aggregate>(envelope: &Envelope) -> Result<A::Event, ProjectionError> {
    let tagged = serde_json::json!({ "event_type": envelope.event_type, "data": envelope.data });
    serde_json::from_value(tagged).map_err(|e| ProjectionError {
        position: envelope.position,
        event_type: envelope.event_type.clone(),
        reason: e.to_string(),
    })
}

/// One record: its domain state and where it stands in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<A> {
    pub state: A,
    pub id: String,
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl<A: Aggregate> Entry<A> {
    fn new(envelope: &Envelope) -> Self {
        Self {
            state: A::default(),
            id: envelope.stream_id.clone(),
            version: 0,
            position: 0,
            created_at: envelope.recorded_at,
            created_by: envelope.actor.clone(),
            updated_at: envelope.recorded_at,
        }
    }

    fn apply(&mut self, envelope: &Envelope) -> Result<(), ProjectionError> {
        self.state.apply(&decode_event::<A>(envelope)?);
        self.version = envelope.version;
        self.position = envelope.position;
        self.updated_at = envelope.recorded_at;
        Ok(())
    }

    /// Folds one stream's envelopes (in version order) into an entry; `None` for no events.
    pub fn fold(envelopes: &[Envelope]) -> Result<Option<Self>, ProjectionError> {
        let Some(first) = envelopes.first() else { return Ok(None) };
        let mut entry = Self::new(first);
        for envelope in envelopes {
            entry.apply(envelope)?;
        }
        Ok(Some(entry))
    }
}

/// One tenant's registers after the events up to `position`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registers {
    /// Keyed by id; ids are UUIDv7, so key order is creation order and pagination is stable.
    pub risks: BTreeMap<Uuid, Entry<Risk>>,
    pub nonconformities: BTreeMap<Uuid, Entry<Nonconformity>>,
    pub criteria: CriteriaState,
    pub position: Position,
    pub recorded_at: Option<DateTime<Utc>>,
}

fn upsert<A: Aggregate>(map: &mut BTreeMap<Uuid, Entry<A>>, envelope: &Envelope) -> Result<(), ProjectionError> {
    let id = Uuid::parse_str(&envelope.stream_id).map_err(|e| ProjectionError {
        position: envelope.position,
        event_type: envelope.event_type.clone(),
        reason: format!("stream id is not a UUID: {e}"),
    })?;
    map.entry(id).or_insert_with(|| Entry::new(envelope)).apply(envelope)
}

impl Registers {
    /// Applies the next event. Events must arrive in position order; one already applied is
    /// skipped, so replaying an overlapping range is harmless.
    pub fn apply(&mut self, envelope: &Envelope) -> Result<(), ProjectionError> {
        if envelope.position <= self.position {
            return Ok(());
        }
        match envelope.stream_type.as_str() {
            Risk::STREAM_TYPE => upsert(&mut self.risks, envelope)?,
            Nonconformity::STREAM_TYPE => upsert(&mut self.nonconformities, envelope)?,
            CriteriaState::STREAM_TYPE => self.criteria.apply(&decode_event::<CriteriaState>(envelope)?),
            other => {
                return Err(ProjectionError {
                    position: envelope.position,
                    event_type: envelope.event_type.clone(),
                    reason: format!("unknown stream type '{other}'"),
                })
            }
        }
        self.position = envelope.position;
        self.recorded_at = Some(envelope.recorded_at);
        Ok(())
    }
}

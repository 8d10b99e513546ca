use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use isms_domain::context::ContextIssue;
use isms_domain::criteria::CriteriaState;
use isms_domain::management_review::ManagementReview;
use isms_domain::nonconformity::Nonconformity;
use isms_domain::risk::Risk;
use isms_domain::Aggregate;
use isms_store::{Envelope, Position};
use serde_json::Value;
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
    decode_parts::<A>(envelope.position, &envelope.event_type, envelope.data.clone())
}

/// Decodes a payload it may consume, which spares copying it (replays decode millions).
fn decode_parts<A: Aggregate>(position: Position, event_type: &str, data: Value) -> Result<A::Event, ProjectionError> {
    use serde::de::value::MapDeserializer;
    use serde::Deserialize;
    // The events are adjacently tagged. Presenting the tag before the content lets serde
    // decode the content in one pass; a JSON object would sort "data" first and make serde
    // buffer it.
    let entries = [("event_type", Value::String(event_type.to_owned())), ("data", data)];
    let tagged = MapDeserializer::<_, serde_json::Error>::new(entries.into_iter());
    A::Event::deserialize(tagged).map_err(|e| ProjectionError {
        position,
        event_type: event_type.to_owned(),
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
    /// The position of the record's first event: the record exists as of any later position.
    pub first_position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// When the record took effect in the business: the `effective_at` of its first event that
    /// states one (an incident's detection, a review's meeting day, a supplier's first signed
    /// agreement); `None` while no event has. See [`Entry::effective_time`].
    pub effective_at: Option<DateTime<Utc>>,
}

impl<A> Entry<A> {
    /// The record's effective time for filters: its business time, or, when none of its events
    /// states one, when it was recorded (a fact without a business time of its own happened
    /// when the ledger learned it).
    pub fn effective_time(&self) -> DateTime<Utc> {
        self.effective_at.unwrap_or(self.created_at)
    }
}

impl<A: Aggregate> Entry<A> {
    fn new(envelope: &Envelope) -> Self {
        Self {
            state: A::default(),
            id: envelope.stream_id.clone(),
            version: 0,
            position: 0,
            first_position: envelope.position,
            created_at: envelope.recorded_at,
            created_by: envelope.actor.clone(),
            updated_at: envelope.recorded_at,
            effective_at: None,
        }
    }

    fn apply(&mut self, envelope: &Envelope) -> Result<(), ProjectionError> {
        let event = decode_event::<A>(envelope)?;
        self.apply_decoded(envelope, &event);
        Ok(())
    }

    fn apply_decoded(&mut self, envelope: &Envelope, event: &A::Event) {
        self.state.apply(event);
        self.version = envelope.version;
        self.position = envelope.position;
        self.updated_at = envelope.recorded_at;
        self.effective_at = self.effective_at.or(envelope.effective_at);
    }

    /// The record id: every register stream id is a UUID (checked when the event is projected).
    pub fn uuid(&self) -> Uuid {
        Uuid::parse_str(&self.id).unwrap_or_default()
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
    pub context_issues: BTreeMap<Uuid, Entry<ContextIssue>>,
    // Section: interested parties, scope, assets.
    pub interested_parties: BTreeMap<Uuid, Entry<isms_domain::parties::InterestedParty>>,
    pub scope: isms_domain::scope::Scope,
    pub assets: BTreeMap<Uuid, Entry<isms_domain::assets::Asset>>,
    pub classification_scheme: isms_domain::assets::ClassificationSchemeState,

    // Section: Annex A catalog and Statement of Applicability.
    /// The Statement of Applicability, keyed by Annex A control id ("5.15"): one stream per control.
    pub soa: BTreeMap<String, Entry<isms_domain::soa::SoaEntry>>,

    // Section: objectives, operational planning, monitoring and measurement.
    pub objectives: BTreeMap<Uuid, Entry<isms_domain::objectives::Objective>>,
    pub operational_plans: BTreeMap<Uuid, Entry<isms_domain::operations::OperationalPlan>>,
    pub metrics: BTreeMap<Uuid, Entry<isms_domain::metrics::Metric>>,

    // Section: internal audit, incidents, documented information.
    pub audit_programmes: BTreeMap<Uuid, Entry<isms_domain::audits::AuditProgramme>>,
    pub audits: BTreeMap<Uuid, Entry<isms_domain::audits::Audit>>,
    pub incidents: BTreeMap<Uuid, Entry<isms_domain::incidents::Incident>>,
    pub documents: BTreeMap<Uuid, Entry<isms_domain::documents::Document>>,

    // Section: people and training, suppliers, certification cycle.
    pub people: BTreeMap<Uuid, Entry<isms_domain::people::Person>>,
    pub training_courses: BTreeMap<Uuid, Entry<isms_domain::training::TrainingCourse>>,
    pub suppliers: BTreeMap<Uuid, Entry<isms_domain::suppliers::Supplier>>,
    pub certification_cycles: BTreeMap<Uuid, Entry<isms_domain::certification::CertificationCycle>>,

    // Section: management review and reports.
    pub management_reviews: BTreeMap<Uuid, Entry<ManagementReview>>,

    // Section: operations (config, backup, lifecycle).

    // Section: observability and limits.

    // Section: event feed and webhooks.

    // Section: HR provisioning and training integrations.
    /// Directory groups pushed over SCIM.
    pub groups: BTreeMap<Uuid, Entry<isms_domain::groups::Group>>,

    // Section: ticketing integrations.

    // Section: personal data erasure.

    // Section: reliability suite.

    // Section: bitemporal facts and the audit trail.
    /// Counts the recorded reads of personal data; the audit trail lists them.
    pub personal_data_access: isms_domain::privacy::PersonalDataAccess,

    pub position: Position,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// Applies an envelope whose payload has been taken out (`data` is `Null`) with its decoded event.
fn upsert<A: Aggregate>(
    map: &mut BTreeMap<Uuid, Entry<A>>,
    envelope: &Envelope,
    data: Value,
) -> Result<(), ProjectionError> {
    let id = Uuid::parse_str(&envelope.stream_id).map_err(|e| ProjectionError {
        position: envelope.position,
        event_type: envelope.event_type.clone(),
        reason: format!("stream id is not a UUID: {e}"),
    })?;
    let event = decode_parts::<A>(envelope.position, &envelope.event_type, data)?;
    map.entry(id).or_insert_with(|| Entry::new(envelope)).apply_decoded(envelope, &event);
    Ok(())
}

impl Registers {
    /// Applies the next event. Events must arrive in position order; one already applied is
    /// skipped, so replaying an overlapping range is harmless.
    pub fn apply(&mut self, envelope: &Envelope) -> Result<(), ProjectionError> {
        self.apply_owned(envelope.clone())
    }

    /// Like [`Registers::apply`], consuming the envelope (no copy of its payload).
    pub fn apply_owned(&mut self, mut envelope: Envelope) -> Result<(), ProjectionError> {
        if envelope.position <= self.position {
            return Ok(());
        }
        let data = std::mem::take(&mut envelope.data);
        let envelope = &envelope;
        match envelope.stream_type.as_str() {
            Risk::STREAM_TYPE => upsert(&mut self.risks, envelope, data)?,
            Nonconformity::STREAM_TYPE => upsert(&mut self.nonconformities, envelope, data)?,
            CriteriaState::STREAM_TYPE => {
                self.criteria.apply(&decode_parts::<CriteriaState>(envelope.position, &envelope.event_type, data)?)
            }
            ContextIssue::STREAM_TYPE => upsert(&mut self.context_issues, envelope, data)?,
            // Section: interested parties, scope, assets.
            isms_domain::parties::InterestedParty::STREAM_TYPE => upsert(&mut self.interested_parties, envelope, data)?,
            isms_domain::scope::Scope::STREAM_TYPE => self.scope.apply(&decode_parts::<isms_domain::scope::Scope>(
                envelope.position,
                &envelope.event_type,
                data,
            )?),
            isms_domain::assets::Asset::STREAM_TYPE => upsert(&mut self.assets, envelope, data)?,
            isms_domain::assets::ClassificationSchemeState::STREAM_TYPE => {
                self.classification_scheme.apply(&decode_parts::<isms_domain::assets::ClassificationSchemeState>(
                    envelope.position,
                    &envelope.event_type,
                    data,
                )?)
            }

            // Section: Annex A catalog and Statement of Applicability.
            isms_domain::soa::SoaEntry::STREAM_TYPE => {
                let event = decode_parts::<isms_domain::soa::SoaEntry>(envelope.position, &envelope.event_type, data)?;
                let entry = self.soa.entry(envelope.stream_id.clone()).or_insert_with(|| Entry::new(envelope));
                entry.apply_decoded(envelope, &event);
            }

            // Section: objectives, operational planning, monitoring and measurement.
            isms_domain::objectives::Objective::STREAM_TYPE => upsert(&mut self.objectives, envelope, data)?,
            isms_domain::operations::OperationalPlan::STREAM_TYPE => {
                upsert(&mut self.operational_plans, envelope, data)?
            }
            isms_domain::metrics::Metric::STREAM_TYPE => upsert(&mut self.metrics, envelope, data)?,

            // Section: internal audit, incidents, documented information.
            isms_domain::audits::AuditProgramme::STREAM_TYPE => upsert(&mut self.audit_programmes, envelope, data)?,
            isms_domain::audits::Audit::STREAM_TYPE => upsert(&mut self.audits, envelope, data)?,
            isms_domain::incidents::Incident::STREAM_TYPE => upsert(&mut self.incidents, envelope, data)?,
            isms_domain::documents::Document::STREAM_TYPE => upsert(&mut self.documents, envelope, data)?,

            // Section: people and training, suppliers, certification cycle.
            isms_domain::people::Person::STREAM_TYPE => upsert(&mut self.people, envelope, data)?,
            isms_domain::training::TrainingCourse::STREAM_TYPE => upsert(&mut self.training_courses, envelope, data)?,
            isms_domain::suppliers::Supplier::STREAM_TYPE => upsert(&mut self.suppliers, envelope, data)?,
            isms_domain::certification::CertificationCycle::STREAM_TYPE => {
                upsert(&mut self.certification_cycles, envelope, data)?
            }

            // Section: management review and reports.
            ManagementReview::STREAM_TYPE => upsert(&mut self.management_reviews, envelope, data)?,

            // Section: operations (config, backup, lifecycle).

            // Section: observability and limits.

            // Section: event feed and webhooks.
            // Webhook subscription changes are audit records, not a register.
            "webhook_subscription" => {}

            // Section: HR provisioning and training integrations.
            isms_domain::groups::Group::STREAM_TYPE => upsert(&mut self.groups, envelope, data)?,

            // Section: ticketing integrations.

            // Section: personal data erasure.

            // Section: reliability suite.

            // Section: bitemporal facts and the audit trail.
            isms_domain::privacy::PersonalDataAccess::STREAM_TYPE => {
                self.personal_data_access.apply(&decode_parts::<isms_domain::privacy::PersonalDataAccess>(
                    envelope.position,
                    &envelope.event_type,
                    data,
                )?)
            }

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

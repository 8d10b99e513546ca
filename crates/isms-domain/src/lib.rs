//! The ISMS domain, free of I/O: aggregates decide on commands and evolve from events.
//!
//! Every aggregate here is pure and synchronous. Anything a decision needs from outside (the
//! risk criteria in force, who is acting, today's date) is passed in with the command, so the
//! same inputs always give the same events and the whole crate is testable without a runtime.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod context;
pub mod criteria;
pub mod error;
pub mod nonconformity;
pub mod risk;
pub mod values;
// Section: interested parties, scope, assets.
pub mod assets;
pub mod parties;
pub mod scope;

// Section: Annex A catalog and Statement of Applicability.
pub mod soa;

// Section: objectives, operational planning, monitoring and measurement.
pub mod metrics;
pub mod objectives;
pub mod operations;

// Section: internal audit, incidents, documented information.
pub mod audits;
pub mod documents;
pub mod incidents;

// Section: people and training, suppliers, certification cycle.
pub mod certification;
pub mod people;
pub mod suppliers;
pub mod training;

// Section: management review and reports.
pub mod management_review;
pub mod requirements;

// Section: operations (config, backup, lifecycle).

// Section: observability and limits.

// Section: event feed and webhooks.

// Section: HR provisioning and training integrations.
pub mod access_removal;
pub mod groups;
pub mod provisioning;

// Section: ticketing integrations.
pub mod ticketing;

// Section: personal data erasure.
pub mod personal;

// Section: reliability suite.

// Section: bitemporal facts and the audit trail.
pub mod effective;
pub mod privacy;

pub use error::{DomainError, ErrorCode, ErrorKind};

/// A stream-backed aggregate: its state is the fold of its events, in order.
pub trait Aggregate: Default {
    /// The events this aggregate emits. Serialized adjacently tagged (`event_type` / `data`)
    /// so the envelope can carry the type name and the payload separately.
    /// Each states its business time, if any ([`effective::EffectiveTime`]).
    type Event: serde::Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug + effective::EffectiveTime;
    /// The `stream_type` of this aggregate's streams in the log.
    const STREAM_TYPE: &'static str;
    /// Applies one event. Must never fail: events are facts that already happened.
    fn apply(&mut self, event: &Self::Event);
}

/// The schema version every event type currently carries. Bumped per event type when its
/// payload changes shape; upcasters then live next to the event.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// Who issues a command, as far as business rules care (e.g. 6.1.3 f: only the risk owner or an
/// administrator accepts residual risk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub subject: String,
    pub is_admin: bool,
}

//! Reads of personal data, recorded as facts (APPI, GDPR Art. 5(2) accountability; ISO/IEC
//! 27001 A.5.34, A.8.15): who read which person's data, when, and for what stated purpose.
//!
//! One stream per tenant holds every such read. It has no business rule to decide on: a read
//! that was served is recorded, so the only event is [`PersonalDataRead`].

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The fixed id of the tenant's one personal-data-access stream.
pub const STREAM_ID: &str = "reads";

/// What `subject_read` says when a read covered many people rather than one person id.
pub const SUBJECT_PEOPLE_LIST: &str = "list";
pub const SUBJECT_PERSONAL_INFORMATION_REPORT: &str = "personal-information";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataRead {
    /// The person id read, or what was read about many people ("list", "personal-information").
    pub subject_read: String,
    /// The `sub` of the token that read it.
    pub reader: String,
    /// Why, as the reader stated it (`Isms-Purpose` header); `None` when not stated.
    pub purpose: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum PersonalDataAccessEvent {
    PersonalDataRead(PersonalDataRead),
}

/// The tenant's record of personal-data reads; the read side only counts them (the audit
/// trail, `stream_type=personal_data_access`, lists them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalDataAccess {
    pub reads: u64,
}

impl PersonalDataAccess {
    /// The event that records a served read.
    pub fn record_read(subject_read: String, reader: String, purpose: Option<String>) -> Vec<PersonalDataAccessEvent> {
        vec![PersonalDataAccessEvent::PersonalDataRead(PersonalDataRead { subject_read, reader, purpose })]
    }
}

impl Aggregate for PersonalDataAccess {
    type Event = PersonalDataAccessEvent;
    const STREAM_TYPE: &'static str = "personal_data_access";

    fn apply(&mut self, event: &PersonalDataAccessEvent) {
        match event {
            PersonalDataAccessEvent::PersonalDataRead(_) => self.reads += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_read_counts() {
        let mut access = PersonalDataAccess::default();
        for event in PersonalDataAccess::record_read("list".into(), "carol".into(), Some("annual access review".into()))
            .iter()
            .chain(&PersonalDataAccess::record_read("0193".into(), "dave".into(), None))
        {
            access.apply(event);
        }
        assert_eq!(access.reads, 2);
    }
}

//! Personal data inside an immutable log (GDPR Art. 17, APPI Art. 35; ISO/IEC 27001 A.5.34):
//! which event fields identify a person, and what they read once the person is erased.
//!
//! The log cannot forget, so personal fields are stored encrypted with a key per person kept
//! outside the log ("crypto-shredding"); erasing a person destroys the key. This module only
//! declares WHAT is personal; sealing and the key store live in the application layer.

use crate::people::{self, Person};
use crate::Aggregate;

/// What a personal field reads once its person is erased (or its key is otherwise gone).
pub const ERASED: &str = "[erased]";

/// What a personal field reads to someone who holds the log but no keys (an evidence pack and
/// its offline verifier): the value exists, sealed, and is not disclosed.
pub const SEALED: &str = "[sealed]";

/// The top-level fields of the `data` of `stream_type`'s events that identify a person; the
/// stream id names the person (whose key seals them). Every string inside such a field
/// (nested objects and arrays included) is sealed. Empty for streams without personal data.
pub fn personal_fields(stream_type: &str) -> &'static [&'static str] {
    match stream_type {
        Person::STREAM_TYPE => people::PERSONAL_FIELDS,
        _ => &[],
    }
}

/// Whether an event of this type erases the person its stream is about.
pub fn is_erasure(stream_type: &str, event_type: &str) -> bool {
    stream_type == Person::STREAM_TYPE && event_type == people::PERSON_ERASED
}

//! What every record register shares, so the command and read paths are written once.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use isms_domain::Aggregate;
use serde::Serialize;
use uuid::Uuid;

use crate::{Entry, Registers};

/// A register of records, one stream per record, keyed by a UUIDv7 id.
pub trait Register: Aggregate + Clone + Send + Sync + 'static {
    /// Singular noun for messages ("context issue").
    const NOUN: &'static str;
    /// The collection's path segment under `/api/v1` ("context-issues"), for `Location`.
    const COLLECTION: &'static str;
    /// The response shape of one record.
    type Record: Serialize + Send + 'static;
    /// Whether a folded stream is a live record (a stream without its creation event is not).
    fn exists(state: &Self) -> bool;
    /// This register inside one tenant's registers.
    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>>;
    /// The response shape, with derived facts (such as `overdue`) computed for `today`.
    fn record(entry: &Entry<Self>, today: NaiveDate) -> Self::Record;
}

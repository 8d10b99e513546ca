//! The types that cross the port: envelopes, append requests and their outcomes, errors.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A position in one tenant's log. Positions are per tenant, start at 1 and have no gaps:
/// each tenant has its own log and its own hash chain, so one tenant's activity never shows in
/// another's numbering.
pub type Position = u64;

/// A tenant name, as carried in the token. Restricted to a key-safe alphabet because it is a
/// prefix of every storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// 1 to 64 characters of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit.
    pub fn parse(raw: &str) -> Result<Self, StoreError> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && raw.as_bytes()[0].is_ascii_alphanumeric();
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(StoreError::InvalidInput(format!(
                "tenant '{raw}' must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names one stream: an aggregate type and the id of one aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamRef {
    pub stream_type: String,
    pub stream_id: String,
}

impl StreamRef {
    pub fn new(stream_type: impl Into<String>, stream_id: impl Into<String>) -> Self {
        Self { stream_type: stream_type.into(), stream_id: stream_id.into() }
    }
}

/// What the appender expects the stream's version to be; checked atomically by the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    Any,
    NoStream,
    Exact(u64),
}

/// An event to append: the type name, its payload schema version and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u32,
    pub data: Value,
    /// When the fact happened in the business, if the event states it (see [`Envelope::effective_at`]).
    pub effective_at: Option<DateTime<Utc>>,
}

/// An idempotency key claimed by a command. The record is written in the same atomic batch as
/// the events, so a key is never recorded without its events or the other way round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: String,
    /// SHA-256 of what the request asked for (method, path, body), to tell a replay from reuse.
    pub fingerprint: String,
    /// The HTTP status the first response had (201 or 200), replayed with the record.
    pub status: u16,
}

/// Who asked and why, stamped on every event of the append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMeta {
    pub actor: String,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub idempotency: Option<IdempotencyClaim>,
    /// The integration the command came through (`scim`, `training`, `jira`, ...), if any.
    pub source: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub tenant: TenantId,
    pub stream: StreamRef,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub meta: CommandMeta,
}

/// A durable append: the envelopes as stored.
#[derive(Debug, Clone)]
pub struct Appended {
    pub envelopes: Vec<Envelope>,
}

impl Appended {
    /// The stream version after the append.
    pub fn version(&self) -> u64 {
        self.envelopes.last().map_or(0, |e| e.version)
    }
    /// The position of the append's last event.
    pub fn position(&self) -> Position {
        self.envelopes.last().map_or(0, |e| e.position)
    }
}

/// One stored event. Field order here is the order served; the hash does not depend on it
/// (see [`crate::canonical_json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub position: Position,
    pub stream_type: String,
    pub stream_id: String,
    pub version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub recorded_at: DateTime<Utc>,
    /// When the fact happened in the business (an incident's detection, a review's meeting
    /// day), as opposed to `recorded_at`, when the ledger learned it. Only events that state a
    /// business time carry it, and it is part of the hashed envelope only when present, so
    /// every event written before the field existed keeps its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<DateTime<Utc>>,
    pub tenant: TenantId,
    pub actor: String,
    /// The integration that issued the command (`scim`, `training`, `jira`, ...); absent for
    /// commands sent directly by a person. Like `effective_at`, hashed only when present, so
    /// every event written before the field existed keeps its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
    pub idempotency_key: Option<String>,
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The outcome of an earlier command under an idempotency key: enough to replay its response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub key: String,
    pub fingerprint: String,
    pub status: u16,
    pub stream_type: String,
    pub stream_id: String,
    pub version: u64,
    pub position: Position,
    pub recorded_at: DateTime<Utc>,
}

/// The end of a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub position: Position,
    pub hash: String,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// How far a tenant's chain has been verified, so start-up verifies only what is newer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedMark {
    pub position: Position,
    pub hash: String,
    pub verified_at: DateTime<Utc>,
}

/// The store failed, as opposed to a business rule refusing a command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed: {0}")]
    Io(String),
    #[error("the data directory {0} is in use by another process (is `isms serve` running on it?)")]
    Locked(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the writer has stopped after a storage failure and accepts no more writes: {0}")]
    WriterFailed(String),
    #[error("invalid input for the store: {0}")]
    InvalidInput(String),
}

/// Why an append did not happen. Nothing of a failed append is written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("expected stream version {expected:?} but it is at {actual}")]
    Conflict { expected: ExpectedVersion, actual: u64 },
    #[error("idempotency key '{0}' is already recorded for this caller")]
    DuplicateIdempotencyKey(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

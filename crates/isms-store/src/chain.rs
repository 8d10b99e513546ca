//! The per-tenant hash chain: how an event's hash is computed and how a chain is verified.
//!
//! `hash = hex(SHA-256(canonical JSON of the envelope without its "hash" field))`. The
//! envelope includes `prev_hash`, the previous event's hash (64 zeros before position 1), so
//! changing, removing or reordering any event breaks every later link.

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::canonical::{write_canonical, write_key, write_serialized};
use crate::envelope::{ChainHead, Envelope, Position, StoreError, TenantId, VerifiedMark};
use crate::storage::Storage;

/// The `prev_hash` of a tenant's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Computes the hash an envelope must carry.
pub fn envelope_hash(envelope: &Envelope) -> String {
    hex::encode(Sha256::digest(envelope_canonical_bytes(envelope)))
}

/// The canonical JSON of an envelope without `hash`: the same bytes as
/// `canonical_json(envelope as a JSON object minus "hash")`, written field by field in sorted
/// key order because this runs for every event the writer stamps and every event verified.
fn envelope_canonical_bytes(envelope: &Envelope) -> Vec<u8> {
    let mut out = Vec::with_capacity(768);
    out.push(b'{');
    write_key("actor", true, &mut out);
    write_serialized(&envelope.actor, &mut out);
    write_key("causation_id", false, &mut out);
    write_serialized(&envelope.causation_id, &mut out);
    write_key("correlation_id", false, &mut out);
    write_serialized(&envelope.correlation_id, &mut out);
    write_key("data", false, &mut out);
    write_canonical(&envelope.data, &mut out);
    // Absent rather than null when the event states no business time: the canonical form of
    // every envelope written before `effective_at` existed stays byte for byte the same.
    if let Some(effective_at) = &envelope.effective_at {
        write_key("effective_at", false, &mut out);
        write_serialized(effective_at, &mut out);
    }
    write_key("event_id", false, &mut out);
    write_serialized(&envelope.event_id, &mut out);
    write_key("event_type", false, &mut out);
    write_serialized(&envelope.event_type, &mut out);
    write_key("idempotency_key", false, &mut out);
    write_serialized(&envelope.idempotency_key, &mut out);
    write_key("position", false, &mut out);
    write_serialized(&envelope.position, &mut out);
    write_key("prev_hash", false, &mut out);
    write_serialized(&envelope.prev_hash, &mut out);
    write_key("recorded_at", false, &mut out);
    write_serialized(&envelope.recorded_at, &mut out);
    write_key("schema_version", false, &mut out);
    write_serialized(&envelope.schema_version, &mut out);
    // Absent rather than null for commands no integration sent, by the rule `effective_at`
    // follows: the canonical form of every earlier envelope stays byte for byte the same.
    if let Some(source) = &envelope.source {
        write_key("source", false, &mut out);
        write_serialized(source, &mut out);
    }
    write_key("stream_id", false, &mut out);
    write_serialized(&envelope.stream_id, &mut out);
    write_key("stream_type", false, &mut out);
    write_serialized(&envelope.stream_type, &mut out);
    write_key("tenant", false, &mut out);
    write_serialized(&envelope.tenant, &mut out);
    write_key("version", false, &mut out);
    write_serialized(&envelope.version, &mut out);
    out.push(b'}');
    out
}

/// The first place a chain does not hold, named by position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant '{tenant}': chain broken at position {position}: {reason}")]
pub struct ChainError {
    pub tenant: String,
    pub position: Position,
    pub reason: String,
}

/// What a verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub head: ChainHead,
    pub verified_from: Position,
    pub events_checked: u64,
}

/// Verifies a tenant's chain from `mark` (or from position 1) up to `up_to` (or its end).
///
/// Starting from a mark still checks that the marked event carries the marked hash, so a
/// rewrite of the verified prefix that leaves the mark's event in place is the only change it
/// can miss; `isms verify` passes no mark and checks everything.
pub fn verify_chain(
    storage: &dyn Storage,
    tenant: &TenantId,
    mark: Option<&VerifiedMark>,
    up_to: Option<Position>,
) -> Result<Result<VerifyReport, ChainError>, StoreError> {
    let up_to = up_to.unwrap_or(Position::MAX);
    let broken = |position, reason: String| Ok(Err(ChainError { tenant: tenant.to_string(), position, reason }));
    let (mut position, mut prev_hash, mut recorded_at) = match mark {
        Some(mark) if mark.position > 0 => match storage.event(tenant, mark.position)? {
            Some(event) if event.hash == mark.hash && envelope_hash(&event) == event.hash => {
                (mark.position, event.hash, Some(event.recorded_at))
            }
            Some(_) => return broken(mark.position, "event differs from the one verified earlier".into()),
            None => return broken(mark.position, "event verified earlier is missing".into()),
        },
        _ => (0, GENESIS_HASH.to_owned(), None),
    };
    let verified_from = position + 1;
    let mut checked = 0u64;
    while position < up_to {
        let limit = crate::READ_CHUNK.min(usize::try_from(up_to - position).unwrap_or(usize::MAX));
        let events = match storage.events_after(tenant, position, limit) {
            Ok(events) => events,
            // Something in this chunk does not decode (found by `tamper.rs`): step one event
            // at a time so the events before it are checked first and the bad one is named.
            Err(StoreError::Corrupt(_)) => match storage.events_after(tenant, position, 1) {
                Ok(events) => events,
                Err(StoreError::Corrupt(reason)) => {
                    return broken(position + 1, format!("undecodable event: {reason}"))
                }
                Err(error) => return Err(error),
            },
            Err(error) => return Err(error),
        };
        if events.is_empty() {
            break;
        }
        for event in &events {
            let expected = position + 1;
            if event.position != expected {
                return broken(expected, format!("missing event (next stored position is {})", event.position));
            }
            if event.tenant != *tenant {
                return broken(expected, format!("event belongs to tenant '{}'", event.tenant));
            }
            if event.prev_hash != prev_hash {
                return broken(expected, "prev_hash does not match the previous event's hash".into());
            }
            if envelope_hash(event) != event.hash {
                return broken(expected, "hash does not match the event's content".into());
            }
            if recorded_at.is_some_and(|previous| event.recorded_at < previous) {
                return broken(expected, "recorded_at goes backwards".into());
            }
            position = expected;
            prev_hash = event.hash.clone();
            recorded_at = Some(event.recorded_at);
            checked += 1;
        }
    }
    Ok(Ok(VerifyReport {
        head: ChainHead { position, hash: prev_hash, recorded_at },
        verified_from,
        events_checked: checked,
    }))
}

/// Verifies every tenant and returns the first break found. `full` checks from position 1 and
/// writes nothing (the offline `isms verify`); otherwise each tenant is checked from its mark
/// and the mark advances (start-up).
pub fn verify_all(
    storage: &dyn Storage,
    full: bool,
) -> Result<Result<Vec<(TenantId, VerifyReport)>, ChainError>, StoreError> {
    let mut reports = Vec::new();
    for tenant in storage.tenants()? {
        let mark = storage.verified_mark(&tenant)?;
        let from = if full { None } else { mark.as_ref() };
        match verify_chain(storage, &tenant, from, None)? {
            Ok(report) => {
                if let Some(mark) = &mark {
                    if let Err(broken) = reaches_mark(storage, &tenant, &report, mark)? {
                        return Ok(Err(broken));
                    }
                }
                if !full && report.events_checked > 0 {
                    storage.set_verified_mark(
                        &tenant,
                        &VerifiedMark {
                            position: report.head.position,
                            hash: report.head.hash.clone(),
                            verified_at: Utc::now(),
                        },
                    )?;
                }
                reports.push((tenant, report));
            }
            Err(broken) => return Ok(Err(broken)),
        }
    }
    Ok(Ok(reports))
}

/// A chain that verifies may still have lost its tail: it must reach the last verified
/// position, with the event that was verified there.
fn reaches_mark(
    storage: &dyn Storage,
    tenant: &TenantId,
    report: &VerifyReport,
    mark: &VerifiedMark,
) -> Result<Result<(), ChainError>, StoreError> {
    let broken = |position, reason: String| Ok(Err(ChainError { tenant: tenant.to_string(), position, reason }));
    if report.head.position < mark.position {
        return broken(
            report.head.position + 1,
            format!(
                "missing event: the log ends at {} but was verified up to {} earlier",
                report.head.position, mark.position
            ),
        );
    }
    match storage.event(tenant, mark.position)? {
        Some(event) if event.hash == mark.hash => Ok(Ok(())),
        _ => broken(mark.position, "event differs from the one verified earlier".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast field-by-field form must stay byte-identical to the generic definition, which
    /// is what independent verifiers implement.
    #[test]
    fn envelope_bytes_equal_the_generic_canonical_form() {
        let envelope = Envelope {
            position: 7,
            stream_type: "risk".into(),
            stream_id: "0193".into(),
            version: 2,
            event_id: uuid::Uuid::now_v7(),
            event_type: "RiskAssessed".into(),
            schema_version: 1,
            recorded_at: Utc::now(),
            effective_at: None,
            tenant: TenantId::parse("acme").unwrap(),
            actor: "alice \"the auditor\"".into(),
            source: None,
            correlation_id: uuid::Uuid::now_v7(),
            causation_id: None,
            idempotency_key: Some("k-1".into()),
            data: serde_json::json!({"z": [1, {"b": null, "a": "\u{e9}"}], "a": true}),
            prev_hash: GENESIS_HASH.into(),
            hash: "ignored".into(),
        };
        let mut generic = serde_json::to_value(&envelope).unwrap();
        generic.as_object_mut().unwrap().remove("hash");
        assert_eq!(envelope_canonical_bytes(&envelope), crate::canonical_json(&generic));
        let dated = Envelope { effective_at: Some(Utc::now() - chrono::Duration::days(3)), ..envelope };
        let mut generic = serde_json::to_value(&dated).unwrap();
        generic.as_object_mut().unwrap().remove("hash");
        assert_eq!(envelope_canonical_bytes(&dated), crate::canonical_json(&generic));
        let sourced = Envelope { source: Some("scim".into()), ..dated };
        let mut generic = serde_json::to_value(&sourced).unwrap();
        generic.as_object_mut().unwrap().remove("hash");
        assert_eq!(envelope_canonical_bytes(&sourced), crate::canonical_json(&generic));
    }

    fn incident_reported() -> Envelope {
        let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        Envelope {
            position: 3,
            stream_type: "incident".into(),
            stream_id: "01930000-0000-7000-8000-000000000001".into(),
            version: 1,
            event_id: uuid::Uuid::parse_str("01930000-0000-7000-8000-0000000000aa").unwrap(),
            event_type: "IncidentReported".into(),
            schema_version: 1,
            recorded_at: at("2026-11-02T09:15:30.123456Z"),
            effective_at: None,
            tenant: TenantId::parse("acme").unwrap(),
            actor: "alice".into(),
            source: None,
            correlation_id: uuid::Uuid::parse_str("01930000-0000-7000-8000-0000000000bb").unwrap(),
            causation_id: None,
            idempotency_key: None,
            data: serde_json::json!({"title": "Phishing", "detected_at": "2026-11-01T22:00:00Z"}),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    /// The hash below was computed by the code as it stood before `effective_at` existed: an
    /// envelope without a business time must keep exactly that hash, or every stored chain breaks.
    #[test]
    fn an_envelope_without_effective_at_hashes_as_before_the_field_existed() {
        let envelope = incident_reported();
        assert_eq!(envelope_hash(&envelope), "6401b0a09dc2e8b86468c06282249c25ee1a9e0cf2969e70ebc91cd0244da1c5");
        let stored = serde_json::to_value(&envelope).unwrap();
        assert!(stored.get("effective_at").is_none(), "not even written as null");
        let read_back: Envelope = serde_json::from_value(stored).unwrap();
        assert_eq!(read_back, envelope);
    }

    #[test]
    fn effective_at_is_hashed_when_present() {
        let detected = chrono::DateTime::parse_from_rfc3339("2026-11-01T22:00:00Z").unwrap().with_timezone(&Utc);
        let dated = Envelope { effective_at: Some(detected), ..incident_reported() };
        let later = Envelope { effective_at: Some(detected + chrono::Duration::hours(1)), ..dated.clone() };
        assert_ne!(envelope_hash(&dated), envelope_hash(&incident_reported()));
        assert_ne!(envelope_hash(&dated), envelope_hash(&later));
        let bytes = String::from_utf8(envelope_canonical_bytes(&dated)).unwrap();
        assert!(bytes.contains(r#""data":{"detected_at":"2026-11-01T22:00:00Z","title":"Phishing"},"effective_at":"2026-11-01T22:00:00Z","event_id""#));
    }

    #[test]
    fn source_is_hashed_when_present_and_absent_otherwise() {
        let stored = serde_json::to_value(incident_reported()).unwrap();
        assert!(stored.get("source").is_none(), "not even written as null");
        let sourced = Envelope { source: Some("scim".into()), ..incident_reported() };
        let other = Envelope { source: Some("jira".into()), ..incident_reported() };
        assert_ne!(envelope_hash(&sourced), envelope_hash(&incident_reported()));
        assert_ne!(envelope_hash(&sourced), envelope_hash(&other));
        let bytes = String::from_utf8(envelope_canonical_bytes(&sourced)).unwrap();
        assert!(bytes.contains(r#""schema_version":1,"source":"scim","stream_id""#));
        let read_back: Envelope = serde_json::from_value(serde_json::to_value(&sourced).unwrap()).unwrap();
        assert_eq!(read_back, sourced);
    }
}

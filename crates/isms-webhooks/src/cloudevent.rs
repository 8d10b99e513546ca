//! The one shape events take when they leave the ledger: CloudEvents 1.0, structured JSON mode.
//! The feed, the live stream and every webhook delivery serve exactly this, so a consumer
//! written against one works against the others.

use chrono::{DateTime, Utc};
use isms_store::Envelope;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub const SPEC_VERSION: &str = "1.0";
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// A CloudEvents 1.0 event in structured JSON mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "specversion": "1.0",
    "id": "0193c7e0-0000-7000-8000-000000000002",
    "source": "/isms-ledger/tenants/acme",
    "type": "isms.risk.assessed.v1",
    "subject": "0193c7e0-0000-7000-8000-000000000001",
    "time": "2026-11-26T10:00:00.123456Z",
    "datacontenttype": "application/json",
    "data": {"likelihood": 4, "impact": 4, "rationale": "Two laptops were stolen last year."},
    "position": 2,
    "streamversion": 2
}))]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// The event's id in the ledger: unique, stable, the key to deduplicate on.
    pub id: String,
    /// This ledger and tenant (a URI reference).
    pub source: String,
    /// `isms.<stream type>.<what happened, snake case, past tense>.v<schema version>`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The id of the record (stream) the event belongs to.
    pub subject: String,
    /// When the ledger recorded the event (`recorded_at`).
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The event's payload as recorded.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Extension: the event's position in the tenant's log (gapless from 1). Store it to resume.
    pub position: u64,
    /// Extension: the record's version after this event.
    pub streamversion: u64,
}

/// The CloudEvents `source` of a tenant's events.
pub fn event_source(source_base: &str, tenant: &str) -> String {
    format!("{}/tenants/{tenant}", source_base.trim_end_matches('/'))
}

/// The CloudEvents `type` of a stored event: `RiskAssessed` in stream type `risk` at schema
/// version 1 is `isms.risk.assessed.v1`. The stream type is not repeated when the event name
/// starts with it; events named otherwise keep their whole name
/// (`CorrectiveActionsPlanned` in `nonconformity` is `isms.nonconformity.corrective_actions_planned.v1`).
pub fn cloud_event_type(stream_type: &str, event_type: &str, schema_version: u32) -> String {
    let event = snake_case(event_type);
    let prefix = format!("{stream_type}_");
    let what = event.strip_prefix(&prefix).filter(|rest| !rest.is_empty()).unwrap_or(&event);
    format!("isms.{stream_type}.{what}.v{schema_version}")
}

fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let previous = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            // `SoaDecided` and `HTTPCheckPassed` alike: a new word starts after a lower case
            // letter or digit, or where an acronym ends.
            if previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl CloudEvent {
    pub fn from_envelope(envelope: &Envelope, source_base: &str) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: envelope.event_id.to_string(),
            source: event_source(source_base, envelope.tenant.as_str()),
            event_type: cloud_event_type(&envelope.stream_type, &envelope.event_type, envelope.schema_version),
            subject: envelope.stream_id.clone(),
            time: envelope.recorded_at,
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            data: envelope.data.clone(),
            position: envelope.position,
            streamversion: envelope.version,
        }
    }
}

/// Which CloudEvents types a consumer wants: exact types, or prefixes ending in `*`
/// (`isms.risk.*`). Empty means every type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeFilter(Vec<String>);

impl TypeFilter {
    /// Accepts types as given, each possibly a comma-separated list; blanks are ignored.
    pub fn new<'a>(types: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            types
                .into_iter()
                .flat_map(|t| t.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn matches(&self, event_type: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|wanted| match wanted.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => wanted == event_type,
            })
    }

    pub fn types(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_drop_the_repeated_stream_type_and_carry_the_schema_version() {
        assert_eq!(cloud_event_type("risk", "RiskAssessed", 1), "isms.risk.assessed.v1");
        assert_eq!(cloud_event_type("risk_criteria", "RiskCriteriaDefined", 2), "isms.risk_criteria.defined.v2");
        assert_eq!(
            cloud_event_type("nonconformity", "CorrectiveActionsPlanned", 1),
            "isms.nonconformity.corrective_actions_planned.v1"
        );
        assert_eq!(cloud_event_type("soa", "SOADecisionRecorded", 1), "isms.soa.decision_recorded.v1");
        assert_eq!(cloud_event_type("risk", "Risk", 1), "isms.risk.risk.v1");
    }

    #[test]
    fn filters_take_exact_types_lists_and_prefixes() {
        let filter = TypeFilter::new(["isms.risk.*", "isms.person.joined.v1, isms.person.left.v1"]);
        assert!(filter.matches("isms.risk.assessed.v1"));
        assert!(filter.matches("isms.person.left.v1"));
        assert!(!filter.matches("isms.person.changed.v1"));
        assert!(TypeFilter::new([""]).matches("anything"));
    }
}

//! Reading Jira Cloud webhook payloads and ServiceNow incident records into one shape.
//!
//! Both are read as JSON values by pointer rather than into strict structs: the vendors add
//! fields freely, ServiceNow sends a field either as a plain string or as
//! `{"value", "display_value"}` depending on how the outbound message is built, and a payload
//! this server does not fully understand must still be answered with what was ignored and why.

use chrono::{DateTime, NaiveDateTime, Utc};
use isms_domain::values::{MAX_LINE, MAX_TEXT};
use serde_json::Value;

use super::TicketingSettings;
use crate::problem::{ApiError, FieldProblem};

pub const JIRA: &str = "jira";
pub const SERVICENOW: &str = "servicenow";

/// What one delivery says about one ticket, whatever system sent it.
#[derive(Debug, Clone)]
pub struct TicketReport {
    pub system: &'static str,
    pub key: String,
    pub delivery_id: String,
    /// Why the whole delivery is not acted on (an event type this server does not handle).
    pub ignored_event: Option<String>,
    pub summary: String,
    pub description: String,
    /// The status as shown to people (`Done`, `Resolved`).
    pub status: String,
    /// Every form the status was reported in, for the status mapping.
    pub status_forms: Vec<String>,
    pub from_status: Option<String>,
    pub priority: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    pub opened_at: Option<DateTime<Utc>>,
    pub reported_by: Option<String>,
    pub url: Option<String>,
    /// Whether the settings make this ticket an incident in the register.
    pub is_incident: bool,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn required(value: &Value, pointer: &str) -> Result<String, ApiError> {
    text(value, pointer).ok_or_else(|| {
        ApiError::unprocessable(
            "incomplete_ticket_payload",
            format!("the payload has no {pointer}"),
            vec![FieldProblem { pointer: pointer.to_owned(), detail: "is required".into() }],
        )
    })
}

/// A single line of at most `MAX_LINE` characters, for titles and names taken from a ticket.
fn line(raw: &str) -> String {
    let line: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    line.trim().chars().take(MAX_LINE).collect()
}

/// A free text of at most `MAX_TEXT` characters without control characters except line breaks.
fn free_text(raw: &str) -> String {
    let kept = raw.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t'));
    kept.take(MAX_TEXT).collect::<String>().trim().to_owned()
}

/// The plain text of a Jira description: a string (wiki markup, REST v2 shapes) or an Atlassian
/// Document Format tree (REST v3 shapes), whose text nodes are joined.
fn jira_description(value: Option<&Value>) -> String {
    fn collect(node: &Value, out: &mut String) {
        if let Some(text) = node.get("text").and_then(Value::as_str) {
            out.push_str(text);
        }
        if let Some(children) = node.get("content").and_then(Value::as_array) {
            children.iter().for_each(|child| collect(child, out));
            if node.get("type").and_then(Value::as_str) == Some("paragraph") {
                out.push('\n');
            }
        }
    }
    match value {
        Some(Value::String(s)) => free_text(s),
        Some(document @ Value::Object(_)) => {
            let mut out = String::new();
            collect(document, &mut out);
            free_text(&out)
        }
        _ => String::new(),
    }
}

/// Jira's timestamps: `2026-11-20T10:15:30.123+0000` (no colon in the offset) or RFC 3339.
fn jira_time(raw: Option<String>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    DateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(&raw))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The delivery id: Jira's `X-Atlassian-Webhook-Identifier` header (the same on every retry of
/// one delivery); without it, the payload's issue id, timestamp and event.
pub fn jira(
    payload: &Value,
    header_delivery_id: Option<String>,
    settings: &TicketingSettings,
) -> Result<TicketReport, ApiError> {
    let event = required(payload, "/webhookEvent")?;
    let key = required(payload, "/issue/key")?;
    let delivery_id = match header_delivery_id {
        Some(id) => id,
        None => format!(
            "{}:{}:{event}",
            text(payload, "/issue/id").unwrap_or_else(|| key.clone()),
            required(payload, "/timestamp")?
        ),
    };
    let fields = |name: &str| text(payload, &format!("/issue/fields/{name}"));
    let status = fields("status/name").unwrap_or_default();
    let status_forms =
        [fields("status/name"), fields("status/statusCategory/key"), fields("status/statusCategory/name")]
            .into_iter()
            .flatten()
            .collect();
    let status_change = payload
        .pointer("/changelog/items")
        .and_then(Value::as_array)
        .and_then(|items| items.iter().find(|item| item.get("field").and_then(Value::as_str) == Some("status")));
    let from_status = status_change.and_then(|item| text(item, "/fromString"));
    let issue_type = fields("issuetype/name").unwrap_or_default();
    let project = fields("project/key").unwrap_or_else(|| key.split('-').next().unwrap_or_default().to_owned());
    let is_incident = settings.jira_incident_issue_types.iter().any(|t| t.eq_ignore_ascii_case(&issue_type))
        && (settings.jira_incident_projects.is_empty()
            || settings.jira_incident_projects.iter().any(|p| p.eq_ignore_ascii_case(&project)));
    let ignored_event = (!matches!(event.as_str(), "jira:issue_created" | "jira:issue_updated")).then(|| {
        format!("the webhook event '{event}' is not handled (only jira:issue_created and jira:issue_updated)")
    });
    // `self` is the REST URL of the issue; people want the browse URL on the same site.
    let url = text(payload, "/issue/self")
        .and_then(|api| api.split("/rest/").next().map(str::to_owned))
        .map(|site| format!("{site}/browse/{key}"));
    let user = text(payload, "/user/displayName").or_else(|| text(payload, "/user/accountId"));
    let changed_at = payload
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .or_else(|| jira_time(fields("updated")));
    Ok(TicketReport {
        system: JIRA,
        summary: line(&fields("summary").unwrap_or_default()),
        description: jira_description(payload.pointer("/issue/fields/description")),
        status: line(&status),
        status_forms,
        from_status: from_status.map(|s| line(&s)),
        priority: fields("priority/name").map(|p| line(&p)),
        reported_by: fields("reporter/displayName").or_else(|| user.clone()).map(|r| line(&r)),
        changed_by: user.map(|u| line(&u)),
        changed_at,
        opened_at: jira_time(fields("created")),
        url,
        is_incident,
        ignored_event,
        key: line(&key),
        delivery_id,
    })
}

/// A ServiceNow field: a plain string, or `{"value", "display_value"}` (`display` picks which).
fn servicenow_field(record: &Value, name: &str, display: bool) -> Option<String> {
    match record.get(name)? {
        Value::Object(_) => {
            let (first, second) = if display { ("display_value", "value") } else { ("value", "display_value") };
            text(record, &format!("/{name}/{first}")).or_else(|| text(record, &format!("/{name}/{second}")))
        }
        _ => text(record, &format!("/{name}")),
    }
}

/// The labels of the incident table's `state` choices in a default ServiceNow instance.
fn servicenow_state_label(state: &str) -> Option<&'static str> {
    Some(match state {
        "1" => "New",
        "2" => "In Progress",
        "3" => "On Hold",
        "6" => "Resolved",
        "7" => "Closed",
        "8" => "Canceled",
        _ => return None,
    })
}

/// ServiceNow date-times (`2026-11-20 10:15:30`, UTC in the REST and outbound APIs).
fn servicenow_time(raw: Option<String>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M:%S")
        .map(|t| t.and_utc())
        .or_else(|_| DateTime::parse_from_rfc3339(&raw).map(|t| t.with_timezone(&Utc)))
        .ok()
}

/// The delivery id: the `X-Delivery-Id` header when the sender sets one; otherwise the record's
/// `sys_id` and `sys_mod_count`, which together name one version of the record, so a resend
/// of the same version is a duplicate and the next update is not.
pub fn servicenow(
    record: &Value,
    header_delivery_id: Option<String>,
    settings: &TicketingSettings,
) -> Result<TicketReport, ApiError> {
    let key = required(record, "/number").or_else(|_| {
        servicenow_field(record, "number", false).ok_or_else(|| {
            ApiError::unprocessable(
                "incomplete_ticket_payload",
                "the record has no number",
                vec![FieldProblem { pointer: "/number".into(), detail: "is required".into() }],
            )
        })
    })?;
    let delivery_id = match header_delivery_id {
        Some(id) => id,
        None => {
            let sys_id = servicenow_field(record, "sys_id", false);
            let sys_id = sys_id.ok_or_else(|| {
                ApiError::unprocessable(
                    "incomplete_ticket_payload",
                    "the record has no sys_id (or send an X-Delivery-Id header)",
                    vec![FieldProblem { pointer: "/sys_id".into(), detail: "is required".into() }],
                )
            })?;
            format!("{sys_id}:{}", servicenow_field(record, "sys_mod_count", false).unwrap_or_else(|| "0".into()))
        }
    };
    let state = servicenow_field(record, "state", false).unwrap_or_default();
    let label = servicenow_field(record, "state", true)
        .filter(|display| *display != state)
        .or_else(|| servicenow_state_label(&state).map(str::to_owned));
    let status_forms = std::iter::once(state.clone()).chain(label.clone()).collect();
    let category = servicenow_field(record, "category", false).unwrap_or_default();
    let is_incident = settings.servicenow_incident_categories.is_empty()
        || settings.servicenow_incident_categories.iter().any(|c| c.eq_ignore_ascii_case(&category));
    let description = servicenow_field(record, "description", false).unwrap_or_default();
    Ok(TicketReport {
        system: SERVICENOW,
        summary: line(&servicenow_field(record, "short_description", false).unwrap_or_default()),
        description: free_text(&description),
        status: line(&label.unwrap_or(state)),
        status_forms,
        from_status: None,
        priority: servicenow_field(record, "priority", true).map(|p| line(&p)),
        changed_by: servicenow_field(record, "sys_updated_by", true).map(|u| line(&u)),
        changed_at: servicenow_time(servicenow_field(record, "sys_updated_on", false)),
        opened_at: servicenow_time(servicenow_field(record, "opened_at", false)),
        reported_by: servicenow_field(record, "caller_id", true)
            .or_else(|| servicenow_field(record, "opened_by", true))
            .map(|r| line(&r)),
        url: None,
        is_incident,
        ignored_event: None,
        key: line(&key),
        delivery_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_times_and_documents_read() {
        let at = jira_time(Some("2026-11-20T10:15:30.123+0000".into())).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-20T10:15:30.123+00:00");
        let adf = serde_json::json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Restore "}, {"type": "text", "text": "failed"}]}]});
        assert_eq!(jira_description(Some(&adf)), "Restore failed");
    }

    #[test]
    fn servicenow_fields_read_plain_or_with_display_values() {
        let record = serde_json::json!({"state": {"value": "6", "display_value": "Resolved"}, "number": "INC1"});
        assert_eq!(servicenow_field(&record, "state", false).as_deref(), Some("6"));
        assert_eq!(servicenow_field(&record, "state", true).as_deref(), Some("Resolved"));
        assert_eq!(
            servicenow_time(Some("2026-11-20 10:15:30".into())).unwrap().to_rfc3339(),
            "2026-11-20T10:15:30+00:00"
        );
    }
}

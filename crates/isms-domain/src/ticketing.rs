//! Tickets in external systems (Jira, ServiceNow) that track the work of a record: the link
//! from a corrective action or an incident to its ticket, the status changes the ticketing
//! system reports, and the mapping that decides which reported status moves an action.
//!
//! The mapping is configuration (each organisation names its workflow statuses differently),
//! so it is passed in as data; deciding with it is pure and lives here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};

/// Longest ticket system name (`jira`, `servicenow`, `github`).
const MAX_SYSTEM: usize = 32;

/// A ticketing system's name: lowercase ASCII letters, digits, `-` and `_`, so that the name a
/// bridge reports and the name a webhook arrives under compare equal.
pub fn ticket_system(pointer: &str, raw: &str) -> Result<String, DomainError> {
    let system = raw.trim().to_ascii_lowercase();
    let valid = !system.is_empty()
        && system.len() <= MAX_SYSTEM
        && system.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(DomainError::at(
            ErrorCode::ValidationFailed,
            pointer,
            format!("must be 1 to {MAX_SYSTEM} letters, digits, '-' or '_', e.g. 'jira' or 'servicenow'"),
        ));
    }
    Ok(system)
}

/// The ticket that tracks a record's work in an external system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRef {
    /// `jira`, `servicenow`, ... (see [`ticket_system`]).
    pub system: String,
    /// The ticket's key in that system: `OPS-42` (Jira), `INC0010023` (ServiceNow).
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl TicketRef {
    /// Ticket keys are compared without regard to ASCII case: Jira upper-cases project keys
    /// but people type `ops-42`.
    pub fn is(&self, system: &str, key: &str) -> bool {
        self.system == system && self.key.eq_ignore_ascii_case(key)
    }
}

/// A status change the ticketing system reported: who moved the ticket and when, as that
/// system says, and which delivery carried it (for tracing a record back to the webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketStatusChange {
    pub system: String,
    pub key: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    pub delivery_id: String,
}

/// What a reported ticket status does to the corrective action the ticket tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    /// The work is done: the action is completed (10.2 c), by the integration, with the
    /// ticket's status change recorded on the completion.
    Completed,
}

/// One line of the status mapping: a status of one ticketing system and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRule {
    pub system: String,
    /// Compared without regard to ASCII case with every form the system reports a status in:
    /// for Jira the status name (`Done`) and its category key (`done`); for ServiceNow the
    /// state value (`6`) and, when sent, its label (`Resolved`).
    pub status: String,
    pub outcome: ActionOutcome,
}

/// The outcome of the first rule of `system` that names one of the reported forms of a status.
pub fn mapped_outcome(rules: &[StatusRule], system: &str, reported: &[&str]) -> Option<ActionOutcome> {
    rules
        .iter()
        .filter(|rule| rule.system == system)
        .find(|rule| reported.iter().any(|status| rule.status.eq_ignore_ascii_case(status.trim())))
        .map(|rule| rule.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(system: &str, status: &str) -> StatusRule {
        StatusRule { system: system.into(), status: status.into(), outcome: ActionOutcome::Completed }
    }

    #[test]
    fn a_status_maps_only_under_its_own_system_and_in_any_reported_form() {
        let rules = [rule("jira", "done"), rule("servicenow", "6")];
        assert_eq!(mapped_outcome(&rules, "jira", &["Closed", "DONE"]), Some(ActionOutcome::Completed));
        assert_eq!(mapped_outcome(&rules, "jira", &["In Progress", "indeterminate"]), None);
        // The ServiceNow state "6" means nothing to Jira.
        assert_eq!(mapped_outcome(&rules, "jira", &["6"]), None);
        assert_eq!(mapped_outcome(&rules, "servicenow", &["6", "Resolved"]), Some(ActionOutcome::Completed));
    }

    #[test]
    fn system_names_are_normalized_slugs() {
        assert_eq!(ticket_system("/system", " Jira ").unwrap(), "jira");
        let error = ticket_system("/system", "service now").unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::ValidationFailed, Some("/system")));
        assert!(ticket_system("/system", "").is_err());
    }

    #[test]
    fn ticket_keys_match_without_regard_to_case() {
        let ticket = TicketRef { system: "jira".into(), key: "OPS-42".into(), url: None };
        assert!(ticket.is("jira", "ops-42"));
        assert!(!ticket.is("servicenow", "OPS-42"));
        assert!(!ticket.is("jira", "OPS-4"));
    }
}

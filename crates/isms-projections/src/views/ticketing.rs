//! How the tickets of corrective actions and incidents read in the registers.

use chrono::{DateTime, Utc};
use isms_domain::incidents::Incident;
use isms_domain::nonconformity::CorrectiveAction;
use isms_domain::ticketing::TicketStatusChange;
use serde::Serialize;
use utoipa::ToSchema;

/// A ticketing system's report that moved the record: who moved the ticket, when, and which
/// webhook delivery said so.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TicketChangeView {
    pub from_status: Option<String>,
    pub to_status: String,
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    pub delivery_id: String,
}

/// The ticket tracking a corrective action in Jira, ServiceNow or another system.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActionTicketView {
    /// The system of the linked ticket, or the one asked for when planning.
    pub system: Option<String>,
    /// The linked ticket's key, or the key given when planning; absent until a bridge reports it.
    pub key: Option<String>,
    pub url: Option<String>,
    /// The project asked for when planning (a Jira project key, a ServiceNow assignment group).
    pub project: Option<String>,
    /// Set when the ticket's status completed the action.
    pub completion: Option<TicketChangeView>,
}

fn change_view(change: &TicketStatusChange) -> TicketChangeView {
    TicketChangeView {
        from_status: change.from_status.clone(),
        to_status: change.to_status.clone(),
        changed_by: change.changed_by.clone(),
        changed_at: change.changed_at,
        delivery_id: change.delivery_id.clone(),
    }
}

/// The action's ticket, when it has or asks for one.
pub fn action_ticket(action: &CorrectiveAction) -> Option<ActionTicketView> {
    let plan = &action.plan;
    if action.ticket.is_none() && plan.ticket_key.is_none() && plan.ticket_system.is_none() {
        return None;
    }
    Some(ActionTicketView {
        system: action.ticket.as_ref().map(|t| t.system.clone()).or_else(|| plan.ticket_system.clone()),
        key: action.ticket.as_ref().map(|t| t.key.clone()).or_else(|| plan.ticket_key.clone()),
        url: action.ticket.as_ref().and_then(|t| t.url.clone()),
        project: plan.ticket_project.clone(),
        completion: action.completion.as_ref().and_then(|c| c.ticket.as_ref()).map(change_view),
    })
}

/// The ticket an incident was reported from, in its last reported state.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentTicketView {
    pub system: String,
    pub key: String,
    pub url: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub summary: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

pub fn incident_ticket(incident: &Incident) -> Option<IncidentTicketView> {
    let ticket = incident.ticket.as_ref()?;
    let state = incident.ticket_state.as_ref();
    Some(IncidentTicketView {
        system: ticket.system.clone(),
        key: ticket.key.clone(),
        url: ticket.url.clone(),
        status: state.map(|s| s.status.clone()),
        priority: state.and_then(|s| s.priority.clone()),
        summary: state.and_then(|s| s.summary.clone()),
        changed_by: state.and_then(|s| s.changed_by.clone()),
        changed_at: state.and_then(|s| s.changed_at),
    })
}

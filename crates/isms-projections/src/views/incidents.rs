//! The incident register (A.5.24 to A.5.28, A.6.8) as it is read.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::incidents::{Incident, IncidentCategory, IncidentSeverity, IncidentStatus, IncidentStep};
use isms_domain::nonconformity::Severity;
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{severity_schema, string_enum};
use crate::{Entry, Register, Registers};

pub fn incident_severity_schema() -> utoipa::openapi::schema::Object {
    string_enum(IncidentSeverity::NAMES)
}
pub fn incident_category_schema() -> utoipa::openapi::schema::Object {
    string_enum(IncidentCategory::NAMES)
}
pub fn incident_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(IncidentStatus::NAMES)
}

/// The assessment and classification of the event (A.5.25).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TriageView {
    #[schema(schema_with = incident_severity_schema)]
    pub severity: IncidentSeverity,
    #[schema(schema_with = incident_category_schema)]
    pub category: IncidentCategory,
    pub personal_data_breach: bool,
    pub triaged_by: String,
}

/// A lifecycle step: what was done and who recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StepView {
    pub text: String,
    pub by: String,
}

/// The notification of a personal data breach to the supervisory authority.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NotificationView {
    pub notified_at: DateTime<Utc>,
    pub authority: String,
    pub reference: Option<String>,
    pub recorded_by: String,
    /// Notified after the deadline.
    pub late: bool,
}

/// The nonconformity the incident raised (10.2).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentNonconformityView {
    pub nonconformity_id: Uuid,
    #[schema(schema_with = severity_schema)]
    pub severity: Severity,
    pub raised_by: String,
}

/// An information security incident.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentRecord {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub detected_at: DateTime<Utc>,
    /// Who reported the event (A.6.8).
    pub reported_by: String,
    #[schema(schema_with = incident_status_schema)]
    pub status: IncidentStatus,
    pub triage: Option<TriageView>,
    /// For a personal data breach: `detected_at` + 72 hours (GDPR Art. 33).
    pub notification_due_at: Option<DateTime<Utc>>,
    pub notification: Option<NotificationView>,
    /// A personal data breach not yet notified whose deadline's date (UTC) is before the
    /// date read (today, or the `as_of` date).
    pub notification_overdue: bool,
    pub containment: Option<StepView>,
    pub resolution: Option<StepView>,
    /// A.5.27: knowledge gained from the incident.
    pub lessons_learned: Option<StepView>,
    pub closure: Option<StepView>,
    pub nonconformity: Option<IncidentNonconformityView>,
    /// The ticket the incident was reported from (Jira, ServiceNow), as last reported.
    pub ticket: Option<super::ticketing::IncidentTicketView>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

fn step(step: &Option<IncidentStep>) -> Option<StepView> {
    step.as_ref().map(|s| StepView { text: s.text.clone(), by: s.by.clone() })
}

impl Register for Incident {
    const NOUN: &'static str = "incident";
    const COLLECTION: &'static str = "incidents";
    type Record = IncidentRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.incidents
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> IncidentRecord {
        let state = &entry.state;
        let report = state.report.clone().unwrap_or_else(|| isms_domain::incidents::IncidentReported {
            title: String::new(),
            description: String::new(),
            detected_at: entry.created_at,
            reported_by: String::new(),
        });
        let deadline = state.notification_due_at();
        IncidentRecord {
            id: entry.uuid(),
            title: report.title,
            description: report.description,
            detected_at: report.detected_at,
            reported_by: report.reported_by,
            status: state.status,
            triage: state.triage.as_ref().map(|t| TriageView {
                severity: t.severity,
                category: t.category,
                personal_data_breach: t.personal_data_breach,
                triaged_by: t.triaged_by.clone(),
            }),
            notification_due_at: deadline,
            notification: state.notification.as_ref().map(|n| NotificationView {
                notified_at: n.notified_at,
                authority: n.authority.clone(),
                reference: n.reference.clone(),
                recorded_by: n.recorded_by.clone(),
                late: deadline.is_some_and(|d| n.notified_at > d),
            }),
            notification_overdue: state.notification.is_none() && deadline.is_some_and(|d| d.date_naive() < today),
            containment: step(&state.containment),
            resolution: step(&state.resolution),
            lessons_learned: step(&state.lessons_learned),
            closure: step(&state.closure),
            nonconformity: state.nonconformity.as_ref().map(|n| IncidentNonconformityView {
                nonconformity_id: n.nonconformity_id,
                severity: n.severity,
                raised_by: n.raised_by.clone(),
            }),
            ticket: super::ticketing::incident_ticket(state),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

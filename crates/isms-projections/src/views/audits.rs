//! The internal audit registers (9.2) as they are read: programmes and audits with findings.

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::audits::{Audit, AuditProgramme, AuditProgrammeStatus, AuditStatus, FindingType};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn audit_programme_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(AuditProgrammeStatus::NAMES)
}
pub fn audit_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(AuditStatus::NAMES)
}
pub fn finding_type_schema() -> utoipa::openapi::schema::Object {
    string_enum(FindingType::NAMES)
}

/// The internal audit programme of one year (9.2.2).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditProgrammeRecord {
    pub id: Uuid,
    pub year: i32,
    pub objectives: String,
    pub scope: String,
    pub criteria: String,
    pub methods: String,
    pub responsibilities: String,
    /// A revision of an approved programme returns it to `draft`.
    #[schema(schema_with = audit_programme_status_schema)]
    pub status: AuditProgrammeStatus,
    pub approved_by: Option<String>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for AuditProgramme {
    const NOUN: &'static str = "audit programme";
    const COLLECTION: &'static str = "audit-programmes";
    type Record = AuditProgrammeRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.audit_programmes
    }

    fn record(entry: &Entry<Self>, _today: NaiveDate) -> AuditProgrammeRecord {
        let state = &entry.state;
        let content = state.content.clone().unwrap_or_else(|| isms_domain::audits::AuditProgrammeContent {
            objectives: String::new(),
            scope: String::new(),
            criteria: String::new(),
            methods: String::new(),
            responsibilities: String::new(),
        });
        AuditProgrammeRecord {
            id: entry.uuid(),
            year: state.year.unwrap_or_default(),
            objectives: content.objectives,
            scope: content.scope,
            criteria: content.criteria,
            methods: content.methods,
            responsibilities: content.responsibilities,
            status: state.status,
            approved_by: state.approved_by.clone(),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// One audit finding.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FindingView {
    pub finding_id: Uuid,
    #[schema(schema_with = finding_type_schema)]
    pub finding_type: FindingType,
    /// Clause (`9.2`) or Annex A control (`A.8.13`).
    pub reference: String,
    pub description: String,
    pub evidence: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    /// For a nonconformity finding: the nonconformity it raised (its id is the finding's).
    pub nonconformity_id: Option<Uuid>,
}

/// An internal audit (9.2) with its findings.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: Uuid,
    pub programme_id: Uuid,
    pub title: String,
    pub scope: String,
    pub criteria: String,
    pub auditors: Vec<String>,
    pub auditees: Vec<String>,
    pub planned_start_on: NaiveDate,
    pub planned_end_on: NaiveDate,
    #[schema(schema_with = audit_status_schema)]
    pub status: AuditStatus,
    pub started_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub start_note: Option<String>,
    pub findings: Vec<FindingView>,
    pub summary: Option<String>,
    pub reported_by: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
    /// Not reported and past its planned end date.
    pub overdue: bool,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Audit {
    const NOUN: &'static str = "audit";
    const COLLECTION: &'static str = "audits";
    type Record = AuditRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.audits
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> AuditRecord {
        let state = &entry.state;
        let plan = state.plan.clone().unwrap_or_else(|| isms_domain::audits::AuditPlanned {
            programme_id: Uuid::nil(),
            title: String::new(),
            scope: String::new(),
            criteria: String::new(),
            auditors: Vec::new(),
            auditees: Vec::new(),
            planned_start_on: today,
            planned_end_on: today,
        });
        AuditRecord {
            id: entry.uuid(),
            overdue: state.status != AuditStatus::Reported && plan.planned_end_on < today,
            programme_id: plan.programme_id,
            title: plan.title,
            scope: plan.scope,
            criteria: plan.criteria,
            auditors: plan.auditors,
            auditees: plan.auditees,
            planned_start_on: plan.planned_start_on,
            planned_end_on: plan.planned_end_on,
            status: state.status,
            started_by: state.start.as_ref().map(|s| s.started_by.clone()),
            started_at: state.start.as_ref().map(|s| s.started_at),
            start_note: state.start.as_ref().map(|s| s.note.clone()),
            findings: state
                .findings
                .iter()
                .map(|f| FindingView {
                    finding_id: f.finding_id,
                    finding_type: f.finding_type,
                    reference: f.reference.clone(),
                    description: f.description.clone(),
                    evidence: f.evidence.clone(),
                    recorded_by: f.recorded_by.clone(),
                    recorded_at: f.recorded_at,
                    nonconformity_id: f.finding_type.nonconformity_severity().map(|_| f.finding_id),
                })
                .collect(),
            summary: state.report.as_ref().map(|r| r.summary.clone()),
            reported_by: state.report.as_ref().map(|r| r.reported_by.clone()),
            reported_at: state.report.as_ref().map(|r| r.reported_at),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

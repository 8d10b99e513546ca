//! The certification cycles as they are read, with what falls due next and what is overdue.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::certification::{
    CertificationCycle, CertificationCycleStatus, DueItem, Scheduled, Stage1Result, Stage2Result, SurveillanceResult,
};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn certification_cycle_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(CertificationCycleStatus::NAMES)
}
pub fn stage1_result_schema() -> utoipa::openapi::schema::Object {
    string_enum(Stage1Result::NAMES)
}
pub fn stage2_result_schema() -> utoipa::openapi::schema::Object {
    string_enum(Stage2Result::NAMES)
}
pub fn surveillance_result_schema() -> utoipa::openapi::schema::Object {
    string_enum(SurveillanceResult::NAMES)
}
pub fn due_item_schema() -> utoipa::openapi::schema::Object {
    string_enum(DueItem::NAMES)
}

/// Something that falls due in a cycle.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DueItemView {
    #[schema(schema_with = due_item_schema)]
    pub item: DueItem,
    pub due_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GapDiagnosisView {
    pub completed_on: NaiveDate,
    pub summary: String,
}

/// The stage 1 audit (mainly the documented ISMS); the latest attempt.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Stage1AuditView {
    pub planned_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    #[schema(schema_with = stage1_result_schema)]
    pub result: Option<Stage1Result>,
    pub findings_summary: Option<String>,
}

/// The stage 2 audit (the ISMS in operation); the latest attempt.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Stage2AuditView {
    pub planned_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    #[schema(schema_with = stage2_result_schema)]
    pub result: Option<Stage2Result>,
    pub findings_summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CertificateView {
    pub certificate_number: String,
    pub issued_on: NaiveDate,
    /// Three years after issue; recertification is due by then.
    pub expires_on: Option<NaiveDate>,
}

/// A yearly surveillance audit: due on an anniversary of issue, recorded when completed.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SurveillanceAuditView {
    /// 1 or 2.
    pub sequence: u8,
    pub due_on: NaiveDate,
    pub completed_on: Option<NaiveDate>,
    #[schema(schema_with = surveillance_result_schema)]
    pub result: Option<SurveillanceResult>,
    pub findings_summary: Option<String>,
}

/// One certification cycle with a certification body.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CertificationCycleRecord {
    pub id: Uuid,
    pub certification_body: String,
    pub standard: String,
    pub scope_reference: String,
    #[schema(schema_with = certification_cycle_status_schema)]
    pub status: CertificationCycleStatus,
    pub closure_reason: Option<String>,
    pub gap_diagnosis: Option<GapDiagnosisView>,
    pub stage1_audit: Option<Stage1AuditView>,
    pub stage2_audit: Option<Stage2AuditView>,
    pub certificate: Option<CertificateView>,
    pub surveillance_audits: Vec<SurveillanceAuditView>,
    /// The certificate's expiry.
    pub recertification_due_on: Option<NaiveDate>,
    /// The next thing due in an open cycle (it may already be overdue).
    pub upcoming: Option<DueItemView>,
    /// What was due before the day read and has not happened.
    pub overdue: Vec<DueItemView>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

/// What is still to happen in an open cycle, in cycle order.
fn pending(cycle: &CertificationCycle) -> Vec<Scheduled> {
    if cycle.status == CertificationCycleStatus::Closed {
        return Vec::new();
    }
    cycle.schedule().into_iter().filter(|s| !s.done).collect()
}

fn due_view(scheduled: &Scheduled) -> DueItemView {
    DueItemView { item: scheduled.item, due_on: scheduled.due_on }
}

impl Register for CertificationCycle {
    const NOUN: &'static str = "certification cycle";
    const COLLECTION: &'static str = "certification-cycles";
    type Record = CertificationCycleRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.certification_cycles
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> CertificationCycleRecord {
        let state = &entry.state;
        let opened = state.opened.clone().unwrap_or_else(|| isms_domain::certification::CertificationCycleOpened {
            certification_body: String::new(),
            standard: String::new(),
            scope_reference: String::new(),
        });
        let pending = pending(state);
        let stage1 = &state.stage1;
        let stage2 = &state.stage2;
        CertificationCycleRecord {
            id: entry.uuid(),
            certification_body: opened.certification_body,
            standard: opened.standard,
            scope_reference: opened.scope_reference,
            status: state.status,
            closure_reason: state.closure.as_ref().map(|c| c.reason.clone()),
            gap_diagnosis: state
                .gap_diagnosis
                .as_ref()
                .map(|g| GapDiagnosisView { completed_on: g.completed_on, summary: g.summary.clone() }),
            stage1_audit: stage1.planned_on.map(|planned_on| Stage1AuditView {
                planned_on: Some(planned_on),
                completed_on: stage1.completion.as_ref().map(|c| c.completed_on),
                result: stage1.completion.as_ref().map(|c| c.result),
                findings_summary: stage1.completion.as_ref().map(|c| c.findings_summary.clone()),
            }),
            stage2_audit: stage2.planned_on.map(|planned_on| Stage2AuditView {
                planned_on: Some(planned_on),
                completed_on: stage2.completion.as_ref().map(|c| c.completed_on),
                result: stage2.completion.as_ref().map(|c| c.result),
                findings_summary: stage2.completion.as_ref().map(|c| c.findings_summary.clone()),
            }),
            certificate: state.certificate.as_ref().map(|c| CertificateView {
                certificate_number: c.certificate_number.clone(),
                issued_on: c.issued_on,
                expires_on: state.expires_on(),
            }),
            surveillance_audits: (1..=isms_domain::certification::SURVEILLANCE_AUDITS as u8)
                .filter_map(|sequence| {
                    let due_on = state.surveillance_due_on(sequence.into())?;
                    let audit = state.surveillance_audits.iter().find(|a| a.sequence == sequence);
                    Some(SurveillanceAuditView {
                        sequence,
                        due_on,
                        completed_on: audit.map(|a| a.completed_on),
                        result: audit.map(|a| a.result),
                        findings_summary: audit.map(|a| a.findings_summary.clone()),
                    })
                })
                .collect(),
            recertification_due_on: state.expires_on(),
            upcoming: pending.first().map(due_view),
            overdue: pending.iter().filter(|s| s.due_on < today).map(due_view).collect(),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// A certification date, for the readiness report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CertificationDateView {
    pub cycle_id: Uuid,
    pub certification_body: String,
    #[schema(schema_with = due_item_schema)]
    pub item: DueItem,
    pub due_on: NaiveDate,
    /// The date has passed on the day read.
    pub overdue: bool,
}

impl Registers {
    /// For the readiness report: what is still to happen in the open cycles, by date.
    pub fn upcoming_certification_dates(&self, today: NaiveDate) -> Vec<CertificationDateView> {
        let mut dates: Vec<CertificationDateView> = self
            .certification_cycles
            .iter()
            .flat_map(|(id, entry)| {
                let body = entry.state.opened.as_ref().map(|o| o.certification_body.clone()).unwrap_or_default();
                pending(&entry.state).into_iter().map(move |s| CertificationDateView {
                    cycle_id: *id,
                    certification_body: body.clone(),
                    item: s.item,
                    due_on: s.due_on,
                    overdue: s.due_on < today,
                })
            })
            .collect();
        dates.sort_by_key(|d| d.due_on);
        dates
    }

    /// For the readiness report: surveillance audits whose anniversary passed unrecorded.
    pub fn overdue_surveillance(&self, today: NaiveDate) -> Vec<CertificationDateView> {
        self.upcoming_certification_dates(today)
            .into_iter()
            .filter(|d| {
                d.overdue && matches!(d.item, DueItem::FirstSurveillanceAudit | DueItem::SecondSurveillanceAudit)
            })
            .collect()
    }
}

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

/// The schema of an optional enum field, which is serialized as `null` when absent.
fn nullable_string_enum(names: &[&str]) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(names.iter().map(|name| serde_json::Value::from(*name)).chain([serde_json::Value::Null])))
        .build()
}
fn optional_stage1_result_schema() -> utoipa::openapi::schema::Object {
    nullable_string_enum(Stage1Result::NAMES)
}
fn optional_stage2_result_schema() -> utoipa::openapi::schema::Object {
    nullable_string_enum(Stage2Result::NAMES)
}
fn optional_surveillance_result_schema() -> utoipa::openapi::schema::Object {
    nullable_string_enum(SurveillanceResult::NAMES)
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
    #[schema(schema_with = optional_stage1_result_schema)]
    pub result: Option<Stage1Result>,
    pub findings_summary: Option<String>,
}

/// The stage 2 audit (the ISMS in operation); the latest attempt.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Stage2AuditView {
    pub planned_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    #[schema(schema_with = optional_stage2_result_schema)]
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
    #[schema(schema_with = optional_surveillance_result_schema)]
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

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use isms_domain::certification::{AuditCompleted, AuditPlanned, CertificateIssued, CertificationCycleEvent as C};
    use isms_domain::people::{Person, PersonEvent, PersonJoined, PersonProfile};
    use isms_domain::suppliers::{ReviewOutcome, Supplier, SupplierApproved, SupplierDetails, SupplierEvent};
    use isms_domain::training::TrainingAssigned;
    use isms_domain::Aggregate;

    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn entry<A: Aggregate>(id: u128, events: &[A::Event]) -> (Uuid, Entry<A>) {
        let mut state = A::default();
        events.iter().for_each(|e| state.apply(e));
        let id = Uuid::from_u128(id);
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let entry = Entry {
            state,
            id: id.to_string(),
            version: 1,
            position: 1,
            first_position: 1,
            created_at: at,
            created_by: "t".into(),
            updated_at: at,
            effective_at: None,
        };
        (id, entry)
    }

    fn certified(issued_on: NaiveDate) -> Vec<C> {
        let opened = isms_domain::certification::CertificationCycleOpened {
            certification_body: "JMAQA".into(),
            standard: "ISO/IEC 27001:2022".into(),
            scope_reference: "S".into(),
        };
        let done = |result| AuditCompleted { completed_on: issued_on, result, findings_summary: String::new() };
        vec![
            C::CertificationCycleOpened(opened),
            C::Stage1AuditPlanned(AuditPlanned { planned_on: issued_on }),
            C::Stage1AuditCompleted(done(Stage1Result::ReadyForStage2)),
            C::Stage2AuditPlanned(AuditPlanned { planned_on: issued_on }),
            C::Stage2AuditCompleted(AuditCompleted {
                completed_on: issued_on,
                result: Stage2Result::Recommended,
                findings_summary: String::new(),
            }),
            C::CertificateIssued(CertificateIssued { certificate_number: "IS 1".into(), issued_on }),
        ]
    }

    /// The helpers the readiness report reads, on one day: 2026-06-01.
    #[test]
    fn readiness_helpers_pick_what_is_due_on_the_day() {
        let today = date(2026, 6, 1);
        let mut registers = Registers::default();
        registers.certification_cycles.extend([entry::<CertificationCycle>(1, &certified(date(2025, 3, 1)))]);
        let dates: Vec<(DueItem, NaiveDate, bool)> =
            registers.upcoming_certification_dates(today).iter().map(|d| (d.item, d.due_on, d.overdue)).collect();
        assert_eq!(
            dates,
            [
                (DueItem::FirstSurveillanceAudit, date(2026, 3, 1), true),
                (DueItem::SecondSurveillanceAudit, date(2027, 3, 1), false),
                (DueItem::Recertification, date(2028, 3, 1), false),
            ]
        );
        let overdue: Vec<DueItem> = registers.overdue_surveillance(today).iter().map(|d| d.item).collect();
        assert_eq!(overdue, [DueItem::FirstSurveillanceAudit]);

        let profile = PersonProfile {
            display_name: "H".into(),
            email: None,
            department: "dev".into(),
            role: "eng".into(),
            manager_id: None,
        };
        let joined = PersonEvent::PersonJoined(PersonJoined { user_name: "h".into(), external_id: None, profile });
        let assigned = |due_date| {
            PersonEvent::TrainingAssigned(TrainingAssigned {
                assignment_id: Uuid::from_u128(9),
                course_id: Uuid::from_u128(8),
                due_date,
            })
        };
        registers.people.extend([
            entry::<Person>(2, &[joined.clone(), assigned(date(2026, 5, 31))]),
            entry::<Person>(3, &[joined, assigned(date(2026, 6, 1))]),
        ]);
        let late: Vec<Uuid> = registers.people_with_overdue_training(today).iter().map(|p| p.id).collect();
        assert_eq!(late, [Uuid::from_u128(2)]);

        let details = SupplierDetails {
            name: "S".into(),
            services: "s".into(),
            owner: "o".into(),
            risk_rating: isms_domain::suppliers::SupplierRiskRating::Low,
            handles_personal_data: false,
        };
        let reviewed = |next_review_due_on| {
            SupplierEvent::SupplierReviewed(isms_domain::suppliers::SupplierReviewed {
                reviewed_on: date(2025, 1, 1),
                outcome: ReviewOutcome::Satisfactory,
                notes: String::new(),
                next_review_due_on,
            })
        };
        let approved = SupplierEvent::SupplierApproved(SupplierApproved { note: String::new() });
        let proposed = SupplierEvent::SupplierProposed(details);
        registers.suppliers.extend([
            entry::<Supplier>(4, &[proposed.clone(), approved.clone(), reviewed(date(2026, 5, 1))]),
            entry::<Supplier>(5, &[proposed.clone(), approved, reviewed(date(2026, 7, 1))]),
            // Not approved: nobody relies on it yet, so its review is not overdue.
            entry::<Supplier>(6, &[proposed, reviewed(date(2026, 5, 1))]),
        ]);
        let late: Vec<Uuid> = registers.suppliers_with_overdue_reviews(today).iter().map(|s| s.id).collect();
        assert_eq!(late, [Uuid::from_u128(4)]);
    }
}

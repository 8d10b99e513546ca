//! The certification cycle with a certification body: an optional gap diagnosis, the stage 1
//! audit (mainly the documented ISMS), the stage 2 audit (the ISMS in operation), the
//! certificate (valid three years), a surveillance audit in each of the two following years,
//! and recertification when the certificate expires. One stream per cycle; recertification
//! opens the next cycle.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

/// A fact dated by the caller (a completion, a signature) cannot lie after the day it is recorded.
pub fn ensure_not_after_today(pointer: &str, date: NaiveDate, today: NaiveDate) -> Result<(), DomainError> {
    if date > today {
        return Err(DomainError::at(ErrorCode::DateInFuture, pointer, format!("{date} is after today ({today})")));
    }
    Ok(())
}

/// `date` (at `pointer`) must not come before `earliest`, the date of `what`.
pub fn ensure_not_before(
    pointer: &str,
    date: NaiveDate,
    earliest: Option<NaiveDate>,
    what: &str,
) -> Result<(), DomainError> {
    match earliest {
        Some(earliest) if date < earliest => {
            Err(DomainError::at(ErrorCode::DatesOutOfOrder, pointer, format!("{date} is before {earliest} ({what})")))
        }
        _ => Ok(()),
    }
}

pub const ISO_27001_2022: &str = "ISO/IEC 27001:2022";
/// A certificate is valid for three years; recertification is due when it expires.
pub const CERTIFICATE_VALIDITY_MONTHS: u32 = 36;
/// Surveillance audits are due on the first and second anniversaries of issue.
pub const SURVEILLANCE_AUDITS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CertificationCycleStatus {
    #[default]
    Open,
    Closed,
}

impl CertificationCycleStatus {
    pub const NAMES: &'static [&'static str] = &["open", "closed"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage1Result {
    ReadyForStage2,
    NotReady,
}

impl Stage1Result {
    pub const NAMES: &'static [&'static str] = &["ready_for_stage2", "not_ready"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage2Result {
    Recommended,
    NotRecommended,
}

impl Stage2Result {
    pub const NAMES: &'static [&'static str] = &["recommended", "not_recommended"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveillanceResult {
    Maintained,
    MaintainedWithFindings,
    Suspended,
}

impl SurveillanceResult {
    pub const NAMES: &'static [&'static str] = &["maintained", "maintained_with_findings", "suspended"];
}

/// What falls due in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueItem {
    Stage1Audit,
    Stage2Audit,
    FirstSurveillanceAudit,
    SecondSurveillanceAudit,
    Recertification,
}

impl DueItem {
    pub const NAMES: &'static [&'static str] =
        &["stage1_audit", "stage2_audit", "first_surveillance_audit", "second_surveillance_audit", "recertification"];
}

/// The outcome of a stage audit: whether it lets the cycle move on.
pub trait StageResult: Copy {
    fn passed(self) -> bool;
}

impl StageResult for Stage1Result {
    fn passed(self) -> bool {
        self == Stage1Result::ReadyForStage2
    }
}

impl StageResult for Stage2Result {
    fn passed(self) -> bool {
        self == Stage2Result::Recommended
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificationCycleOpened {
    pub certification_body: String,
    pub standard: String,
    /// The scope statement the certificate will cover (a document reference).
    pub scope_reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapDiagnosisCompleted {
    pub completed_on: NaiveDate,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPlanned {
    pub planned_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCompleted<R> {
    pub completed_on: NaiveDate,
    pub result: R,
    pub findings_summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateIssued {
    pub certificate_number: String,
    pub issued_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveillanceAuditCompleted {
    /// 1 or 2: the anniversary of issue the audit is for.
    pub sequence: u8,
    pub completed_on: NaiveDate,
    pub result: SurveillanceResult,
    pub findings_summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificationCycleClosed {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum CertificationCycleEvent {
    CertificationCycleOpened(CertificationCycleOpened),
    GapDiagnosisCompleted(GapDiagnosisCompleted),
    Stage1AuditPlanned(AuditPlanned),
    Stage1AuditCompleted(AuditCompleted<Stage1Result>),
    Stage2AuditPlanned(AuditPlanned),
    Stage2AuditCompleted(AuditCompleted<Stage2Result>),
    CertificateIssued(CertificateIssued),
    SurveillanceAuditCompleted(SurveillanceAuditCompleted),
    CertificationCycleClosed(CertificationCycleClosed),
}

/// One stage audit: planned, then completed. Planning again after a failed audit starts a new
/// attempt (the history keeps the failed one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageAudit<R> {
    pub planned_on: Option<NaiveDate>,
    pub completion: Option<AuditCompleted<R>>,
}

impl<R> Default for StageAudit<R> {
    fn default() -> Self {
        Self { planned_on: None, completion: None }
    }
}

impl<R: StageResult> StageAudit<R> {
    pub fn passed(&self) -> bool {
        self.completion.as_ref().is_some_and(|c| c.result.passed())
    }

    fn completed_on(&self) -> Option<NaiveDate> {
        self.completion.as_ref().map(|c| c.completed_on)
    }

    fn ensure_not_passed(&self, stage: &str) -> Result<(), DomainError> {
        if self.passed() {
            return Err(DomainError::new(
                ErrorCode::CertificationStageAlreadyPassed,
                format!("the {stage} audit has already been passed"),
            ));
        }
        Ok(())
    }

    /// `earliest` is the date the audit cannot precede (the step before it).
    fn plan(
        &self,
        stage: &str,
        planned_on: NaiveDate,
        earliest: Option<NaiveDate>,
        what: &str,
    ) -> Result<(), DomainError> {
        self.ensure_not_passed(stage)?;
        ensure_not_before("/planned_on", planned_on, earliest, what)
    }

    fn complete(&self, stage: &str, completed_on: NaiveDate, today: NaiveDate) -> Result<(), DomainError> {
        self.ensure_not_passed(stage)?;
        let Some(planned_on) = self.planned_on.filter(|_| self.completion.is_none()) else {
            return Err(DomainError::new(
                ErrorCode::CertificationAuditNotPlanned,
                format!("no {stage} audit is planned; plan it (again) first"),
            ));
        };
        ensure_not_after_today("/completed_on", completed_on, today)?;
        ensure_not_before(
            "/completed_on",
            completed_on,
            Some(planned_on),
            "the planned date; re-plan an audit moved earlier",
        )
    }

    fn apply_planned(&mut self, planned: &AuditPlanned) {
        self.planned_on = Some(planned.planned_on);
        self.completion = None;
    }
}

/// A date something falls due in a cycle, and whether it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    pub item: DueItem,
    pub due_on: NaiveDate,
    pub done: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CertificationCycle {
    pub opened: Option<CertificationCycleOpened>,
    pub status: CertificationCycleStatus,
    pub gap_diagnosis: Option<GapDiagnosisCompleted>,
    pub stage1: StageAudit<Stage1Result>,
    pub stage2: StageAudit<Stage2Result>,
    pub certificate: Option<CertificateIssued>,
    pub surveillance_audits: Vec<SurveillanceAuditCompleted>,
    pub closure: Option<CertificationCycleClosed>,
}

impl CertificationCycle {
    pub fn exists(&self) -> bool {
        self.opened.is_some()
    }

    fn ensure_open(&self) -> Result<(), DomainError> {
        if self.status == CertificationCycleStatus::Closed {
            return Err(DomainError::new(ErrorCode::CertificationCycleClosed, "the certification cycle is closed"));
        }
        Ok(())
    }

    /// The certificate's expiry, which is also when recertification is due.
    pub fn expires_on(&self) -> Option<NaiveDate> {
        self.certificate.as_ref().and_then(|c| c.issued_on.checked_add_months(Months::new(CERTIFICATE_VALIDITY_MONTHS)))
    }

    /// The surveillance audit due on the `sequence`th anniversary of issue.
    pub fn surveillance_due_on(&self, sequence: u32) -> Option<NaiveDate> {
        self.certificate.as_ref().and_then(|c| c.issued_on.checked_add_months(Months::new(12 * sequence)))
    }

    /// Everything that has a date in this cycle, in cycle order.
    pub fn schedule(&self) -> Vec<Scheduled> {
        let mut schedule = Vec::new();
        if let Some(due_on) = self.stage1.planned_on {
            schedule.push(Scheduled { item: DueItem::Stage1Audit, due_on, done: self.stage1.completion.is_some() });
        }
        if let Some(due_on) = self.stage2.planned_on {
            schedule.push(Scheduled { item: DueItem::Stage2Audit, due_on, done: self.stage2.completion.is_some() });
        }
        let surveillance = [DueItem::FirstSurveillanceAudit, DueItem::SecondSurveillanceAudit];
        for (index, item) in surveillance.into_iter().enumerate() {
            if let Some(due_on) = self.surveillance_due_on(index as u32 + 1) {
                schedule.push(Scheduled { item, due_on, done: self.surveillance_audits.len() > index });
            }
        }
        if let Some(due_on) = self.expires_on() {
            // Recertification happens in the next cycle, which closes this one.
            schedule.push(Scheduled { item: DueItem::Recertification, due_on, done: false });
        }
        schedule
    }

    pub fn open(&self, opened: CertificationCycleOpened) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        Ok(vec![CertificationCycleEvent::CertificationCycleOpened(opened)])
    }

    /// The optional first step: experts compare the ISMS with the standard before stage 1.
    pub fn record_gap_diagnosis(
        &self,
        diagnosis: GapDiagnosisCompleted,
        today: NaiveDate,
    ) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        self.stage1.ensure_not_passed("stage 1")?;
        ensure_not_after_today("/completed_on", diagnosis.completed_on, today)?;
        Ok(vec![CertificationCycleEvent::GapDiagnosisCompleted(diagnosis)])
    }

    pub fn plan_stage1(&self, planned_on: NaiveDate) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        let gap_diagnosis = self.gap_diagnosis.as_ref().map(|g| g.completed_on);
        self.stage1.plan("stage 1", planned_on, gap_diagnosis, "the gap diagnosis")?;
        Ok(vec![CertificationCycleEvent::Stage1AuditPlanned(AuditPlanned { planned_on })])
    }

    pub fn complete_stage1(
        &self,
        completed: AuditCompleted<Stage1Result>,
        today: NaiveDate,
    ) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        self.stage1.complete("stage 1", completed.completed_on, today)?;
        Ok(vec![CertificationCycleEvent::Stage1AuditCompleted(completed)])
    }

    /// Stage 2 follows a stage 1 audit that found the organization ready for it.
    pub fn plan_stage2(&self, planned_on: NaiveDate) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        if !self.stage1.passed() {
            return Err(DomainError::new(
                ErrorCode::Stage1NotPassed,
                "stage 2 is planned only after a stage 1 audit with result ready_for_stage2",
            ));
        }
        self.stage2.plan("stage 2", planned_on, self.stage1.completed_on(), "the stage 1 audit")?;
        Ok(vec![CertificationCycleEvent::Stage2AuditPlanned(AuditPlanned { planned_on })])
    }

    pub fn complete_stage2(
        &self,
        completed: AuditCompleted<Stage2Result>,
        today: NaiveDate,
    ) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        self.stage2.complete("stage 2", completed.completed_on, today)?;
        Ok(vec![CertificationCycleEvent::Stage2AuditCompleted(completed)])
    }

    /// The certificate follows a stage 2 audit that recommended certification.
    pub fn issue_certificate(
        &self,
        issued: CertificateIssued,
        today: NaiveDate,
    ) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        if let Some(certificate) = &self.certificate {
            return Err(DomainError::new(
                ErrorCode::CertificateAlreadyIssued,
                format!("certificate {} was issued on {}", certificate.certificate_number, certificate.issued_on),
            ));
        }
        if !self.stage2.passed() {
            return Err(DomainError::new(
                ErrorCode::Stage2NotRecommended,
                "a certificate is issued only after a stage 2 audit that recommended certification",
            ));
        }
        ensure_not_after_today("/issued_on", issued.issued_on, today)?;
        ensure_not_before("/issued_on", issued.issued_on, self.stage2.completed_on(), "the stage 2 audit")?;
        Ok(vec![CertificationCycleEvent::CertificateIssued(issued)])
    }

    /// Records the next surveillance audit (first, then second anniversary of issue).
    pub fn record_surveillance(
        &self,
        completed_on: NaiveDate,
        result: SurveillanceResult,
        findings_summary: String,
        today: NaiveDate,
    ) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        let Some(certificate) = &self.certificate else {
            return Err(DomainError::new(ErrorCode::CertificateNotIssued, "surveillance audits follow certification"));
        };
        if self.surveillance_audits.len() >= SURVEILLANCE_AUDITS {
            return Err(DomainError::new(
                ErrorCode::SurveillanceAuditsComplete,
                "both surveillance audits are recorded; recertification comes next (a new cycle)",
            ));
        }
        ensure_not_after_today("/completed_on", completed_on, today)?;
        let (earliest, what) = match self.surveillance_audits.last() {
            Some(previous) => (previous.completed_on, "the previous surveillance audit"),
            None => (certificate.issued_on, "the certificate's issue"),
        };
        ensure_not_before("/completed_on", completed_on, Some(earliest), what)?;
        Ok(vec![CertificationCycleEvent::SurveillanceAuditCompleted(SurveillanceAuditCompleted {
            sequence: self.surveillance_audits.len() as u8 + 1,
            completed_on,
            result,
            findings_summary,
        })])
    }

    pub fn close(&self, reason: String) -> Result<Vec<CertificationCycleEvent>, DomainError> {
        self.ensure_open()?;
        Ok(vec![CertificationCycleEvent::CertificationCycleClosed(CertificationCycleClosed { reason })])
    }
}

impl Aggregate for CertificationCycle {
    type Event = CertificationCycleEvent;
    const STREAM_TYPE: &'static str = "certification_cycle";

    fn apply(&mut self, event: &CertificationCycleEvent) {
        match event {
            CertificationCycleEvent::CertificationCycleOpened(opened) => self.opened = Some(opened.clone()),
            CertificationCycleEvent::GapDiagnosisCompleted(diagnosis) => self.gap_diagnosis = Some(diagnosis.clone()),
            CertificationCycleEvent::Stage1AuditPlanned(planned) => self.stage1.apply_planned(planned),
            CertificationCycleEvent::Stage1AuditCompleted(completed) => {
                self.stage1.completion = Some(completed.clone())
            }
            CertificationCycleEvent::Stage2AuditPlanned(planned) => self.stage2.apply_planned(planned),
            CertificationCycleEvent::Stage2AuditCompleted(completed) => {
                self.stage2.completion = Some(completed.clone())
            }
            CertificationCycleEvent::CertificateIssued(issued) => self.certificate = Some(issued.clone()),
            CertificationCycleEvent::SurveillanceAuditCompleted(audit) => self.surveillance_audits.push(audit.clone()),
            CertificationCycleEvent::CertificationCycleClosed(closed) => {
                self.closure = Some(closed.clone());
                self.status = CertificationCycleStatus::Closed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn today() -> NaiveDate {
        date(2027, 12, 31)
    }

    fn opened() -> CertificationCycleEvent {
        CertificationCycleEvent::CertificationCycleOpened(CertificationCycleOpened {
            certification_body: "JMAQA".into(),
            standard: ISO_27001_2022.into(),
            scope_reference: "ISMS-SCOPE-1".into(),
        })
    }

    fn given(events: &[CertificationCycleEvent]) -> CertificationCycle {
        let mut cycle = CertificationCycle::default();
        events.iter().for_each(|e| cycle.apply(e));
        cycle
    }

    fn then(
        cycle: &CertificationCycle,
        events: Result<Vec<CertificationCycleEvent>, DomainError>,
    ) -> CertificationCycle {
        let mut next = cycle.clone();
        events.unwrap().iter().for_each(|e| next.apply(e));
        next
    }

    fn completed<R>(completed_on: NaiveDate, result: R) -> AuditCompleted<R> {
        AuditCompleted { completed_on, result, findings_summary: String::new() }
    }

    /// A cycle certified on 2026-03-01.
    fn certified() -> CertificationCycle {
        let cycle = given(&[opened()]);
        let cycle = then(&cycle, cycle.plan_stage1(date(2025, 12, 1)));
        let cycle =
            then(&cycle, cycle.complete_stage1(completed(date(2025, 12, 2), Stage1Result::ReadyForStage2), today()));
        let cycle = then(&cycle, cycle.plan_stage2(date(2026, 2, 1)));
        let cycle =
            then(&cycle, cycle.complete_stage2(completed(date(2026, 2, 3), Stage2Result::Recommended), today()));
        let issued = CertificateIssued { certificate_number: "IS 123456".into(), issued_on: date(2026, 3, 1) };
        then(&cycle, cycle.issue_certificate(issued, today()))
    }

    #[test]
    fn stage2_only_after_a_stage1_that_found_the_organization_ready() {
        let cycle = given(&[opened()]);
        assert_eq!(cycle.plan_stage2(date(2026, 2, 1)).unwrap_err().code, ErrorCode::Stage1NotPassed);
        let cycle = then(&cycle, cycle.plan_stage1(date(2025, 12, 1)));
        let not_ready =
            then(&cycle, cycle.complete_stage1(completed(date(2025, 12, 1), Stage1Result::NotReady), today()));
        assert_eq!(not_ready.plan_stage2(date(2026, 2, 1)).unwrap_err().code, ErrorCode::Stage1NotPassed);
        // A failed stage 1 must be planned again before another completion.
        let again = not_ready.complete_stage1(completed(date(2025, 12, 5), Stage1Result::ReadyForStage2), today());
        assert_eq!(again.unwrap_err().code, ErrorCode::CertificationAuditNotPlanned);
        let retried = then(&not_ready, not_ready.plan_stage1(date(2026, 1, 10)));
        let ready = then(
            &retried,
            retried.complete_stage1(completed(date(2026, 1, 10), Stage1Result::ReadyForStage2), today()),
        );
        assert!(ready.plan_stage2(date(2026, 2, 1)).is_ok());
        assert_eq!(ready.plan_stage1(date(2026, 3, 1)).unwrap_err().code, ErrorCode::CertificationStageAlreadyPassed);
        let late_gap = GapDiagnosisCompleted { completed_on: date(2026, 1, 11), summary: String::new() };
        assert_eq!(
            ready.record_gap_diagnosis(late_gap, today()).unwrap_err().code,
            ErrorCode::CertificationStageAlreadyPassed
        );
    }

    #[test]
    fn an_audit_is_completed_only_once_planned() {
        let cycle = given(&[opened()]);
        let error = cycle.complete_stage1(completed(date(2025, 12, 1), Stage1Result::NotReady), today()).unwrap_err();
        assert_eq!(error.code, ErrorCode::CertificationAuditNotPlanned);
    }

    #[test]
    fn a_certificate_only_after_a_stage2_recommendation_and_only_once() {
        let cycle = given(&[opened()]);
        let cycle = then(&cycle, cycle.plan_stage1(date(2025, 12, 1)));
        let cycle =
            then(&cycle, cycle.complete_stage1(completed(date(2025, 12, 2), Stage1Result::ReadyForStage2), today()));
        let cycle = then(&cycle, cycle.plan_stage2(date(2026, 2, 1)));
        let issued = CertificateIssued { certificate_number: "IS 1".into(), issued_on: date(2026, 3, 1) };
        assert_eq!(cycle.issue_certificate(issued.clone(), today()).unwrap_err().code, ErrorCode::Stage2NotRecommended);
        let refused =
            then(&cycle, cycle.complete_stage2(completed(date(2026, 2, 1), Stage2Result::NotRecommended), today()));
        assert_eq!(
            refused.issue_certificate(issued.clone(), today()).unwrap_err().code,
            ErrorCode::Stage2NotRecommended
        );
        assert_eq!(
            certified().issue_certificate(issued, today()).unwrap_err().code,
            ErrorCode::CertificateAlreadyIssued
        );
    }

    #[test]
    fn surveillance_only_with_a_certificate_and_twice() {
        let cycle = given(&[opened()]);
        let refused =
            cycle.record_surveillance(date(2027, 3, 1), SurveillanceResult::Maintained, String::new(), today());
        assert_eq!(refused.unwrap_err().code, ErrorCode::CertificateNotIssued);
        let cycle = certified();
        let first =
            cycle.record_surveillance(date(2027, 2, 20), SurveillanceResult::Maintained, String::new(), today());
        let sequence = match &first.as_ref().unwrap()[0] {
            CertificationCycleEvent::SurveillanceAuditCompleted(audit) => audit.sequence,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(sequence, 1);
        let cycle = then(&cycle, first);
        let cycle = then(
            &cycle,
            cycle.record_surveillance(
                date(2027, 12, 1),
                SurveillanceResult::MaintainedWithFindings,
                String::new(),
                today(),
            ),
        );
        let third =
            cycle.record_surveillance(date(2027, 12, 2), SurveillanceResult::Maintained, String::new(), today());
        assert_eq!(third.unwrap_err().code, ErrorCode::SurveillanceAuditsComplete);
    }

    #[test]
    fn dates_follow_the_cycle_and_none_lies_in_the_future() {
        let gap = GapDiagnosisCompleted { completed_on: date(2025, 10, 1), summary: "3 gaps".into() };
        let cycle = given(&[opened(), CertificationCycleEvent::GapDiagnosisCompleted(gap)]);
        let error = cycle.plan_stage1(date(2025, 9, 30)).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DatesOutOfOrder, Some("/planned_on")));
        let cycle = then(&cycle, cycle.plan_stage1(date(2025, 12, 1)));
        let early = cycle.complete_stage1(completed(date(2025, 11, 30), Stage1Result::ReadyForStage2), today());
        assert_eq!(early.unwrap_err().code, ErrorCode::DatesOutOfOrder);
        let future = cycle.complete_stage1(completed(date(2028, 1, 1), Stage1Result::ReadyForStage2), today());
        assert_eq!(future.unwrap_err().code, ErrorCode::DateInFuture);
        let cycle =
            then(&cycle, cycle.complete_stage1(completed(date(2025, 12, 3), Stage1Result::ReadyForStage2), today()));
        assert_eq!(cycle.plan_stage2(date(2025, 12, 2)).unwrap_err().code, ErrorCode::DatesOutOfOrder);
        let before_issue =
            certified().record_surveillance(date(2026, 2, 28), SurveillanceResult::Maintained, String::new(), today());
        assert_eq!(before_issue.unwrap_err().code, ErrorCode::DatesOutOfOrder);
    }

    #[test]
    fn a_closed_cycle_takes_nothing() {
        let cycle = then(&certified(), certified().close("recertified in the next cycle".into()));
        assert_eq!(cycle.close("again".into()).unwrap_err().code, ErrorCode::CertificationCycleClosed);
        let refused =
            cycle.record_surveillance(date(2027, 3, 1), SurveillanceResult::Maintained, String::new(), today());
        assert_eq!(refused.unwrap_err().code, ErrorCode::CertificationCycleClosed);
    }

    #[test]
    fn the_certificate_is_valid_three_years_with_two_yearly_surveillance_audits() {
        let cycle = certified();
        assert_eq!(cycle.expires_on(), Some(date(2029, 3, 1)));
        let due: Vec<(DueItem, NaiveDate, bool)> =
            cycle.schedule().iter().map(|s| (s.item, s.due_on, s.done)).collect();
        assert_eq!(
            due,
            [
                (DueItem::Stage1Audit, date(2025, 12, 1), true),
                (DueItem::Stage2Audit, date(2026, 2, 1), true),
                (DueItem::FirstSurveillanceAudit, date(2027, 3, 1), false),
                (DueItem::SecondSurveillanceAudit, date(2028, 3, 1), false),
                (DueItem::Recertification, date(2029, 3, 1), false),
            ]
        );
    }
}

//! Internal audit (ISO/IEC 27001 9.2): a programme per year (9.2.2) and the audits it plans,
//! carried out by auditors who do not audit their own area, whose nonconformity findings feed
//! the nonconformity register (10.2).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::nonconformity::{Nonconformity, NonconformityEvent, NonconformityRaised, NonconformitySource, Severity};
use crate::values::MAX_LINE;
use crate::{Actor, Aggregate};

/// What a programme sets out (9.2.2): restated whole by each revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProgrammeContent {
    pub objectives: String,
    pub scope: String,
    pub criteria: String,
    pub methods: String,
    pub responsibilities: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProgrammeEstablished {
    pub year: i32,
    #[serde(flatten)]
    pub content: AuditProgrammeContent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditProgrammeApproved {
    pub approved_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum AuditProgrammeEvent {
    AuditProgrammeEstablished(AuditProgrammeEstablished),
    AuditProgrammeRevised(AuditProgrammeContent),
    AuditProgrammeApproved(AuditProgrammeApproved),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuditProgrammeStatus {
    #[default]
    Draft,
    Approved,
}

impl AuditProgrammeStatus {
    pub const NAMES: &'static [&'static str] = &["draft", "approved"];
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditProgramme {
    pub year: Option<i32>,
    pub content: Option<AuditProgrammeContent>,
    pub status: AuditProgrammeStatus,
    pub approved_by: Option<String>,
}

impl AuditProgramme {
    pub fn exists(&self) -> bool {
        self.year.is_some()
    }

    /// One programme per year: `year_taken` says whether the tenant already has one (the
    /// caller looks across the register, which this single stream cannot see).
    pub fn establish(
        &self,
        year: i32,
        content: AuditProgrammeContent,
        year_taken: bool,
    ) -> Result<Vec<AuditProgrammeEvent>, DomainError> {
        if year_taken {
            return Err(DomainError::new(
                ErrorCode::AuditProgrammeYearTaken,
                format!("there is already an audit programme for {year}; revise it instead"),
            ));
        }
        Ok(vec![AuditProgrammeEvent::AuditProgrammeEstablished(AuditProgrammeEstablished { year, content })])
    }

    /// A revision sends an approved programme back to draft: what was approved is not what it
    /// now says.
    pub fn revise(&self, content: AuditProgrammeContent) -> Result<Vec<AuditProgrammeEvent>, DomainError> {
        if self.content.as_ref() == Some(&content) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the programme"));
        }
        Ok(vec![AuditProgrammeEvent::AuditProgrammeRevised(content)])
    }

    pub fn approve(&self, actor: &Actor) -> Result<Vec<AuditProgrammeEvent>, DomainError> {
        if self.status == AuditProgrammeStatus::Approved {
            return Err(DomainError::new(
                ErrorCode::AuditProgrammeAlreadyApproved,
                "the programme is already approved in its current revision",
            ));
        }
        Ok(vec![AuditProgrammeEvent::AuditProgrammeApproved(AuditProgrammeApproved {
            approved_by: actor.subject.clone(),
        })])
    }
}

impl Aggregate for AuditProgramme {
    type Event = AuditProgrammeEvent;
    const STREAM_TYPE: &'static str = "audit_programme";

    fn apply(&mut self, event: &AuditProgrammeEvent) {
        match event {
            AuditProgrammeEvent::AuditProgrammeEstablished(established) => {
                self.year = Some(established.year);
                self.content = Some(established.content.clone());
            }
            AuditProgrammeEvent::AuditProgrammeRevised(content) => {
                self.content = Some(content.clone());
                self.status = AuditProgrammeStatus::Draft;
                self.approved_by = None;
            }
            AuditProgrammeEvent::AuditProgrammeApproved(approved) => {
                self.status = AuditProgrammeStatus::Approved;
                self.approved_by = Some(approved.approved_by.clone());
            }
        }
    }
}

/// The kinds of audit finding; the two nonconformity kinds raise a nonconformity (10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingType {
    Conformity,
    NonconformityMajor,
    NonconformityMinor,
    Observation,
    OpportunityForImprovement,
}

impl FindingType {
    pub const NAMES: &'static [&'static str] =
        &["conformity", "nonconformity_major", "nonconformity_minor", "observation", "opportunity_for_improvement"];

    /// The severity of the nonconformity this finding raises, if it raises one.
    pub fn nonconformity_severity(self) -> Option<Severity> {
        match self {
            Self::NonconformityMajor => Some(Severity::Major),
            Self::NonconformityMinor => Some(Severity::Minor),
            Self::Conformity | Self::Observation | Self::OpportunityForImprovement => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    #[default]
    Planned,
    InProgress,
    Reported,
}

impl AuditStatus {
    pub const NAMES: &'static [&'static str] = &["planned", "in_progress", "reported"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPlanned {
    pub programme_id: Uuid,
    pub title: String,
    pub scope: String,
    pub criteria: String,
    /// Token subjects of the auditors.
    pub auditors: Vec<String>,
    /// Subjects responsible for the audited area.
    pub auditees: Vec<String>,
    pub planned_start_on: NaiveDate,
    pub planned_end_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditStarted {
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// e.g. what the opening meeting agreed.
    pub note: String,
}

/// A finding as the auditor states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    pub finding_type: FindingType,
    /// The clause (`9.2`) or Annex A control (`A.8.13`) the finding is about.
    pub reference: String,
    pub description: String,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFindingRecorded {
    pub finding_id: Uuid,
    pub finding_type: FindingType,
    pub reference: String,
    pub description: String,
    pub evidence: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

impl AuditFindingRecorded {
    /// The nonconformity a nonconformity finding raises (`None` for the other kinds). Its id
    /// is the finding's, so one finding can never raise two.
    pub fn nonconformity(&self) -> Option<NonconformityRaised> {
        let severity = self.finding_type.nonconformity_severity()?;
        let first_line = self.description.lines().next().unwrap_or_default().trim();
        let mut description = self.description.clone();
        if !self.evidence.is_empty() {
            description.push_str("\n\nEvidence: ");
            description.push_str(&self.evidence);
        }
        Some(NonconformityRaised {
            title: first_line.chars().take(MAX_LINE).collect(),
            description,
            source: NonconformitySource::InternalAudit,
            severity,
            reference: Some(self.reference.clone()),
            detected_at: self.recorded_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReported {
    pub summary: String,
    pub reported_by: String,
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum AuditEvent {
    AuditPlanned(AuditPlanned),
    AuditStarted(AuditStarted),
    AuditFindingRecorded(AuditFindingRecorded),
    AuditReported(AuditReported),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Audit {
    pub plan: Option<AuditPlanned>,
    pub status: AuditStatus,
    pub start: Option<AuditStarted>,
    pub findings: Vec<AuditFindingRecorded>,
    pub report: Option<AuditReported>,
}

impl Audit {
    pub fn exists(&self) -> bool {
        self.plan.is_some()
    }

    /// 9.2.2 c: auditors are chosen so the audit is objective and impartial; nobody audits
    /// an area they answer for.
    pub fn plan(&self, plan: AuditPlanned) -> Result<Vec<AuditEvent>, DomainError> {
        if plan.planned_end_on < plan.planned_start_on {
            return Err(DomainError::at(
                ErrorCode::PlannedEndBeforeStart,
                "/planned_end_on",
                "the audit cannot end before it starts",
            ));
        }
        if let Some(auditor) = plan.auditors.iter().find(|a| plan.auditees.contains(a)) {
            return Err(DomainError::new(
                ErrorCode::AuditorNotIndependent,
                format!("'{auditor}' is both auditor and auditee: an auditor cannot audit their own area (9.2.2 c)"),
            ));
        }
        Ok(vec![AuditEvent::AuditPlanned(plan)])
    }

    fn ensure_auditor(&self, actor: &Actor) -> Result<(), DomainError> {
        if self.plan.as_ref().is_some_and(|p| p.auditors.contains(&actor.subject)) {
            return Ok(());
        }
        Err(DomainError::new(ErrorCode::NotAnAuditor, format!("'{}' is not an auditor of this audit", actor.subject)))
    }

    fn ensure_in_progress(&self) -> Result<(), DomainError> {
        match self.status {
            AuditStatus::InProgress => Ok(()),
            AuditStatus::Planned => Err(DomainError::new(ErrorCode::AuditNotStarted, "the audit has not started")),
            AuditStatus::Reported => Err(DomainError::new(
                ErrorCode::AuditAlreadyReported,
                "the audit is reported and takes no more findings",
            )),
        }
    }

    /// Only one of the planned auditors starts the audit, which keeps auditees (and anyone
    /// else) from running their own audit.
    pub fn start(&self, note: String, actor: &Actor, at: DateTime<Utc>) -> Result<Vec<AuditEvent>, DomainError> {
        if self.status != AuditStatus::Planned {
            return Err(DomainError::new(ErrorCode::AuditAlreadyStarted, "the audit has already started"));
        }
        self.ensure_auditor(actor)?;
        Ok(vec![AuditEvent::AuditStarted(AuditStarted { started_by: actor.subject.clone(), started_at: at, note })])
    }

    pub fn record_finding(
        &self,
        finding: NewFinding,
        finding_id: Uuid,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Vec<AuditEvent>, DomainError> {
        self.ensure_in_progress()?;
        self.ensure_auditor(actor)?;
        Ok(vec![AuditEvent::AuditFindingRecorded(AuditFindingRecorded {
            finding_id,
            finding_type: finding.finding_type,
            reference: finding.reference,
            description: finding.description,
            evidence: finding.evidence,
            recorded_by: actor.subject.clone(),
            recorded_at: at,
        })])
    }

    /// 9.2.2 e: the results are reported to relevant management.
    pub fn report(&self, summary: String, actor: &Actor, at: DateTime<Utc>) -> Result<Vec<AuditEvent>, DomainError> {
        self.ensure_in_progress()?;
        self.ensure_auditor(actor)?;
        Ok(vec![AuditEvent::AuditReported(AuditReported {
            summary,
            reported_by: actor.subject.clone(),
            reported_at: at,
        })])
    }
}

impl Aggregate for Audit {
    type Event = AuditEvent;
    const STREAM_TYPE: &'static str = "audit";

    fn apply(&mut self, event: &AuditEvent) {
        match event {
            AuditEvent::AuditPlanned(plan) => self.plan = Some(plan.clone()),
            AuditEvent::AuditStarted(started) => {
                self.start = Some(started.clone());
                self.status = AuditStatus::InProgress;
            }
            AuditEvent::AuditFindingRecorded(finding) => self.findings.push(finding.clone()),
            AuditEvent::AuditReported(report) => {
                self.report = Some(report.clone());
                self.status = AuditStatus::Reported;
            }
        }
    }
}

/// Raises a nonconformity that another record's event calls for (an audit finding, an
/// incident), once: its stream id is fixed by the cause, so a retried or concurrent raise finds
/// the stream already started and is refused with `nonconformity_already_raised`, which the
/// caller reads as "done".
pub fn raise_caused_nonconformity(
    nonconformity: &Nonconformity,
    raised: NonconformityRaised,
) -> Result<Vec<NonconformityEvent>, DomainError> {
    if nonconformity.exists() {
        return Err(DomainError::new(ErrorCode::NonconformityAlreadyRaised, "the nonconformity is already raised"));
    }
    nonconformity.raise(raised)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(subject: &str) -> Actor {
        Actor { subject: subject.into(), is_admin: false }
    }

    fn content(objectives: &str) -> AuditProgrammeContent {
        AuditProgrammeContent {
            objectives: objectives.into(),
            scope: "Whole ISMS".into(),
            criteria: "ISO/IEC 27001:2022".into(),
            methods: "Interviews, sampling".into(),
            responsibilities: "ISMS manager".into(),
        }
    }

    fn programme(events: &[AuditProgrammeEvent]) -> AuditProgramme {
        let mut programme = AuditProgramme::default();
        events.iter().for_each(|e| programme.apply(e));
        programme
    }

    fn plan(auditors: &[&str], auditees: &[&str]) -> AuditPlanned {
        AuditPlanned {
            programme_id: Uuid::from_u128(1),
            title: "Backups".into(),
            scope: "IT operations".into(),
            criteria: "A.8.13".into(),
            auditors: auditors.iter().map(|s| s.to_string()).collect(),
            auditees: auditees.iter().map(|s| s.to_string()).collect(),
            planned_start_on: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            planned_end_on: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
        }
    }

    fn audit(events: &[AuditEvent]) -> Audit {
        let mut audit = Audit::default();
        events.iter().for_each(|e| audit.apply(e));
        audit
    }

    fn started() -> AuditEvent {
        AuditEvent::AuditStarted(AuditStarted {
            started_by: "carol".into(),
            started_at: DateTime::UNIX_EPOCH,
            note: String::new(),
        })
    }

    fn finding(finding_type: FindingType) -> NewFinding {
        NewFinding {
            finding_type,
            reference: "A.8.13".into(),
            description: "No restore test in 12 months\nSampled finance and HR shares.".into(),
            evidence: "Backup log 2026".into(),
        }
    }

    #[test]
    fn one_programme_per_year() {
        let none = AuditProgramme::default();
        assert_eq!(none.establish(2026, content("o"), true).unwrap_err().code, ErrorCode::AuditProgrammeYearTaken);
        assert!(none.establish(2026, content("o"), false).is_ok());
    }

    #[test]
    fn a_programme_is_approved_once_per_revision() {
        let established = AuditProgrammeEvent::AuditProgrammeEstablished(AuditProgrammeEstablished {
            year: 2026,
            content: content("o"),
        });
        let mut approved = programme(&[established]);
        let events = approved.approve(&actor("alice")).unwrap();
        events.iter().for_each(|e| approved.apply(e));
        assert_eq!(approved.approve(&actor("alice")).unwrap_err().code, ErrorCode::AuditProgrammeAlreadyApproved);
        assert_eq!(approved.revise(content("o")).unwrap_err().code, ErrorCode::NothingChanged);
        let events = approved.revise(content("new objectives")).unwrap();
        events.iter().for_each(|e| approved.apply(e));
        assert_eq!(approved.status, AuditProgrammeStatus::Draft);
        assert!(approved.approve(&actor("alice")).is_ok());
    }

    #[test]
    fn an_auditor_cannot_audit_their_own_area() {
        let error = Audit::default().plan(plan(&["carol", "bob"], &["bob"])).unwrap_err();
        assert_eq!(error.code, ErrorCode::AuditorNotIndependent);
        assert!(Audit::default().plan(plan(&["carol"], &["bob"])).is_ok());
    }

    #[test]
    fn an_audit_ends_on_or_after_its_start() {
        let mut backwards = plan(&["carol"], &["bob"]);
        backwards.planned_end_on = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let error = Audit::default().plan(backwards).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::PlannedEndBeforeStart, Some("/planned_end_on")));
    }

    #[test]
    fn only_an_auditor_starts_records_findings_and_reports() {
        let planned = audit(&[AuditEvent::AuditPlanned(plan(&["carol"], &["bob"]))]);
        let at = DateTime::UNIX_EPOCH;
        assert_eq!(planned.start(String::new(), &actor("bob"), at).unwrap_err().code, ErrorCode::NotAnAuditor);
        assert_eq!(planned.start(String::new(), &actor("alice"), at).unwrap_err().code, ErrorCode::NotAnAuditor);
        assert!(planned.start(String::new(), &actor("carol"), at).is_ok());
        let running = audit(&[AuditEvent::AuditPlanned(plan(&["carol"], &["bob"])), started()]);
        let id = Uuid::from_u128(9);
        let refused = running.record_finding(finding(FindingType::Observation), id, &actor("bob"), at);
        assert_eq!(refused.unwrap_err().code, ErrorCode::NotAnAuditor);
        assert_eq!(running.report("ok".into(), &actor("bob"), at).unwrap_err().code, ErrorCode::NotAnAuditor);
    }

    #[test]
    fn findings_only_while_the_audit_is_in_progress() {
        let at = DateTime::UNIX_EPOCH;
        let id = Uuid::from_u128(9);
        let planned = audit(&[AuditEvent::AuditPlanned(plan(&["carol"], &["bob"]))]);
        let early = planned.record_finding(finding(FindingType::Conformity), id, &actor("carol"), at);
        assert_eq!(early.unwrap_err().code, ErrorCode::AuditNotStarted);
        assert_eq!(planned.report("x".into(), &actor("carol"), at).unwrap_err().code, ErrorCode::AuditNotStarted);
        let mut running = audit(&[AuditEvent::AuditPlanned(plan(&["carol"], &["bob"])), started()]);
        assert_eq!(running.start(String::new(), &actor("carol"), at).unwrap_err().code, ErrorCode::AuditAlreadyStarted);
        let events = running.report("All fine".into(), &actor("carol"), at).unwrap();
        events.iter().for_each(|e| running.apply(e));
        let late = running.record_finding(finding(FindingType::Conformity), id, &actor("carol"), at);
        assert_eq!(late.unwrap_err().code, ErrorCode::AuditAlreadyReported);
        assert_eq!(running.report("x".into(), &actor("carol"), at).unwrap_err().code, ErrorCode::AuditAlreadyReported);
    }

    #[test]
    fn nonconformity_findings_raise_a_nonconformity_of_their_severity() {
        let running = audit(&[AuditEvent::AuditPlanned(plan(&["carol"], &["bob"])), started()]);
        let id = Uuid::from_u128(9);
        let at = DateTime::UNIX_EPOCH;
        let events = running.record_finding(finding(FindingType::NonconformityMajor), id, &actor("carol"), at).unwrap();
        let AuditEvent::AuditFindingRecorded(recorded) = &events[0] else { panic!("a finding event") };
        let raised = recorded.nonconformity().unwrap();
        assert_eq!((raised.severity, raised.source), (Severity::Major, NonconformitySource::InternalAudit));
        assert_eq!(raised.title, "No restore test in 12 months");
        assert_eq!(raised.reference.as_deref(), Some("A.8.13"));
        assert!(raised.description.ends_with("Evidence: Backup log 2026"));
        let observation = running.record_finding(finding(FindingType::Observation), id, &actor("carol"), at).unwrap();
        let AuditEvent::AuditFindingRecorded(recorded) = &observation[0] else { panic!("a finding event") };
        assert!(recorded.nonconformity().is_none());
    }

    #[test]
    fn a_caused_nonconformity_is_raised_once() {
        let running = audit(&[AuditEvent::AuditPlanned(plan(&["carol"], &["bob"])), started()]);
        let events = running
            .record_finding(
                finding(FindingType::NonconformityMinor),
                Uuid::from_u128(9),
                &actor("carol"),
                DateTime::UNIX_EPOCH,
            )
            .unwrap();
        let AuditEvent::AuditFindingRecorded(recorded) = &events[0] else { panic!("a finding event") };
        let raised = recorded.nonconformity().unwrap();
        let mut nonconformity = Nonconformity::default();
        let events = raise_caused_nonconformity(&nonconformity, raised.clone()).unwrap();
        events.iter().for_each(|e| nonconformity.apply(e));
        let again = raise_caused_nonconformity(&nonconformity, raised).unwrap_err();
        assert_eq!(again.code, ErrorCode::NonconformityAlreadyRaised);
    }
}

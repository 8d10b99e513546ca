//! Risks and opportunities (ISO/IEC 27001 6.1.1 to 6.1.3, 8.2, 8.3): identify, assess, plan
//! treatment, accept the residual risk, close, and reopen by reassessing.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::criteria::{Rating, VersionedCriteria};
use crate::error::{DomainError, ErrorCode};
use crate::values::ControlRef;
use crate::{Actor, Aggregate};

/// 6.1.1 asks for risks and opportunities; both share one lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RiskKind {
    #[default]
    Risk,
    Opportunity,
}

/// The four treatment options of ISO/IEC 27005.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentOption {
    Modify,
    Retain,
    Avoid,
    Share,
}

/// Where a risk is in its lifecycle; derived from its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RiskStatus {
    #[default]
    Identified,
    Assessed,
    TreatmentPlanned,
    Accepted,
    Closed,
}

impl RiskKind {
    pub const NAMES: &'static [&'static str] = &["risk", "opportunity"];
}
impl TreatmentOption {
    pub const NAMES: &'static [&'static str] = &["modify", "retain", "avoid", "share"];
}
impl RiskStatus {
    pub const NAMES: &'static [&'static str] = &["identified", "assessed", "treatment_planned", "accepted", "closed"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskIdentified {
    pub kind: RiskKind,
    pub title: String,
    pub description: String,
    pub category: String,
    pub owner: String,
    pub asset_refs: Vec<String>,
    pub threat: Option<String>,
    pub vulnerability: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessed {
    #[serde(flatten)]
    pub rating: Rating,
    pub rationale: String,
    pub criteria_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskTreatmentPlanned {
    pub option: TreatmentOption,
    pub controls: Vec<ControlRef>,
    pub actions: Vec<String>,
    pub owner: String,
    pub due_date: Option<NaiveDate>,
    pub residual: Rating,
    pub criteria_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskResidualAccepted {
    pub accepted_by: String,
    pub residual_score: u16,
    pub acceptance_threshold: u16,
    pub justification: Option<String>,
    pub criteria_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskClosed {
    pub reason: String,
}

/// Where a risk comes from (6.1.1): the context issues (4.1) and interested-party requirements
/// (4.2) that give rise to it. Restated whole each time, so the latest event is the link set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskSourcesLinked {
    pub context_issue_ids: Vec<Uuid>,
    pub requirement_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskReopened {
    pub reason: String,
}

/// Everything that can happen to a risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum RiskEvent {
    RiskIdentified(RiskIdentified),
    RiskAssessed(RiskAssessed),
    RiskTreatmentPlanned(RiskTreatmentPlanned),
    RiskResidualAccepted(RiskResidualAccepted),
    RiskClosed(RiskClosed),
    RiskReopened(RiskReopened),
    RiskSourcesLinked(RiskSourcesLinked),
}

/// Identification data, already validated.
pub type IdentifyRisk = RiskIdentified;

/// A (re)assessment request; the score and level are computed here, never taken from a client.
#[derive(Debug, Clone)]
pub struct AssessRisk {
    pub likelihood: u8,
    pub impact: u8,
    pub rationale: String,
}

#[derive(Debug, Clone)]
pub struct PlanTreatment {
    pub option: TreatmentOption,
    pub controls: Vec<ControlRef>,
    pub actions: Vec<String>,
    pub owner: String,
    pub due_date: Option<NaiveDate>,
    pub target_residual_likelihood: u8,
    pub target_residual_impact: u8,
}

#[derive(Debug, Clone)]
pub struct AcceptResidualRisk {
    pub justification: Option<String>,
}

/// A risk's state, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub identification: Option<RiskIdentified>,
    pub status: RiskStatus,
    pub assessment: Option<RiskAssessed>,
    pub treatment: Option<RiskTreatmentPlanned>,
    pub acceptance: Option<RiskResidualAccepted>,
    pub closure: Option<RiskClosed>,
    pub sources: RiskSourcesLinked,
}

impl Risk {
    pub fn exists(&self) -> bool {
        self.identification.is_some()
    }

    pub fn owner(&self) -> &str {
        self.identification.as_ref().map_or("", |i| i.owner.as_str())
    }

    fn ensure_open(&self) -> Result<(), DomainError> {
        if self.status == RiskStatus::Closed {
            return Err(DomainError::new(
                ErrorCode::RiskClosed,
                "the risk is closed; only a reassessment (which reopens it) is accepted",
            ));
        }
        Ok(())
    }

    pub fn identify(&self, command: IdentifyRisk) -> Result<Vec<RiskEvent>, DomainError> {
        Ok(vec![RiskEvent::RiskIdentified(command)])
    }

    /// Assesses (or reassesses) the risk. Reassessing a closed risk reopens it first, the one
    /// way back from closure; reassessing an open risk invalidates the earlier treatment
    /// decision and acceptance, which were made for the old rating.
    pub fn assess(&self, command: AssessRisk, criteria: &VersionedCriteria) -> Result<Vec<RiskEvent>, DomainError> {
        let rating = criteria.criteria.rate("/", command.likelihood, command.impact)?;
        let mut events = Vec::with_capacity(2);
        if self.status == RiskStatus::Closed {
            events.push(RiskEvent::RiskReopened(RiskReopened { reason: "reassessed".to_owned() }));
        }
        events.push(RiskEvent::RiskAssessed(RiskAssessed {
            rating,
            rationale: command.rationale,
            criteria_version: criteria.version,
        }));
        Ok(events)
    }

    pub fn plan_treatment(
        &self,
        command: PlanTreatment,
        criteria: &VersionedCriteria,
    ) -> Result<Vec<RiskEvent>, DomainError> {
        self.ensure_open()?;
        if self.assessment.is_none() {
            return Err(DomainError::new(
                ErrorCode::RiskNotAssessed,
                "a risk must be assessed before its treatment is planned (6.1.3)",
            ));
        }
        if command.option == TreatmentOption::Modify && command.controls.is_empty() {
            return Err(DomainError::at(
                ErrorCode::TreatmentControlsRequired,
                "/controls",
                "the 'modify' option needs at least one Annex A control",
            ));
        }
        let residual = criteria.criteria.rate(
            "/target_residual_",
            command.target_residual_likelihood,
            command.target_residual_impact,
        )?;
        Ok(vec![RiskEvent::RiskTreatmentPlanned(RiskTreatmentPlanned {
            option: command.option,
            controls: command.controls,
            actions: command.actions,
            owner: command.owner,
            due_date: command.due_date,
            residual,
            criteria_version: criteria.version,
        })])
    }

    /// 6.1.3 f: the risk owner (or an administrator) accepts the residual risk; a residual score
    /// above the acceptance threshold in force needs a written justification.
    pub fn accept_residual(
        &self,
        command: AcceptResidualRisk,
        actor: &Actor,
        criteria: &VersionedCriteria,
    ) -> Result<Vec<RiskEvent>, DomainError> {
        self.ensure_open()?;
        if self.status == RiskStatus::Accepted {
            return Err(DomainError::new(ErrorCode::RiskAlreadyAccepted, "the residual risk is already accepted"));
        }
        let Some(treatment) = self.treatment.as_ref().filter(|_| self.status == RiskStatus::TreatmentPlanned) else {
            return Err(DomainError::new(
                ErrorCode::RiskTreatmentNotDecided,
                "residual risk can be accepted only after a treatment decision",
            ));
        };
        if actor.subject != self.owner() && !actor.is_admin {
            return Err(DomainError::new(
                ErrorCode::RiskAcceptanceNotAuthorized,
                format!("only the risk owner '{}' or an administrator may accept the residual risk", self.owner()),
            ));
        }
        let threshold = criteria.criteria.acceptance_threshold;
        let justification = command.justification.filter(|j| !j.trim().is_empty());
        if treatment.residual.score > threshold && justification.is_none() {
            return Err(DomainError::at(
                ErrorCode::ResidualAboveThresholdNeedsJustification,
                "/justification",
                format!(
                    "residual score {} is above the acceptance threshold {threshold}: a justification is required",
                    treatment.residual.score
                ),
            ));
        }
        Ok(vec![RiskEvent::RiskResidualAccepted(RiskResidualAccepted {
            accepted_by: actor.subject.clone(),
            residual_score: treatment.residual.score,
            acceptance_threshold: threshold,
            justification,
            criteria_version: criteria.version,
        })])
    }

    pub fn close(&self, reason: String) -> Result<Vec<RiskEvent>, DomainError> {
        self.ensure_open()?;
        Ok(vec![RiskEvent::RiskClosed(RiskClosed { reason })])
    }

    /// Replaces the risk's links to context issues and interested-party requirements (the
    /// traceability matrix follows them). The caller checks the linked records exist.
    pub fn link_sources(&self, sources: RiskSourcesLinked) -> Result<Vec<RiskEvent>, DomainError> {
        self.ensure_open()?;
        if sources == self.sources {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the risk already has exactly these links"));
        }
        Ok(vec![RiskEvent::RiskSourcesLinked(sources)])
    }
}

impl Aggregate for Risk {
    type Event = RiskEvent;
    const STREAM_TYPE: &'static str = "risk";

    fn apply(&mut self, event: &RiskEvent) {
        match event {
            RiskEvent::RiskIdentified(identified) => {
                self.identification = Some(identified.clone());
                self.status = RiskStatus::Identified;
            }
            RiskEvent::RiskAssessed(assessed) => {
                self.assessment = Some(assessed.clone());
                self.treatment = None;
                self.acceptance = None;
                self.status = RiskStatus::Assessed;
            }
            RiskEvent::RiskTreatmentPlanned(planned) => {
                self.treatment = Some(planned.clone());
                self.acceptance = None;
                self.status = RiskStatus::TreatmentPlanned;
            }
            RiskEvent::RiskResidualAccepted(accepted) => {
                self.acceptance = Some(accepted.clone());
                self.status = RiskStatus::Accepted;
            }
            RiskEvent::RiskClosed(closed) => {
                self.closure = Some(closed.clone());
                self.status = RiskStatus::Closed;
            }
            RiskEvent::RiskReopened(_) => {
                self.closure = None;
                self.status = RiskStatus::Identified;
            }
            RiskEvent::RiskSourcesLinked(sources) => self.sources = sources.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criteria::RiskCriteria;

    fn criteria() -> VersionedCriteria {
        VersionedCriteria { version: 3, criteria: RiskCriteria::default() }
    }

    fn given(events: Vec<RiskEvent>) -> Risk {
        let mut risk = Risk::default();
        events.iter().for_each(|e| risk.apply(e));
        risk
    }

    fn identified() -> RiskEvent {
        RiskEvent::RiskIdentified(RiskIdentified {
            kind: RiskKind::Risk,
            title: "Laptop theft".into(),
            description: String::new(),
            category: "physical".into(),
            owner: "alice".into(),
            asset_refs: vec![],
            threat: None,
            vulnerability: None,
        })
    }

    fn assessed(l: u8, i: u8) -> RiskEvent {
        let risk = given(vec![identified()]);
        risk.assess(AssessRisk { likelihood: l, impact: i, rationale: "r".into() }, &criteria()).unwrap().remove(0)
    }

    fn treatment(l: u8, i: u8) -> PlanTreatment {
        PlanTreatment {
            option: TreatmentOption::Modify,
            controls: vec![ControlRef::parse("/", "8.1").unwrap()],
            actions: vec!["encrypt disks".into()],
            owner: "bob".into(),
            due_date: None,
            target_residual_likelihood: l,
            target_residual_impact: i,
        }
    }

    fn planned(l: u8, i: u8) -> RiskEvent {
        let risk = given(vec![identified(), assessed(4, 4)]);
        risk.plan_treatment(treatment(l, i), &criteria()).unwrap().remove(0)
    }

    fn actor(subject: &str, is_admin: bool) -> Actor {
        Actor { subject: subject.into(), is_admin }
    }

    #[test]
    fn assessment_computes_score_level_and_records_the_criteria_version() {
        let RiskEvent::RiskAssessed(assessed) = assessed(4, 5) else { panic!() };
        assert_eq!(
            (assessed.rating.score, assessed.rating.level.as_str(), assessed.criteria_version),
            (20, "critical", 3)
        );
    }

    #[test]
    fn no_treatment_before_assessment() {
        let err = given(vec![identified()]).plan_treatment(treatment(1, 1), &criteria()).unwrap_err();
        assert_eq!(err.code, ErrorCode::RiskNotAssessed);
    }

    #[test]
    fn modify_needs_a_control() {
        let mut command = treatment(1, 1);
        command.controls.clear();
        let err = given(vec![identified(), assessed(3, 3)]).plan_treatment(command, &criteria()).unwrap_err();
        assert_eq!(err.code, ErrorCode::TreatmentControlsRequired);
    }

    #[test]
    fn no_acceptance_before_a_treatment_decision() {
        let err = given(vec![identified(), assessed(2, 2)])
            .accept_residual(AcceptResidualRisk { justification: None }, &actor("alice", false), &criteria())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::RiskTreatmentNotDecided);
    }

    #[test]
    fn only_the_owner_or_an_admin_accepts() {
        let risk = given(vec![identified(), assessed(4, 4), planned(1, 2)]);
        let command = || AcceptResidualRisk { justification: None };
        let err = risk.accept_residual(command(), &actor("mallory", false), &criteria()).unwrap_err();
        assert_eq!(err.code, ErrorCode::RiskAcceptanceNotAuthorized);
        assert!(risk.accept_residual(command(), &actor("alice", false), &criteria()).is_ok());
        assert!(risk.accept_residual(command(), &actor("root", true), &criteria()).is_ok());
    }

    #[test]
    fn residual_above_threshold_needs_a_justification() {
        let risk = given(vec![identified(), assessed(4, 4), planned(3, 3)]);
        let err = risk
            .accept_residual(
                AcceptResidualRisk { justification: Some("  ".into()) },
                &actor("alice", false),
                &criteria(),
            )
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ResidualAboveThresholdNeedsJustification);
        let events = risk
            .accept_residual(
                AcceptResidualRisk { justification: Some("budget 2027".into()) },
                &actor("alice", false),
                &criteria(),
            )
            .unwrap();
        assert!(matches!(&events[0], RiskEvent::RiskResidualAccepted(a) if a.residual_score == 9));
    }

    #[test]
    fn a_closed_risk_takes_no_command_but_a_reopening_reassessment() {
        let risk =
            given(vec![identified(), assessed(4, 4), RiskEvent::RiskClosed(RiskClosed { reason: "gone".into() })]);
        assert_eq!(risk.plan_treatment(treatment(1, 1), &criteria()).unwrap_err().code, ErrorCode::RiskClosed);
        assert_eq!(risk.close("again".into()).unwrap_err().code, ErrorCode::RiskClosed);
        assert_eq!(
            risk.accept_residual(AcceptResidualRisk { justification: None }, &actor("alice", true), &criteria())
                .unwrap_err()
                .code,
            ErrorCode::RiskClosed
        );
        let events =
            risk.assess(AssessRisk { likelihood: 2, impact: 2, rationale: String::new() }, &criteria()).unwrap();
        assert!(matches!(events[0], RiskEvent::RiskReopened(_)));
        let reopened = given([vec![identified()], events].concat());
        assert_eq!(reopened.status, RiskStatus::Assessed);
    }

    #[test]
    fn a_residual_risk_is_accepted_once() {
        let mut risk = given(vec![identified(), assessed(4, 4), planned(1, 1)]);
        let command = || AcceptResidualRisk { justification: None };
        for event in risk.accept_residual(command(), &actor("alice", false), &criteria()).unwrap() {
            risk.apply(&event);
        }
        let again = risk.accept_residual(command(), &actor("alice", false), &criteria()).unwrap_err();
        assert_eq!(again.code, ErrorCode::RiskAlreadyAccepted);
    }

    #[test]
    fn reassessment_invalidates_an_earlier_acceptance() {
        let mut risk = given(vec![identified(), assessed(4, 4), planned(1, 1)]);
        for e in risk
            .accept_residual(AcceptResidualRisk { justification: None }, &actor("alice", false), &criteria())
            .unwrap()
        {
            risk.apply(&e);
        }
        assert_eq!(risk.status, RiskStatus::Accepted);
        risk.apply(&assessed(5, 5));
        assert_eq!((risk.status, risk.acceptance.is_none()), (RiskStatus::Assessed, true));
    }

    #[test]
    fn links_must_change_and_a_closed_risk_takes_none() {
        let risk = given(vec![identified()]);
        let sources = RiskSourcesLinked { context_issue_ids: vec![Uuid::from_u128(1)], requirement_ids: vec![] };
        assert_eq!(risk.link_sources(RiskSourcesLinked::default()).unwrap_err().code, ErrorCode::NothingChanged);
        assert!(risk.link_sources(sources.clone()).is_ok());
        let closed = given(vec![identified(), RiskEvent::RiskClosed(RiskClosed { reason: "gone".into() })]);
        assert_eq!(closed.link_sources(sources).unwrap_err().code, ErrorCode::RiskClosed);
    }

    #[test]
    fn events_serialize_with_their_type_name_apart_from_the_payload() {
        let value = serde_json::to_value(RiskEvent::RiskClosed(RiskClosed { reason: "x".into() })).unwrap();
        assert_eq!(value, serde_json::json!({"event_type": "RiskClosed", "data": {"reason": "x"}}));
        let names: Vec<String> = [RiskKind::Risk, RiskKind::Opportunity]
            .iter()
            .map(|k| serde_json::to_value(k).unwrap().as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, RiskKind::NAMES);
    }
}

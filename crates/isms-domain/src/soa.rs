//! The Statement of Applicability (ISO/IEC 27001 6.1.3 d): for every Annex A control, whether it
//! applies and why, and how far it is implemented.
//!
//! One stream per control of the 2022 catalog, keyed by the control id ("5.15"), so each control
//! keeps its own history and the whole statement can be read as of any audit date. Which risks a
//! control treats is not stored here: it is derived from the risk register when the statement is
//! read, so it can never disagree with the risk treatment plans.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

/// How far an applicable control is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ImplementationStatus {
    #[default]
    NotImplemented,
    Planned,
    PartiallyImplemented,
    Implemented,
}

impl ImplementationStatus {
    pub const NAMES: &'static [&'static str] = &["not_implemented", "planned", "partially_implemented", "implemented"];

    /// The serialized name, for exports and messages.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// 6.1.3 d asks for the justification of inclusions as well as exclusions, so both carry one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlApplicabilityDecided {
    pub applicable: bool,
    pub justification: String,
}

/// The implementation as it stands; restated whole each time, so the latest event is the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlImplementationRecorded {
    pub status: ImplementationStatus,
    pub owner: String,
    /// Where an auditor finds the evidence (document ids, tickets, URLs), one per line.
    pub evidence_refs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum SoaEntryEvent {
    ControlApplicabilityDecided(ControlApplicabilityDecided),
    ControlImplementationRecorded(ControlImplementationRecorded),
}

/// One control's line of the statement, folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SoaEntry {
    pub decision: Option<ControlApplicabilityDecided>,
    pub implementation: Option<ControlImplementationRecorded>,
}

impl SoaEntry {
    /// The implementation status, `NotImplemented` until one is recorded.
    pub fn status(&self) -> ImplementationStatus {
        self.implementation.as_ref().map_or(ImplementationStatus::NotImplemented, |i| i.status)
    }

    /// Decides whether the control applies. `required_by` are the open risks whose treatment
    /// names the control (read from the risk register by the caller): excluding a control a
    /// treatment relies on would leave that risk untreated, so it is refused.
    pub fn decide(
        &self,
        decision: ControlApplicabilityDecided,
        required_by: &[Uuid],
    ) -> Result<Vec<SoaEntryEvent>, DomainError> {
        if decision.justification.trim().is_empty() {
            return Err(DomainError::at(
                ErrorCode::SoaJustificationRequired,
                "/justification",
                "6.1.3 d requires a justification for including a control as well as for excluding it",
            ));
        }
        if !decision.applicable {
            if !required_by.is_empty() {
                let ids = required_by.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ");
                return Err(DomainError::new(
                    ErrorCode::ControlRequiredByRiskTreatment,
                    format!("the control cannot be excluded: the treatment of open risk(s) {ids} names it"),
                ));
            }
            if self.status() != ImplementationStatus::NotImplemented {
                return Err(DomainError::new(
                    ErrorCode::SoaControlImplemented,
                    format!(
                        "the control is recorded as {}; record it as not_implemented before excluding it",
                        self.status().as_str()
                    ),
                ));
            }
        }
        if self.decision.as_ref() == Some(&decision) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the control already has exactly this decision"));
        }
        Ok(vec![SoaEntryEvent::ControlApplicabilityDecided(decision)])
    }

    /// Records how far the control is implemented; only `not_implemented` fits an excluded one.
    pub fn record_implementation(
        &self,
        implementation: ControlImplementationRecorded,
    ) -> Result<Vec<SoaEntryEvent>, DomainError> {
        let Some(decision) = &self.decision else {
            return Err(DomainError::new(
                ErrorCode::SoaApplicabilityNotDecided,
                "decide whether the control applies before recording its implementation",
            ));
        };
        if !decision.applicable && implementation.status != ImplementationStatus::NotImplemented {
            return Err(DomainError::at(
                ErrorCode::SoaControlNotApplicable,
                "/status",
                "the control is decided not applicable; only not_implemented can be recorded for it",
            ));
        }
        if self.implementation.as_ref() == Some(&implementation) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the implementation is already recorded so"));
        }
        Ok(vec![SoaEntryEvent::ControlImplementationRecorded(implementation)])
    }
}

impl Aggregate for SoaEntry {
    type Event = SoaEntryEvent;
    const STREAM_TYPE: &'static str = "soa_entry";

    fn apply(&mut self, event: &SoaEntryEvent) {
        match event {
            SoaEntryEvent::ControlApplicabilityDecided(decision) => self.decision = Some(decision.clone()),
            SoaEntryEvent::ControlImplementationRecorded(implementation) => {
                self.implementation = Some(implementation.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(applicable: bool, justification: &str) -> ControlApplicabilityDecided {
        ControlApplicabilityDecided { applicable, justification: justification.into() }
    }

    fn implementation(status: ImplementationStatus) -> ControlImplementationRecorded {
        ControlImplementationRecorded {
            status,
            owner: "alice".into(),
            evidence_refs: vec!["POL-07 Cryptography".into()],
        }
    }

    fn given(events: &[SoaEntryEvent]) -> SoaEntry {
        let mut entry = SoaEntry::default();
        events.iter().for_each(|e| entry.apply(e));
        entry
    }

    fn decided(applicable: bool) -> SoaEntryEvent {
        SoaEntryEvent::ControlApplicabilityDecided(decision(applicable, "because"))
    }

    #[test]
    fn names_match_serde() {
        for (i, name) in ImplementationStatus::NAMES.iter().enumerate() {
            let status: ImplementationStatus = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!((status as usize, status.as_str()), (i, *name));
        }
    }

    #[test]
    fn a_justification_is_required_for_inclusion_and_exclusion() {
        for applicable in [true, false] {
            let error = SoaEntry::default().decide(decision(applicable, "  "), &[]).unwrap_err();
            assert_eq!(
                (error.code, error.pointer.as_deref()),
                (ErrorCode::SoaJustificationRequired, Some("/justification"))
            );
        }
        assert_eq!(SoaEntry::default().decide(decision(false, "no cloud services"), &[]).unwrap().len(), 1);
    }

    #[test]
    fn a_control_named_by_an_open_risk_treatment_cannot_be_excluded() {
        let risk = Uuid::now_v7();
        let entry = given(&[decided(true)]);
        let error = entry.decide(decision(false, "not needed"), &[risk]).unwrap_err();
        assert_eq!(error.code, ErrorCode::ControlRequiredByRiskTreatment);
        assert!(error.detail.contains(&risk.to_string()), "{}", error.detail);
        // Including it stays possible, and so does excluding it once no open risk names it.
        assert!(SoaEntry::default().decide(decision(true, "treats the risk"), &[risk]).is_ok());
        assert!(entry.decide(decision(false, "not needed"), &[]).is_ok());
    }

    #[test]
    fn no_implementation_before_a_decision() {
        let error =
            SoaEntry::default().record_implementation(implementation(ImplementationStatus::Planned)).unwrap_err();
        assert_eq!(error.code, ErrorCode::SoaApplicabilityNotDecided);
    }

    #[test]
    fn an_excluded_control_can_only_be_not_implemented() {
        let entry = given(&[decided(false)]);
        let error = entry.record_implementation(implementation(ImplementationStatus::Implemented)).unwrap_err();
        assert_eq!(error.code, ErrorCode::SoaControlNotApplicable);
        assert!(entry.record_implementation(implementation(ImplementationStatus::NotImplemented)).is_ok());
    }

    #[test]
    fn an_implemented_control_is_set_back_to_not_implemented_before_it_is_excluded() {
        let entry = given(&[
            decided(true),
            SoaEntryEvent::ControlImplementationRecorded(implementation(ImplementationStatus::PartiallyImplemented)),
        ]);
        let error = entry.decide(decision(false, "the service was decommissioned"), &[]).unwrap_err();
        assert_eq!(error.code, ErrorCode::SoaControlImplemented);
        let reset = given(&[
            decided(true),
            SoaEntryEvent::ControlImplementationRecorded(implementation(ImplementationStatus::PartiallyImplemented)),
            SoaEntryEvent::ControlImplementationRecorded(implementation(ImplementationStatus::NotImplemented)),
        ]);
        assert!(reset.decide(decision(false, "the service was decommissioned"), &[]).is_ok());
    }

    #[test]
    fn a_decision_or_implementation_that_changes_nothing_is_refused() {
        let entry = given(&[
            decided(true),
            SoaEntryEvent::ControlImplementationRecorded(implementation(ImplementationStatus::Planned)),
        ]);
        assert_eq!(entry.decide(decision(true, "because"), &[]).unwrap_err().code, ErrorCode::NothingChanged);
        let same = entry.record_implementation(implementation(ImplementationStatus::Planned)).unwrap_err();
        assert_eq!(same.code, ErrorCode::NothingChanged);
        let events = entry.record_implementation(implementation(ImplementationStatus::Implemented)).unwrap();
        let mut later = entry.clone();
        later.apply(&events[0]);
        assert_eq!(later.status(), ImplementationStatus::Implemented);
    }
}

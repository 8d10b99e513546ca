//! The context of the organization (ISO/IEC 27001 4.1): the internal and external issues that
//! affect the ISMS's ability to achieve its intended outcomes.
//!
//! Issues are revised rather than edited and retired rather than deleted, so the register can be
//! read as it stood on the day of any audit.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

/// 4.1 distinguishes issues inside the organization from those outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IssueCategory {
    #[default]
    Internal,
    External,
}

impl IssueCategory {
    pub const NAMES: &'static [&'static str] = &["internal", "external"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ContextIssueStatus {
    #[default]
    Active,
    Retired,
}

impl ContextIssueStatus {
    pub const NAMES: &'static [&'static str] = &["active", "retired"];

    pub fn is_active(self) -> bool {
        self == Self::Active
    }
}

/// What an issue is; the same shape records and revises it, so a revision restates the whole
/// issue and the history shows every version in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextIssueDetails {
    pub category: IssueCategory,
    pub title: String,
    pub description: String,
    /// How the issue affects the ISMS (the "effect" column of the seed's context table).
    pub effect_on_isms: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextIssueRetired {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum ContextIssueEvent {
    ContextIssueRecorded(ContextIssueDetails),
    ContextIssueRevised(ContextIssueDetails),
    ContextIssueRetired(ContextIssueRetired),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContextIssue {
    pub details: Option<ContextIssueDetails>,
    pub status: ContextIssueStatus,
    pub retirement: Option<ContextIssueRetired>,
}

impl ContextIssue {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    fn ensure_active(&self) -> Result<(), DomainError> {
        if self.status == ContextIssueStatus::Retired {
            return Err(DomainError::new(ErrorCode::ContextIssueRetired, "the context issue is retired"));
        }
        Ok(())
    }

    pub fn record(&self, details: ContextIssueDetails) -> Result<Vec<ContextIssueEvent>, DomainError> {
        Ok(vec![ContextIssueEvent::ContextIssueRecorded(details)])
    }

    /// A revision that changes nothing would only add noise to the audit trail.
    pub fn revise(&self, details: ContextIssueDetails) -> Result<Vec<ContextIssueEvent>, DomainError> {
        self.ensure_active()?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the current issue"));
        }
        Ok(vec![ContextIssueEvent::ContextIssueRevised(details)])
    }

    pub fn retire(&self, reason: String) -> Result<Vec<ContextIssueEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![ContextIssueEvent::ContextIssueRetired(ContextIssueRetired { reason })])
    }
}

impl Aggregate for ContextIssue {
    type Event = ContextIssueEvent;
    const STREAM_TYPE: &'static str = "context_issue";

    fn apply(&mut self, event: &ContextIssueEvent) {
        match event {
            ContextIssueEvent::ContextIssueRecorded(details) | ContextIssueEvent::ContextIssueRevised(details) => {
                self.details = Some(details.clone());
            }
            ContextIssueEvent::ContextIssueRetired(retired) => {
                self.retirement = Some(retired.clone());
                self.status = ContextIssueStatus::Retired;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(title: &str) -> ContextIssueDetails {
        ContextIssueDetails {
            category: IssueCategory::External,
            title: title.into(),
            description: String::new(),
            effect_on_isms: "customers require confidentiality".into(),
        }
    }

    fn given(events: &[ContextIssueEvent]) -> ContextIssue {
        let mut issue = ContextIssue::default();
        events.iter().for_each(|e| issue.apply(e));
        issue
    }

    #[test]
    fn a_retired_issue_takes_no_revision_or_second_retirement() {
        let issue = given(&[
            ContextIssueEvent::ContextIssueRecorded(details("leak")),
            ContextIssueEvent::ContextIssueRetired(ContextIssueRetired { reason: "obsolete".into() }),
        ]);
        assert_eq!(issue.revise(details("other")).unwrap_err().code, ErrorCode::ContextIssueRetired);
        assert_eq!(issue.retire("again".into()).unwrap_err().code, ErrorCode::ContextIssueRetired);
    }

    #[test]
    fn a_revision_must_change_something() {
        let issue = given(&[ContextIssueEvent::ContextIssueRecorded(details("leak"))]);
        assert_eq!(issue.revise(details("leak")).unwrap_err().code, ErrorCode::NothingChanged);
        let events = issue.revise(details("customer data leak")).unwrap();
        let revised = given(&[ContextIssueEvent::ContextIssueRecorded(details("leak")), events[0].clone()]);
        assert_eq!(revised.details.unwrap().title, "customer data leak");
    }
}

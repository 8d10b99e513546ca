//! The scope of the ISMS (ISO/IEC 27001 4.3): one versioned statement per tenant with its
//! boundaries, interfaces and dependencies, sites, and the exclusions with their justification.
//!
//! Each definition restates the whole scope as a new version, so an audit reads the scope that
//! was in force on its day.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

/// Where the ISMS ends, in the three directions auditors ask about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boundaries {
    pub organizational: String,
    pub physical: String,
    pub technological: String,
}

/// Something left out of the scope and why (4.3 asks that exclusions be justified).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub description: String,
    pub justification: String,
}

/// The scope as stated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDefinition {
    pub statement: String,
    pub boundaries: Boundaries,
    /// 4.3 c: interfaces and dependencies between activities inside and outside the ISMS.
    pub interfaces_and_dependencies: Vec<String>,
    pub exclusions: Vec<Exclusion>,
    pub sites: Vec<String>,
}

/// A new version of the scope; `version` is the stream version it was recorded at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDefined {
    pub version: u64,
    pub scope: ScopeDefinition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum ScopeEvent {
    ScopeDefined(ScopeDefined),
}

/// Checks an exclusion's justification (at `pointer`): an unjustified exclusion is not one 4.3
/// accepts.
pub fn exclusion_justification(pointer: &str, justification: &str) -> Result<String, DomainError> {
    let justification = crate::values::free_text(pointer, justification, crate::values::MAX_TEXT)?;
    if justification.is_empty() {
        return Err(DomainError::at(
            ErrorCode::ExclusionJustificationRequired,
            pointer,
            "an exclusion from the scope needs a justification (4.3)",
        ));
    }
    Ok(justification)
}

/// The tenant's scope stream; `current` is `None` until the scope is first defined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub current: Option<ScopeDefined>,
}

impl Scope {
    /// Stream id of the single scope stream each tenant has.
    pub const STREAM_ID: &'static str = "current";

    pub fn exists(&self) -> bool {
        self.current.is_some()
    }

    /// Records a new version of the scope (admin only; the HTTP layer checks the scope).
    pub fn define(&self, scope: ScopeDefinition) -> Result<Vec<ScopeEvent>, DomainError> {
        for (index, exclusion) in scope.exclusions.iter().enumerate() {
            exclusion_justification(&format!("/exclusions/{index}/justification"), &exclusion.justification)?;
        }
        if self.current.as_ref().is_some_and(|current| current.scope == scope) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the scope is already stated exactly so"));
        }
        let version = self.current.as_ref().map_or(1, |current| current.version + 1);
        Ok(vec![ScopeEvent::ScopeDefined(ScopeDefined { version, scope })])
    }
}

impl Aggregate for Scope {
    type Event = ScopeEvent;
    const STREAM_TYPE: &'static str = "scope";

    fn apply(&mut self, event: &ScopeEvent) {
        match event {
            ScopeEvent::ScopeDefined(defined) => self.current = Some(defined.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(statement: &str) -> ScopeDefinition {
        ScopeDefinition {
            statement: statement.into(),
            boundaries: Boundaries {
                organizational: "本社 開発部".into(),
                physical: "Tokyo head office, 5th floor".into(),
                technological: "Corporate network and the SaaS tenant".into(),
            },
            interfaces_and_dependencies: vec!["Payroll outsourced to an external provider".into()],
            exclusions: vec![Exclusion {
                description: "Osaka sales office".into(),
                justification: "No customer information is handled there".into(),
            }],
            sites: vec!["Tokyo".into()],
        }
    }

    #[test]
    fn an_exclusion_needs_a_justification() {
        let mut scope = definition("Design services");
        scope.exclusions.push(Exclusion { description: "Cafeteria".into(), justification: "  ".into() });
        let error = Scope::default().define(scope).unwrap_err();
        assert_eq!(error.code, ErrorCode::ExclusionJustificationRequired);
        assert_eq!(error.pointer.as_deref(), Some("/exclusions/1/justification"));
        let field = exclusion_justification("/exclusions/0/justification", "").unwrap_err();
        assert_eq!(field.code, ErrorCode::ExclusionJustificationRequired);
    }

    #[test]
    fn an_identical_restatement_changes_nothing_and_versions_count_up() {
        let mut scope = Scope::default();
        for event in scope.define(definition("Design services")).unwrap() {
            scope.apply(&event);
        }
        assert_eq!(scope.define(definition("Design services")).unwrap_err().code, ErrorCode::NothingChanged);
        let events = scope.define(definition("Design and support services")).unwrap();
        assert!(matches!(&events[0], ScopeEvent::ScopeDefined(ScopeDefined { version: 2, .. })));
    }
}

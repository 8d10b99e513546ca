//! The requirements of ISO/IEC 27001:2022 clauses 4 to 10, as data: the rows of a gap
//! diagnosis (readiness report).

use serde::Serialize;

/// One requirement (a clause or sub-clause) of the management system part of the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The clause number, e.g. `6.1.2`.
    pub clause: &'static str,
    pub title: &'static str,
}

const fn requirement(clause: &'static str, title: &'static str) -> Requirement {
    Requirement { clause, title }
}

/// Clauses 4 to 10 at the level a certification audit samples them.
pub static ISO27001_2022_REQUIREMENTS: [Requirement; 25] = [
    requirement("4.1", "Understanding the organization and its context"),
    requirement("4.2", "Understanding the needs and expectations of interested parties"),
    requirement("4.3", "Determining the scope of the information security management system"),
    requirement("4.4", "Information security management system"),
    requirement("5.1", "Leadership and commitment"),
    requirement("5.2", "Policy"),
    requirement("5.3", "Organizational roles, responsibilities and authorities"),
    requirement("6.1.1", "Actions to address risks and opportunities: general"),
    requirement("6.1.2", "Information security risk assessment"),
    requirement("6.1.3", "Information security risk treatment"),
    requirement("6.2", "Information security objectives and planning to achieve them"),
    requirement("6.3", "Planning of changes"),
    requirement("7.1", "Resources"),
    requirement("7.2", "Competence"),
    requirement("7.3", "Awareness"),
    requirement("7.4", "Communication"),
    requirement("7.5", "Documented information"),
    requirement("8.1", "Operational planning and control"),
    requirement("8.2", "Information security risk assessment"),
    requirement("8.3", "Information security risk treatment"),
    requirement("9.1", "Monitoring, measurement, analysis and evaluation"),
    requirement("9.2", "Internal audit"),
    requirement("9.3", "Management review"),
    requirement("10.1", "Continual improvement"),
    requirement("10.2", "Nonconformity and corrective action"),
];

/// The top-level clause of a requirement (`6.1.2` → `6`), by which readiness is summed up.
pub fn top_clause(clause: &str) -> &str {
    clause.split('.').next().unwrap_or(clause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clause_from_4_to_10_is_present_once() {
        let clauses: Vec<&str> = ISO27001_2022_REQUIREMENTS.iter().map(|r| r.clause).collect();
        let mut unique = clauses.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), clauses.len());
        for top in ["4", "5", "6", "7", "8", "9", "10"] {
            assert!(clauses.iter().any(|c| top_clause(c) == top), "clause {top}");
        }
        assert_eq!(top_clause("6.1.2"), "6");
    }
}

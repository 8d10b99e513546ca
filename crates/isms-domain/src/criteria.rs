//! Risk criteria (ISO/IEC 27001 6.1.2 a): the scales, the score-to-level bands and the
//! acceptance threshold. One stream per tenant; its version is the criteria version that every
//! assessment records, so changing the criteria never rewrites an old score.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

/// One step of a likelihood or impact scale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleLevel {
    pub value: u8,
    pub label: String,
}

/// Scores from `min_score` to `max_score` (inclusive) are of `level`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelBand {
    pub level: String,
    pub min_score: u16,
    pub max_score: u16,
}

/// The criteria in force. Score = likelihood x impact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskCriteria {
    pub likelihood_scale: Vec<ScaleLevel>,
    pub impact_scale: Vec<ScaleLevel>,
    pub level_bands: Vec<LevelBand>,
    /// The highest score that may be accepted without a written justification.
    pub acceptance_threshold: u16,
}

/// Criteria together with the version they were defined at (0 = the built-in default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedCriteria {
    pub version: u64,
    pub criteria: RiskCriteria,
}

/// What a score means under some criteria.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub likelihood: u8,
    pub impact: u8,
    pub score: u16,
    pub level: String,
}

fn scale(labels: &[&str]) -> Vec<ScaleLevel> {
    labels.iter().zip(1u8..).map(|(label, value)| ScaleLevel { value, label: (*label).to_owned() }).collect()
}

impl Default for RiskCriteria {
    /// A common 5x5 matrix: four bands, residual scores up to 8 accepted without justification.
    fn default() -> Self {
        let band = |level: &str, min_score, max_score| LevelBand { level: level.to_owned(), min_score, max_score };
        Self {
            likelihood_scale: scale(&["rare", "unlikely", "possible", "likely", "almost_certain"]),
            impact_scale: scale(&["negligible", "minor", "moderate", "major", "severe"]),
            level_bands: vec![band("low", 1, 4), band("medium", 5, 9), band("high", 10, 16), band("critical", 17, 25)],
            acceptance_threshold: 8,
        }
    }
}

impl RiskCriteria {
    /// Checks that the scales run 1..n, the bands cover every possible score exactly once, and
    /// the threshold is a possible score.
    pub fn validate(self) -> Result<Self, DomainError> {
        let invalid =
            |pointer: &str, detail: String| Err(DomainError::at(ErrorCode::InvalidRiskCriteria, pointer, detail));
        for (name, levels) in [("likelihood_scale", &self.likelihood_scale), ("impact_scale", &self.impact_scale)] {
            if !(2..=10).contains(&levels.len()) {
                return invalid(&format!("/{name}"), format!("{name} must have 2 to 10 levels"));
            }
            for (index, level) in levels.iter().enumerate() {
                if usize::from(level.value) != index + 1 {
                    return invalid(
                        &format!("/{name}/{index}/value"),
                        format!("{name} values must run 1, 2, 3, ... in order"),
                    );
                }
                crate::values::required_line(&format!("/{name}/{index}/label"), &level.label, 50)
                    .map_err(|e| DomainError { code: ErrorCode::InvalidRiskCriteria, ..e })?;
            }
        }
        let max_score = self.max_score();
        let mut bands = self.level_bands.clone();
        bands.sort_by_key(|b| b.min_score);
        let mut next = 1u16;
        for band in &bands {
            if band.level.trim().is_empty() {
                return invalid("/level_bands", "every band needs a level name".into());
            }
            if band.min_score != next || band.max_score < band.min_score {
                return invalid(
                    "/level_bands",
                    format!("bands must cover scores 1 to {max_score} without gaps or overlaps (expected a band starting at {next})"),
                );
            }
            next = band.max_score.saturating_add(1);
        }
        if next != max_score.saturating_add(1) || bands.last().is_some_and(|b| b.max_score > max_score) {
            return invalid("/level_bands", format!("bands must end exactly at the maximum score {max_score}"));
        }
        if self.acceptance_threshold == 0 || self.acceptance_threshold > max_score {
            return invalid("/acceptance_threshold", format!("must be between 1 and {max_score}"));
        }
        Ok(self)
    }

    pub fn max_score(&self) -> u16 {
        (self.likelihood_scale.len() * self.impact_scale.len()) as u16
    }

    /// Rates a likelihood and impact; `pointer_prefix` locates the two fields for errors.
    pub fn rate(&self, pointer_prefix: &str, likelihood: u8, impact: u8) -> Result<Rating, DomainError> {
        if likelihood == 0 || usize::from(likelihood) > self.likelihood_scale.len() {
            return Err(DomainError::at(
                ErrorCode::LikelihoodOutOfScale,
                format!("{pointer_prefix}likelihood"),
                format!("likelihood must be 1 to {} under the criteria in force", self.likelihood_scale.len()),
            ));
        }
        if impact == 0 || usize::from(impact) > self.impact_scale.len() {
            return Err(DomainError::at(
                ErrorCode::ImpactOutOfScale,
                format!("{pointer_prefix}impact"),
                format!("impact must be 1 to {} under the criteria in force", self.impact_scale.len()),
            ));
        }
        let score = u16::from(likelihood) * u16::from(impact);
        let level = self
            .level_bands
            .iter()
            .find(|band| (band.min_score..=band.max_score).contains(&score))
            .map(|band| band.level.clone())
            .unwrap_or_default();
        Ok(Rating { likelihood, impact, score, level })
    }
}

/// Events of the criteria stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum CriteriaEvent {
    RiskCriteriaDefined(RiskCriteria),
}

/// The criteria stream's state: the criteria in force and their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriteriaState {
    pub current: VersionedCriteria,
}

impl Default for CriteriaState {
    fn default() -> Self {
        Self { current: VersionedCriteria { version: 0, criteria: RiskCriteria::default() } }
    }
}

impl CriteriaState {
    /// Stream id of the single criteria stream each tenant has.
    pub const STREAM_ID: &'static str = "current";

    /// Defines new criteria (admin only; the HTTP layer checks the scope).
    pub fn define(&self, criteria: RiskCriteria) -> Result<Vec<CriteriaEvent>, DomainError> {
        Ok(vec![CriteriaEvent::RiskCriteriaDefined(criteria.validate()?)])
    }
}

impl Aggregate for CriteriaState {
    type Event = CriteriaEvent;
    const STREAM_TYPE: &'static str = "risk_criteria";

    fn apply(&mut self, event: &CriteriaEvent) {
        match event {
            CriteriaEvent::RiskCriteriaDefined(criteria) => {
                self.current = VersionedCriteria { version: self.current.version + 1, criteria: criteria.clone() };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_criteria_are_valid_and_rate_a_5x5_matrix() {
        let criteria = RiskCriteria::default().validate().unwrap();
        assert_eq!(
            criteria.rate("/", 4, 5).unwrap(),
            Rating { likelihood: 4, impact: 5, score: 20, level: "critical".into() }
        );
        assert_eq!(criteria.rate("/", 1, 1).unwrap().level, "low");
        assert_eq!(criteria.rate("/", 6, 1).unwrap_err().code, ErrorCode::LikelihoodOutOfScale);
        assert_eq!(criteria.rate("/", 1, 0).unwrap_err().code, ErrorCode::ImpactOutOfScale);
    }

    #[test]
    fn bands_with_gaps_or_a_wrong_threshold_are_refused() {
        let mut gap = RiskCriteria::default();
        gap.level_bands[1].min_score = 6;
        assert_eq!(gap.validate().unwrap_err().code, ErrorCode::InvalidRiskCriteria);
        let threshold = RiskCriteria { acceptance_threshold: 26, ..RiskCriteria::default() };
        assert_eq!(threshold.validate().unwrap_err().code, ErrorCode::InvalidRiskCriteria);
        let mut scale = RiskCriteria::default();
        scale.impact_scale[2].value = 7;
        assert_eq!(scale.validate().unwrap_err().pointer.as_deref(), Some("/impact_scale/2/value"));
    }

    #[test]
    fn each_definition_bumps_the_version() {
        let mut state = CriteriaState::default();
        for event in state.define(RiskCriteria::default()).unwrap() {
            state.apply(&event);
        }
        assert_eq!(state.current.version, 1);
    }
}

//! The risk heat map: likelihood by impact, inherent (the current assessment) and residual (the
//! target of the treatment decision), over the open risks, on the scales of the criteria in force.

use isms_domain::criteria::RiskCriteria;
use isms_domain::risk::RiskStatus;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Registers;

/// One step of an axis.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AxisLevel {
    pub value: u8,
    pub label: String,
}

/// One cell: the risks rated at this likelihood and impact.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HeatMapCell {
    pub likelihood: u8,
    pub impact: u8,
    pub score: u16,
    /// The level of the score under the criteria in force.
    pub level: String,
    pub count: usize,
    pub risk_ids: Vec<Uuid>,
}

/// One matrix (inherent or residual): every cell of the scales, likelihood-major.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HeatMapMatrix {
    pub cells: Vec<HeatMapCell>,
    /// Risks counted in the matrix.
    pub total: usize,
    /// Risks rated on an earlier scale whose values fall outside the current one: they are
    /// listed rather than silently dropped or clamped.
    pub outside_scale: Vec<Uuid>,
}

/// The heat map of the open risks (every status but `closed`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HeatMap {
    pub criteria_version: u64,
    pub likelihood_scale: Vec<AxisLevel>,
    pub impact_scale: Vec<AxisLevel>,
    /// Level names from the lowest band to the highest.
    pub levels: Vec<String>,
    pub acceptance_threshold: u16,
    /// From each open risk's current assessment; unassessed risks are counted in `unassessed`.
    pub inherent: HeatMapMatrix,
    /// From each open risk's treatment decision (its target residual rating).
    pub residual: HeatMapMatrix,
    pub unassessed: usize,
}

fn empty_matrix(criteria: &RiskCriteria) -> HeatMapMatrix {
    let mut cells = Vec::new();
    for likelihood in &criteria.likelihood_scale {
        for impact in &criteria.impact_scale {
            let score = u16::from(likelihood.value) * u16::from(impact.value);
            let level = criteria
                .level_bands
                .iter()
                .find(|band| (band.min_score..=band.max_score).contains(&score))
                .map_or_else(String::new, |band| band.level.clone());
            cells.push(HeatMapCell {
                likelihood: likelihood.value,
                impact: impact.value,
                score,
                level,
                count: 0,
                risk_ids: Vec::new(),
            });
        }
    }
    HeatMapMatrix { cells, total: 0, outside_scale: Vec::new() }
}

impl HeatMapMatrix {
    fn count(&mut self, impacts: usize, id: Uuid, likelihood: u8, impact: u8) {
        let index = usize::from(likelihood).checked_sub(1).zip(usize::from(impact).checked_sub(1));
        match index.and_then(|(l, i)| (i < impacts).then(|| self.cells.get_mut(l * impacts + i)).flatten()) {
            Some(cell) => {
                cell.count += 1;
                cell.risk_ids.push(id);
                self.total += 1;
            }
            None => self.outside_scale.push(id),
        }
    }
}

pub fn heat_map(registers: &Registers) -> HeatMap {
    let current = &registers.criteria.current;
    let criteria = &current.criteria;
    let impacts = criteria.impact_scale.len();
    let (mut inherent, mut residual) = (empty_matrix(criteria), empty_matrix(criteria));
    let mut unassessed = 0;
    for (id, entry) in &registers.risks {
        let risk = &entry.state;
        if !risk.exists() || risk.status == RiskStatus::Closed {
            continue;
        }
        match &risk.assessment {
            Some(assessment) => inherent.count(impacts, *id, assessment.rating.likelihood, assessment.rating.impact),
            None => unassessed += 1,
        }
        if let Some(treatment) = &risk.treatment {
            residual.count(impacts, *id, treatment.residual.likelihood, treatment.residual.impact);
        }
    }
    let axis = |levels: &[isms_domain::criteria::ScaleLevel]| {
        levels.iter().map(|l| AxisLevel { value: l.value, label: l.label.clone() }).collect()
    };
    let mut bands = criteria.level_bands.clone();
    bands.sort_by_key(|band| band.min_score);
    HeatMap {
        criteria_version: current.version,
        likelihood_scale: axis(&criteria.likelihood_scale),
        impact_scale: axis(&criteria.impact_scale),
        levels: bands.into_iter().map(|band| band.level).collect(),
        acceptance_threshold: criteria.acceptance_threshold,
        inherent,
        residual,
        unassessed,
    }
}

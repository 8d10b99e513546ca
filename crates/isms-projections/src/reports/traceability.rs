//! The traceability matrix of the seed document: one row per chain from the context of the
//! organization to the evaluation of what is monitored —
//! context issue (4.1) → interested party and its need (4.2) → risk or opportunity (6.1.1) →
//! objective (6.2) → plan to achieve it (6.2) → operational control (8.1) → monitoring item
//! (9.1) → analysis and evaluation (9.1).
//!
//! The chain follows the links the registers hold: a requirement names its context issues, a
//! risk names its requirements and context issues, an objective names its risks, an
//! operational plan names its objectives (or risks), a metric names its objectives or plans.
//! Where a link is missing the row stops and says why, and the summary lists every broken
//! chain (e.g. an objective nobody measures, a risk no objective addresses). Retired, withdrawn
//! and closed records are left out: the matrix shows the chains in force.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use isms_domain::context::{ContextIssueStatus, IssueCategory};
use isms_domain::metrics::MetricStatus;
use isms_domain::objectives::ObjectiveStatus;
use isms_domain::operations::OperationalPlanStatus;
use isms_domain::parties::PartyStatus;
use isms_domain::risk::{RiskKind, RiskStatus};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Registers;

/// A record named in a row: its id and what a reader recognizes it by.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Link {
    pub id: Uuid,
    pub label: String,
}

/// The evaluation (9.1) of the row's monitoring item, the latest recorded.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EvaluationLink {
    pub id: Uuid,
    pub met: bool,
    pub evaluated_on: NaiveDate,
    pub conclusion: String,
}

/// One chain. Columns after a missing link are empty; `breaks` says which links are missing.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TraceabilityRow {
    /// 4.1
    pub context_issue: Option<Link>,
    /// `internal` or `external`, when there is a context issue.
    pub context_category: Option<String>,
    /// 4.2
    pub interested_party: Option<Link>,
    /// 4.2: the party's need or expectation (the requirement).
    pub need: Option<Link>,
    /// 6.1.1
    pub risk: Option<Link>,
    /// `risk` or `opportunity`.
    pub risk_kind: Option<String>,
    /// 6.2
    pub objective: Option<Link>,
    /// 6.2: the plan to achieve the objective.
    pub plan: Option<String>,
    /// 8.1
    pub operational_control: Option<Link>,
    /// 9.1
    pub monitoring_item: Option<Link>,
    /// 9.1
    pub evaluation: Option<EvaluationLink>,
    /// Missing links, e.g. `no_need`, `no_risk`, `no_objective`, `no_operational_control`,
    /// `not_monitored`, `not_evaluated`, `no_context`.
    pub breaks: Vec<String>,
}

/// The broken chains, register by register.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct BrokenChains {
    /// Active context issues no interested-party need or risk refers to.
    pub issues_without_need_or_risk: Vec<Uuid>,
    /// Active needs no risk refers to.
    pub needs_without_risk: Vec<Uuid>,
    /// Open risks and opportunities linked to no context issue and no need.
    pub risks_without_context: Vec<Uuid>,
    /// Open risks and opportunities no objective addresses.
    pub risks_without_objective: Vec<Uuid>,
    /// Objectives that address no risk or opportunity.
    pub objectives_without_risk: Vec<Uuid>,
    /// Objectives no operational plan carries out.
    pub objectives_without_operational_control: Vec<Uuid>,
    /// Objectives measured by no metric, directly or through their operational plans.
    pub objectives_not_measured: Vec<Uuid>,
    /// Metrics without any evaluation.
    pub metrics_not_evaluated: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TraceabilityMatrix {
    pub rows: Vec<TraceabilityRow>,
    pub broken: BrokenChains,
}

fn empty_row() -> TraceabilityRow {
    TraceabilityRow {
        context_issue: None,
        context_category: None,
        interested_party: None,
        need: None,
        risk: None,
        risk_kind: None,
        objective: None,
        plan: None,
        operational_control: None,
        monitoring_item: None,
        evaluation: None,
        breaks: Vec::new(),
    }
}

fn link(id: Uuid, label: &str) -> Option<Link> {
    Some(Link { id, label: label.to_owned() })
}

struct Builder<'a> {
    registers: &'a Registers,
    rows: Vec<TraceabilityRow>,
}

impl Builder<'_> {
    fn open_risk(&self, id: &Uuid) -> bool {
        self.registers.risks.get(id).is_some_and(|e| e.state.exists() && e.state.status != RiskStatus::Closed)
    }

    fn live_objectives(&self, risk: Uuid) -> Vec<(Uuid, String, String)> {
        self.registers
            .objectives_addressing_risk(risk)
            .filter(|e| e.state.status != ObjectiveStatus::Withdrawn)
            .filter_map(|e| e.state.details.as_ref().map(|d| (e.uuid(), d.title.clone(), d.plan.clone())))
            .collect()
    }

    /// Extends a row from the risk onwards: objectives, operational controls, metrics.
    fn extend_from_risk(&mut self, mut row: TraceabilityRow, risk: Uuid) {
        let Some(entry) = self.registers.risks.get(&risk) else { return };
        let Some(identification) = &entry.state.identification else { return };
        row.risk = link(risk, &identification.title);
        row.risk_kind = Some(
            match identification.kind {
                RiskKind::Risk => "risk",
                RiskKind::Opportunity => "opportunity",
            }
            .to_owned(),
        );
        let objectives = self.live_objectives(risk);
        if objectives.is_empty() {
            row.breaks.push("no_objective".to_owned());
            self.rows.push(row);
            return;
        }
        for (objective, title, plan) in objectives {
            let mut with_objective = row.clone();
            with_objective.objective = link(objective, &title);
            with_objective.plan = Some(plan).filter(|p| !p.is_empty());
            self.extend_from_objective(with_objective, objective, Some(risk));
        }
    }

    fn live_plans(&self, objective: Uuid, risk: Option<Uuid>) -> Vec<(Uuid, String)> {
        let live = |e: &&crate::Entry<isms_domain::operations::OperationalPlan>| {
            e.state.status != OperationalPlanStatus::Retired
        };
        let title = |e: &crate::Entry<isms_domain::operations::OperationalPlan>| {
            e.state.details.as_ref().map(|d| (e.uuid(), d.title.clone()))
        };
        let mut plans: Vec<(Uuid, String)> =
            self.registers.operational_plans_for_objective(objective).filter(live).filter_map(title).collect();
        if plans.is_empty() {
            if let Some(risk) = risk {
                plans = self.registers.operational_plans_for_risk(risk).filter(live).filter_map(title).collect();
            }
        }
        plans
    }

    fn live_metrics(&self, objective: Uuid, plan: Option<Uuid>) -> Vec<(Uuid, String)> {
        let mut seen = BTreeSet::new();
        let by_plan = plan.into_iter().flat_map(|plan| self.registers.metrics_for_operational_plan(plan));
        by_plan
            .chain(self.registers.metrics_for_objective(objective))
            .filter(|e| e.state.status != MetricStatus::Retired)
            .filter(|e| seen.insert(e.uuid()))
            .filter_map(|e| e.state.definition.as_ref().map(|d| (e.uuid(), d.name.clone())))
            .collect()
    }

    fn extend_from_objective(&mut self, row: TraceabilityRow, objective: Uuid, risk: Option<Uuid>) {
        let plans = self.live_plans(objective, risk);
        let mut rows_with_plan: Vec<(TraceabilityRow, Option<Uuid>)> = Vec::new();
        if plans.is_empty() {
            let mut without = row;
            without.breaks.push("no_operational_control".to_owned());
            rows_with_plan.push((without, None));
        } else {
            for (plan, title) in plans {
                let mut with_plan = row.clone();
                with_plan.operational_control = link(plan, &title);
                rows_with_plan.push((with_plan, Some(plan)));
            }
        }
        for (row, plan) in rows_with_plan {
            let metrics = self.live_metrics(objective, plan);
            if metrics.is_empty() {
                let mut unmeasured = row;
                unmeasured.breaks.push("not_monitored".to_owned());
                self.rows.push(unmeasured);
                continue;
            }
            for (metric, name) in metrics {
                let mut measured = row.clone();
                measured.monitoring_item = link(metric, &name);
                match self.registers.latest_evaluation(metric) {
                    Some(evaluation) => {
                        measured.evaluation = Some(EvaluationLink {
                            id: evaluation.evaluation_id,
                            met: evaluation.met,
                            evaluated_on: evaluation.evaluated_on,
                            conclusion: evaluation.conclusion.clone(),
                        })
                    }
                    None => measured.breaks.push("not_evaluated".to_owned()),
                }
                self.rows.push(measured);
            }
        }
    }
}

pub fn traceability_matrix(registers: &Registers) -> TraceabilityMatrix {
    let mut builder = Builder { registers, rows: Vec::new() };
    let mut broken = BrokenChains::default();
    let open_risks: Vec<(Uuid, &isms_domain::risk::Risk)> =
        registers.risks.iter().filter(|(id, _)| builder.open_risk(id)).map(|(id, e)| (*id, &e.state)).collect();
    let live_parties =
        || registers.interested_parties.values().filter(|p| p.state.exists() && p.state.status == PartyStatus::Active);

    for (issue_id, issue) in registers.context_issues.iter() {
        let Some(details) = issue.state.details.as_ref().filter(|_| issue.state.status == ContextIssueStatus::Active)
        else {
            continue;
        };
        let mut base = empty_row();
        base.context_issue = link(*issue_id, &details.title);
        base.context_category = Some(
            match details.category {
                IssueCategory::Internal => "internal",
                IssueCategory::External => "external",
            }
            .to_owned(),
        );
        let mut reached = false;
        let mut risks_through_needs = BTreeSet::new();
        for party in live_parties() {
            let party_name = party.state.details.as_ref().map_or("", |d| d.name.as_str());
            for requirement in party.state.requirements.iter().filter(|r| r.withdrawal.is_none()) {
                let need = &requirement.requirement;
                if !need.context_issue_ids.contains(issue_id) {
                    continue;
                }
                reached = true;
                let mut row = base.clone();
                row.interested_party = link(party.uuid(), party_name);
                row.need = link(need.requirement_id, &need.description);
                let risks: Vec<Uuid> = open_risks
                    .iter()
                    .filter(|(_, risk)| risk.sources.requirement_ids.contains(&need.requirement_id))
                    .map(|(id, _)| *id)
                    .collect();
                if risks.is_empty() {
                    row.breaks.push("no_risk".to_owned());
                    builder.rows.push(row);
                    continue;
                }
                for risk in risks {
                    risks_through_needs.insert(risk);
                    builder.extend_from_risk(row.clone(), risk);
                }
            }
        }
        // Risks linked to the issue directly, not through one of its needs.
        let direct: Vec<Uuid> = open_risks
            .iter()
            .filter(|(id, risk)| risk.sources.context_issue_ids.contains(issue_id) && !risks_through_needs.contains(id))
            .map(|(id, _)| *id)
            .collect();
        for risk in &direct {
            let mut row = base.clone();
            row.breaks.push("no_need".to_owned());
            builder.extend_from_risk(row, *risk);
        }
        if !reached && direct.is_empty() {
            let mut row = base;
            row.breaks.push("no_need".to_owned());
            row.breaks.push("no_risk".to_owned());
            builder.rows.push(row);
            broken.issues_without_need_or_risk.push(*issue_id);
        }
    }

    // Chains that start further down: risks without context, objectives without risks.
    for (risk_id, risk) in &open_risks {
        if risk.sources.context_issue_ids.is_empty() && risk.sources.requirement_ids.is_empty() {
            broken.risks_without_context.push(*risk_id);
            let mut row = empty_row();
            row.breaks.push("no_context".to_owned());
            builder.extend_from_risk(row, *risk_id);
        }
        if builder.live_objectives(*risk_id).is_empty() {
            broken.risks_without_objective.push(*risk_id);
        }
    }
    for (objective_id, objective) in registers.objectives.iter() {
        let Some(details) = objective.state.details.as_ref() else { continue };
        if objective.state.status == ObjectiveStatus::Withdrawn {
            continue;
        }
        let addressed: Vec<Uuid> = details.risk_ids.iter().copied().filter(|id| builder.open_risk(id)).collect();
        if addressed.is_empty() {
            broken.objectives_without_risk.push(*objective_id);
            let mut row = empty_row();
            row.breaks.push("no_risk".to_owned());
            row.objective = link(*objective_id, &details.title);
            row.plan = Some(details.plan.clone()).filter(|p| !p.is_empty());
            builder.extend_from_objective(row, *objective_id, None);
        }
        let plans = builder.live_plans(*objective_id, addressed.first().copied());
        if plans.is_empty() {
            broken.objectives_without_operational_control.push(*objective_id);
        }
        let measured = !builder.live_metrics(*objective_id, None).is_empty()
            || plans.iter().any(|(plan, _)| !builder.live_metrics(*objective_id, Some(*plan)).is_empty());
        if !measured {
            broken.objectives_not_measured.push(*objective_id);
        }
    }
    for party in live_parties() {
        for requirement in party.state.requirements.iter().filter(|r| r.withdrawal.is_none()) {
            let id = requirement.requirement.requirement_id;
            if !open_risks.iter().any(|(_, risk)| risk.sources.requirement_ids.contains(&id)) {
                broken.needs_without_risk.push(id);
            }
        }
    }
    broken.metrics_not_evaluated = registers
        .metrics
        .iter()
        .filter(|(_, e)| e.state.exists() && e.state.status != MetricStatus::Retired && e.state.evaluations.is_empty())
        .map(|(id, _)| *id)
        .collect();
    TraceabilityMatrix { rows: builder.rows, broken }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_register_has_no_rows_and_nothing_broken() {
        let matrix = traceability_matrix(&Registers::default());
        assert!(matrix.rows.is_empty());
        assert_eq!(matrix.broken, BrokenChains::default());
    }
}

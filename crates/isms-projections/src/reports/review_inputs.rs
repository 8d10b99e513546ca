//! Drafts of the management review inputs (9.3.2), generated from the registers for the period
//! under review. A draft is only a proposal: recording it stores its text in the review's
//! stream, so the review later shows what management was shown, not what the registers say now.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::audits::FindingType;
use isms_domain::management_review::ReviewInputCategory;
use isms_domain::nonconformity::{NonconformityStatus, Severity};
use isms_domain::risk::{RiskKind, RiskStatus};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::views::management_review::review_input_category_schema;
use crate::Registers;

/// A proposed input: a summary and the records it draws on.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReviewInputDraft {
    #[schema(schema_with = review_input_category_schema)]
    pub category: ReviewInputCategory,
    pub clause: String,
    pub summary: String,
    pub record_ids: Vec<Uuid>,
}

/// The period a review covers, inclusive, by recorded date.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: NaiveDate,
    pub until: NaiveDate,
}

impl Period {
    fn contains(&self, at: DateTime<Utc>) -> bool {
        (self.from..=self.until).contains(&at.date_naive())
    }
}

fn draft(category: ReviewInputCategory, summary: String, record_ids: Vec<Uuid>) -> ReviewInputDraft {
    ReviewInputDraft { category, clause: category.clause().to_owned(), summary, record_ids }
}

/// The name an enum serializes to (its API name).
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// "name: count" pairs in a stable order.
fn counted(counts: &BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
}

fn previous_actions(registers: &Registers, review: Uuid, period: Period) -> ReviewInputDraft {
    let mut ids = Vec::new();
    let (mut done, mut open, mut overdue) = (0, 0, 0);
    for (id, entry) in registers.management_reviews.iter().filter(|(id, _)| **id != review) {
        for action in &entry.state.actions {
            ids.push(*id);
            match &action.completion {
                Some(_) => done += 1,
                None if action.assigned.due_date < period.until => overdue += 1,
                None => open += 1,
            }
        }
    }
    ids.dedup();
    let summary = if done + open + overdue == 0 {
        "No actions from earlier management reviews.".to_owned()
    } else {
        format!("Actions from earlier reviews: {done} completed, {open} open, {overdue} overdue.")
    };
    draft(ReviewInputCategory::PreviousActions, summary, ids)
}

fn changes_in_issues(registers: &Registers, period: Period) -> ReviewInputDraft {
    let (mut new, mut changed, mut ids) = (0, 0, Vec::new());
    for (id, entry) in &registers.context_issues {
        if period.contains(entry.created_at) {
            new += 1;
            ids.push(*id);
        } else if period.contains(entry.updated_at) {
            changed += 1;
            ids.push(*id);
        }
    }
    let active = registers.context_issues.values().filter(|e| e.state.status.is_active()).count();
    draft(
        ReviewInputCategory::ChangesInIssues,
        format!("Context issues (4.1): {new} new and {changed} revised or retired in the period; {active} active."),
        ids,
    )
}

fn nonconformity_trends(registers: &Registers, period: Period) -> ReviewInputDraft {
    let (mut raised, mut closed, mut ids) = (BTreeMap::new(), 0, Vec::new());
    let mut open_major = 0;
    for (id, entry) in &registers.nonconformities {
        let Some(details) = &entry.state.raised else { continue };
        let severity = match details.severity {
            Severity::Major => "major",
            Severity::Minor => "minor",
        };
        if period.contains(entry.created_at) {
            *raised.entry(severity.to_owned()).or_insert(0) += 1;
            ids.push(*id);
        }
        if entry.state.status == NonconformityStatus::Closed {
            if period.contains(entry.updated_at) {
                closed += 1;
                ids.push(*id);
            }
        } else if details.severity == Severity::Major {
            open_major += 1;
        }
    }
    let open = registers.nonconformities.values().filter(|e| e.state.status != NonconformityStatus::Closed).count();
    ids.dedup();
    draft(
        ReviewInputCategory::NonconformityTrends,
        format!(
            "Nonconformities raised in the period by severity: {}; closed in the period: {closed}; open now: {open} \
             ({open_major} major).",
            counted(&raised)
        ),
        ids,
    )
}

fn risk_assessment_results(registers: &Registers) -> ReviewInputDraft {
    let (mut by_level, mut by_status, mut ids) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    for (id, entry) in registers.risks.iter().filter(|(_, e)| e.state.exists()) {
        let risk = &entry.state;
        if risk.status == RiskStatus::Closed || risk.identification.as_ref().is_some_and(|i| i.kind != RiskKind::Risk) {
            continue;
        }
        ids.push(*id);
        let level = risk.assessment.as_ref().map_or("unassessed".to_owned(), |a| a.rating.level.clone());
        *by_level.entry(level).or_insert(0) += 1;
        *by_status.entry(name_of(&risk.status)).or_insert(0) += 1;
    }
    draft(
        ReviewInputCategory::RiskAssessmentResults,
        format!("Open risks by level: {}; by treatment status: {}.", counted(&by_level), counted(&by_status)),
        ids,
    )
}

/// Opportunities in the risk register (6.1.1) and opportunities for improvement found by
/// internal audits in the period.
fn improvement_opportunities(registers: &Registers, period: Period) -> ReviewInputDraft {
    let mut ids: Vec<Uuid> = registers
        .risks
        .iter()
        .filter(|(_, e)| {
            e.state.status != RiskStatus::Closed
                && e.state.identification.as_ref().is_some_and(|i| i.kind == RiskKind::Opportunity)
        })
        .map(|(id, _)| *id)
        .collect();
    let opportunities = ids.len();
    let mut audit_findings = 0;
    for (id, entry) in &registers.audits {
        let found = entry
            .state
            .findings
            .iter()
            .filter(|f| f.finding_type == FindingType::OpportunityForImprovement && period.contains(f.recorded_at))
            .count();
        if found > 0 {
            audit_findings += found;
            ids.push(*id);
        }
    }
    draft(
        ReviewInputCategory::ImprovementOpportunities,
        format!(
            "Open opportunities in the risk register (6.1.1): {opportunities}; opportunities for improvement \
             found by internal audits in the period: {audit_findings}."
        ),
        ids,
    )
}

fn changes_in_interested_party_needs(registers: &Registers, period: Period) -> ReviewInputDraft {
    let (mut changed_parties, mut unaddressed, mut ids) = (0, 0, Vec::new());
    for (id, entry) in registers.interested_parties.iter().filter(|(_, e)| e.state.exists()) {
        if period.contains(entry.updated_at) {
            changed_parties += 1;
            ids.push(*id);
        }
        unaddressed += entry
            .state
            .requirements
            .iter()
            .filter(|r| r.withdrawal.is_none() && !r.requirement.addressed_by_isms)
            .count();
    }
    draft(
        ReviewInputCategory::ChangesInInterestedPartyNeeds,
        format!(
            "Interested parties (4.2) registered or changed in the period: {changed_parties}; requirements not \
             addressed by the ISMS: {unaddressed}."
        ),
        ids,
    )
}

fn monitoring_results(registers: &Registers, period: Period) -> ReviewInputDraft {
    let (mut met, mut missed, mut ids) = (0, 0, Vec::new());
    for (id, entry) in &registers.metrics {
        let in_period =
            entry.state.evaluations.iter().filter(|e| (period.from..=period.until).contains(&e.evaluated_on));
        for evaluation in in_period {
            if evaluation.met {
                met += 1;
            } else {
                missed += 1;
            }
            ids.push(*id);
        }
    }
    ids.dedup();
    let measured = registers
        .metrics
        .values()
        .filter(|e| e.state.measurements.iter().any(|m| (period.from..=period.until).contains(&m.measured_on)))
        .count();
    draft(
        ReviewInputCategory::MonitoringResults,
        format!(
            "Metrics (9.1) measured in the period: {measured} of {}; evaluations in the period: {met} met the \
             target, {missed} did not.",
            registers.metrics.len()
        ),
        ids,
    )
}

fn audit_results(registers: &Registers, period: Period) -> ReviewInputDraft {
    let (mut reported, mut findings, mut ids) = (0, BTreeMap::new(), Vec::new());
    for (id, entry) in &registers.audits {
        let Some(report) = &entry.state.report else { continue };
        if !period.contains(report.reported_at) {
            continue;
        }
        reported += 1;
        ids.push(*id);
        for finding in &entry.state.findings {
            *findings.entry(name_of(&finding.finding_type)).or_insert(0) += 1;
        }
    }
    draft(
        ReviewInputCategory::AuditResults,
        format!("Internal audits (9.2) reported in the period: {reported}; findings by type: {}.", counted(&findings)),
        ids,
    )
}

fn objectives_fulfilment(registers: &Registers, period: Period) -> ReviewInputDraft {
    let (mut by_status, mut overdue, mut ids) = (BTreeMap::new(), 0, Vec::new());
    for (id, entry) in registers.objectives.iter().filter(|(_, e)| e.state.exists()) {
        ids.push(*id);
        *by_status.entry(name_of(&entry.state.status)).or_insert(0) += 1;
        let due = entry.state.details.as_ref().map(|d| d.due_date);
        if entry.state.conclusion.is_none() && entry.state.withdrawal.is_none() && due.is_some_and(|d| d < period.until)
        {
            overdue += 1;
        }
    }
    draft(
        ReviewInputCategory::ObjectivesFulfilment,
        format!("Information security objectives (6.2) by status: {}; overdue: {overdue}.", counted(&by_status)),
        ids,
    )
}

/// Feedback reaches the register as complaints (nonconformities from complaints) and as
/// incidents reported in the period; anything else is written into the input by a person.
fn interested_party_feedback(registers: &Registers, period: Period) -> ReviewInputDraft {
    let complaints: Vec<Uuid> = registers
        .nonconformities
        .iter()
        .filter(|(_, e)| {
            period.contains(e.created_at)
                && e.state
                    .raised
                    .as_ref()
                    .is_some_and(|r| r.source == isms_domain::nonconformity::NonconformitySource::Complaint)
        })
        .map(|(id, _)| *id)
        .collect();
    let incidents = registers.incidents.values().filter(|e| period.contains(e.created_at)).count();
    draft(
        ReviewInputCategory::InterestedPartyFeedback,
        format!(
            "Complaints recorded as nonconformities in the period: {}; incidents reported in the period: {incidents}.",
            complaints.len()
        ),
        complaints,
    )
}

/// Drafts for every 9.3.2 input of review `review`, over `period`, in the order of 9.3.2.
pub fn review_input_drafts(registers: &Registers, review: Uuid, period: Period) -> Vec<ReviewInputDraft> {
    vec![
        previous_actions(registers, review, period),
        changes_in_issues(registers, period),
        changes_in_interested_party_needs(registers, period),
        nonconformity_trends(registers, period),
        monitoring_results(registers, period),
        audit_results(registers, period),
        objectives_fulfilment(registers, period),
        interested_party_feedback(registers, period),
        risk_assessment_results(registers),
        improvement_opportunities(registers, period),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_of_9_3_2_has_a_draft_in_clause_order() {
        let period = Period { from: NaiveDate::MIN, until: NaiveDate::MAX };
        let drafts = review_input_drafts(&Registers::default(), Uuid::nil(), period);
        let categories: Vec<ReviewInputCategory> = drafts.iter().map(|d| d.category).collect();
        assert_eq!(categories, ReviewInputCategory::ALL);
    }
}

//! Drafts of the management review inputs (9.3.2), generated from the registers for the period
//! under review. A draft is only a proposal: recording it stores its text in the review's
//! stream, so the review later shows what management was shown, not what the registers say now.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
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

/// "3 (a, b, c)" style counts, in a stable order.
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
        let status = serde_json::to_value(risk.status).ok().and_then(|v| v.as_str().map(str::to_owned));
        *by_status.entry(status.unwrap_or_default()).or_insert(0) += 1;
    }
    draft(
        ReviewInputCategory::RiskAssessmentResults,
        format!("Open risks by level: {}; by treatment status: {}.", counted(&by_level), counted(&by_status)),
        ids,
    )
}

fn improvement_opportunities(registers: &Registers) -> ReviewInputDraft {
    let ids: Vec<Uuid> = registers
        .risks
        .iter()
        .filter(|(_, e)| {
            e.state.status != RiskStatus::Closed
                && e.state.identification.as_ref().is_some_and(|i| i.kind == RiskKind::Opportunity)
        })
        .map(|(id, _)| *id)
        .collect();
    draft(
        ReviewInputCategory::ImprovementOpportunities,
        format!("Open opportunities in the risk register (6.1.1): {}.", ids.len()),
        ids,
    )
}

/// Drafts for every 9.3.2 input of review `review`, over `period`.
pub fn review_input_drafts(registers: &Registers, review: Uuid, period: Period) -> Vec<ReviewInputDraft> {
    vec![
        previous_actions(registers, review, period),
        changes_in_issues(registers, period),
        nonconformity_trends(registers, period),
        risk_assessment_results(registers),
        improvement_opportunities(registers),
    ]
}

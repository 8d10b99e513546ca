//! The operational planning register (8.1) as it is read, and the links a traceability report
//! follows from an objective or a risk to the plans that carry it out.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::operations::{OperationalPlan, OperationalPlanStatus};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::objectives::linking;
use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn operational_plan_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(OperationalPlanStatus::NAMES)
}

/// A step of the plan's lifecycle: who took it, when, with what note.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlanStepView {
    pub on: NaiveDate,
    pub by: String,
    pub note: String,
}

/// An operational plan or control (8.1) carrying out objectives and risk treatments.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OperationalPlanRecord {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub owner: String,
    pub starts_on: NaiveDate,
    pub due_date: NaiveDate,
    /// The objectives (6.2) the plan carries out.
    pub objective_ids: Vec<Uuid>,
    /// The risks (6.1) whose treatment the plan carries out.
    pub risk_ids: Vec<Uuid>,
    #[schema(schema_with = operational_plan_status_schema)]
    pub status: OperationalPlanStatus,
    /// When the plan was put into operation.
    pub operation: Option<PlanStepView>,
    pub completion: Option<PlanStepView>,
    pub retirement_reason: Option<String>,
    /// The due date has passed (as of the reading date) and the plan is neither completed nor
    /// retired.
    pub overdue: bool,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for OperationalPlan {
    const NOUN: &'static str = "operational plan";
    const COLLECTION: &'static str = "operational-plans";
    type Record = OperationalPlanRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.operational_plans
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> OperationalPlanRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_default();
        OperationalPlanRecord {
            id: entry.uuid(),
            overdue: state.status.is_open() && details.due_date < today,
            title: details.title,
            description: details.description,
            owner: details.owner,
            starts_on: details.starts_on,
            due_date: details.due_date,
            objective_ids: details.objective_ids,
            risk_ids: details.risk_ids,
            status: state.status,
            operation: state.operation.as_ref().map(|o| PlanStepView {
                on: o.started_on,
                by: o.started_by.clone(),
                note: o.note.clone(),
            }),
            completion: state.completion.as_ref().map(|c| PlanStepView {
                on: c.completed_on,
                by: c.completed_by.clone(),
                note: c.note.clone(),
            }),
            retirement_reason: state.retirement.as_ref().map(|r| r.reason.clone()),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

impl Registers {
    /// The operational plans (8.1) that carry out an objective (6.2).
    pub fn operational_plans_for_objective(
        &self,
        objective_id: Uuid,
    ) -> impl Iterator<Item = &Entry<OperationalPlan>> + '_ {
        linking(&self.operational_plans, objective_id, |plan| {
            plan.details.as_ref().map_or(&[], |d| d.objective_ids.as_slice())
        })
    }

    /// The operational plans (8.1) that carry out the treatment of a risk (6.1.3, 8.3).
    pub fn operational_plans_for_risk(&self, risk_id: Uuid) -> impl Iterator<Item = &Entry<OperationalPlan>> + '_ {
        linking(&self.operational_plans, risk_id, |plan| plan.details.as_ref().map_or(&[], |d| d.risk_ids.as_slice()))
    }
}

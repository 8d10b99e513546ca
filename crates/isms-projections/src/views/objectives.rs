//! The objectives register (6.2) as it is read, and the links a traceability report follows
//! from a risk to the objectives that address it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::objectives::{Objective, ObjectiveOutcome, ObjectiveStatus};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn objective_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(ObjectiveStatus::NAMES)
}
pub fn objective_outcome_schema() -> utoipa::openapi::schema::Object {
    string_enum(ObjectiveOutcome::NAMES)
}

/// One progress report on an objective.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProgressView {
    pub id: Uuid,
    pub observed_on: NaiveDate,
    pub note: String,
    /// The value reached, in the objective's unit.
    pub value: Option<f64>,
    pub recorded_by: String,
}

/// How the objective ended.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ConclusionView {
    #[schema(schema_with = objective_outcome_schema)]
    pub outcome: ObjectiveOutcome,
    pub note: String,
    pub concluded_by: String,
    pub concluded_on: NaiveDate,
}

/// An information security objective and the plan to achieve it (6.2).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ObjectiveRecord {
    pub id: Uuid,
    pub title: String,
    /// The measurable target in words.
    pub target: String,
    /// The target as a number, when it is one.
    pub target_value: Option<f64>,
    pub unit: Option<String>,
    pub owner: String,
    pub resources: String,
    pub due_date: NaiveDate,
    pub evaluation_method: String,
    /// What will be done.
    pub plan: String,
    /// The risks and opportunities the objective addresses.
    pub risk_ids: Vec<Uuid>,
    #[schema(schema_with = objective_status_schema)]
    pub status: ObjectiveStatus,
    /// In the order recorded.
    pub progress: Vec<ProgressView>,
    pub conclusion: Option<ConclusionView>,
    pub withdrawal_reason: Option<String>,
    /// The due date has passed (as of the reading date) and no outcome is recorded.
    pub overdue: bool,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Objective {
    const NOUN: &'static str = "objective";
    const COLLECTION: &'static str = "objectives";
    type Record = ObjectiveRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.objectives
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> ObjectiveRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_default();
        ObjectiveRecord {
            id: entry.uuid(),
            overdue: state.status == ObjectiveStatus::Active && details.due_date < today,
            title: details.title,
            target: details.target,
            target_value: details.target_value.map(|v| v.value()),
            unit: details.unit,
            owner: details.owner,
            resources: details.resources,
            due_date: details.due_date,
            evaluation_method: details.evaluation_method,
            plan: details.plan,
            risk_ids: details.risk_ids,
            status: state.status,
            progress: state
                .progress
                .iter()
                .map(|p| ProgressView {
                    id: p.progress_id,
                    observed_on: p.observed_on,
                    note: p.note.clone(),
                    value: p.value.map(|v| v.value()),
                    recorded_by: p.recorded_by.clone(),
                })
                .collect(),
            conclusion: state.conclusion.as_ref().map(|c| ConclusionView {
                outcome: c.outcome,
                note: c.note.clone(),
                concluded_by: c.concluded_by.clone(),
                concluded_on: c.concluded_on,
            }),
            withdrawal_reason: state.withdrawal.as_ref().map(|w| w.reason.clone()),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// The records of a register whose `links` name `id`, in creation order. A stream without its
/// first event links to nothing, so only live records come out.
pub(crate) fn linking<'a, A>(
    register: &'a BTreeMap<Uuid, Entry<A>>,
    id: Uuid,
    links: impl Fn(&A) -> &[Uuid] + 'a,
) -> impl Iterator<Item = &'a Entry<A>> + 'a {
    register.values().filter(move |entry| links(&entry.state).contains(&id))
}

impl Registers {
    /// The objectives (6.2) that address a risk or opportunity (6.1).
    pub fn objectives_addressing_risk(&self, risk_id: Uuid) -> impl Iterator<Item = &Entry<Objective>> + '_ {
        linking(&self.objectives, risk_id, |objective| {
            objective.details.as_ref().map_or(&[], |d| d.risk_ids.as_slice())
        })
    }
}

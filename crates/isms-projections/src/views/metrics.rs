//! The monitoring and measurement register (9.1) as it is read: metrics, their series of
//! measurements, their evaluations, and the links a traceability report follows from an
//! objective or an operational plan to what measures it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::metrics::{Frequency, MeasurementRecorded, Metric, MetricEvaluated, MetricStatus, TargetDirection};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::objectives::linking;
use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn frequency_schema() -> utoipa::openapi::schema::Object {
    string_enum(Frequency::NAMES)
}
pub fn target_direction_schema() -> utoipa::openapi::schema::Object {
    string_enum(TargetDirection::NAMES)
}
pub fn metric_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(MetricStatus::NAMES)
}

/// One measurement of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MeasurementView {
    pub id: Uuid,
    pub value: f64,
    pub measured_on: NaiveDate,
    pub note: String,
    pub recorded_by: String,
}

impl From<&MeasurementRecorded> for MeasurementView {
    fn from(m: &MeasurementRecorded) -> Self {
        Self {
            id: m.measurement_id,
            value: m.value.value(),
            measured_on: m.measured_on,
            note: m.note.clone(),
            recorded_by: m.recorded_by.clone(),
        }
    }
}

/// An evaluation of a period (9.1): `met` is computed by the server from the period's last
/// measurement against the target in force when it was evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EvaluationView {
    pub id: Uuid,
    pub period_start_on: NaiveDate,
    pub period_end_on: NaiveDate,
    pub conclusion: String,
    pub met: bool,
    /// The measurement the evaluation is based on.
    pub measurement_id: Uuid,
    pub measured_value: f64,
    pub target_value: f64,
    #[schema(schema_with = target_direction_schema)]
    pub direction: TargetDirection,
    pub evaluated_by: String,
    pub evaluated_on: NaiveDate,
}

impl From<&MetricEvaluated> for EvaluationView {
    fn from(e: &MetricEvaluated) -> Self {
        Self {
            id: e.evaluation_id,
            period_start_on: e.period_start_on,
            period_end_on: e.period_end_on,
            conclusion: e.conclusion.clone(),
            met: e.met,
            measurement_id: e.measurement_id,
            measured_value: e.measured_value.value(),
            target_value: e.target_value.value(),
            direction: e.direction,
            evaluated_by: e.evaluated_by.clone(),
            evaluated_on: e.evaluated_on,
        }
    }
}

/// A metric of the ISMS's performance and effectiveness (9.1).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MetricRecord {
    pub id: Uuid,
    pub name: String,
    pub what_is_measured: String,
    pub method: String,
    #[schema(schema_with = frequency_schema)]
    pub frequency: Frequency,
    pub measured_by: String,
    pub analysed_by: String,
    pub unit: String,
    pub target_value: f64,
    #[schema(schema_with = target_direction_schema)]
    pub direction: TargetDirection,
    pub objective_ids: Vec<Uuid>,
    pub operational_plan_ids: Vec<Uuid>,
    #[schema(schema_with = metric_status_schema)]
    pub status: MetricStatus,
    pub retirement_reason: Option<String>,
    /// How many measurements there are; the series endpoint lists them.
    pub measurement_count: usize,
    /// The latest measurement by date.
    pub last_measurement: Option<MeasurementView>,
    /// In the order recorded.
    pub evaluations: Vec<EvaluationView>,
    /// As of the reading date, longer has passed since the last measurement (or, with none, since
    /// the metric was defined) than the frequency allows: 1, 7, 31, 92 or 366 days.
    pub measurement_overdue: bool,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Metric {
    const NOUN: &'static str = "metric";
    const COLLECTION: &'static str = "metrics";
    type Record = MetricRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.metrics
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> MetricRecord {
        let state = &entry.state;
        let definition = state.definition.clone().unwrap_or_default();
        let last_measurement = state.last_measurement();
        let since = last_measurement.map_or(entry.created_at.date_naive(), |m| m.measured_on);
        MetricRecord {
            id: entry.uuid(),
            measurement_overdue: state.status == MetricStatus::Active
                && (today - since).num_days() > definition.frequency.allowance_days(),
            name: definition.name,
            what_is_measured: definition.what_is_measured,
            method: definition.method,
            frequency: definition.frequency,
            measured_by: definition.measured_by,
            analysed_by: definition.analysed_by,
            unit: definition.unit,
            target_value: definition.target_value.value(),
            direction: definition.direction,
            objective_ids: definition.objective_ids,
            operational_plan_ids: definition.operational_plan_ids,
            status: state.status,
            retirement_reason: state.retirement.as_ref().map(|r| r.reason.clone()),
            measurement_count: state.measurements.len(),
            last_measurement: last_measurement.map(MeasurementView::from),
            evaluations: state.evaluations.iter().map(EvaluationView::from).collect(),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// A metric's measurements over time, in date order (of one date, in the order recorded), with
/// the target in force at the read point.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MetricSeries {
    pub metric_id: Uuid,
    pub name: String,
    pub unit: String,
    pub target_value: f64,
    #[schema(schema_with = target_direction_schema)]
    pub direction: TargetDirection,
    /// The first date included, when limited.
    pub from: Option<NaiveDate>,
    /// The last date included, when limited.
    pub to: Option<NaiveDate>,
    pub points: Vec<MeasurementView>,
}

impl MetricSeries {
    pub fn from_entry(entry: &Entry<Metric>, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Self {
        let definition = entry.state.definition.clone().unwrap_or_default();
        let mut points: Vec<&MeasurementRecorded> = entry
            .state
            .measurements
            .iter()
            .filter(|m| from.is_none_or(|from| m.measured_on >= from) && to.is_none_or(|to| m.measured_on <= to))
            .collect();
        // A stable sort keeps the recording order among measurements of one date.
        points.sort_by_key(|m| m.measured_on);
        Self {
            metric_id: entry.uuid(),
            name: definition.name,
            unit: definition.unit,
            target_value: definition.target_value.value(),
            direction: definition.direction,
            from,
            to,
            points: points.into_iter().map(MeasurementView::from).collect(),
        }
    }
}

impl Registers {
    /// The metrics (9.1) that measure an objective (6.2).
    pub fn metrics_for_objective(&self, objective_id: Uuid) -> impl Iterator<Item = &Entry<Metric>> + '_ {
        linking(&self.metrics, objective_id, |metric| {
            metric.definition.as_ref().map_or(&[], |d| d.objective_ids.as_slice())
        })
    }

    /// The metrics (9.1) that measure an operational plan (8.1).
    pub fn metrics_for_operational_plan(&self, plan_id: Uuid) -> impl Iterator<Item = &Entry<Metric>> + '_ {
        linking(&self.metrics, plan_id, |metric| {
            metric.definition.as_ref().map_or(&[], |d| d.operational_plan_ids.as_slice())
        })
    }

    /// The evaluation of a metric recorded last, if the metric exists and has one.
    pub fn latest_evaluation(&self, metric_id: Uuid) -> Option<&MetricEvaluated> {
        self.metrics.get(&metric_id)?.state.evaluations.last()
    }
}

#[cfg(test)]
mod tests {
    use isms_domain::metrics::{MetricDefinition, MetricEvent};
    use isms_domain::objectives::{Objective, ObjectiveDetails, ObjectiveEvent, Quantity};
    use isms_domain::operations::{OperationalPlan, OperationalPlanDetails, OperationalPlanEvent};
    use isms_domain::Aggregate;

    use super::*;

    fn folded<A: Aggregate>(events: &[A::Event], created_at: DateTime<Utc>) -> (Uuid, Entry<A>) {
        let mut state = A::default();
        events.iter().for_each(|e| state.apply(e));
        let id = Uuid::now_v7();
        let entry = Entry {
            state,
            id: id.to_string(),
            version: events.len() as u64,
            position: 1,
            first_position: 1,
            created_at,
            created_by: "alice".into(),
            updated_at: created_at,
            effective_at: None,
        };
        (id, entry)
    }

    fn evaluated(conclusion: &str) -> MetricEvent {
        MetricEvent::MetricEvaluated(MetricEvaluated {
            evaluation_id: Uuid::now_v7(),
            period_start_on: NaiveDate::default(),
            period_end_on: NaiveDate::default(),
            conclusion: conclusion.into(),
            met: true,
            measurement_id: Uuid::now_v7(),
            measured_value: Quantity::default(),
            target_value: Quantity::default(),
            direction: TargetDirection::AtLeast,
            evaluated_by: "carol".into(),
            evaluated_on: NaiveDate::default(),
        })
    }

    #[test]
    fn registers_follow_the_links_from_a_risk_to_what_measures_it() {
        let now = Utc::now();
        let risk = Uuid::now_v7();
        let mut registers = Registers::default();
        let objective_details = ObjectiveDetails { risk_ids: vec![risk], ..Default::default() };
        let (objective, entry) = folded::<Objective>(&[ObjectiveEvent::ObjectiveSet(objective_details)], now);
        registers.objectives.insert(objective, entry);
        let (unrelated, entry) = folded::<Objective>(&[ObjectiveEvent::ObjectiveSet(Default::default())], now);
        registers.objectives.insert(unrelated, entry);
        let plan_details = OperationalPlanDetails { objective_ids: vec![objective], ..Default::default() };
        let (plan, entry) =
            folded::<OperationalPlan>(&[OperationalPlanEvent::OperationalPlanDrawnUp(plan_details)], now);
        registers.operational_plans.insert(plan, entry);
        let definition =
            MetricDefinition { objective_ids: vec![objective], operational_plan_ids: vec![plan], ..Default::default() };
        let events = [MetricEvent::MetricDefined(definition), evaluated("first"), evaluated("second")];
        let (metric, entry) = folded::<Metric>(&events, now);
        registers.metrics.insert(metric, entry);

        let ids = |entries: &mut dyn Iterator<Item = Uuid>| entries.collect::<Vec<_>>();
        assert_eq!(ids(&mut registers.objectives_addressing_risk(risk).map(Entry::uuid)), [objective]);
        assert_eq!(ids(&mut registers.operational_plans_for_objective(objective).map(Entry::uuid)), [plan]);
        assert_eq!(registers.operational_plans_for_risk(risk).count(), 0);
        assert_eq!(ids(&mut registers.metrics_for_objective(objective).map(Entry::uuid)), [metric]);
        assert_eq!(ids(&mut registers.metrics_for_operational_plan(plan).map(Entry::uuid)), [metric]);
        assert_eq!(registers.metrics_for_objective(unrelated).count(), 0);
        assert_eq!(registers.latest_evaluation(metric).map(|e| e.conclusion.as_str()), Some("second"));
        assert!(registers.latest_evaluation(Uuid::now_v7()).is_none());
    }

    #[test]
    fn a_measurement_is_overdue_once_the_frequency_allowance_has_passed() {
        let created_at = "2027-01-01T09:00:00Z".parse().unwrap();
        let defined =
            MetricEvent::MetricDefined(MetricDefinition { frequency: Frequency::Monthly, ..Default::default() });
        let (_, never_measured) = folded::<Metric>(std::slice::from_ref(&defined), created_at);
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        assert!(!Metric::record(&never_measured, day("2027-02-01")).measurement_overdue, "31 days after creation");
        assert!(Metric::record(&never_measured, day("2027-02-02")).measurement_overdue, "32 days after creation");
        let measured = MetricEvent::MeasurementRecorded(MeasurementRecorded {
            measurement_id: Uuid::now_v7(),
            value: Quantity::default(),
            measured_on: day("2027-03-01"),
            note: String::new(),
            recorded_by: "bob".into(),
        });
        let (_, measured) = folded::<Metric>(&[defined, measured], created_at);
        assert!(!Metric::record(&measured, day("2027-04-01")).measurement_overdue);
        assert!(Metric::record(&measured, day("2027-04-02")).measurement_overdue);
    }
}

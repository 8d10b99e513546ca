//! Monitoring, measurement, analysis and evaluation (ISO/IEC 27001 9.1): what is measured, how
//! and how often, who measures and who analyses and evaluates the results (9.1 a-f).
//!
//! Whether a target was met is decided here from the recorded measurements, never taken from a
//! client, and the evaluation event keeps the value and target it was decided on, so a later
//! revision of the target does not rewrite past evaluations.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::objectives::{ensure_not_future, Quantity};
use crate::{Actor, Aggregate};

/// How often a metric is measured (9.1 c: when monitoring and measuring shall be performed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Weekly,
    #[default]
    Monthly,
    Quarterly,
    Yearly,
}

impl Frequency {
    pub const NAMES: &'static [&'static str] = &["daily", "weekly", "monthly", "quarterly", "yearly"];

    /// The longest gap between two measurements that still keeps the frequency: the longest
    /// month, quarter and year, so calendar lengths never make a punctual metric overdue.
    pub fn allowance_days(self) -> i64 {
        match self {
            Self::Daily => 1,
            Self::Weekly => 7,
            Self::Monthly => 31,
            Self::Quarterly => 92,
            Self::Yearly => 366,
        }
    }
}

/// Which side of the target is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TargetDirection {
    #[default]
    AtLeast,
    AtMost,
}

impl TargetDirection {
    pub const NAMES: &'static [&'static str] = &["at_least", "at_most"];

    pub fn met(self, value: Quantity, target: Quantity) -> bool {
        match self {
            Self::AtLeast => value >= target,
            Self::AtMost => value <= target,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MetricStatus {
    #[default]
    Active,
    Retired,
}

impl MetricStatus {
    pub const NAMES: &'static [&'static str] = &["active", "retired"];
}

/// What a metric is; defining and revising restate it whole.
/// (`Default` is only a placeholder for views of a stream without its first event.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricDefinition {
    pub name: String,
    /// What is monitored and measured (9.1 a).
    pub what_is_measured: String,
    /// The method of monitoring, measurement, analysis and evaluation (9.1 b).
    pub method: String,
    pub frequency: Frequency,
    /// Who monitors and measures (9.1 d).
    pub measured_by: String,
    /// Who analyses and evaluates the results (9.1 f); the only one, besides an administrator,
    /// who records an evaluation.
    pub analysed_by: String,
    pub unit: String,
    pub target_value: Quantity,
    pub direction: TargetDirection,
    /// The objectives (6.2) whose achievement the metric measures; the caller checks they exist.
    pub objective_ids: Vec<Uuid>,
    /// The operational plans (8.1) whose performance the metric measures; checked likewise.
    pub operational_plan_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementRecorded {
    pub measurement_id: Uuid,
    pub value: Quantity,
    pub measured_on: NaiveDate,
    pub note: String,
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricEvaluated {
    pub evaluation_id: Uuid,
    pub period_start_on: NaiveDate,
    pub period_end_on: NaiveDate,
    pub conclusion: String,
    /// Decided from `measured_value` against `target_value` in `direction`.
    pub met: bool,
    /// The last measurement in the period, which the evaluation is based on.
    pub measurement_id: Uuid,
    pub measured_value: Quantity,
    pub target_value: Quantity,
    pub direction: TargetDirection,
    pub evaluated_by: String,
    pub evaluated_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRetired {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum MetricEvent {
    MetricDefined(MetricDefinition),
    MetricRevised(MetricDefinition),
    MeasurementRecorded(MeasurementRecorded),
    MetricEvaluated(MetricEvaluated),
    MetricRetired(MetricRetired),
}

/// A measurement as requested; its id is drawn by the caller, outside any retried decision.
#[derive(Debug, Clone)]
pub struct RecordMeasurement {
    pub measurement_id: Uuid,
    pub value: Quantity,
    pub measured_on: NaiveDate,
    pub note: String,
}

/// An evaluation as requested; whether the target was met is not part of the request.
#[derive(Debug, Clone)]
pub struct EvaluateMetric {
    pub evaluation_id: Uuid,
    pub period_start_on: NaiveDate,
    pub period_end_on: NaiveDate,
    pub conclusion: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metric {
    pub definition: Option<MetricDefinition>,
    pub status: MetricStatus,
    /// In the order recorded (not necessarily the order measured).
    pub measurements: Vec<MeasurementRecorded>,
    pub evaluations: Vec<MetricEvaluated>,
    pub retirement: Option<MetricRetired>,
}

impl Metric {
    pub fn exists(&self) -> bool {
        self.definition.is_some()
    }

    /// The latest measurement by date in `from..=to`; of several on that date, the one
    /// recorded last (a correction of an earlier entry).
    pub fn last_measurement_between(&self, from: NaiveDate, to: NaiveDate) -> Option<&MeasurementRecorded> {
        self.measurements.iter().filter(|m| (from..=to).contains(&m.measured_on)).max_by_key(|m| m.measured_on)
    }

    /// The latest measurement by date.
    pub fn last_measurement(&self) -> Option<&MeasurementRecorded> {
        self.measurements.iter().max_by_key(|m| m.measured_on)
    }

    /// The definition of a metric still in use. (A stream without its definition never
    /// reaches a decision: the command path answers 404 for it first.)
    fn active_definition(&self) -> Result<&MetricDefinition, DomainError> {
        match (&self.definition, self.status) {
            (Some(definition), MetricStatus::Active) => Ok(definition),
            _ => Err(DomainError::new(ErrorCode::MetricRetired, "the metric is retired")),
        }
    }

    pub fn define(&self, definition: MetricDefinition) -> Result<Vec<MetricEvent>, DomainError> {
        Ok(vec![MetricEvent::MetricDefined(definition)])
    }

    pub fn revise(&self, definition: MetricDefinition) -> Result<Vec<MetricEvent>, DomainError> {
        self.active_definition()?;
        if self.definition.as_ref() == Some(&definition) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the revision is identical to the metric"));
        }
        Ok(vec![MetricEvent::MetricRevised(definition)])
    }

    pub fn record_measurement(
        &self,
        command: RecordMeasurement,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<Vec<MetricEvent>, DomainError> {
        self.active_definition()?;
        ensure_not_future("/measured_on", command.measured_on, today)?;
        Ok(vec![MetricEvent::MeasurementRecorded(MeasurementRecorded {
            measurement_id: command.measurement_id,
            value: command.value,
            measured_on: command.measured_on,
            note: command.note,
            recorded_by: actor.subject.clone(),
        })])
    }

    /// 9.1: the designated analyser (or an administrator) evaluates a period against the target
    /// in force, on the period's last measurement.
    pub fn evaluate(
        &self,
        command: EvaluateMetric,
        actor: &Actor,
        today: NaiveDate,
    ) -> Result<Vec<MetricEvent>, DomainError> {
        let definition = self.active_definition()?;
        if command.period_end_on < command.period_start_on {
            return Err(DomainError::at(
                ErrorCode::EvaluationPeriodReversed,
                "/period_end_on",
                format!("the period ends ({}) before it starts ({})", command.period_end_on, command.period_start_on),
            ));
        }
        if actor.subject != definition.analysed_by && !actor.is_admin {
            return Err(DomainError::new(
                ErrorCode::MetricEvaluationNotAuthorized,
                format!("only the analyser '{}' or an administrator evaluates this metric", definition.analysed_by),
            ));
        }
        let Some(last) = self.last_measurement_between(command.period_start_on, command.period_end_on) else {
            return Err(DomainError::new(
                ErrorCode::NoMeasurementInPeriod,
                format!("no measurement from {} to {} to evaluate", command.period_start_on, command.period_end_on),
            ));
        };
        Ok(vec![MetricEvent::MetricEvaluated(MetricEvaluated {
            evaluation_id: command.evaluation_id,
            period_start_on: command.period_start_on,
            period_end_on: command.period_end_on,
            conclusion: command.conclusion,
            met: definition.direction.met(last.value, definition.target_value),
            measurement_id: last.measurement_id,
            measured_value: last.value,
            target_value: definition.target_value,
            direction: definition.direction,
            evaluated_by: actor.subject.clone(),
            evaluated_on: today,
        })])
    }

    pub fn retire(&self, reason: String) -> Result<Vec<MetricEvent>, DomainError> {
        self.active_definition()?;
        Ok(vec![MetricEvent::MetricRetired(MetricRetired { reason })])
    }
}

impl Aggregate for Metric {
    type Event = MetricEvent;
    const STREAM_TYPE: &'static str = "metric";

    fn apply(&mut self, event: &MetricEvent) {
        match event {
            MetricEvent::MetricDefined(definition) | MetricEvent::MetricRevised(definition) => {
                self.definition = Some(definition.clone());
            }
            MetricEvent::MeasurementRecorded(measurement) => self.measurements.push(measurement.clone()),
            MetricEvent::MetricEvaluated(evaluation) => self.evaluations.push(evaluation.clone()),
            MetricEvent::MetricRetired(retirement) => {
                self.status = MetricStatus::Retired;
                self.retirement = Some(retirement.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn quantity(value: f64) -> Quantity {
        Quantity::parse("/", value).unwrap()
    }

    fn definition(direction: TargetDirection) -> MetricDefinition {
        MetricDefinition {
            name: "Phishing click rate".into(),
            what_is_measured: "Share of staff clicking the simulated phishing link".into(),
            method: "Monthly simulation campaign".into(),
            frequency: Frequency::Monthly,
            measured_by: "bob".into(),
            analysed_by: "carol".into(),
            unit: "%".into(),
            target_value: quantity(5.0),
            direction,
            objective_ids: vec![],
            operational_plan_ids: vec![],
        }
    }

    fn actor(subject: &str, is_admin: bool) -> Actor {
        Actor { subject: subject.into(), is_admin }
    }

    fn measured(value: f64, on: &str) -> MetricEvent {
        MetricEvent::MeasurementRecorded(MeasurementRecorded {
            measurement_id: Uuid::now_v7(),
            value: quantity(value),
            measured_on: date(on),
            note: String::new(),
            recorded_by: "bob".into(),
        })
    }

    fn given(events: &[MetricEvent]) -> Metric {
        let mut metric = Metric::default();
        events.iter().for_each(|e| metric.apply(e));
        metric
    }

    fn evaluation(from: &str, to: &str) -> EvaluateMetric {
        EvaluateMetric {
            evaluation_id: Uuid::now_v7(),
            period_start_on: date(from),
            period_end_on: date(to),
            conclusion: "on track".into(),
        }
    }

    fn evaluated(metric: &Metric, from: &str, to: &str) -> Result<MetricEvaluated, DomainError> {
        let mut events = metric.evaluate(evaluation(from, to), &actor("carol", false), date("2027-04-01"))?;
        let MetricEvent::MetricEvaluated(evaluated) = events.remove(0) else { panic!() };
        Ok(evaluated)
    }

    #[test]
    fn met_is_computed_from_the_last_measurement_of_the_period() {
        // Recorded out of date order: the evaluation follows the dates, not the recording order.
        let metric = given(&[
            MetricEvent::MetricDefined(definition(TargetDirection::AtMost)),
            measured(4.0, "2027-03-20"),
            measured(9.0, "2027-01-15"),
            measured(3.0, "2027-04-01"),
        ]);
        let q1 = evaluated(&metric, "2027-01-01", "2027-03-31").unwrap();
        assert_eq!((q1.met, q1.measured_value, q1.target_value), (true, quantity(4.0), quantity(5.0)));
        let january = evaluated(&metric, "2027-01-01", "2027-01-31").unwrap();
        assert!(!january.met);
        let at_least =
            given(&[MetricEvent::MetricDefined(definition(TargetDirection::AtLeast)), measured(5.0, "2027-01-15")]);
        assert!(evaluated(&at_least, "2027-01-01", "2027-01-31").unwrap().met);
    }

    #[test]
    fn of_two_measurements_on_one_day_the_later_recorded_counts() {
        let metric = given(&[
            MetricEvent::MetricDefined(definition(TargetDirection::AtMost)),
            measured(9.0, "2027-01-15"),
            measured(2.0, "2027-01-15"),
        ]);
        assert_eq!(evaluated(&metric, "2027-01-01", "2027-01-31").unwrap().measured_value, quantity(2.0));
    }

    #[test]
    fn an_evaluation_needs_a_measurement_in_the_period() {
        let metric =
            given(&[MetricEvent::MetricDefined(definition(TargetDirection::AtMost)), measured(4.0, "2027-03-20")]);
        assert_eq!(evaluated(&metric, "2027-01-01", "2027-02-28").unwrap_err().code, ErrorCode::NoMeasurementInPeriod);
    }

    #[test]
    fn an_evaluation_period_does_not_end_before_it_starts() {
        let metric =
            given(&[MetricEvent::MetricDefined(definition(TargetDirection::AtMost)), measured(4.0, "2027-03-20")]);
        let error = evaluated(&metric, "2027-03-31", "2027-03-01").unwrap_err();
        assert_eq!(
            (error.code, error.pointer.as_deref()),
            (ErrorCode::EvaluationPeriodReversed, Some("/period_end_on"))
        );
    }

    #[test]
    fn only_the_analyser_or_an_administrator_evaluates() {
        let metric =
            given(&[MetricEvent::MetricDefined(definition(TargetDirection::AtMost)), measured(4.0, "2027-03-20")]);
        let today = date("2027-04-01");
        let by_measurer = metric.evaluate(evaluation("2027-03-01", "2027-03-31"), &actor("bob", false), today);
        assert_eq!(by_measurer.unwrap_err().code, ErrorCode::MetricEvaluationNotAuthorized);
        assert!(metric.evaluate(evaluation("2027-03-01", "2027-03-31"), &actor("dave", true), today).is_ok());
    }

    #[test]
    fn measurements_cannot_be_dated_after_today() {
        let metric = given(&[MetricEvent::MetricDefined(definition(TargetDirection::AtMost))]);
        let command = RecordMeasurement {
            measurement_id: Uuid::now_v7(),
            value: quantity(1.0),
            measured_on: date("2027-04-02"),
            note: String::new(),
        };
        let error = metric.record_measurement(command, &actor("bob", false), date("2027-04-01")).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DateInFuture, Some("/measured_on")));
    }

    #[test]
    fn a_revision_must_change_something() {
        let metric = given(&[MetricEvent::MetricDefined(definition(TargetDirection::AtMost))]);
        assert_eq!(metric.revise(definition(TargetDirection::AtMost)).unwrap_err().code, ErrorCode::NothingChanged);
        assert!(metric.revise(definition(TargetDirection::AtLeast)).is_ok());
    }

    #[test]
    fn a_retired_metric_takes_no_measurement_evaluation_or_revision() {
        let metric = given(&[
            MetricEvent::MetricDefined(definition(TargetDirection::AtMost)),
            measured(4.0, "2027-03-20"),
            MetricEvent::MetricRetired(MetricRetired { reason: "replaced".into() }),
        ]);
        let command = RecordMeasurement {
            measurement_id: Uuid::now_v7(),
            value: quantity(1.0),
            measured_on: date("2027-03-21"),
            note: String::new(),
        };
        let today = date("2027-04-01");
        assert_eq!(
            metric.record_measurement(command, &actor("bob", false), today).unwrap_err().code,
            ErrorCode::MetricRetired
        );
        assert_eq!(evaluated(&metric, "2027-03-01", "2027-03-31").unwrap_err().code, ErrorCode::MetricRetired);
        assert_eq!(metric.revise(definition(TargetDirection::AtLeast)).unwrap_err().code, ErrorCode::MetricRetired);
        assert_eq!(metric.retire("again".into()).unwrap_err().code, ErrorCode::MetricRetired);
    }
}

//! What changed in each register between two points of the log: records added, changed (field
//! by field, as JSON pointers with the old and the new value) and removed.
//!
//! Records are compared as the register endpoints render them, each side for its own read date,
//! so a derived fact such as `overdue` can change although no event touched the record. The
//! bookkeeping fields `version`, `position` and `updated_at` at the top of a record are left out
//! of the field list: they move with every event and say nothing about the content (the
//! record's history has them).
//!
//! This module is pure: it renders records from events or registers and diffs renderings.
//! Which records to render (those whose streams have events between the two points, plus those
//! whose rendering depends on the date or on other records) is decided by the caller
//! (`isms_app::Ledger::changes`).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use isms_domain::assets::ClassificationSchemeState;
use isms_domain::catalog::{control_2022, ISO27001_2022};
use isms_domain::criteria::CriteriaState;
use isms_domain::risk::{Risk, RiskStatus};
use isms_domain::scope::Scope;
use isms_domain::soa::SoaEntry;
use isms_domain::Aggregate;
use isms_store::Envelope;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::views::scope::Singleton;
use crate::views::soa::SoaEntryRecord;
use crate::views::{RiskCriteriaBody, RiskCriteriaRecord};
use crate::{Entry, ProjectionError, Register, Registers};

/// Top-level fields of a record left out of the field list.
pub const BOOKKEEPING_FIELDS: &[&str] = &["version", "position", "updated_at"];

/// One field that differs. `old` or `new` is `null` where the field is absent on that side.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldChange {
    /// JSON pointer (RFC 6901) into the record, e.g. `/treatment/residual_score`.
    #[schema(example = "/decision/justification")]
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// A record present at both points whose rendering differs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RecordChange {
    /// The record id; the control id for the SoA, the stream id (`current`) for a singleton.
    pub id: String,
    pub fields: Vec<FieldChange>,
}

/// One register's changes between the two points, each list in the register's order.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RegisterChanges {
    /// The register's collection under `/api/v1` (`risks`, `soa`, `scope`, ...).
    pub register: String,
    /// Records present at `to` but not at `from`, as read at `to`.
    #[schema(value_type = Vec<Object>)]
    pub added: Vec<Value>,
    pub changed: Vec<RecordChange>,
    /// Records present at `from` but not at `to`, as read at `from`. Records are never deleted,
    /// so this stays empty today; it is kept so the shape states it.
    #[schema(value_type = Vec<Object>)]
    pub removed: Vec<Value>,
}

impl RegisterChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Escapes one reference token of a JSON pointer (RFC 6901: `~` as `~0`, `/` as `~1`).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The fields that differ between two JSON values, as JSON pointers under `pointer`.
///
/// Objects are compared key by key; lists of objects of the same length item by item
/// (`/corrective_actions/0/completed`), because their items are sub-records; any other value
/// that differs — a scalar, a list of scalars or of different length, an object that appears
/// or disappears — is one change carrying the whole value on each side.
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    diff_at(&mut String::new(), old, new, &mut changes);
    changes
}

fn diff_at(pointer: &mut String, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    let depth = pointer.len();
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                pointer.push('/');
                pointer.push_str(&pointer_token(key));
                diff_at(pointer, old.get(key).unwrap_or(&Value::Null), new.get(key).unwrap_or(&Value::Null), out);
                pointer.truncate(depth);
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() && all_objects(old) && all_objects(new) => {
            for (index, (old, new)) in old.iter().zip(new).enumerate() {
                pointer.push('/');
                pointer.push_str(&index.to_string());
                diff_at(pointer, old, new, out);
                pointer.truncate(depth);
            }
        }
        _ => out.push(FieldChange { field: pointer.clone(), old: old.clone(), new: new.clone() }),
    }
}

fn all_objects(items: &[Value]) -> bool {
    items.iter().all(Value::is_object)
}

/// The fields that differ between two renderings of one record, without the bookkeeping fields.
pub fn record_diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let without_bookkeeping = |value: &Value| match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, _)| !BOOKKEEPING_FIELDS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    };
    diff(&without_bookkeeping(old), &without_bookkeeping(new))
}

/// One record on both sides: its id and its rendering at `from` and at `to` (`None` where it is
/// not a record of the register at that point).
pub type Sides = (String, Option<Value>, Option<Value>);

/// Renders a record's stream (its events up to a point) for a read date; `None` when the
/// events make no record (no events, or no creation event).
pub type RenderStream = fn(&[Envelope], NaiveDate) -> Result<Option<Value>, ProjectionError>;

/// For every record of a register except those `skip` names: its renderings for two read dates
/// `(id, first, second)`, listed only when they differ.
pub type RenderDrift = fn(&Registers, NaiveDate, NaiveDate, &dyn Fn(&str) -> bool) -> Vec<Sides>;

/// How a register's records are read, which decides how its changes are found.
#[derive(Clone, Copy)]
pub enum Shape {
    /// One stream per record (`Register`); derived facts may depend on the read date.
    Records { render: RenderStream, drift: RenderDrift },
    /// One stream per tenant with a fixed id (`Singleton`); nothing depends on the read date.
    Singleton { render: RenderStream },
    /// The Statement of Applicability: a line for every Annex A control, one stream per decided
    /// control, and `linked_risk_ids` derived from the risk register at the same point.
    StatementOfApplicability,
}

/// A register as the change set reads it.
#[derive(Clone, Copy)]
pub struct RegisterKind {
    /// The collection under `/api/v1`, which is also the `register=` name.
    pub name: &'static str,
    pub stream_type: &'static str,
    pub shape: Shape,
}

impl RegisterKind {
    /// The register's changes from both renderings of the records that may differ (records
    /// rendered the same on both sides may be given too: they are not listed).
    pub fn changes(&self, mut sides: Vec<Sides>) -> RegisterChanges {
        match self.shape {
            Shape::StatementOfApplicability => {
                sides.sort_by_key(|(id, _, _)| ISO27001_2022.iter().position(|c| c.id == id.as_str()))
            }
            // UUIDs in canonical form sort as text as they sort as numbers: creation order.
            Shape::Records { .. } | Shape::Singleton { .. } => sides.sort_by(|a, b| a.0.cmp(&b.0)),
        }
        let mut changes =
            RegisterChanges { register: self.name.to_owned(), added: vec![], changed: vec![], removed: vec![] };
        for (id, old, new) in sides {
            match (old, new) {
                (None, Some(new)) => changes.added.push(new),
                (Some(old), None) => changes.removed.push(old),
                (Some(old), Some(new)) => {
                    let fields = record_diff(&old, &new);
                    if !fields.is_empty() {
                        changes.changed.push(RecordChange { id, fields });
                    }
                }
                (None, None) => {}
            }
        }
        changes
    }
}

fn json(record: impl Serialize) -> Value {
    // Records are plain data (string keys, no custom serializers): serializing cannot fail.
    serde_json::to_value(record).unwrap_or_default()
}

fn render_record<R: Register>(events: &[Envelope], today: NaiveDate) -> Result<Option<Value>, ProjectionError> {
    Ok(Entry::<R>::fold(events)?.filter(|entry| R::exists(&entry.state)).map(|entry| json(R::record(&entry, today))))
}

fn render_drift<R: Register>(
    registers: &Registers,
    first: NaiveDate,
    second: NaiveDate,
    skip: &dyn Fn(&str) -> bool,
) -> Vec<Sides>
where
    R::Record: PartialEq,
{
    R::register(registers)
        .values()
        .filter(|entry| R::exists(&entry.state) && !skip(&entry.id))
        .filter_map(|entry| {
            let (old, new) = (R::record(entry, first), R::record(entry, second));
            (old != new).then(|| (entry.id.clone(), Some(json(old)), Some(json(new))))
        })
        .collect()
}

fn render_singleton<S: Singleton>(events: &[Envelope], _today: NaiveDate) -> Result<Option<Value>, ProjectionError> {
    Ok(S::record(Entry::<S>::fold(events)?.as_ref()).map(json))
}

const fn records<R: Register>() -> RegisterKind
where
    R::Record: PartialEq,
{
    RegisterKind {
        name: R::COLLECTION,
        stream_type: R::STREAM_TYPE,
        shape: Shape::Records { render: render_record::<R>, drift: render_drift::<R> },
    }
}

const fn singleton<S: Singleton>(name: &'static str) -> RegisterKind {
    RegisterKind { name, stream_type: S::STREAM_TYPE, shape: Shape::Singleton { render: render_singleton::<S> } }
}

/// The risk criteria as `GET /risk-criteria` renders them (version 0 is the built-in default),
/// so the change set reads them like the other singletons.
impl Singleton for CriteriaState {
    const STREAM_ID: &'static str = CriteriaState::STREAM_ID;
    const NOUN: &'static str = "risk criteria";
    type Record = RiskCriteriaRecord;

    fn record(entry: Option<&Entry<Self>>) -> Option<RiskCriteriaRecord> {
        let current = entry.map(|e| e.state.current.clone()).unwrap_or_else(|| CriteriaState::default().current);
        Some(RiskCriteriaRecord { version: current.version, criteria: RiskCriteriaBody::from(&current.criteria) })
    }
}

/// Every register, in the order of the standard (context, planning, support, operation,
/// evaluation, improvement).
pub static REGISTERS: &[RegisterKind] = {
    use isms_domain::{assets, audits, certification, context, documents, incidents, management_review, metrics};
    use isms_domain::{nonconformity, objectives, operations, parties, people, suppliers, training};
    &[
        records::<context::ContextIssue>(),
        records::<parties::InterestedParty>(),
        singleton::<Scope>("scope"),
        records::<Risk>(),
        singleton::<CriteriaState>("risk-criteria"),
        RegisterKind { name: "soa", stream_type: SoaEntry::STREAM_TYPE, shape: Shape::StatementOfApplicability },
        records::<objectives::Objective>(),
        records::<assets::Asset>(),
        singleton::<ClassificationSchemeState>("asset-classification-scheme"),
        records::<people::Person>(),
        records::<training::TrainingCourse>(),
        records::<documents::Document>(),
        records::<operations::OperationalPlan>(),
        records::<suppliers::Supplier>(),
        records::<incidents::Incident>(),
        records::<metrics::Metric>(),
        records::<audits::AuditProgramme>(),
        records::<audits::Audit>(),
        records::<management_review::ManagementReview>(),
        records::<certification::CertificationCycle>(),
        records::<nonconformity::Nonconformity>(),
    ]
};

/// The register named `name` (its collection under `/api/v1`).
pub fn register_kind(name: &str) -> Option<&'static RegisterKind> {
    REGISTERS.iter().find(|kind| kind.name == name)
}

/// The controls an open risk's treatment names: what links a risk to SoA lines (the rule of
/// `views::soa::risks_by_control`).
pub fn controls_treated_by(risk: &Risk) -> BTreeSet<String> {
    if !risk.exists() || risk.status == RiskStatus::Closed {
        return BTreeSet::new();
    }
    risk.treatment.iter().flat_map(|t| &t.controls).map(|control| control.as_str().to_owned()).collect()
}

/// One control's SoA line from its stream's events up to a point and the open risks that name it
/// (sorted here into the register's order); `None` for an id outside the 2022 catalog.
pub fn soa_line(
    control_id: &str,
    events: &[Envelope],
    mut linked_risks: Vec<Uuid>,
) -> Result<Option<Value>, ProjectionError> {
    let Some(control) = control_2022(control_id) else { return Ok(None) };
    linked_risks.sort_unstable();
    linked_risks.dedup();
    let entry = Entry::<SoaEntry>::fold(events)?;
    Ok(Some(json(SoaEntryRecord::new(control, entry.as_ref(), linked_risks))))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_record_register_has_a_change_set() {
        struct Names(Vec<&'static str>);
        impl crate::RegisterVisitor for Names {
            fn visit<R: Register>(&mut self) {
                self.0.push(R::COLLECTION);
            }
        }
        let mut names = Names(Vec::new());
        crate::for_each_register(&mut names);
        for name in names.0 {
            assert!(register_kind(name).is_some(), "{name} is missing from REGISTERS");
        }
    }

    fn change(field: &str, old: Value, new: Value) -> FieldChange {
        FieldChange { field: field.to_owned(), old, new }
    }

    #[test]
    fn equal_values_have_no_changes() {
        let record = json!({"status": "open", "treatment": {"controls": ["8.8"], "residual_score": 4}});
        assert!(diff(&record, &record.clone()).is_empty());
    }

    #[test]
    fn nested_objects_are_compared_field_by_field() {
        let old = json!({"status": "assessed", "treatment": {"owner": "bob", "residual_score": 9}, "title": "t"});
        let new =
            json!({"status": "treatment_planned", "treatment": {"owner": "bob", "residual_score": 4}, "title": "t"});
        assert_eq!(
            diff(&old, &new),
            vec![
                change("/status", json!("assessed"), json!("treatment_planned")),
                change("/treatment/residual_score", json!(9), json!(4)),
            ]
        );
    }

    #[test]
    fn an_object_that_appears_is_one_change_with_the_whole_value() {
        let old = json!({"decision": null});
        let new = json!({"decision": {"applicable": true, "justification": "needed"}});
        assert_eq!(diff(&old, &new), vec![change("/decision", Value::Null, new["decision"].clone())]);
    }

    #[test]
    fn absent_keys_read_as_null() {
        assert_eq!(
            diff(&json!({"a": 1}), &json!({"b": 2})),
            vec![change("/a", json!(1), Value::Null), change("/b", Value::Null, json!(2)),]
        );
    }

    #[test]
    fn lists_of_sub_records_of_the_same_length_are_compared_item_by_item() {
        let old = json!({"corrective_actions": [{"id": "a", "completed": false}, {"id": "b", "completed": false}]});
        let new = json!({"corrective_actions": [{"id": "a", "completed": false}, {"id": "b", "completed": true}]});
        assert_eq!(diff(&old, &new), vec![change("/corrective_actions/1/completed", json!(false), json!(true))]);
    }

    #[test]
    fn other_lists_are_one_change_with_the_whole_list() {
        let old = json!({"linked_risk_ids": ["r1"], "actions": [{"id": "a"}]});
        let new = json!({"linked_risk_ids": ["r1", "r2"], "actions": [{"id": "a"}, {"id": "b"}]});
        assert_eq!(
            diff(&old, &new),
            vec![
                change("/actions", old["actions"].clone(), new["actions"].clone()),
                change("/linked_risk_ids", json!(["r1"]), json!(["r1", "r2"])),
            ]
        );
        assert_eq!(diff(&json!(["x"]), &json!(["y"])), vec![change("", json!(["x"]), json!(["y"]))]);
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        let changes = diff(&json!({"a/b": {"c~d": 1}}), &json!({"a/b": {"c~d": 2}}));
        assert_eq!(changes, vec![change("/a~1b/c~0d", json!(1), json!(2))]);
    }

    #[test]
    fn bookkeeping_fields_are_left_out_of_a_record_diff() {
        let old = json!({"title": "a", "version": 1, "position": 3, "updated_at": "x", "created_at": "c"});
        let new = json!({"title": "b", "version": 2, "position": 9, "updated_at": "y", "created_at": "c"});
        assert_eq!(record_diff(&old, &new), vec![change("/title", json!("a"), json!("b"))]);
        assert!(record_diff(&json!({"version": 1}), &json!({"version": 2})).is_empty());
    }

    #[test]
    fn sides_become_added_changed_and_removed_in_register_order() {
        let risks = register_kind("risks").unwrap();
        let changes = risks.changes(vec![
            ("b".into(), Some(json!({"title": "old"})), Some(json!({"title": "new", "version": 2}))),
            ("a".into(), None, Some(json!({"id": "a"}))),
            ("c".into(), Some(json!({"id": "c"})), None),
            ("d".into(), Some(json!({"title": "same", "version": 1})), Some(json!({"title": "same", "version": 2}))),
            ("e".into(), None, None),
        ]);
        assert_eq!(changes.register, "risks");
        assert_eq!(changes.added, vec![json!({"id": "a"})]);
        assert_eq!(changes.removed, vec![json!({"id": "c"})]);
        assert_eq!(
            changes.changed,
            vec![RecordChange { id: "b".into(), fields: vec![change("/title", json!("old"), json!("new"))] }]
        );
    }

    #[test]
    fn soa_lines_are_listed_in_catalog_order() {
        let soa = register_kind("soa").unwrap();
        let line = |status: &str| Some(json!({"status": status}));
        let changes = soa.changes(vec![
            ("5.10".into(), line("a"), line("b")),
            ("5.2".into(), line("a"), line("b")),
            ("8.8".into(), line("a"), line("b")),
        ]);
        let ids: Vec<&str> = changes.changed.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["5.2", "5.10", "8.8"]);
    }

    #[test]
    fn every_register_is_listed_once() {
        let names: BTreeSet<&str> = REGISTERS.iter().map(|kind| kind.name).collect();
        assert_eq!(names.len(), REGISTERS.len());
        assert_eq!(REGISTERS.len(), 21);
    }
}

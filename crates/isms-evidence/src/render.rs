//! The registers and reports of a pack, rendered from the registers and the read date only, so
//! the verifier folds the pack's events and gets the same bytes back.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_projections::csv::{soa_csv, traceability_csv, write_csv};
use isms_projections::reports::{dashboard, heat_map, readiness, traceability};
use isms_projections::views::assets::ClassificationSchemeRecord;
use isms_projections::views::scope::ScopeBody;
use isms_projections::views::soa::{soa_records, soa_version};
use isms_projections::views::RiskCriteriaRecord;
use isms_projections::{for_each_register, Register, RegisterVisitor, Registers};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A body with the read point it reflects: the position the registers reached and the time of
/// the last event folded into them (the API's report answers have the same shape).
#[derive(Serialize)]
struct AtPoint<T> {
    #[serde(flatten)]
    body: T,
    as_of: Option<DateTime<Utc>>,
    position: u64,
}

/// A register's live records.
#[derive(Serialize)]
struct Records<R> {
    count: usize,
    items: Vec<R>,
}

/// The Statement of Applicability report, as `GET /reports/soa` has it.
#[derive(Serialize)]
struct Statement<R> {
    version: u64,
    count: usize,
    items: Vec<R>,
}

/// The personal-information register report, as `GET /reports/personal-information` has it.
#[derive(Serialize)]
struct Items<R> {
    items: Vec<R>,
}

/// The scope in force as the registers hold it: its version and statement (the registers keep
/// no record metadata for the scope; the events in the pack carry who defined it and when).
#[derive(Serialize)]
struct ScopeView {
    version: u64,
    #[serde(flatten)]
    scope: ScopeBody,
}

/// The files under `registers/` and `reports/`, by path.
pub type Rendered = BTreeMap<String, Vec<u8>>;

struct Renderer<'a> {
    registers: &'a Registers,
    read_date: NaiveDate,
    files: Rendered,
}

impl RegisterVisitor for Renderer<'_> {
    fn visit<R: Register>(&mut self) {
        let read_date = self.read_date;
        let items: Vec<R::Record> = R::register(self.registers)
            .values()
            .filter(|entry| R::exists(&entry.state))
            .map(|entry| R::record(entry, read_date))
            .collect();
        self.records(R::COLLECTION, items);
    }
}

impl Renderer<'_> {
    fn at<T: Serialize>(&self, body: T) -> AtPoint<T> {
        AtPoint { body, as_of: self.registers.recorded_at, position: self.registers.position }
    }

    fn json<T: Serialize>(&mut self, path: String, value: &T) {
        let mut bytes = serde_json::to_vec_pretty(value).expect("a view serializes");
        bytes.push(b'\n');
        self.files.insert(path, bytes);
    }

    /// `registers/<collection>.json` and `.csv` of a list of records.
    fn records<R: Serialize>(&mut self, collection: &str, items: Vec<R>) {
        let rows: Vec<Vec<(String, Value)>> = items.iter().map(top_level_fields).collect();
        self.files.insert(format!("registers/{collection}.csv"), records_csv(&rows).into_bytes());
        let records = self.at(Records { count: items.len(), items });
        self.json(format!("registers/{collection}.json"), &records);
    }

    /// A register's live records as its list endpoint renders them, in id (creation) order.
    fn report<T: Serialize>(&mut self, name: &str, body: T) {
        let report = self.at(body);
        self.json(format!("reports/{name}.json"), &report);
    }
}

/// Every register and report of the pack for these registers, derived facts (such as
/// `overdue`) computed for `read_date`.
pub fn render(registers: &Registers, read_date: NaiveDate) -> Rendered {
    let mut out = Renderer { registers, read_date, files: Rendered::new() };
    for_each_register(&mut out);
    let scope: Vec<ScopeView> = registers
        .scope
        .current
        .iter()
        .map(|current| ScopeView { version: current.version, scope: (&current.scope).into() })
        .collect();
    out.records("scope", scope);
    let criteria = &registers.criteria.current;
    let criteria = RiskCriteriaRecord { version: criteria.version, criteria: (&criteria.criteria).into() };
    out.records("risk-criteria", vec![criteria]);
    let scheme = &registers.classification_scheme;
    let scheme = ClassificationSchemeRecord { version: scheme.version, scheme: (&scheme.scheme).into() };
    out.records("asset-classification-scheme", vec![scheme]);
    let soa = soa_records(registers);
    out.records("soa", soa.clone());

    out.report("dashboard", dashboard::dashboard(registers, read_date));
    out.report("risk-heat-map", heat_map::heat_map(registers));
    let matrix = traceability::traceability_matrix(registers);
    let csv = traceability_csv(&matrix, registers.recorded_at, registers.position);
    out.files.insert("reports/traceability.csv".into(), csv.into_bytes());
    out.report("traceability", matrix);
    out.report("readiness", readiness::readiness(registers, read_date));
    let version = soa_version(registers);
    let csv = soa_csv(soa.clone(), version, registers.recorded_at, registers.position);
    out.files.insert("reports/soa.csv".into(), csv.into_bytes());
    out.report("soa", Statement { version, count: soa.len(), items: soa });
    out.report("personal-information", Items { items: registers.personal_information_register() });
    out.report("awareness", registers.awareness_report(read_date));
    out.files
}

/// A record's top-level fields in the order it serializes them (a `serde_json::Value` would
/// sort them), so a CSV reads like the JSON: `id` first.
fn top_level_fields<R: Serialize>(record: &R) -> Vec<(String, Value)> {
    struct Fields(Vec<(String, Value)>);
    impl<'de> Deserialize<'de> for Fields {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct FieldsVisitor;
            impl<'de> Visitor<'de> for FieldsVisitor {
                type Value = Fields;
                fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                    formatter.write_str("a JSON object")
                }
                fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields, M::Error> {
                    let mut fields = Vec::new();
                    while let Some(field) = map.next_entry::<String, Value>()? {
                        fields.push(field);
                    }
                    Ok(Fields(fields))
                }
            }
            deserializer.deserialize_map(FieldsVisitor)
        }
    }
    let text = serde_json::to_string(record).expect("a record serializes");
    match serde_json::from_str::<Fields>(&text) {
        Ok(Fields(fields)) => fields,
        // Not an object: one column holding the whole value.
        Err(_) => vec![("value".to_owned(), serde_json::from_str(&text).unwrap_or(Value::Null))],
    }
}

/// The text of one CSV cell: strings as they are, nothing for null, nested values as compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(_) | Value::Object(_) => serde_json::to_string(value).expect("a JSON value serializes"),
    }
}

/// A generic CSV of records: one column per top-level field (in first-seen order), one row per
/// record; a register without records gives an empty file.
fn records_csv(rows: &[Vec<(String, Value)>]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for (name, _) in row {
            if !columns.contains(&name.as_str()) {
                columns.push(name);
            }
        }
    }
    if columns.is_empty() {
        return String::new();
    }
    let lines = rows.iter().map(|row| {
        columns
            .iter()
            .map(|column| row.iter().find(|(name, _)| name == column).map_or_else(String::new, |(_, v)| cell(v)))
            .collect()
    });
    write_csv(&columns, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample {
        id: u32,
        title: String,
        tags: Vec<String>,
        note: Option<String>,
    }

    #[test]
    fn a_records_csv_keeps_field_order_and_writes_nested_values_as_json() {
        let rows = vec![top_level_fields(&Sample {
            id: 7,
            title: "=cmd".into(),
            tags: vec!["a".into(), "b".into()],
            note: None,
        })];
        assert_eq!(records_csv(&rows), "id,title,tags,note\r\n7,'=cmd,\"[\"\"a\"\",\"\"b\"\"]\",\r\n");
        assert_eq!(records_csv(&[]), "");
    }

    #[test]
    fn every_register_and_report_is_rendered_even_for_an_empty_log() {
        let files = render(&Registers::default(), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        for path in ["registers/risks.json", "registers/soa.csv", "reports/readiness.json", "reports/soa.csv"] {
            assert!(files.contains_key(path), "{path}");
        }
        let soa: Value = serde_json::from_slice(&files["reports/soa.json"]).unwrap();
        assert_eq!(soa["count"], 93);
        assert_eq!(soa["position"], 0);
    }
}

//! The dashboard: per register, how many records in each status and how many are overdue, plus
//! the open major nonconformities. Computed from the very records the register endpoints
//! serve, so a number on the dashboard always matches the list it summarizes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use isms_domain::nonconformity::{NonconformityStatus, Severity};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{for_each_register, Register, RegisterVisitor, Registers};

/// One register's counts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RegisterSummary {
    /// The register's collection under `/api/v1`.
    pub register: String,
    pub total: usize,
    /// Records per value of the record's `status`.
    pub by_status: BTreeMap<String, usize>,
    /// Records with any overdue flag set (`overdue`, `review_overdue`, ...), for the date read.
    pub overdue: usize,
    pub overdue_ids: Vec<Uuid>,
}

/// What needs attention across the ISMS.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Dashboard {
    pub registers: Vec<RegisterSummary>,
    pub overdue_total: usize,
    pub open_major_nonconformities: Vec<Uuid>,
}

/// Whether a record's response shape carries a true overdue flag at its top level.
fn is_overdue(record: &serde_json::Value) -> bool {
    record.as_object().is_some_and(|fields| fields.iter().any(|(key, value)| key.contains("overdue") && value == true))
}

/// Counts one register through the same `record` function its endpoints use.
pub fn summarize<R: Register>(registers: &Registers, today: NaiveDate) -> RegisterSummary {
    let mut summary = RegisterSummary {
        register: R::COLLECTION.to_owned(),
        total: 0,
        by_status: BTreeMap::new(),
        overdue: 0,
        overdue_ids: Vec::new(),
    };
    for (id, entry) in R::register(registers).iter().filter(|(_, e)| R::exists(&e.state)) {
        let record = serde_json::to_value(R::record(entry, today)).unwrap_or_default();
        summary.total += 1;
        let status = record.get("status").and_then(|s| s.as_str()).unwrap_or("none").to_owned();
        *summary.by_status.entry(status).or_insert(0) += 1;
        if is_overdue(&record) {
            summary.overdue += 1;
            summary.overdue_ids.push(*id);
        }
    }
    summary
}

/// The SoA has a line per Annex A control rather than records of its own: its statuses are
/// those of the lines (`not_decided` until the applicability is decided).
fn statement_of_applicability(registers: &Registers) -> RegisterSummary {
    let mut by_status = BTreeMap::new();
    let records = crate::views::soa::soa_records(registers);
    for record in &records {
        *by_status.entry(record.status.as_str().to_owned()).or_insert(0) += 1;
    }
    RegisterSummary { register: "soa".to_owned(), total: records.len(), by_status, overdue: 0, overdue_ids: Vec::new() }
}

pub fn dashboard(registers: &Registers, today: NaiveDate) -> Dashboard {
    struct Summaries<'a> {
        registers: &'a Registers,
        today: NaiveDate,
        summaries: Vec<RegisterSummary>,
    }
    impl RegisterVisitor for Summaries<'_> {
        fn visit<R: Register>(&mut self) {
            self.summaries.push(summarize::<R>(self.registers, self.today));
        }
    }
    let mut walk = Summaries { registers, today, summaries: Vec::new() };
    for_each_register(&mut walk);
    let mut summaries = walk.summaries;
    summaries.push(statement_of_applicability(registers));
    let open_major_nonconformities = registers
        .nonconformities
        .iter()
        .filter(|(_, e)| {
            e.state.status != NonconformityStatus::Closed
                && e.state.raised.as_ref().is_some_and(|r| r.severity == Severity::Major)
        })
        .map(|(id, _)| *id)
        .collect();
    Dashboard {
        overdue_total: summaries.iter().map(|s| s.overdue).sum(),
        registers: summaries,
        open_major_nonconformities,
    }
}

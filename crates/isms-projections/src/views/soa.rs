//! The Annex A catalogs and the Statement of Applicability (6.1.3 d) as they are read.
//!
//! The statement always lists every control of the 2022 catalog, decided or not, so a reader
//! sees at a glance what is still open. The risks a control treats are derived here from the
//! risk register at the same read point, never stored with the control.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use isms_domain::catalog::{is_new_in_2022, iso27001_2022_for_2013, Control2013, Control2022, Theme, ISO27001_2022};
use isms_domain::risk::RiskStatus;
use isms_domain::soa::{ImplementationStatus, SoaEntry};
use isms_store::Position;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Registers};

pub fn theme_schema() -> utoipa::openapi::schema::Object {
    string_enum(Theme::NAMES)
}
pub fn implementation_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(ImplementationStatus::NAMES)
}
pub fn soa_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(SoaStatus::NAMES)
}

/// One control of an Annex A catalog with its counterparts in the other edition.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "8.24", "title": "Use of cryptography", "theme": "technological",
    "iso27001_2013": ["A.10.1.1", "A.10.1.2"], "new_in_2022": false
}))]
pub struct ControlView {
    /// "8.24" in the 2022 catalog, "A.10.1.1" in the 2013 one.
    pub id: String,
    pub title: String,
    /// 2022: `organizational`, `people`, `physical` or `technological`; 2013: the clause with its
    /// title, e.g. "A.10 Cryptography".
    pub theme: String,
    /// 2013 only: the clause, e.g. "A.10".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// 2022 only: the corresponding 2013 controls (ISO/IEC 27002:2022 Table B.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso27001_2013: Option<Vec<String>>,
    /// 2022 only: one of the 11 controls without a 2013 counterpart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_in_2022: Option<bool>,
    /// 2013 only: the 2022 controls it corresponds to (derived from the 2022 side).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso27001_2022: Option<Vec<String>>,
}

impl ControlView {
    pub fn from_2022(control: &Control2022) -> Self {
        Self {
            id: control.id.to_owned(),
            title: control.title.to_owned(),
            theme: control.theme.as_str().to_owned(),
            clause: None,
            iso27001_2013: Some(control.iso27001_2013.iter().map(|id| (*id).to_owned()).collect()),
            new_in_2022: Some(is_new_in_2022(control)),
            iso27001_2022: None,
        }
    }

    pub fn from_2013(control: &Control2013) -> Self {
        Self {
            id: control.id.to_owned(),
            title: control.title.to_owned(),
            theme: control.theme(),
            clause: Some(control.clause.to_owned()),
            iso27001_2013: None,
            new_in_2022: None,
            iso27001_2022: Some(iso27001_2022_for_2013(control.id).into_iter().map(str::to_owned).collect()),
        }
    }
}

/// Where a control stands in the statement: `not_decided` until its applicability is decided,
/// then its implementation status (`not_implemented` until one is recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoaStatus {
    NotDecided,
    NotImplemented,
    Planned,
    PartiallyImplemented,
    Implemented,
}

impl SoaStatus {
    pub const NAMES: &'static [&'static str] =
        &["not_decided", "not_implemented", "planned", "partially_implemented", "implemented"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn of(entry: &SoaEntry) -> Self {
        if entry.decision.is_none() {
            return Self::NotDecided;
        }
        match entry.status() {
            ImplementationStatus::NotImplemented => Self::NotImplemented,
            ImplementationStatus::Planned => Self::Planned,
            ImplementationStatus::PartiallyImplemented => Self::PartiallyImplemented,
            ImplementationStatus::Implemented => Self::Implemented,
        }
    }
}

/// Whether the control applies, and why (6.1.3 d asks for both inclusions and exclusions).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SoaDecisionView {
    pub applicable: bool,
    pub justification: String,
}

/// One control's line of the Statement of Applicability.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SoaEntryRecord {
    /// ISO/IEC 27001:2022 Annex A control id.
    #[schema(example = "8.24")]
    pub control_id: String,
    pub title: String,
    #[schema(schema_with = theme_schema)]
    pub theme: Theme,
    /// `null` until the applicability is decided.
    pub decision: Option<SoaDecisionView>,
    #[schema(schema_with = soa_status_schema)]
    pub status: SoaStatus,
    /// Who is responsible for implementing the control, once recorded.
    pub owner: Option<String>,
    /// Where the evidence of the implementation is found.
    pub evidence_refs: Vec<String>,
    /// Open risks (status other than `closed`) whose treatment names this control, in the risk
    /// register's order. Derived from the risk register at the same read point.
    pub linked_risk_ids: Vec<Uuid>,
    /// Stream version (0 before the first decision); send it back in `If-Match`.
    pub version: u64,
    /// Log position of the control's last SoA event; `null` before the first decision.
    pub position: Option<Position>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl SoaEntryRecord {
    pub fn new(control: &Control2022, entry: Option<&Entry<SoaEntry>>, linked_risk_ids: Vec<Uuid>) -> Self {
        let state = entry.map(|e| e.state.clone()).unwrap_or_default();
        let implementation = state.implementation.as_ref();
        Self {
            control_id: control.id.to_owned(),
            title: control.title.to_owned(),
            theme: control.theme,
            decision: state
                .decision
                .as_ref()
                .map(|d| SoaDecisionView { applicable: d.applicable, justification: d.justification.clone() }),
            status: SoaStatus::of(&state),
            owner: implementation.map(|i| i.owner.clone()),
            evidence_refs: implementation.map(|i| i.evidence_refs.clone()).unwrap_or_default(),
            linked_risk_ids,
            version: entry.map_or(0, |e| e.version),
            position: entry.map(|e| e.position),
            updated_at: entry.map(|e| e.updated_at),
        }
    }
}

/// For each control, the open risks whose treatment names it (risks in register order).
pub fn risks_by_control(registers: &Registers) -> BTreeMap<&str, Vec<Uuid>> {
    let mut linked: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
    for (id, entry) in &registers.risks {
        let risk = &entry.state;
        if !risk.exists() || risk.status == RiskStatus::Closed {
            continue;
        }
        for control in risk.treatment.iter().flat_map(|t| &t.controls) {
            let ids = linked.entry(control.as_str()).or_default();
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
    }
    linked
}

/// The open risks whose treatment names `control_id`.
pub fn risks_naming(registers: &Registers, control_id: &str) -> Vec<Uuid> {
    risks_by_control(registers).remove(control_id).unwrap_or_default()
}

/// One control's line as the registers have it.
pub fn soa_record(registers: &Registers, control: &Control2022) -> SoaEntryRecord {
    SoaEntryRecord::new(control, registers.soa.get(control.id), risks_naming(registers, control.id))
}

/// Every control of the 2022 catalog in catalog order, decided or not.
pub fn soa_records(registers: &Registers) -> Vec<SoaEntryRecord> {
    let mut linked = risks_by_control(registers);
    ISO27001_2022
        .iter()
        .map(|control| {
            let risks = linked.remove(control.id).unwrap_or_default();
            SoaEntryRecord::new(control, registers.soa.get(control.id), risks)
        })
        .collect()
}

/// The statement's version: how many SoA events the registers hold, so any change to any line
/// (and nothing else) moves it.
pub fn soa_version(registers: &Registers) -> u64 {
    registers.soa.values().map(|entry| entry.version).sum()
}

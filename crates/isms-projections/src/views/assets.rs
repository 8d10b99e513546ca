//! The asset inventory (A.5.9 to A.5.13), its classification scheme, and the personal-information
//! register derived from it, as they are read.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::assets::{
    Asset, AssetDetails, AssetStatus, AssetType, ClassificationLabel, ClassificationScheme, ClassificationSchemeState,
};
use isms_store::Position;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::scope::Singleton;
use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn asset_type_schema() -> utoipa::openapi::schema::Object {
    string_enum(AssetType::NAMES)
}
pub fn asset_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(AssetStatus::NAMES)
}

/// An asset of the inventory (A.5.9) with its classification (A.5.12). The personal-data fields
/// are those of the personal-information register; they are empty unless `personal_data`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AssetRecord {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = asset_type_schema)]
    pub asset_type: AssetType,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub location: Option<String>,
    /// A label of the tenant's classification scheme.
    pub classification: String,
    /// 1 (low) to 3 (high).
    pub confidentiality: u8,
    pub integrity: u8,
    pub availability: u8,
    pub personal_data: bool,
    pub personal_information_items: Vec<String>,
    pub purpose_of_use: Option<String>,
    pub retention_period: Option<String>,
    pub legal_basis: Option<String>,
    pub third_party_provision: bool,
    pub third_party_recipients: Vec<String>,
    pub entrusted_processors: Vec<String>,
    #[schema(schema_with = asset_status_schema)]
    pub status: AssetStatus,
    pub retirement_reason: Option<String>,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Asset {
    const NOUN: &'static str = "asset";
    const COLLECTION: &'static str = "assets";
    type Record = AssetRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &std::collections::BTreeMap<Uuid, Entry<Self>> {
        &registers.assets
    }

    fn record(entry: &Entry<Self>, _today: NaiveDate) -> AssetRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_default();
        let personal = details.personal_information.clone();
        AssetRecord {
            id: entry.uuid(),
            asset_type: details.asset_type,
            name: details.name,
            description: details.description,
            owner: details.owner,
            location: details.location,
            classification: details.classification,
            confidentiality: details.confidentiality,
            integrity: details.integrity,
            availability: details.availability,
            personal_data: personal.is_some(),
            personal_information_items: personal.as_ref().map(|p| p.items.clone()).unwrap_or_default(),
            purpose_of_use: personal.as_ref().map(|p| p.purpose_of_use.clone()),
            retention_period: personal.as_ref().map(|p| p.retention_period.clone()),
            legal_basis: personal.as_ref().map(|p| p.legal_basis.clone()),
            third_party_provision: personal.as_ref().is_some_and(|p| p.third_party_provision),
            third_party_recipients: personal.as_ref().map(|p| p.third_party_recipients.clone()).unwrap_or_default(),
            entrusted_processors: personal.map(|p| p.entrusted_processors).unwrap_or_default(),
            status: state.status,
            retirement_reason: state.retirement.as_ref().map(|r| r.reason.clone()),
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

/// One row of the personal-information register (個人情報管理台帳): an asset that holds personal
/// data, with the attributes JIS Q 15001 asks for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PersonalInformationRow {
    pub asset_id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    #[schema(schema_with = asset_type_schema)]
    pub asset_type: AssetType,
    pub owner: String,
    pub location: Option<String>,
    pub classification: String,
    pub personal_information_items: Vec<String>,
    pub purpose_of_use: String,
    pub retention_period: String,
    pub legal_basis: String,
    pub third_party_provision: bool,
    pub third_party_recipients: Vec<String>,
    pub entrusted_processors: Vec<String>,
}

fn live_details(registers: &Registers) -> impl Iterator<Item = (Uuid, &AssetDetails)> {
    registers
        .assets
        .iter()
        .filter(|(_, entry)| entry.state.status == AssetStatus::Active)
        .filter_map(|(id, entry)| entry.state.details.as_ref().map(|details| (*id, details)))
}

impl Registers {
    /// The personal-information register: one row per live asset that holds personal data, in
    /// the order the assets were registered.
    pub fn personal_information_register(&self) -> Vec<PersonalInformationRow> {
        live_details(self)
            .filter_map(|(asset_id, details)| {
                let personal = details.personal_information.clone()?;
                Some(PersonalInformationRow {
                    asset_id,
                    name: details.name.clone(),
                    asset_type: details.asset_type,
                    owner: details.owner.clone(),
                    location: details.location.clone(),
                    classification: details.classification.clone(),
                    personal_information_items: personal.items,
                    purpose_of_use: personal.purpose_of_use,
                    retention_period: personal.retention_period,
                    legal_basis: personal.legal_basis,
                    third_party_provision: personal.third_party_provision,
                    third_party_recipients: personal.third_party_recipients,
                    entrusted_processors: personal.entrusted_processors,
                })
            })
            .collect()
    }

    /// The classification labels live assets carry; a new scheme must keep them.
    pub fn classification_labels_in_use(&self) -> BTreeSet<String> {
        live_details(self).map(|(_, details)| details.classification.clone()).collect()
    }
}

/// One classification label and its handling rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassificationLabelBody {
    /// snake_case, 1 to 50 characters of a-z, 0-9 and _.
    #[schema(example = "confidential", pattern = "^[a-z0-9_]{1,50}$")]
    pub label: String,
    /// What the label means and how such information is handled (A.5.13).
    #[serde(default)]
    #[schema(value_type = crate::views::text::FreeText)]
    pub description: String,
}

/// The asset classification scheme (A.5.12): labels ordered from the least to the most
/// sensitive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"labels": [
    {"label": "public", "description": "May be disclosed to anyone."},
    {"label": "internal", "description": "For staff and contracted parties only."},
    {"label": "confidential", "description": "Need to know; encrypted at rest and in transit."},
    {"label": "strictly_confidential", "description": "Named people only; never leaves the design network."},
    {"label": "personal_data", "description": "Personal information under JIS Q 15001."}
]}))]
pub struct ClassificationSchemeBody {
    /// 1 to 10 labels (`MAX_CLASSIFICATION_LABELS`).
    #[schema(min_items = 1, max_items = 10)]
    pub labels: Vec<ClassificationLabelBody>,
}

impl From<&ClassificationScheme> for ClassificationSchemeBody {
    fn from(scheme: &ClassificationScheme) -> Self {
        Self {
            labels: scheme
                .labels
                .iter()
                .map(|l| ClassificationLabelBody { label: l.label.clone(), description: l.description.clone() })
                .collect(),
        }
    }
}

impl From<ClassificationSchemeBody> for ClassificationScheme {
    fn from(body: ClassificationSchemeBody) -> Self {
        Self {
            labels: body
                .labels
                .into_iter()
                .map(|l| ClassificationLabel { label: l.label, description: l.description })
                .collect(),
        }
    }
}

/// The classification scheme in force and its version (0 = the built-in default).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClassificationSchemeRecord {
    pub version: u64,
    #[serde(flatten)]
    pub scheme: ClassificationSchemeBody,
}

impl Singleton for ClassificationSchemeState {
    const STREAM_ID: &'static str = ClassificationSchemeState::STREAM_ID;
    const NOUN: &'static str = "asset classification scheme";
    type Record = ClassificationSchemeRecord;

    /// Never undefined: until a tenant defines its own, the built-in default is in force.
    fn record(entry: Option<&Entry<Self>>) -> Option<ClassificationSchemeRecord> {
        let state = entry.map(|e| e.state.clone()).unwrap_or_default();
        Some(ClassificationSchemeRecord { version: state.version, scheme: (&state.scheme).into() })
    }
}

//! The asset inventory (ISO/IEC 27001:2022 A.5.9 to A.5.13): assets with their owner, location,
//! classification and confidentiality / integrity / availability values, and for assets that
//! hold personal information the attributes of the personal-information register that the
//! P-mark (JIS Q 15001) asks for (個人情報管理台帳).
//!
//! The classification labels are the tenant's own (A.5.12): one versioned scheme per tenant,
//! passed into every decision that sets a label, like the risk criteria into an assessment.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssetType {
    #[default]
    Information,
    Software,
    Hardware,
    Service,
    People,
    Site,
}

impl AssetType {
    pub const NAMES: &'static [&'static str] = &["information", "software", "hardware", "service", "people", "site"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssetStatus {
    #[default]
    Active,
    Retired,
}

impl AssetStatus {
    pub const NAMES: &'static [&'static str] = &["active", "retired"];
}

/// Confidentiality, integrity and availability are each valued 1 (low) to 3 (high).
pub const MAX_ASSET_VALUE: u8 = 3;

/// Checks one C/I/A value at `pointer`.
pub fn asset_value(pointer: &str, value: u8) -> Result<u8, DomainError> {
    if !(1..=MAX_ASSET_VALUE).contains(&value) {
        return Err(DomainError::at(
            ErrorCode::AssetValueOutOfRange,
            pointer,
            format!("must be 1 to {MAX_ASSET_VALUE}"),
        ));
    }
    Ok(value)
}

/// What the personal-information register records of an asset that holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalInformation {
    /// The personal-information items held (氏名, 住所, メールアドレス...).
    pub items: Vec<String>,
    pub purpose_of_use: String,
    pub retention_period: String,
    /// The legal basis of the processing, or how consent was obtained.
    pub legal_basis: String,
    pub third_party_provision: bool,
    /// Who receives the data when it is provided to third parties.
    pub third_party_recipients: Vec<String>,
    /// Processors the handling is entrusted to (委託先).
    pub entrusted_processors: Vec<String>,
}

/// The personal-data fields as submitted, before the rule that ties them to `personal_data`.
/// Field names follow the request body, so each refusal points at the field to fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposedPersonalData {
    pub personal_data: bool,
    pub personal_information_items: Vec<String>,
    pub purpose_of_use: Option<String>,
    pub retention_period: Option<String>,
    pub legal_basis: Option<String>,
    pub third_party_provision: bool,
    pub third_party_recipients: Vec<String>,
    pub entrusted_processors: Vec<String>,
}

impl ProposedPersonalData {
    /// An asset with personal data carries the register's attributes, and one without carries
    /// none of them. Every field that breaks the rule is named, so one answer lists them all.
    pub fn check(self) -> Result<Option<PersonalInformation>, Vec<DomainError>> {
        let mut errors = Vec::new();
        let mut refuse =
            |code, field: &str, detail: &str| errors.push(DomainError::at(code, format!("/{field}"), detail));
        if self.personal_data {
            let required = "required when personal_data is true";
            if self.personal_information_items.is_empty() {
                refuse(ErrorCode::PersonalDataAttributesRequired, "personal_information_items", required);
            }
            for (field, value) in [
                ("purpose_of_use", &self.purpose_of_use),
                ("retention_period", &self.retention_period),
                ("legal_basis", &self.legal_basis),
            ] {
                if value.is_none() {
                    refuse(ErrorCode::PersonalDataAttributesRequired, field, required);
                }
            }
            match (self.third_party_provision, self.third_party_recipients.is_empty()) {
                (true, true) => refuse(
                    ErrorCode::PersonalDataAttributesRequired,
                    "third_party_recipients",
                    "required when third_party_provision is true",
                ),
                (false, false) => refuse(
                    ErrorCode::PersonalDataAttributesNotApplicable,
                    "third_party_recipients",
                    "only when third_party_provision is true",
                ),
                _ => {}
            }
        } else {
            let absent = "only for assets with personal_data true";
            let present = [
                ("personal_information_items", !self.personal_information_items.is_empty()),
                ("purpose_of_use", self.purpose_of_use.is_some()),
                ("retention_period", self.retention_period.is_some()),
                ("legal_basis", self.legal_basis.is_some()),
                ("third_party_provision", self.third_party_provision),
                ("third_party_recipients", !self.third_party_recipients.is_empty()),
                ("entrusted_processors", !self.entrusted_processors.is_empty()),
            ];
            for (field, _) in present.iter().filter(|(_, given)| *given) {
                refuse(ErrorCode::PersonalDataAttributesNotApplicable, field, absent);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(self.personal_data.then(|| PersonalInformation {
            items: self.personal_information_items,
            purpose_of_use: self.purpose_of_use.unwrap_or_default(),
            retention_period: self.retention_period.unwrap_or_default(),
            legal_basis: self.legal_basis.unwrap_or_default(),
            third_party_provision: self.third_party_provision,
            third_party_recipients: self.third_party_recipients,
            entrusted_processors: self.entrusted_processors,
        }))
    }
}

/// An asset as registered or changed: each change restates it whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetDetails {
    pub asset_type: AssetType,
    pub name: String,
    pub description: String,
    /// The asset owner (A.5.9), a token `sub` or a role.
    pub owner: String,
    pub location: Option<String>,
    /// A label of the classification scheme in force when the asset was registered or changed.
    pub classification: String,
    pub confidentiality: u8,
    pub integrity: u8,
    pub availability: u8,
    /// Present exactly when the asset holds personal data.
    pub personal_information: Option<PersonalInformation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRetired {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum AssetEvent {
    AssetRegistered(AssetDetails),
    AssetChanged(AssetDetails),
    AssetRetired(AssetRetired),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Asset {
    pub details: Option<AssetDetails>,
    pub status: AssetStatus,
    pub retirement: Option<AssetRetired>,
}

impl Asset {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    fn ensure_active(&self) -> Result<(), DomainError> {
        if self.status == AssetStatus::Retired {
            return Err(DomainError::new(ErrorCode::AssetRetired, "the asset is retired"));
        }
        Ok(())
    }

    pub fn register(
        &self,
        details: AssetDetails,
        scheme: &ClassificationScheme,
    ) -> Result<Vec<AssetEvent>, DomainError> {
        scheme.ensure_label("/classification", &details.classification)?;
        Ok(vec![AssetEvent::AssetRegistered(details)])
    }

    pub fn change(&self, details: AssetDetails, scheme: &ClassificationScheme) -> Result<Vec<AssetEvent>, DomainError> {
        self.ensure_active()?;
        scheme.ensure_label("/classification", &details.classification)?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the change is identical to the current asset"));
        }
        Ok(vec![AssetEvent::AssetChanged(details)])
    }

    pub fn retire(&self, reason: String) -> Result<Vec<AssetEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![AssetEvent::AssetRetired(AssetRetired { reason })])
    }
}

impl Aggregate for Asset {
    type Event = AssetEvent;
    const STREAM_TYPE: &'static str = "asset";

    fn apply(&mut self, event: &AssetEvent) {
        match event {
            AssetEvent::AssetRegistered(details) | AssetEvent::AssetChanged(details) => {
                self.details = Some(details.clone());
            }
            AssetEvent::AssetRetired(retired) => {
                self.retirement = Some(retired.clone());
                self.status = AssetStatus::Retired;
            }
        }
    }
}

/// One classification label and what it means for handling (A.5.13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassificationLabel {
    pub label: String,
    pub description: String,
}

/// The tenant's labels, ordered from the least to the most sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassificationScheme {
    pub labels: Vec<ClassificationLabel>,
}

/// The most labels a scheme may have; more would not be applied consistently.
pub const MAX_CLASSIFICATION_LABELS: usize = 10;

impl Default for ClassificationScheme {
    /// A common four-level scheme.
    fn default() -> Self {
        let label = |label: &str, description: &str| ClassificationLabel {
            label: label.to_owned(),
            description: description.to_owned(),
        };
        Self {
            labels: vec![
                label("public", "May be disclosed to anyone."),
                label("internal", "For staff and contracted parties only."),
                label(
                    "confidential",
                    "For the people who need it; disclosure harms the organization or its customers.",
                ),
                label("strictly_confidential", "For named people only; disclosure causes serious harm."),
            ],
        }
    }
}

impl ClassificationScheme {
    pub fn contains(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l.label == label)
    }

    /// Refuses a label the scheme does not have, at `pointer`.
    pub fn ensure_label(&self, pointer: &str, label: &str) -> Result<(), DomainError> {
        if self.contains(label) {
            return Ok(());
        }
        let known: Vec<&str> = self.labels.iter().map(|l| l.label.as_str()).collect();
        Err(DomainError::at(
            ErrorCode::UnknownClassificationLabel,
            pointer,
            format!("'{label}' is not a label of the classification scheme in force ({})", known.join(", ")),
        ))
    }

    /// Labels are short snake_case names (they appear in filters and exports), unique, and
    /// there are 1 to `MAX_CLASSIFICATION_LABELS` of them.
    pub fn validate(self) -> Result<Self, DomainError> {
        let invalid = |pointer: String, detail: String| {
            Err(DomainError::at(ErrorCode::InvalidClassificationScheme, pointer, detail))
        };
        if !(1..=MAX_CLASSIFICATION_LABELS).contains(&self.labels.len()) {
            return invalid("/labels".into(), format!("give 1 to {MAX_CLASSIFICATION_LABELS} labels"));
        }
        let mut seen = BTreeSet::new();
        for (index, label) in self.labels.iter().enumerate() {
            let name = &label.label;
            let well_formed = (1..=50).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_formed {
                return invalid(
                    format!("/labels/{index}/label"),
                    "a label is 1 to 50 characters of a-z, 0-9 and _".into(),
                );
            }
            if !seen.insert(name.as_str()) {
                return invalid(format!("/labels/{index}/label"), format!("the label '{name}' is given twice"));
            }
        }
        Ok(self)
    }
}

/// The classification-scheme stream's state: the scheme in force and its version
/// (0 = the built-in default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassificationSchemeState {
    pub version: u64,
    pub scheme: ClassificationScheme,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum ClassificationSchemeEvent {
    ClassificationSchemeDefined(ClassificationScheme),
}

impl ClassificationSchemeState {
    /// Stream id of the single scheme stream each tenant has.
    pub const STREAM_ID: &'static str = "current";

    /// Defines the labels (admin only; the HTTP layer checks the scope). `labels_in_use` are the
    /// labels of the live assets: removing one would leave those assets with a label that
    /// means nothing.
    pub fn define(
        &self,
        scheme: ClassificationScheme,
        labels_in_use: &BTreeSet<String>,
    ) -> Result<Vec<ClassificationSchemeEvent>, DomainError> {
        let scheme = scheme.validate()?;
        let removed: Vec<&str> =
            labels_in_use.iter().filter(|label| !scheme.contains(label)).map(String::as_str).collect();
        if !removed.is_empty() {
            return Err(DomainError::new(
                ErrorCode::ClassificationLabelInUse,
                format!("labels in use by live assets cannot be removed: {}", removed.join(", ")),
            ));
        }
        if scheme == self.scheme {
            return Err(DomainError::new(ErrorCode::NothingChanged, "the scheme is already defined exactly so"));
        }
        Ok(vec![ClassificationSchemeEvent::ClassificationSchemeDefined(scheme)])
    }
}

impl Aggregate for ClassificationSchemeState {
    type Event = ClassificationSchemeEvent;
    const STREAM_TYPE: &'static str = "asset_classification_scheme";

    fn apply(&mut self, event: &ClassificationSchemeEvent) {
        match event {
            ClassificationSchemeEvent::ClassificationSchemeDefined(scheme) => {
                self.version += 1;
                self.scheme = scheme.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(classification: &str) -> AssetDetails {
        AssetDetails {
            asset_type: AssetType::Information,
            name: "顧客名簿".into(),
            owner: "alice".into(),
            classification: classification.into(),
            confidentiality: 3,
            integrity: 2,
            availability: 2,
            ..AssetDetails::default()
        }
    }

    fn personal(personal_data: bool) -> ProposedPersonalData {
        ProposedPersonalData {
            personal_data,
            personal_information_items: vec!["氏名".into(), "メールアドレス".into()],
            purpose_of_use: Some("Delivering the contracted service".into()),
            retention_period: Some("5 years after the contract ends".into()),
            legal_basis: Some("Contract".into()),
            ..ProposedPersonalData::default()
        }
    }

    fn pointers(errors: &[DomainError]) -> Vec<&str> {
        errors.iter().map(|e| e.pointer.as_deref().unwrap_or("")).collect()
    }

    #[test]
    fn a_retired_asset_takes_no_change_or_second_retirement() {
        let mut asset = Asset::default();
        asset.apply(&AssetEvent::AssetRegistered(details("internal")));
        asset.apply(&AssetEvent::AssetRetired(AssetRetired { reason: "disposed".into() }));
        let scheme = ClassificationScheme::default();
        assert_eq!(asset.change(details("public"), &scheme).unwrap_err().code, ErrorCode::AssetRetired);
        assert_eq!(asset.retire("again".into()).unwrap_err().code, ErrorCode::AssetRetired);
    }

    #[test]
    fn a_change_must_change_something() {
        let mut asset = Asset::default();
        asset.apply(&AssetEvent::AssetRegistered(details("internal")));
        let scheme = ClassificationScheme::default();
        assert_eq!(asset.change(details("internal"), &scheme).unwrap_err().code, ErrorCode::NothingChanged);
        assert!(asset.change(details("confidential"), &scheme).is_ok());
    }

    #[test]
    fn a_label_outside_the_scheme_in_force_is_refused() {
        let scheme = ClassificationScheme::default();
        let error = Asset::default().register(details("secret"), &scheme).unwrap_err();
        assert_eq!(
            (error.code, error.pointer.as_deref()),
            (ErrorCode::UnknownClassificationLabel, Some("/classification"))
        );
        let mut asset = Asset::default();
        asset.apply(&AssetEvent::AssetRegistered(details("internal")));
        assert_eq!(asset.change(details("secret"), &scheme).unwrap_err().code, ErrorCode::UnknownClassificationLabel);
    }

    #[test]
    fn asset_values_run_from_one_to_three() {
        assert_eq!(asset_value("/integrity", 3).unwrap(), 3);
        for bad in [0, 4] {
            let error = asset_value("/integrity", bad).unwrap_err();
            assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::AssetValueOutOfRange, Some("/integrity")));
        }
    }

    #[test]
    fn personal_data_requires_items_purpose_retention_and_legal_basis() {
        let incomplete = ProposedPersonalData { personal_data: true, ..ProposedPersonalData::default() };
        let errors = incomplete.check().unwrap_err();
        assert!(errors.iter().all(|e| e.code == ErrorCode::PersonalDataAttributesRequired));
        assert_eq!(
            pointers(&errors),
            ["/personal_information_items", "/purpose_of_use", "/retention_period", "/legal_basis"]
        );
        let provided = ProposedPersonalData { third_party_provision: true, ..personal(true) };
        assert_eq!(pointers(&provided.check().unwrap_err()), ["/third_party_recipients"]);
        let complete = personal(true).check().unwrap().unwrap();
        assert_eq!(complete.legal_basis, "Contract");
    }

    #[test]
    fn an_asset_without_personal_data_carries_none_of_its_attributes() {
        let errors = personal(false).check().unwrap_err();
        assert!(errors.iter().all(|e| e.code == ErrorCode::PersonalDataAttributesNotApplicable));
        assert_eq!(
            pointers(&errors),
            ["/personal_information_items", "/purpose_of_use", "/retention_period", "/legal_basis"]
        );
        let recipients = ProposedPersonalData { third_party_recipients: vec!["x".into()], ..personal(true) };
        assert_eq!(recipients.check().unwrap_err()[0].code, ErrorCode::PersonalDataAttributesNotApplicable);
        assert_eq!(ProposedPersonalData::default().check().unwrap(), None);
    }

    #[test]
    fn a_scheme_has_unique_well_formed_labels() {
        let mut twice = ClassificationScheme::default();
        twice.labels[3].label = "public".into();
        let error = twice.validate().unwrap_err();
        assert_eq!(
            (error.code, error.pointer.as_deref()),
            (ErrorCode::InvalidClassificationScheme, Some("/labels/3/label"))
        );
        let mut shouting = ClassificationScheme::default();
        shouting.labels[0].label = "PUBLIC".into();
        assert_eq!(shouting.validate().unwrap_err().code, ErrorCode::InvalidClassificationScheme);
        let empty = ClassificationScheme { labels: Vec::new() };
        assert_eq!(empty.validate().unwrap_err().code, ErrorCode::InvalidClassificationScheme);
    }

    #[test]
    fn a_label_in_use_is_not_removed_and_an_identical_scheme_changes_nothing() {
        let state = ClassificationSchemeState::default();
        let in_use = BTreeSet::from(["strictly_confidential".to_owned()]);
        let mut three = ClassificationScheme::default();
        three.labels.pop();
        assert_eq!(state.define(three.clone(), &in_use).unwrap_err().code, ErrorCode::ClassificationLabelInUse);
        assert_eq!(state.define(ClassificationScheme::default(), &in_use).unwrap_err().code, ErrorCode::NothingChanged);
        let mut next = state.clone();
        for event in state.define(three, &BTreeSet::new()).unwrap() {
            next.apply(&event);
        }
        assert_eq!((next.version, next.scheme.labels.len()), (1, 3));
    }
}

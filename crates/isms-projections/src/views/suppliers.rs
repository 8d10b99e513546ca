//! The supplier register (A.5.19 to A.5.22) as it is read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use isms_domain::suppliers::{ReviewOutcome, Supplier, SupplierRiskRating, SupplierStatus};
use isms_store::Position;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::string_enum;
use crate::{Entry, Register, Registers};

pub fn supplier_risk_rating_schema() -> utoipa::openapi::schema::Object {
    string_enum(SupplierRiskRating::NAMES)
}
pub fn supplier_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(SupplierStatus::NAMES)
}
pub fn review_outcome_schema() -> utoipa::openapi::schema::Object {
    string_enum(ReviewOutcome::NAMES)
}

/// An agreement with the supplier (A.5.20).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupplierAgreementView {
    pub agreement_id: Uuid,
    pub title: String,
    pub signed_on: NaiveDate,
    /// Null: open-ended.
    pub expires_on: Option<NaiveDate>,
    pub security_requirements: Vec<String>,
    /// The expiry date has been reached on the day read.
    pub expired: bool,
}

/// A review of the supplier's service delivery and security (A.5.22).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupplierReviewView {
    pub reviewed_on: NaiveDate,
    #[schema(schema_with = review_outcome_schema)]
    pub outcome: ReviewOutcome,
    pub notes: String,
    pub next_review_due_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupplierTerminationView {
    pub terminated_on: NaiveDate,
    pub reason: String,
}

/// A supplier with its agreements and reviews.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SupplierRecord {
    pub id: Uuid,
    pub name: String,
    pub services: String,
    pub owner: String,
    #[schema(schema_with = supplier_risk_rating_schema)]
    pub risk_rating: SupplierRiskRating,
    pub handles_personal_data: bool,
    /// High or critical, or handling personal data: approval needs an agreement in force with
    /// at least one security requirement.
    pub needs_security_agreement: bool,
    #[schema(schema_with = supplier_status_schema)]
    pub status: SupplierStatus,
    pub approval_note: Option<String>,
    pub termination: Option<SupplierTerminationView>,
    pub agreements: Vec<SupplierAgreementView>,
    /// Oldest first.
    pub reviews: Vec<SupplierReviewView>,
    /// Set by the latest review.
    pub next_review_due_on: Option<NaiveDate>,
    /// Approved and the next review's due date has passed.
    pub review_overdue: bool,
    /// Not terminated, with agreements recorded, all of them expired.
    pub agreement_expired: bool,
    /// Stream version; send it back in `If-Match` to guard a command.
    pub version: u64,
    pub position: Position,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Register for Supplier {
    const NOUN: &'static str = "supplier";
    const COLLECTION: &'static str = "suppliers";
    type Record = SupplierRecord;

    fn exists(state: &Self) -> bool {
        state.exists()
    }

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.suppliers
    }

    fn record(entry: &Entry<Self>, today: NaiveDate) -> SupplierRecord {
        let state = &entry.state;
        let details = state.details.clone().unwrap_or_else(|| isms_domain::suppliers::SupplierDetails {
            name: String::new(),
            services: String::new(),
            owner: String::new(),
            risk_rating: SupplierRiskRating::Low,
            handles_personal_data: false,
        });
        let agreements: Vec<SupplierAgreementView> = state
            .agreements
            .iter()
            .map(|a| SupplierAgreementView {
                agreement_id: a.agreement_id,
                title: a.title.clone(),
                signed_on: a.signed_on,
                expires_on: a.expires_on,
                security_requirements: a.security_requirements.clone(),
                expired: a.expires_on.is_some_and(|expires| today >= expires),
            })
            .collect();
        let next_review_due_on = state.latest_review().map(|r| r.next_review_due_on);
        let live = state.status != SupplierStatus::Terminated;
        SupplierRecord {
            id: entry.uuid(),
            needs_security_agreement: details.needs_security_agreement(),
            name: details.name,
            services: details.services,
            owner: details.owner,
            risk_rating: details.risk_rating,
            handles_personal_data: details.handles_personal_data,
            status: state.status,
            approval_note: state.approval.as_ref().map(|a| a.note.clone()),
            termination: state
                .termination
                .as_ref()
                .map(|t| SupplierTerminationView { terminated_on: t.terminated_on, reason: t.reason.clone() }),
            review_overdue: state.status == SupplierStatus::Approved
                && next_review_due_on.is_some_and(|due| due < today),
            agreement_expired: live && !agreements.is_empty() && agreements.iter().all(|a| a.expired),
            agreements,
            reviews: state
                .reviews
                .iter()
                .map(|r| SupplierReviewView {
                    reviewed_on: r.reviewed_on,
                    outcome: r.outcome,
                    notes: r.notes.clone(),
                    next_review_due_on: r.next_review_due_on,
                })
                .collect(),
            next_review_due_on,
            version: entry.version,
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        }
    }
}

impl Registers {
    /// For the readiness report: approved suppliers whose review is overdue on `today`.
    pub fn suppliers_with_overdue_reviews(&self, today: NaiveDate) -> Vec<SupplierRecord> {
        self.records_where::<Supplier>(today, |record| record.review_overdue)
    }
}

//! Supplier relationships (ISO/IEC 27001:2022 A.5.19 to A.5.22): a supplier is proposed,
//! approved once the agreement its risk calls for is in place (A.5.20), reviewed (A.5.22), and
//! terminated.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::certification::{ensure_not_after_today, ensure_not_before};
use crate::error::{DomainError, ErrorCode};
use crate::Aggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SupplierRiskRating {
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl SupplierRiskRating {
    pub const NAMES: &'static [&'static str] = &["low", "medium", "high", "critical"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SupplierStatus {
    #[default]
    Proposed,
    Approved,
    Terminated,
}

impl SupplierStatus {
    pub const NAMES: &'static [&'static str] = &["proposed", "approved", "terminated"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    Satisfactory,
    IssuesFound,
    Unsatisfactory,
}

impl ReviewOutcome {
    pub const NAMES: &'static [&'static str] = &["satisfactory", "issues_found", "unsatisfactory"];
}

/// What a supplier is and how much it matters; the same shape proposes and revises it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierDetails {
    pub name: String,
    pub services: String,
    /// Who in the organization is responsible for the relationship.
    pub owner: String,
    pub risk_rating: SupplierRiskRating,
    pub handles_personal_data: bool,
}

impl SupplierDetails {
    /// A.5.20: these suppliers are engaged only under an agreement that states security
    /// requirements.
    pub fn needs_security_agreement(&self) -> bool {
        matches!(self.risk_rating, SupplierRiskRating::High | SupplierRiskRating::Critical)
            || self.handles_personal_data
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierAgreementRecorded {
    pub agreement_id: Uuid,
    pub title: String,
    pub signed_on: NaiveDate,
    /// `None`: open-ended.
    pub expires_on: Option<NaiveDate>,
    pub security_requirements: Vec<String>,
}

impl SupplierAgreementRecorded {
    /// Signed and not yet expired on `day` (an agreement expires at the start of `expires_on`).
    pub fn in_force(&self, day: NaiveDate) -> bool {
        self.signed_on <= day && self.expires_on.is_none_or(|expires| day < expires)
    }
}

/// An agreement as requested; the id is drawn by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgreement {
    pub title: String,
    pub signed_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub security_requirements: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierReviewed {
    pub reviewed_on: NaiveDate,
    pub outcome: ReviewOutcome,
    pub notes: String,
    pub next_review_due_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierApproved {
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierTerminated {
    pub terminated_on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum SupplierEvent {
    SupplierProposed(SupplierDetails),
    SupplierRevised(SupplierDetails),
    SupplierAgreementRecorded(SupplierAgreementRecorded),
    SupplierApproved(SupplierApproved),
    SupplierReviewed(SupplierReviewed),
    SupplierTerminated(SupplierTerminated),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Supplier {
    pub details: Option<SupplierDetails>,
    pub status: SupplierStatus,
    pub agreements: Vec<SupplierAgreementRecorded>,
    pub reviews: Vec<SupplierReviewed>,
    pub approval: Option<SupplierApproved>,
    pub termination: Option<SupplierTerminated>,
}

impl Supplier {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    fn ensure_not_terminated(&self) -> Result<(), DomainError> {
        match &self.termination {
            Some(t) => Err(DomainError::new(
                ErrorCode::SupplierTerminated,
                format!("the supplier was terminated on {}", t.terminated_on),
            )),
            None => Ok(()),
        }
    }

    /// An approved supplier must stay covered: checked on approval and on every revision of an
    /// approved supplier, against the agreements in force `today`.
    fn ensure_agreement_for(&self, details: &SupplierDetails, today: NaiveDate) -> Result<(), DomainError> {
        let covered = self.agreements.iter().any(|a| !a.security_requirements.is_empty() && a.in_force(today));
        if details.needs_security_agreement() && !covered {
            return Err(DomainError::new(
                ErrorCode::SupplierAgreementRequired,
                "a high or critical supplier, or one handling personal data, needs an agreement in force with at \
                 least one security requirement (A.5.20)",
            ));
        }
        Ok(())
    }

    pub fn propose(&self, details: SupplierDetails) -> Result<Vec<SupplierEvent>, DomainError> {
        Ok(vec![SupplierEvent::SupplierProposed(details)])
    }

    pub fn revise(&self, details: SupplierDetails, today: NaiveDate) -> Result<Vec<SupplierEvent>, DomainError> {
        self.ensure_not_terminated()?;
        if self.details.as_ref() == Some(&details) {
            return Err(DomainError::new(
                ErrorCode::NothingChanged,
                "the revision is identical to the current supplier",
            ));
        }
        if self.status == SupplierStatus::Approved {
            self.ensure_agreement_for(&details, today)?;
        }
        Ok(vec![SupplierEvent::SupplierRevised(details)])
    }

    pub fn record_agreement(
        &self,
        agreement: NewAgreement,
        agreement_id: Uuid,
        today: NaiveDate,
    ) -> Result<Vec<SupplierEvent>, DomainError> {
        self.ensure_not_terminated()?;
        ensure_not_after_today("/signed_on", agreement.signed_on, today)?;
        if let Some(expires_on) = agreement.expires_on {
            ensure_not_before("/expires_on", expires_on, agreement.signed_on.succ_opt(), "the day after signing")?;
        }
        Ok(vec![SupplierEvent::SupplierAgreementRecorded(SupplierAgreementRecorded {
            agreement_id,
            title: agreement.title,
            signed_on: agreement.signed_on,
            expires_on: agreement.expires_on,
            security_requirements: agreement.security_requirements,
        })])
    }

    pub fn approve(&self, note: String, today: NaiveDate) -> Result<Vec<SupplierEvent>, DomainError> {
        self.ensure_not_terminated()?;
        if self.status == SupplierStatus::Approved {
            return Err(DomainError::new(ErrorCode::SupplierAlreadyApproved, "the supplier is already approved"));
        }
        if let Some(details) = &self.details {
            self.ensure_agreement_for(details, today)?;
        }
        Ok(vec![SupplierEvent::SupplierApproved(SupplierApproved { note })])
    }

    pub fn review(&self, review: SupplierReviewed, today: NaiveDate) -> Result<Vec<SupplierEvent>, DomainError> {
        self.ensure_not_terminated()?;
        ensure_not_after_today("/reviewed_on", review.reviewed_on, today)?;
        ensure_not_before(
            "/next_review_due_on",
            review.next_review_due_on,
            review.reviewed_on.succ_opt(),
            "the day after the review",
        )?;
        Ok(vec![SupplierEvent::SupplierReviewed(review)])
    }

    pub fn terminate(&self, terminated: SupplierTerminated) -> Result<Vec<SupplierEvent>, DomainError> {
        self.ensure_not_terminated()?;
        Ok(vec![SupplierEvent::SupplierTerminated(terminated)])
    }

    /// The review that sets the next due date: the latest by review date.
    pub fn latest_review(&self) -> Option<&SupplierReviewed> {
        self.reviews.iter().max_by_key(|r| r.reviewed_on)
    }
}

impl Aggregate for Supplier {
    type Event = SupplierEvent;
    const STREAM_TYPE: &'static str = "supplier";

    fn apply(&mut self, event: &SupplierEvent) {
        match event {
            SupplierEvent::SupplierProposed(details) | SupplierEvent::SupplierRevised(details) => {
                self.details = Some(details.clone());
            }
            SupplierEvent::SupplierAgreementRecorded(agreement) => self.agreements.push(agreement.clone()),
            SupplierEvent::SupplierApproved(approved) => {
                self.approval = Some(approved.clone());
                self.status = SupplierStatus::Approved;
            }
            SupplierEvent::SupplierReviewed(review) => self.reviews.push(review.clone()),
            SupplierEvent::SupplierTerminated(terminated) => {
                self.termination = Some(terminated.clone());
                self.status = SupplierStatus::Terminated;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn details(risk_rating: SupplierRiskRating, handles_personal_data: bool) -> SupplierDetails {
        SupplierDetails {
            name: "CloudHost K.K.".into(),
            services: "IaaS hosting".into(),
            owner: "alice".into(),
            risk_rating,
            handles_personal_data,
        }
    }

    fn given(events: &[SupplierEvent]) -> Supplier {
        let mut supplier = Supplier::default();
        events.iter().for_each(|e| supplier.apply(e));
        supplier
    }

    fn agreement(requirements: &[&str], expires_on: Option<NaiveDate>) -> NewAgreement {
        NewAgreement {
            title: "Master services agreement".into(),
            signed_on: date(2026, 1, 10),
            expires_on,
            security_requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    fn with(supplier: &Supplier, events: Vec<SupplierEvent>) -> Supplier {
        let mut next = supplier.clone();
        events.iter().for_each(|e| next.apply(e));
        next
    }

    fn today() -> NaiveDate {
        date(2026, 6, 1)
    }

    #[test]
    fn a_high_risk_or_personal_data_supplier_is_approved_only_under_a_security_agreement_in_force() {
        for risky in [details(SupplierRiskRating::High, false), details(SupplierRiskRating::Low, true)] {
            let proposed = given(&[SupplierEvent::SupplierProposed(risky)]);
            let refused = proposed.approve(String::new(), today()).unwrap_err();
            assert_eq!(refused.code, ErrorCode::SupplierAgreementRequired);
            // An agreement without security requirements does not count.
            let bare =
                with(&proposed, proposed.record_agreement(agreement(&[], None), Uuid::from_u128(1), today()).unwrap());
            assert_eq!(bare.approve(String::new(), today()).unwrap_err().code, ErrorCode::SupplierAgreementRequired);
            // Nor does an expired one.
            let expired = agreement(&["ISO 27001 certified"], Some(date(2026, 5, 1)));
            let old = with(&proposed, proposed.record_agreement(expired, Uuid::from_u128(2), today()).unwrap());
            assert_eq!(old.approve(String::new(), today()).unwrap_err().code, ErrorCode::SupplierAgreementRequired);
            let current = agreement(&["ISO 27001 certified"], Some(date(2027, 1, 10)));
            let covered = with(&proposed, proposed.record_agreement(current, Uuid::from_u128(3), today()).unwrap());
            assert!(covered.approve(String::new(), today()).is_ok());
        }
        let low = given(&[SupplierEvent::SupplierProposed(details(SupplierRiskRating::Low, false))]);
        assert!(low.approve(String::new(), today()).is_ok());
    }

    #[test]
    fn an_approved_supplier_revised_to_high_risk_must_already_be_covered() {
        let approved = given(&[
            SupplierEvent::SupplierProposed(details(SupplierRiskRating::Low, false)),
            SupplierEvent::SupplierApproved(SupplierApproved { note: String::new() }),
        ]);
        let error = approved.revise(details(SupplierRiskRating::Critical, false), today()).unwrap_err();
        assert_eq!(error.code, ErrorCode::SupplierAgreementRequired);
        let same = approved.revise(details(SupplierRiskRating::Low, false), today()).unwrap_err();
        assert_eq!(same.code, ErrorCode::NothingChanged);
        assert!(approved.revise(details(SupplierRiskRating::Medium, false), today()).is_ok());
        assert_eq!(approved.approve(String::new(), today()).unwrap_err().code, ErrorCode::SupplierAlreadyApproved);
    }

    #[test]
    fn a_terminated_supplier_takes_nothing() {
        let terminated = given(&[
            SupplierEvent::SupplierProposed(details(SupplierRiskRating::Low, false)),
            SupplierEvent::SupplierTerminated(SupplierTerminated {
                terminated_on: date(2026, 5, 1),
                reason: "ended".into(),
            }),
        ]);
        let review = SupplierReviewed {
            reviewed_on: date(2026, 5, 2),
            outcome: ReviewOutcome::Satisfactory,
            notes: String::new(),
            next_review_due_on: date(2027, 5, 2),
        };
        let refusals = [
            terminated.revise(details(SupplierRiskRating::High, false), today()),
            terminated.record_agreement(agreement(&["x"], None), Uuid::from_u128(1), today()),
            terminated.approve(String::new(), today()),
            terminated.review(review, today()),
            terminated.terminate(SupplierTerminated { terminated_on: date(2026, 5, 3), reason: "again".into() }),
        ];
        for refusal in refusals {
            assert_eq!(refusal.unwrap_err().code, ErrorCode::SupplierTerminated);
        }
    }

    #[test]
    fn agreement_and_review_dates_are_in_order() {
        let proposed = given(&[SupplierEvent::SupplierProposed(details(SupplierRiskRating::Low, false))]);
        let backwards = agreement(&["x"], Some(date(2026, 1, 10)));
        let error = proposed.record_agreement(backwards, Uuid::from_u128(1), today()).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DatesOutOfOrder, Some("/expires_on")));
        let review = |reviewed_on, next_review_due_on| SupplierReviewed {
            reviewed_on,
            outcome: ReviewOutcome::IssuesFound,
            notes: String::new(),
            next_review_due_on,
        };
        let error = proposed.review(review(date(2026, 5, 1), date(2026, 5, 1)), today()).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DatesOutOfOrder, Some("/next_review_due_on")));
        let error = proposed.review(review(date(2026, 7, 1), date(2027, 7, 1)), today()).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DateInFuture, Some("/reviewed_on")));
        assert!(proposed.review(review(date(2026, 5, 1), date(2027, 5, 1)), today()).is_ok());
    }
}

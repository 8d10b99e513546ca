//! Bitemporal facts: when an event happened in the business, as the event itself states it.
//!
//! The log records when it learned each fact (`recorded_at`); many facts happened earlier: an
//! incident detected on Friday and reported on Monday, a management review held last week and
//! minuted today, a training completed before the learning platform synchronised. The event
//! types that carry such a business time say so here, and the command path stamps it on the
//! envelope as `effective_at`, so the log can be read by either time without knowing each
//! payload.
//!
//! Only times the caller states are business times. Times the server stamps while deciding (an
//! audit's `started_at`, a document's `published_at`, an evaluation's `evaluated_on` = today)
//! are the recording time by construction and give `None`; so do planned and due dates, which
//! are intentions, not facts. A date (`NaiveDate`) is taken as the start of that day in UTC.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::assets::{AssetEvent, ClassificationSchemeEvent};
use crate::audits::{AuditEvent, AuditProgrammeEvent};
use crate::certification::CertificationCycleEvent;
use crate::context::ContextIssueEvent;
use crate::criteria::CriteriaEvent;
use crate::documents::DocumentEvent;
use crate::incidents::IncidentEvent;
use crate::management_review::ManagementReviewEvent;
use crate::metrics::MetricEvent;
use crate::nonconformity::NonconformityEvent;
use crate::objectives::ObjectiveEvent;
use crate::operations::OperationalPlanEvent;
use crate::parties::InterestedPartyEvent;
use crate::people::PersonEvent;
use crate::privacy::PersonalDataAccessEvent;
use crate::risk::RiskEvent;
use crate::scope::ScopeEvent;
use crate::soa::SoaEntryEvent;
use crate::suppliers::SupplierEvent;
use crate::training::TrainingCourseEvent;

/// An event's business time. Every aggregate's event type implements it (most with the
/// default: no business time of their own), so a new event type states its choice here.
pub trait EffectiveTime {
    /// When the fact this event records happened in the business, if the event states it.
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// A business date as an instant: the start of that day in UTC.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

impl EffectiveTime for IncidentEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::IncidentReported(reported) => Some(reported.detected_at),
            Self::AuthorityNotified(notified) => Some(notified.notified_at),
            _ => None,
        }
    }
}

impl EffectiveTime for NonconformityEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::NonconformityRaised(raised) => Some(raised.detected_at),
            _ => None,
        }
    }
}

impl EffectiveTime for ManagementReviewEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::ManagementReviewHeld(meeting) => Some(start_of_day(meeting.held_on)),
            _ => None,
        }
    }
}

impl EffectiveTime for MetricEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::MeasurementRecorded(measurement) => Some(start_of_day(measurement.measured_on)),
            _ => None,
        }
    }
}

impl EffectiveTime for ObjectiveEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::ObjectiveProgressRecorded(progress) => Some(start_of_day(progress.observed_on)),
            _ => None,
        }
    }
}

impl EffectiveTime for PersonEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::PersonLeft(left) => Some(start_of_day(left.left_on)),
            Self::TrainingCompleted(completed) => Some(start_of_day(completed.completed_on)),
            _ => None,
        }
    }
}

impl EffectiveTime for SupplierEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::SupplierAgreementRecorded(agreement) => Some(start_of_day(agreement.signed_on)),
            Self::SupplierReviewed(review) => Some(start_of_day(review.reviewed_on)),
            Self::SupplierTerminated(terminated) => Some(start_of_day(terminated.terminated_on)),
            _ => None,
        }
    }
}

impl EffectiveTime for CertificationCycleEvent {
    fn effective_at(&self) -> Option<DateTime<Utc>> {
        let day = match self {
            Self::GapDiagnosisCompleted(diagnosis) => diagnosis.completed_on,
            Self::Stage1AuditCompleted(audit) => audit.completed_on,
            Self::Stage2AuditCompleted(audit) => audit.completed_on,
            Self::CertificateIssued(issued) => issued.issued_on,
            Self::SurveillanceAuditCompleted(audit) => audit.completed_on,
            _ => return None,
        };
        Some(start_of_day(day))
    }
}

// No business time of their own: what they record happens when it is recorded.
impl EffectiveTime for AssetEvent {}
impl EffectiveTime for ClassificationSchemeEvent {}
impl EffectiveTime for AuditProgrammeEvent {}
impl EffectiveTime for AuditEvent {}
impl EffectiveTime for ContextIssueEvent {}
impl EffectiveTime for CriteriaEvent {}
impl EffectiveTime for DocumentEvent {}
impl EffectiveTime for OperationalPlanEvent {}
impl EffectiveTime for InterestedPartyEvent {}
impl EffectiveTime for PersonalDataAccessEvent {}
impl EffectiveTime for RiskEvent {}
impl EffectiveTime for ScopeEvent {}
impl EffectiveTime for SoaEntryEvent {}
impl EffectiveTime for TrainingCourseEvent {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::{AuthorityNotified, IncidentReported, IncidentStep};
    use crate::management_review::{ManagementReviewHeld, ManagementReviewScheduled};
    use crate::people::PersonLeft;
    use crate::training::TrainingAssigned;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn instant(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn an_incident_took_effect_when_it_was_detected_and_when_the_authority_was_notified() {
        let reported = IncidentEvent::IncidentReported(IncidentReported {
            title: "Phishing".into(),
            description: String::new(),
            detected_at: instant("2026-11-01T22:00:00Z"),
            reported_by: "alice".into(),
        });
        assert_eq!(reported.effective_at(), Some(instant("2026-11-01T22:00:00Z")));
        let notified = IncidentEvent::AuthorityNotified(AuthorityNotified {
            notified_at: instant("2026-11-03T10:00:00Z"),
            authority: "PPC".into(),
            reference: None,
            recorded_by: "alice".into(),
        });
        assert_eq!(notified.effective_at(), Some(instant("2026-11-03T10:00:00Z")));
        let contained = IncidentEvent::IncidentContained(IncidentStep { text: "isolated".into(), by: "bob".into() });
        assert_eq!(contained.effective_at(), None);
    }

    #[test]
    fn a_business_date_is_the_start_of_that_day_in_utc() {
        let held = ManagementReviewEvent::ManagementReviewHeld(ManagementReviewHeld {
            held_on: date(2026, 3, 30),
            attendees: vec!["ceo".into()],
            minutes: String::new(),
        });
        assert_eq!(held.effective_at(), Some(instant("2026-03-30T00:00:00Z")));
        let left = PersonEvent::PersonLeft(PersonLeft { left_on: date(2026, 3, 31) });
        assert_eq!(left.effective_at(), Some(instant("2026-03-31T00:00:00Z")));
    }

    #[test]
    fn planned_and_due_dates_are_intentions_not_business_times() {
        let scheduled = ManagementReviewEvent::ManagementReviewScheduled(ManagementReviewScheduled {
            title: "Q1".into(),
            scheduled_on: date(2026, 3, 30),
            period_start_on: date(2026, 1, 1),
            chair: "ceo".into(),
        });
        assert_eq!(scheduled.effective_at(), None);
        let assigned = PersonEvent::TrainingAssigned(TrainingAssigned {
            assignment_id: uuid::Uuid::from_u128(1),
            course_id: uuid::Uuid::from_u128(2),
            due_date: date(2026, 6, 30),
        });
        assert_eq!(assigned.effective_at(), None);
    }
}

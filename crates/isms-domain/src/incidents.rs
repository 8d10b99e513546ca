//! Information security incidents (ISO/IEC 27001:2022 A.5.24 to A.5.28, A.6.8): reported by
//! anyone (A.6.8), triaged (A.5.25), contained and resolved (A.5.26), lessons learned (A.5.27),
//! closed. The lifecycle only moves forward. A personal data breach starts the 72-hour clock of
//! GDPR Art. 33 for notifying the supervisory authority.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::nonconformity::{NonconformityRaised, NonconformitySource, Severity};
use crate::ticketing::TicketRef;
use crate::{Actor, Aggregate};

/// GDPR Art. 33(1): notify the supervisory authority within 72 hours of becoming aware.
pub const NOTIFICATION_WINDOW_HOURS: i64 = 72;

/// How far ahead of the server's clock a reported detection time may be (clock skew).
const CLOCK_SKEW_MINUTES: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl IncidentSeverity {
    pub const NAMES: &'static [&'static str] = &["low", "medium", "high", "critical"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentCategory {
    Malware,
    Phishing,
    UnauthorizedAccess,
    DataLoss,
    DenialOfService,
    Physical,
    Misconfiguration,
    Other,
}

impl IncidentCategory {
    pub const NAMES: &'static [&'static str] = &[
        "malware",
        "phishing",
        "unauthorized_access",
        "data_loss",
        "denial_of_service",
        "physical",
        "misconfiguration",
        "other",
    ];
}

/// In lifecycle order; an incident only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    #[default]
    Reported,
    Triaged,
    Contained,
    Resolved,
    LessonsLearned,
    Closed,
}

impl IncidentStatus {
    pub const NAMES: &'static [&'static str] =
        &["reported", "triaged", "contained", "resolved", "lessons_learned", "closed"];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentReported {
    pub title: String,
    pub description: String,
    pub detected_at: DateTime<Utc>,
    /// Who reported the event (A.6.8): the caller, or the person they report for.
    pub reported_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTriaged {
    pub severity: IncidentSeverity,
    pub category: IncidentCategory,
    pub personal_data_breach: bool,
    pub triaged_by: String,
}

/// The text of a lifecycle step (containment, resolution, lessons learned, closure) and who
/// recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentStep {
    pub text: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityNotified {
    pub notified_at: DateTime<Utc>,
    /// The supervisory authority, e.g. the PPC (Japan) or a GDPR lead authority.
    pub authority: String,
    /// The authority's case or submission reference.
    pub reference: Option<String>,
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonconformityRaisedForIncident {
    pub nonconformity_id: Uuid,
    pub severity: Severity,
    pub reference: Option<String>,
    pub raised_by: String,
}

/// The state of the incident's ticket as the ticketing system last reported it. The ISMS
/// lifecycle (triage, containment, ...) is not inferred from it: those steps carry decisions
/// (personal data breach or not, lessons learned) that a ticket status does not make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentTicketUpdated {
    pub system: String,
    pub key: String,
    pub status: String,
    pub priority: Option<String>,
    pub summary: Option<String>,
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    pub delivery_id: String,
}

impl IncidentTicketUpdated {
    /// Whether `other` reports the same state of the ticket (who and when aside).
    fn same_state(&self, other: &IncidentTicketUpdated) -> bool {
        (&self.status, &self.priority, &self.summary) == (&other.status, &other.priority, &other.summary)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum IncidentEvent {
    IncidentReported(IncidentReported),
    IncidentTriaged(IncidentTriaged),
    IncidentContained(IncidentStep),
    IncidentResolved(IncidentStep),
    LessonsLearnedRecorded(IncidentStep),
    IncidentClosed(IncidentStep),
    AuthorityNotified(AuthorityNotified),
    NonconformityRaisedForIncident(NonconformityRaisedForIncident),
    /// The incident is the ISMS record of this ticket (reported from a ticketing system).
    IncidentTicketLinked(TicketRef),
    IncidentTicketUpdated(IncidentTicketUpdated),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub report: Option<IncidentReported>,
    pub status: IncidentStatus,
    pub triage: Option<IncidentTriaged>,
    pub containment: Option<IncidentStep>,
    pub resolution: Option<IncidentStep>,
    pub lessons_learned: Option<IncidentStep>,
    pub closure: Option<IncidentStep>,
    pub notification: Option<AuthorityNotified>,
    pub nonconformity: Option<NonconformityRaisedForIncident>,
    pub ticket: Option<TicketRef>,
    /// The ticket's state as last reported.
    pub ticket_state: Option<IncidentTicketUpdated>,
}

impl Incident {
    pub fn exists(&self) -> bool {
        self.report.is_some()
    }

    pub fn personal_data_breach(&self) -> bool {
        self.triage.as_ref().is_some_and(|t| t.personal_data_breach)
    }

    /// When the supervisory authority must have been notified, for a personal data breach.
    pub fn notification_due_at(&self) -> Option<DateTime<Utc>> {
        let detected_at = self.report.as_ref()?.detected_at;
        self.personal_data_breach().then(|| detected_at + Duration::hours(NOTIFICATION_WINDOW_HOURS))
    }

    pub fn report(&self, report: IncidentReported, now: DateTime<Utc>) -> Result<Vec<IncidentEvent>, DomainError> {
        if report.detected_at > now + Duration::minutes(CLOCK_SKEW_MINUTES) {
            return Err(DomainError::at(ErrorCode::DetectedInFuture, "/detected_at", "detected_at is in the future"));
        }
        Ok(vec![IncidentEvent::IncidentReported(report)])
    }

    /// Reports an incident that a ticketing system opened: the report and the link to its
    /// ticket, in one append, so the ticket's later updates find the incident.
    pub fn report_from_ticket(
        &self,
        report: IncidentReported,
        ticket: TicketRef,
        state: IncidentTicketUpdated,
        now: DateTime<Utc>,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        let mut events = self.report(report, now)?;
        events.push(IncidentEvent::IncidentTicketLinked(ticket));
        events.push(IncidentEvent::IncidentTicketUpdated(state));
        Ok(events)
    }

    /// Records the ticket's state as the ticketing system reports it now.
    pub fn record_ticket_update(&self, update: IncidentTicketUpdated) -> Result<Vec<IncidentEvent>, DomainError> {
        if self.status == IncidentStatus::Closed {
            return Err(DomainError::new(ErrorCode::IncidentClosed, "the incident is closed"));
        }
        if !self.ticket.as_ref().is_some_and(|t| t.is(&update.system, &update.key)) {
            return Err(DomainError::new(
                ErrorCode::TicketNotLinked,
                format!("{} ticket {} is not the ticket of this incident", update.system, update.key),
            ));
        }
        if self.ticket_state.as_ref().is_some_and(|last| last.same_state(&update)) {
            return Err(DomainError::new(
                ErrorCode::NothingChanged,
                "the ticket's status, priority and summary are unchanged",
            ));
        }
        Ok(vec![IncidentEvent::IncidentTicketUpdated(update)])
    }

    /// The forward-only lifecycle: `step` is allowed from the statuses in `from` only.
    fn ensure_step(&self, step: &str, from: &[IncidentStatus]) -> Result<(), DomainError> {
        if self.status == IncidentStatus::Closed {
            return Err(DomainError::new(ErrorCode::IncidentClosed, "the incident is closed"));
        }
        if !from.contains(&self.status) {
            let status = IncidentStatus::NAMES[self.status as usize];
            return Err(DomainError::new(
                ErrorCode::IncidentTransitionNotAllowed,
                format!("an incident that is {status} cannot be {step}: the lifecycle only moves forward"),
            ));
        }
        Ok(())
    }

    pub fn triage(
        &self,
        severity: IncidentSeverity,
        category: IncidentCategory,
        personal_data_breach: bool,
        actor: &Actor,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        self.ensure_step("triaged", &[IncidentStatus::Reported])?;
        Ok(vec![IncidentEvent::IncidentTriaged(IncidentTriaged {
            severity,
            category,
            personal_data_breach,
            triaged_by: actor.subject.clone(),
        })])
    }

    pub fn contain(&self, text: String, actor: &Actor) -> Result<Vec<IncidentEvent>, DomainError> {
        self.ensure_step("contained", &[IncidentStatus::Triaged])?;
        Ok(vec![IncidentEvent::IncidentContained(IncidentStep { text, by: actor.subject.clone() })])
    }

    /// Containment may have been unnecessary (a phishing mail deleted unopened), so a triaged
    /// incident may be resolved directly.
    pub fn resolve(&self, text: String, actor: &Actor) -> Result<Vec<IncidentEvent>, DomainError> {
        self.ensure_step("resolved", &[IncidentStatus::Triaged, IncidentStatus::Contained])?;
        Ok(vec![IncidentEvent::IncidentResolved(IncidentStep { text, by: actor.subject.clone() })])
    }

    /// A.5.27: knowledge gained from the incident, recorded once it is resolved.
    pub fn record_lessons_learned(&self, text: String, actor: &Actor) -> Result<Vec<IncidentEvent>, DomainError> {
        self.ensure_step("given lessons learned", &[IncidentStatus::Resolved])?;
        Ok(vec![IncidentEvent::LessonsLearnedRecorded(IncidentStep { text, by: actor.subject.clone() })])
    }

    pub fn close(&self, text: String, actor: &Actor) -> Result<Vec<IncidentEvent>, DomainError> {
        if self.status == IncidentStatus::Resolved {
            return Err(DomainError::new(
                ErrorCode::LessonsLearnedRequired,
                "record the lessons learned (A.5.27) before closing the incident",
            ));
        }
        self.ensure_step("closed", &[IncidentStatus::LessonsLearned])?;
        Ok(vec![IncidentEvent::IncidentClosed(IncidentStep { text, by: actor.subject.clone() })])
    }

    pub fn notify_authority(
        &self,
        notified_at: DateTime<Utc>,
        authority: String,
        reference: Option<String>,
        actor: &Actor,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        if self.status == IncidentStatus::Closed {
            return Err(DomainError::new(ErrorCode::IncidentClosed, "the incident is closed"));
        }
        if !self.personal_data_breach() {
            return Err(DomainError::new(
                ErrorCode::NotAPersonalDataBreach,
                "only an incident triaged as a personal data breach is notified to the authority",
            ));
        }
        if self.notification.is_some() {
            return Err(DomainError::new(ErrorCode::AuthorityAlreadyNotified, "the authority is already notified"));
        }
        if self.report.as_ref().is_some_and(|r| notified_at < r.detected_at) {
            return Err(DomainError::at(
                ErrorCode::NotifiedBeforeDetection,
                "/notified_at",
                "the authority cannot have been notified before the incident was detected",
            ));
        }
        Ok(vec![IncidentEvent::AuthorityNotified(AuthorityNotified {
            notified_at,
            authority,
            reference,
            recorded_by: actor.subject.clone(),
        })])
    }

    /// One nonconformity per incident (10.2), at any stage: lessons learned after closing may
    /// still reveal one. `nonconformity_id` is drawn by the caller.
    pub fn raise_nonconformity(
        &self,
        nonconformity_id: Uuid,
        severity: Severity,
        reference: Option<String>,
        actor: &Actor,
    ) -> Result<Vec<IncidentEvent>, DomainError> {
        if let Some(existing) = &self.nonconformity {
            return Err(DomainError::new(
                ErrorCode::IncidentNonconformityAlreadyRaised,
                format!("the incident already raised nonconformity {}", existing.nonconformity_id),
            ));
        }
        Ok(vec![IncidentEvent::NonconformityRaisedForIncident(NonconformityRaisedForIncident {
            nonconformity_id,
            severity,
            reference,
            raised_by: actor.subject.clone(),
        })])
    }

    /// The nonconformity this incident raised, as it goes into the register: its id and its
    /// content, which depend only on the report and the raising event, so a retry raises the same.
    pub fn caused_nonconformity(&self) -> Option<(Uuid, NonconformityRaised)> {
        let (report, raised) = (self.report.as_ref()?, self.nonconformity.as_ref()?);
        Some((
            raised.nonconformity_id,
            NonconformityRaised {
                title: report.title.clone(),
                description: report.description.clone(),
                source: NonconformitySource::Incident,
                severity: raised.severity,
                reference: raised.reference.clone(),
                detected_at: report.detected_at,
            },
        ))
    }
}

impl Aggregate for Incident {
    type Event = IncidentEvent;
    const STREAM_TYPE: &'static str = "incident";

    fn apply(&mut self, event: &IncidentEvent) {
        match event {
            IncidentEvent::IncidentReported(report) => self.report = Some(report.clone()),
            IncidentEvent::IncidentTriaged(triage) => {
                self.triage = Some(triage.clone());
                self.status = IncidentStatus::Triaged;
            }
            IncidentEvent::IncidentContained(step) => {
                self.containment = Some(step.clone());
                self.status = IncidentStatus::Contained;
            }
            IncidentEvent::IncidentResolved(step) => {
                self.resolution = Some(step.clone());
                self.status = IncidentStatus::Resolved;
            }
            IncidentEvent::LessonsLearnedRecorded(step) => {
                self.lessons_learned = Some(step.clone());
                self.status = IncidentStatus::LessonsLearned;
            }
            IncidentEvent::IncidentClosed(step) => {
                self.closure = Some(step.clone());
                self.status = IncidentStatus::Closed;
            }
            IncidentEvent::AuthorityNotified(notified) => self.notification = Some(notified.clone()),
            IncidentEvent::NonconformityRaisedForIncident(raised) => self.nonconformity = Some(raised.clone()),
            IncidentEvent::IncidentTicketLinked(ticket) => self.ticket = Some(ticket.clone()),
            IncidentEvent::IncidentTicketUpdated(update) => self.ticket_state = Some(update.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> Actor {
        Actor { subject: "bob".into(), is_admin: false }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap().and_hms_opt(hour, 0, 0).unwrap().and_utc()
    }

    fn reported() -> IncidentEvent {
        IncidentEvent::IncidentReported(IncidentReported {
            title: "Laptop stolen".into(),
            description: "From a car".into(),
            detected_at: at(9),
            reported_by: "dave".into(),
        })
    }

    fn triaged(personal_data_breach: bool) -> IncidentEvent {
        IncidentEvent::IncidentTriaged(IncidentTriaged {
            severity: IncidentSeverity::High,
            category: IncidentCategory::Physical,
            personal_data_breach,
            triaged_by: "bob".into(),
        })
    }

    fn step() -> IncidentStep {
        IncidentStep { text: "done".into(), by: "bob".into() }
    }

    fn given(events: &[IncidentEvent]) -> Incident {
        let mut incident = Incident::default();
        events.iter().for_each(|e| incident.apply(e));
        incident
    }

    #[test]
    fn detection_cannot_be_in_the_future() {
        let IncidentEvent::IncidentReported(mut report) = reported() else { unreachable!() };
        report.detected_at = at(12);
        let error = Incident::default().report(report.clone(), at(11)).unwrap_err();
        assert_eq!((error.code, error.pointer.as_deref()), (ErrorCode::DetectedInFuture, Some("/detected_at")));
        assert!(Incident::default().report(report, at(12)).is_ok());
    }

    #[test]
    fn the_lifecycle_only_moves_forward() {
        let new = given(&[reported()]);
        assert_eq!(new.contain("x".into(), &actor()).unwrap_err().code, ErrorCode::IncidentTransitionNotAllowed);
        assert_eq!(new.resolve("x".into(), &actor()).unwrap_err().code, ErrorCode::IncidentTransitionNotAllowed);
        let contained = given(&[reported(), triaged(false), IncidentEvent::IncidentContained(step())]);
        let again = contained.triage(IncidentSeverity::Low, IncidentCategory::Other, false, &actor());
        assert_eq!(again.unwrap_err().code, ErrorCode::IncidentTransitionNotAllowed);
        assert_eq!(contained.contain("x".into(), &actor()).unwrap_err().code, ErrorCode::IncidentTransitionNotAllowed);
        assert!(contained.resolve("fixed".into(), &actor()).is_ok());
        // Containment is not always needed.
        assert!(given(&[reported(), triaged(false)]).resolve("deleted".into(), &actor()).is_ok());
    }

    #[test]
    fn closing_requires_lessons_learned() {
        let resolved = given(&[reported(), triaged(false), IncidentEvent::IncidentResolved(step())]);
        assert_eq!(resolved.close("x".into(), &actor()).unwrap_err().code, ErrorCode::LessonsLearnedRequired);
        let learned = given(&[
            reported(),
            triaged(false),
            IncidentEvent::IncidentResolved(step()),
            IncidentEvent::LessonsLearnedRecorded(step()),
        ]);
        let mut closed = learned.clone();
        closed.apply(&learned.close("done".into(), &actor()).unwrap()[0]);
        assert_eq!(closed.status, IncidentStatus::Closed);
        assert_eq!(closed.close("x".into(), &actor()).unwrap_err().code, ErrorCode::IncidentClosed);
        let late = closed.record_lessons_learned("x".into(), &actor());
        assert_eq!(late.unwrap_err().code, ErrorCode::IncidentClosed);
    }

    #[test]
    fn a_personal_data_breach_has_a_72_hour_deadline_and_is_notified_once() {
        let breach = given(&[reported(), triaged(true)]);
        assert_eq!(breach.notification_due_at(), Some(at(9) + Duration::hours(72)));
        assert_eq!(given(&[reported(), triaged(false)]).notification_due_at(), None);
        let early = breach.notify_authority(at(8), "PPC".into(), None, &actor()).unwrap_err();
        assert_eq!(early.code, ErrorCode::NotifiedBeforeDetection);
        let events = breach.notify_authority(at(15), "PPC".into(), Some("R-1".into()), &actor()).unwrap();
        let mut notified = breach.clone();
        notified.apply(&events[0]);
        let twice = notified.notify_authority(at(16), "PPC".into(), None, &actor()).unwrap_err();
        assert_eq!(twice.code, ErrorCode::AuthorityAlreadyNotified);
    }

    #[test]
    fn only_a_personal_data_breach_is_notified() {
        for incident in [given(&[reported()]), given(&[reported(), triaged(false)])] {
            let error = incident.notify_authority(at(10), "PPC".into(), None, &actor()).unwrap_err();
            assert_eq!(error.code, ErrorCode::NotAPersonalDataBreach);
        }
    }

    #[test]
    fn one_nonconformity_per_incident() {
        let mut incident = given(&[reported(), triaged(false)]);
        let id = Uuid::from_u128(5);
        let events = incident.raise_nonconformity(id, Severity::Minor, Some("A.5.26".into()), &actor()).unwrap();
        incident.apply(&events[0]);
        let (nc_id, raised) = incident.caused_nonconformity().unwrap();
        assert_eq!((nc_id, raised.source, raised.detected_at), (id, NonconformitySource::Incident, at(9)));
        let again = incident.raise_nonconformity(Uuid::from_u128(6), Severity::Major, None, &actor()).unwrap_err();
        assert_eq!(again.code, ErrorCode::IncidentNonconformityAlreadyRaised);
        assert!(again.detail.contains(&id.to_string()));
    }

    fn ticket_state(status: &str) -> IncidentTicketUpdated {
        IncidentTicketUpdated {
            system: "servicenow".into(),
            key: "INC0010023".into(),
            status: status.into(),
            priority: Some("2".into()),
            summary: Some("Phishing".into()),
            changed_by: None,
            changed_at: None,
            delivery_id: "d".into(),
        }
    }

    fn from_ticket() -> Incident {
        let IncidentEvent::IncidentReported(report) = reported() else { unreachable!() };
        let ticket = TicketRef { system: "servicenow".into(), key: "INC0010023".into(), url: None };
        let events = Incident::default().report_from_ticket(report, ticket, ticket_state("1"), at(10)).unwrap();
        assert_eq!(events.len(), 3);
        given(&events)
    }

    #[test]
    fn a_ticket_update_needs_the_incidents_own_ticket_and_a_change() {
        let incident = from_ticket();
        let events = incident.record_ticket_update(ticket_state("2")).unwrap();
        let mut updated = incident.clone();
        updated.apply(&events[0]);
        assert_eq!(updated.ticket_state.as_ref().map(|s| s.status.as_str()), Some("2"));
        let same = updated.record_ticket_update(ticket_state("2")).unwrap_err();
        assert_eq!(same.code, ErrorCode::NothingChanged);
        let mut other = ticket_state("3");
        other.key = "INC0099999".into();
        assert_eq!(updated.record_ticket_update(other).unwrap_err().code, ErrorCode::TicketNotLinked);
        // An incident reported by a person has no ticket to update.
        let manual = given(&[reported()]).record_ticket_update(ticket_state("2")).unwrap_err();
        assert_eq!(manual.code, ErrorCode::TicketNotLinked);
    }

    #[test]
    fn a_closed_incident_takes_no_ticket_update() {
        let mut incident = from_ticket();
        incident.apply(&IncidentEvent::IncidentClosed(step()));
        assert_eq!(incident.record_ticket_update(ticket_state("7")).unwrap_err().code, ErrorCode::IncidentClosed);
    }
}

//! Documented information (ISO/IEC 27001 7.5): documents whose versions are drafted, reviewed,
//! approved by someone other than their author (7.5.2 c), published (superseding the version
//! before), and reviewed again within the document's review interval; documents are withdrawn,
//! never deleted (7.5.3).

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{DomainError, ErrorCode};
use crate::{Actor, Aggregate};

/// The longest review interval accepted, in months (five years).
pub const MAX_REVIEW_INTERVAL_MONTHS: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    Policy,
    Procedure,
    Standard,
    Guideline,
    Record,
    Other,
}

impl DocumentType {
    pub const NAMES: &'static [&'static str] = &["policy", "procedure", "standard", "guideline", "record", "other"];
}

/// `draft` until a first version is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    #[default]
    Draft,
    Published,
    Withdrawn,
}

impl DocumentStatus {
    pub const NAMES: &'static [&'static str] = &["draft", "published", "withdrawn"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    #[default]
    Draft,
    InReview,
    Approved,
    Published,
    Superseded,
    Rejected,
}

impl VersionStatus {
    pub const NAMES: &'static [&'static str] =
        &["draft", "in_review", "approved", "published", "superseded", "rejected"];

    /// Drafted but neither published nor rejected yet: the one version in the works.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Draft | Self::InReview | Self::Approved)
    }
}

/// Checks a review interval: whole months, 1 to [`MAX_REVIEW_INTERVAL_MONTHS`].
pub fn review_interval(pointer: &str, months: u32) -> Result<u32, DomainError> {
    if (1..=MAX_REVIEW_INTERVAL_MONTHS).contains(&months) {
        return Ok(months);
    }
    Err(DomainError::at(
        ErrorCode::ValidationFailed,
        pointer,
        format!("must be 1 to {MAX_REVIEW_INTERVAL_MONTHS} months"),
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRegistered {
    pub title: String,
    pub document_type: DocumentType,
    pub owner: String,
    pub review_interval_months: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentVersionDrafted {
    pub version_id: Uuid,
    pub label: String,
    pub change_summary: String,
    /// Where the content lives (URL, repository path) or its hash (`sha256:...`).
    pub content_ref: String,
    pub author: String,
}

/// A step a version goes through (submission, approval, rejection) and who took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentVersionStep {
    pub version_id: Uuid,
    pub by: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentVersionPublished {
    pub version_id: Uuid,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
    /// e.g. how the version was communicated (7.5.3 b).
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentVersionSuperseded {
    pub version_id: Uuid,
    pub superseded_by: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentWithdrawn {
    pub reason: String,
    pub withdrawn_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum DocumentEvent {
    DocumentRegistered(DocumentRegistered),
    DocumentVersionDrafted(DocumentVersionDrafted),
    DocumentVersionSubmitted(DocumentVersionStep),
    DocumentVersionApproved(DocumentVersionStep),
    DocumentVersionRejected(DocumentVersionStep),
    DocumentVersionPublished(DocumentVersionPublished),
    DocumentVersionSuperseded(DocumentVersionSuperseded),
    DocumentWithdrawn(DocumentWithdrawn),
}

/// One version and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentVersion {
    pub drafted: DocumentVersionDrafted,
    pub status: VersionStatus,
    pub submission: Option<DocumentVersionStep>,
    pub approval: Option<DocumentVersionStep>,
    pub rejection: Option<DocumentVersionStep>,
    pub publication: Option<DocumentVersionPublished>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Document {
    pub details: Option<DocumentRegistered>,
    pub versions: Vec<DocumentVersion>,
    pub withdrawal: Option<DocumentWithdrawn>,
}

impl Document {
    pub fn exists(&self) -> bool {
        self.details.is_some()
    }

    pub fn status(&self) -> DocumentStatus {
        if self.withdrawal.is_some() {
            DocumentStatus::Withdrawn
        } else if self.published().is_some() {
            DocumentStatus::Published
        } else {
            DocumentStatus::Draft
        }
    }

    /// The version in force.
    pub fn published(&self) -> Option<&DocumentVersion> {
        self.versions.iter().find(|v| v.status == VersionStatus::Published)
    }

    /// The version in the works, if any (there is at most one).
    pub fn pending(&self) -> Option<&DocumentVersion> {
        self.versions.iter().find(|v| v.status.is_pending())
    }

    /// The last publication plus the review interval; `None` before a first publication and
    /// once withdrawn (a withdrawn document is not reviewed).
    pub fn review_due_on(&self) -> Option<NaiveDate> {
        let months = self.details.as_ref()?.review_interval_months;
        if self.withdrawal.is_some() {
            return None;
        }
        let published_on = self.published()?.publication.as_ref()?.published_at.date_naive();
        published_on.checked_add_months(Months::new(months))
    }

    pub fn register(&self, details: DocumentRegistered) -> Result<Vec<DocumentEvent>, DomainError> {
        Ok(vec![DocumentEvent::DocumentRegistered(details)])
    }

    fn ensure_active(&self) -> Result<(), DomainError> {
        if self.withdrawal.is_some() {
            return Err(DomainError::new(ErrorCode::DocumentWithdrawn, "the document is withdrawn"));
        }
        Ok(())
    }

    fn ensure_pending(&self) -> Result<&DocumentVersion, DomainError> {
        self.ensure_active()?;
        self.pending().ok_or_else(|| {
            DomainError::new(
                ErrorCode::DocumentNoPendingVersion,
                "the document has no version in draft, review or approval",
            )
        })
    }

    /// One draft at a time, so review and approval always concern one known version.
    pub fn draft_version(
        &self,
        version_id: Uuid,
        label: String,
        change_summary: String,
        content_ref: String,
        actor: &Actor,
    ) -> Result<Vec<DocumentEvent>, DomainError> {
        self.ensure_active()?;
        if let Some(pending) = self.pending() {
            return Err(DomainError::new(
                ErrorCode::DocumentDraftAlreadyOpen,
                format!("version '{}' is still in the works; publish or reject it first", pending.drafted.label),
            ));
        }
        if self.versions.iter().any(|v| v.status != VersionStatus::Rejected && v.drafted.label == label) {
            return Err(DomainError::new(
                ErrorCode::DocumentVersionLabelTaken,
                format!("the document already has a version '{label}'"),
            ));
        }
        Ok(vec![DocumentEvent::DocumentVersionDrafted(DocumentVersionDrafted {
            version_id,
            label,
            change_summary,
            content_ref,
            author: actor.subject.clone(),
        })])
    }

    pub fn submit(&self, note: String, actor: &Actor) -> Result<Vec<DocumentEvent>, DomainError> {
        let pending = self.ensure_pending()?;
        if pending.status != VersionStatus::Draft {
            return Err(DomainError::new(ErrorCode::DocumentVersionNotDraft, "the version is already submitted"));
        }
        Ok(vec![DocumentEvent::DocumentVersionSubmitted(step(pending, note, actor))])
    }

    /// 7.5.2 c review and approval, with four eyes: the author does not approve their own text.
    pub fn approve(&self, note: String, actor: &Actor) -> Result<Vec<DocumentEvent>, DomainError> {
        let pending = self.ensure_pending()?;
        if pending.status != VersionStatus::InReview {
            return Err(DomainError::new(
                ErrorCode::DocumentVersionNotInReview,
                "only a version in review is approved",
            ));
        }
        if pending.drafted.author == actor.subject {
            return Err(DomainError::new(
                ErrorCode::ApproverIsAuthor,
                format!("'{}' wrote this version: someone else must approve it", actor.subject),
            ));
        }
        Ok(vec![DocumentEvent::DocumentVersionApproved(step(pending, note, actor))])
    }

    /// Sends the pending version back for good (a new draft may follow).
    pub fn reject(&self, note: String, actor: &Actor) -> Result<Vec<DocumentEvent>, DomainError> {
        let pending = self.ensure_pending()?;
        Ok(vec![DocumentEvent::DocumentVersionRejected(step(pending, note, actor))])
    }

    pub fn publish(&self, note: String, actor: &Actor, at: DateTime<Utc>) -> Result<Vec<DocumentEvent>, DomainError> {
        let pending = self.ensure_pending()?;
        if pending.status != VersionStatus::Approved {
            return Err(DomainError::new(
                ErrorCode::DocumentVersionNotApproved,
                "only an approved version is published",
            ));
        }
        let version_id = pending.drafted.version_id;
        let mut events = vec![DocumentEvent::DocumentVersionPublished(DocumentVersionPublished {
            version_id,
            published_by: actor.subject.clone(),
            published_at: at,
            note,
        })];
        if let Some(previous) = self.published() {
            events.push(DocumentEvent::DocumentVersionSuperseded(DocumentVersionSuperseded {
                version_id: previous.drafted.version_id,
                superseded_by: version_id,
            }));
        }
        Ok(events)
    }

    pub fn withdraw(&self, reason: String, actor: &Actor) -> Result<Vec<DocumentEvent>, DomainError> {
        self.ensure_active()?;
        Ok(vec![DocumentEvent::DocumentWithdrawn(DocumentWithdrawn { reason, withdrawn_by: actor.subject.clone() })])
    }

    fn version_mut(&mut self, version_id: Uuid) -> Option<&mut DocumentVersion> {
        self.versions.iter_mut().find(|v| v.drafted.version_id == version_id)
    }
}

fn step(version: &DocumentVersion, note: String, actor: &Actor) -> DocumentVersionStep {
    DocumentVersionStep { version_id: version.drafted.version_id, by: actor.subject.clone(), note }
}

impl Aggregate for Document {
    type Event = DocumentEvent;
    const STREAM_TYPE: &'static str = "document";

    fn apply(&mut self, event: &DocumentEvent) {
        match event {
            DocumentEvent::DocumentRegistered(details) => self.details = Some(details.clone()),
            DocumentEvent::DocumentVersionDrafted(drafted) => self.versions.push(DocumentVersion {
                drafted: drafted.clone(),
                status: VersionStatus::Draft,
                submission: None,
                approval: None,
                rejection: None,
                publication: None,
            }),
            DocumentEvent::DocumentVersionSubmitted(s) => {
                if let Some(v) = self.version_mut(s.version_id) {
                    v.submission = Some(s.clone());
                    v.status = VersionStatus::InReview;
                }
            }
            DocumentEvent::DocumentVersionApproved(s) => {
                if let Some(v) = self.version_mut(s.version_id) {
                    v.approval = Some(s.clone());
                    v.status = VersionStatus::Approved;
                }
            }
            DocumentEvent::DocumentVersionRejected(s) => {
                if let Some(v) = self.version_mut(s.version_id) {
                    v.rejection = Some(s.clone());
                    v.status = VersionStatus::Rejected;
                }
            }
            DocumentEvent::DocumentVersionPublished(p) => {
                if let Some(v) = self.version_mut(p.version_id) {
                    v.publication = Some(p.clone());
                    v.status = VersionStatus::Published;
                }
            }
            DocumentEvent::DocumentVersionSuperseded(s) => {
                if let Some(v) = self.version_mut(s.version_id) {
                    v.status = VersionStatus::Superseded;
                }
            }
            DocumentEvent::DocumentWithdrawn(withdrawn) => self.withdrawal = Some(withdrawn.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(subject: &str) -> Actor {
        Actor { subject: subject.into(), is_admin: false }
    }

    fn at(day: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 1, day).unwrap().and_hms_opt(9, 0, 0).unwrap().and_utc()
    }

    fn registered() -> Document {
        let mut document = Document::default();
        let details = DocumentRegistered {
            title: "Backup procedure".into(),
            document_type: DocumentType::Procedure,
            owner: "bob".into(),
            review_interval_months: 12,
        };
        document.apply(&document.register(details).unwrap()[0]);
        document
    }

    fn run(document: &mut Document, decide: impl FnOnce(&Document) -> Result<Vec<DocumentEvent>, DomainError>) {
        decide(document).unwrap().iter().for_each(|e| document.apply(e));
    }

    fn draft(document: &mut Document, label: &str, author: &str) {
        let id = Uuid::from_u128(document.versions.len() as u128 + 1);
        run(document, |d| d.draft_version(id, label.into(), "change".into(), "sha256:ab".into(), &actor(author)));
    }

    /// Drafts by bob, reviewed and approved by carol, published.
    fn published(document: &mut Document, label: &str, day: u32) {
        draft(document, label, "bob");
        run(document, |d| d.submit(String::new(), &actor("bob")));
        run(document, |d| d.approve(String::new(), &actor("carol")));
        run(document, |d| d.publish(String::new(), &actor("carol"), at(day)));
    }

    #[test]
    fn review_intervals_are_one_to_sixty_months() {
        assert!(review_interval("/m", 12).is_ok());
        for bad in [0, 61] {
            assert_eq!(review_interval("/m", bad).unwrap_err().code, ErrorCode::ValidationFailed);
        }
    }

    #[test]
    fn one_draft_at_a_time_with_unique_labels() {
        let mut document = registered();
        draft(&mut document, "1.0", "bob");
        let second = document.draft_version(Uuid::from_u128(9), "1.1".into(), String::new(), "x".into(), &actor("bob"));
        assert_eq!(second.unwrap_err().code, ErrorCode::DocumentDraftAlreadyOpen);
        run(&mut document, |d| d.reject("not needed".into(), &actor("carol")));
        // A rejected label may be used again; a published one may not.
        published(&mut document, "1.0", 5);
        let again = document.draft_version(Uuid::from_u128(9), "1.0".into(), String::new(), "x".into(), &actor("bob"));
        assert_eq!(again.unwrap_err().code, ErrorCode::DocumentVersionLabelTaken);
    }

    #[test]
    fn the_author_cannot_approve_their_own_version() {
        let mut document = registered();
        draft(&mut document, "1.0", "bob");
        run(&mut document, |d| d.submit(String::new(), &actor("bob")));
        assert_eq!(document.approve(String::new(), &actor("bob")).unwrap_err().code, ErrorCode::ApproverIsAuthor);
        assert!(document.approve(String::new(), &actor("carol")).is_ok());
    }

    #[test]
    fn versions_go_through_review_and_approval_in_order() {
        let mut document = registered();
        let none = document.submit(String::new(), &actor("bob")).unwrap_err();
        assert_eq!(none.code, ErrorCode::DocumentNoPendingVersion);
        draft(&mut document, "1.0", "bob");
        let unreviewed = document.approve(String::new(), &actor("carol")).unwrap_err();
        assert_eq!(unreviewed.code, ErrorCode::DocumentVersionNotInReview);
        let unapproved = document.publish(String::new(), &actor("carol"), at(1)).unwrap_err();
        assert_eq!(unapproved.code, ErrorCode::DocumentVersionNotApproved);
        run(&mut document, |d| d.submit(String::new(), &actor("bob")));
        let twice = document.submit(String::new(), &actor("bob")).unwrap_err();
        assert_eq!(twice.code, ErrorCode::DocumentVersionNotDraft);
    }

    #[test]
    fn publishing_supersedes_the_previous_version_and_sets_the_review_date() {
        let mut document = registered();
        assert_eq!(document.status(), DocumentStatus::Draft);
        published(&mut document, "1.0", 5);
        assert_eq!(document.review_due_on(), NaiveDate::from_ymd_opt(2027, 1, 5));
        published(&mut document, "1.1", 20);
        let statuses: Vec<VersionStatus> = document.versions.iter().map(|v| v.status).collect();
        assert_eq!(statuses, [VersionStatus::Superseded, VersionStatus::Published]);
        assert_eq!(document.review_due_on(), NaiveDate::from_ymd_opt(2027, 1, 20));
        assert_eq!(document.status(), DocumentStatus::Published);
    }

    #[test]
    fn a_withdrawn_document_takes_no_more_commands() {
        let mut document = registered();
        published(&mut document, "1.0", 5);
        run(&mut document, |d| d.withdraw("replaced by the IT manual".into(), &actor("bob")));
        assert_eq!((document.status(), document.review_due_on()), (DocumentStatus::Withdrawn, None));
        assert_eq!(document.withdraw("again".into(), &actor("bob")).unwrap_err().code, ErrorCode::DocumentWithdrawn);
        let drafted =
            document.draft_version(Uuid::from_u128(9), "2.0".into(), String::new(), "x".into(), &actor("bob"));
        assert_eq!(drafted.unwrap_err().code, ErrorCode::DocumentWithdrawn);
    }
}

//! Training completions pushed by a learning platform (ISO/IEC 27001 7.2, 7.3), in batches.
//!
//! Each item names the person as the HR system does (`external_id` or `user_name`), the course
//! (`course_id`, or its exact `course_title`), and carries the sender's completion id. The
//! batch is answered item by item: recorded, duplicate (that completion id is already in the
//! log: resending is always safe, across restarts, because the log itself is what is checked),
//! or rejected with the reason. Nothing is dropped silently. Each recorded item is its own
//! `TrainingCompleted` event on the person's stream, attributed to the token's `sub` with
//! `source = "training"`.

use std::collections::BTreeSet;

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use isms_app::{AppError, CommandContext, Creation, Ledger, ReadPoint};
use isms_domain::people::{Person, PersonStatus};
use isms_domain::training::{CompletionReport, TrainingCourse};
use isms_domain::values::{required_line, MAX_LINE};
use isms_domain::{Actor, ErrorCode};
use isms_projections::Registers;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Authorized, IntegrationsScope};
use crate::problem::{ApiError, CommandProblems};
use crate::request::{correlation_id, CommandBody};

/// What events recorded here carry as the envelope's `source`.
const SOURCE: &str = "training";
/// Most items one batch may carry.
const MAX_ITEMS: usize = 500;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(record_training_completions);
}

/// One completion as the learning platform reports it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainingCompletionItem {
    /// The sender's id of this completion; a second item with it is a duplicate.
    pub completion_id: String,
    /// The person's id in the HR system (as provisioned over SCIM `externalId`).
    pub external_id: Option<String>,
    /// The person's user name (case-insensitive), when no `external_id` is given.
    pub user_name: Option<String>,
    pub course_id: Option<Uuid>,
    /// The course's exact title (case-insensitive), when no `course_id` is given.
    pub course_title: Option<String>,
    pub completed_on: NaiveDate,
    /// Percent, when the course is scored. An item with a score over 100 is answered rejected
    /// (the rest of the batch is still recorded).
    #[schema(maximum = 255)]
    pub score: Option<u8>,
}

/// A batch of completions.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"completions": [
    {"completion_id": "lms-88121", "external_id": "HR-00042", "course_title": "Security awareness 2026",
     "completed_on": "2026-11-20", "score": 92},
    {"completion_id": "lms-88122", "user_name": "kenji.tanaka@example.com",
     "course_id": "0193c7e0-0000-7000-8000-000000000000", "completed_on": "2026-11-21"}
]}))]
pub struct TrainingCompletionBatch {
    /// 1 to 500 items.
    #[schema(min_items = 1, max_items = 500)]
    pub completions: Vec<TrainingCompletionItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedCompletion {
    /// Index of the item in the batch.
    pub index: usize,
    pub completion_id: String,
    pub person_id: Uuid,
    pub course_id: Uuid,
    /// Log position of the `TrainingCompleted` event.
    pub position: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCompletion {
    pub index: usize,
    pub completion_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedCompletion {
    pub index: usize,
    pub completion_id: String,
    /// `invalid_item`, `unknown_person`, `unknown_course`, or a domain code such as
    /// `person_left` or `date_in_future`.
    pub code: String,
    pub detail: String,
}

/// What became of each item of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingCompletionOutcome {
    pub recorded: Vec<RecordedCompletion>,
    pub duplicate: Vec<DuplicateCompletion>,
    pub rejected: Vec<RejectedCompletion>,
}

/// An item matched to the register, ready to record.
struct Matched {
    person_id: Uuid,
    course: TrainingCourse,
    report: CompletionReport,
}

enum Disposition {
    Record(Box<Matched>),
    Duplicate,
    Rejected(&'static str, String),
}

fn check_item(item: &TrainingCompletionItem) -> Result<String, String> {
    let completion_id = required_line("/completion_id", &item.completion_id, MAX_LINE).map_err(|e| e.detail)?;
    if item.external_id.is_some() == item.user_name.is_some() {
        return Err("give exactly one of external_id and user_name".into());
    }
    if item.course_id.is_some() == item.course_title.is_some() {
        return Err("give exactly one of course_id and course_title".into());
    }
    if item.score.is_some_and(|score| score > 100) {
        return Err("score must be a percentage, 0 to 100".into());
    }
    Ok(completion_id)
}

/// The person an item names: among several with that user name (one left, one rejoined
/// under it later), the one who has not left, else the latest.
fn find_person(registers: &Registers, item: &TrainingCompletionItem) -> Option<Uuid> {
    let matches = registers.people.iter().filter(|(_, entry)| {
        let person = &entry.state;
        person.exists()
            && match (&item.external_id, &item.user_name) {
                (Some(external_id), _) => person.external_id.as_deref() == Some(external_id.trim()),
                (None, Some(user_name)) => person.user_name.eq_ignore_ascii_case(user_name.trim()),
                (None, None) => false,
            }
    });
    let candidates: Vec<(&Uuid, &isms_projections::Entry<Person>)> = matches.collect();
    candidates
        .iter()
        .find(|(_, entry)| entry.state.status == PersonStatus::Active)
        .or_else(|| candidates.last())
        .map(|(id, _)| **id)
}

fn find_course(registers: &Registers, item: &TrainingCompletionItem) -> Option<(Uuid, TrainingCourse)> {
    registers
        .training_courses
        .iter()
        .filter(|(_, entry)| entry.state.exists())
        .find(|(id, entry)| match (&item.course_id, &item.course_title) {
            (Some(course_id), _) => *id == course_id,
            (None, Some(title)) => {
                entry.state.details.as_ref().is_some_and(|d| d.title.eq_ignore_ascii_case(title.trim()))
            }
            (None, None) => false,
        })
        .map(|(id, entry)| (*id, entry.state.clone()))
}

/// Decides each item against one reading of the registers.
fn match_items(registers: &Registers, items: &[TrainingCompletionItem]) -> Vec<Disposition> {
    let mut recorded: BTreeSet<String> = registers
        .people
        .values()
        .flat_map(|entry| entry.state.completions.iter().map(|c| c.completion_id.clone()))
        .collect();
    items
        .iter()
        .map(|item| {
            let completion_id = match check_item(item) {
                Ok(id) => id,
                Err(detail) => return Disposition::Rejected("invalid_item", detail),
            };
            let Some(person_id) = find_person(registers, item) else {
                let who = item.external_id.as_ref().map_or_else(
                    || format!("user name '{}'", item.user_name.as_deref().unwrap_or_default()),
                    |e| format!("external id '{e}'"),
                );
                return Disposition::Rejected("unknown_person", format!("no person with {who}"));
            };
            let Some((course_id, course)) = find_course(registers, item) else {
                let which = item.course_id.map_or_else(
                    || format!("title '{}'", item.course_title.as_deref().unwrap_or_default()),
                    |id| format!("id {id}"),
                );
                return Disposition::Rejected("unknown_course", format!("no training course with {which}"));
            };
            if !recorded.insert(completion_id.clone()) {
                return Disposition::Duplicate;
            }
            let report =
                CompletionReport { course_id, completed_on: item.completed_on, completion_id, score: item.score };
            Disposition::Record(Box::new(Matched { person_id, course, report }))
        })
        .collect()
}

/// Record training completions from a learning platform
///
/// Answers 200 with every item in one of `recorded`, `duplicate` (its `completion_id` is
/// already recorded, or repeated in the batch) or `rejected` (with a code: `invalid_item`,
/// `unknown_person`, `unknown_course`, `person_left`, `date_in_future`, ...). Resending a batch
/// is always safe. Each recorded item emits `TrainingCompleted` on the person's stream, with the
/// token's `sub` as actor and `source = "training"`.
#[utoipa::path(
    tag = "integrations", operation_id = "record_training_completions",
    request_body = TrainingCompletionBatch,
    responses((status = 200, description = "What became of each item", body = TrainingCompletionOutcome),
        CommandProblems),
    security(("bearer" = ["integrations"]))
)]
#[post("/integrations/training-completions")]
pub async fn record_training_completions(
    request: HttpRequest,
    auth: Authorized<IntegrationsScope>,
    ledger: web::Data<Ledger>,
    body: CommandBody<TrainingCompletionBatch, { 1024 * 1024 }>,
) -> Result<HttpResponse, ApiError> {
    let items = &body.value.completions;
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::validation(vec![isms_domain::DomainError::at(
            ErrorCode::ValidationFailed,
            "/completions",
            format!("a batch holds 1 to {MAX_ITEMS} completions"),
        )]));
    }
    let context = CommandContext {
        tenant: auth.principal.tenant.clone(),
        actor: Actor { subject: auth.principal.subject.clone(), is_admin: false },
        correlation_id: correlation_id(&request),
        causation_id: None,
        idempotency: None,
        if_match: None,
        source: Some(SOURCE.to_owned()),
    };
    let (dispositions, _) =
        ledger.with_registers(&context.tenant, ReadPoint::Latest, |registers, _| match_items(registers, items))?;
    let today = Utc::now().date_naive();
    let mut outcome = TrainingCompletionOutcome { recorded: Vec::new(), duplicate: Vec::new(), rejected: Vec::new() };
    for (index, (item, disposition)) in items.iter().zip(dispositions).enumerate() {
        let completion_id = item.completion_id.clone();
        let reject = |code: &str, detail: String| RejectedCompletion {
            index,
            completion_id: completion_id.clone(),
            code: code.to_owned(),
            detail,
        };
        match disposition {
            Disposition::Duplicate => outcome.duplicate.push(DuplicateCompletion { index, completion_id }),
            Disposition::Rejected(code, detail) => outcome.rejected.push(reject(code, detail)),
            Disposition::Record(matched) => {
                let person_id = matched.person_id.to_string();
                let recorded = ledger
                    .execute::<Person>(&context, &person_id, Creation::ExistingStream, Person::exists, |person| {
                        person.complete_training(matched.report.clone(), &matched.course, today)
                    })
                    .await;
                match recorded {
                    Ok(result) => outcome.recorded.push(RecordedCompletion {
                        index,
                        completion_id,
                        person_id: matched.person_id,
                        course_id: matched.report.course_id,
                        position: result.entry.position,
                    }),
                    // Another request recorded it since the registers were read.
                    Err(AppError::Domain(error)) if error.code == ErrorCode::TrainingCompletionAlreadyRecorded => {
                        outcome.duplicate.push(DuplicateCompletion { index, completion_id })
                    }
                    Err(AppError::Domain(error)) => outcome.rejected.push(reject(error.code.as_str(), error.detail)),
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
    Ok(HttpResponse::Ok().json(outcome))
}

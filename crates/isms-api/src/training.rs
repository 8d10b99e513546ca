//! Training (ISO/IEC 27001 7.2, 7.3): the course catalog, assignments and completions on a
//! person's stream, and awareness coverage per department.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::people::Person;
use isms_domain::training::{
    CompletionReport, TrainingAssigned, TrainingCourse, TrainingCourseDetails, TrainingCourseStatus, TrainingTopic,
};
use isms_domain::values::{required_text, MAX_TEXT};
use isms_domain::{DomainError, ErrorCode};
use isms_projections::views::people::PersonRecord;
use isms_projections::views::training::{
    training_course_status_schema, training_topic_schema, AwarenessReport, TrainingCourseRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, Principal, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::people::ensure_referenced;
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{list_records, run, stream_id, ListParams};
use crate::request::{command_context, read_registers, CommandBody, CommandGuards, TimeTravel};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(define_training_course)
        .service(list_training_courses)
        .service(get_training_course)
        .service(training_course_history)
        .service(revise_training_course)
        .service(retire_training_course)
        .service(assign_training)
        .service(record_training_completion)
        .service(awareness_report);
}

/// Define (or, in a revision, restate) a training course.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "情報セキュリティ意識向上研修 2026",
    "topic": "awareness",
    "validity_months": 12,
    "description": "Yearly security awareness for every employee: phishing, clear desk, reporting incidents."
}))]
pub struct TrainingCourseRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    #[schema(schema_with = training_topic_schema)]
    pub topic: TrainingTopic,
    /// How many months a completion counts (1 to 120); omit when it does not expire.
    #[schema(minimum = 1, maximum = 120)]
    pub validity_months: Option<u16>,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub description: String,
}

/// Longest validity a course may give a completion: ten years.
const MAX_VALIDITY_MONTHS: u16 = 120;

impl TrainingCourseRequest {
    fn validate(&self) -> Result<TrainingCourseDetails, ApiError> {
        let mut fields = Fields::default();
        let title = fields.line("/title", &self.title);
        let description = fields.text("/description", &self.description);
        let validity_months = fields.take(match self.validity_months {
            Some(months) if !(1..=MAX_VALIDITY_MONTHS).contains(&months) => Err(DomainError::at(
                ErrorCode::ValidationFailed,
                "/validity_months",
                format!("must be 1 to {MAX_VALIDITY_MONTHS} months, or omitted"),
            )),
            months => Ok(months),
        });
        fields.finish(|| {
            Some(TrainingCourseDetails {
                title: title?,
                topic: self.topic,
                validity_months: validity_months?,
                description: description?,
            })
        })
    }
}

/// Retire a course that is no longer given.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Replaced by the 2027 edition."}))]
pub struct RetireTrainingCourseRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub reason: String,
}

/// Assign a course to a person.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"course_id": "0193c7e0-0000-7000-8000-000000000000", "due_date": "2027-01-31"}))]
pub struct AssignTrainingRequest {
    pub course_id: Uuid,
    pub due_date: NaiveDate,
}

/// A completed course, as a learning platform reports it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "course_id": "0193c7e0-0000-7000-8000-000000000000",
    "completed_on": "2026-11-20",
    "completion_id": "lms-7d1f0c",
    "score": 92
}))]
pub struct TrainingCompletionRequest {
    pub course_id: Uuid,
    pub completed_on: NaiveDate,
    /// The sender's id of this completion. A completion id already recorded for the person is
    /// refused (409 `training_completion_already_recorded`), so resending is harmless.
    #[schema(value_type = crate::fields::SingleLine)]
    pub completion_id: String,
    /// Percent, 0 to 100.
    #[schema(maximum = 100)]
    pub score: Option<u8>,
}

impl TrainingCompletionRequest {
    fn validate(&self) -> Result<CompletionReport, ApiError> {
        let mut fields = Fields::default();
        let completion_id = fields.line("/completion_id", &self.completion_id);
        let score = fields.take(match self.score {
            Some(score) if score > 100 => {
                Err(DomainError::at(ErrorCode::ValidationFailed, "/score", "must be a percentage, 0 to 100"))
            }
            score => Ok(score),
        });
        fields.finish(|| {
            Some(CompletionReport {
                course_id: self.course_id,
                completed_on: self.completed_on,
                completion_id: completion_id?,
                score: score?,
            })
        })
    }
}

/// Filters of the course catalog.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrainingCourseFilter {
    #[param(schema_with = training_topic_schema)]
    pub topic: Option<TrainingTopic>,
    #[param(schema_with = training_course_status_schema)]
    pub status: Option<TrainingCourseStatus>,
}

/// A page of the course catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrainingCoursePage {
    pub items: Vec<TrainingCourseRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Awareness coverage and the read point it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwarenessReportResponse {
    #[serde(flatten)]
    pub report: AwarenessReport,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The course a command names, which must exist (422 `referenced_record_not_found` at
/// `/course_id` otherwise).
fn referenced_course(ledger: &Ledger, principal: &Principal, course_id: Uuid) -> Result<TrainingCourse, ApiError> {
    ensure_referenced::<TrainingCourse>(ledger, principal, "/course_id", Some(course_id))?;
    let (course, _) = ledger.with_registers(&principal.tenant, ReadPoint::Latest, |registers, _| {
        registers.training_courses.get(&course_id).map(|entry| entry.state.clone())
    })?;
    Ok(course.unwrap_or_default())
}

/// Define a training course
#[utoipa::path(
    tag = "training", operation_id = "define_training_course",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = TrainingCourseRequest,
    responses((status = 201, description = "Course defined", body = TrainingCourseRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/training-courses")]
pub async fn define_training_course(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<TrainingCourseRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |course: &TrainingCourse| course.define(details.clone())).await
}

/// List the training courses
#[utoipa::path(
    tag = "training", operation_id = "list_training_courses",
    params(ListParams, TrainingCourseFilter),
    responses((status = 200, description = "A page of training courses", body = TrainingCoursePage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/training-courses")]
pub async fn list_training_courses(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<TrainingCourseFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let page = list_records::<TrainingCourse>(&request, &auth.principal, ledger, &params, move |_, record| {
        filter.topic.is_none_or(|t| t == record.topic) && filter.status.is_none_or(|s| s == record.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TrainingCoursePage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: TrainingCourse,
    record: TrainingCourseRecord,
    tag: "training",
    noun: "Training course id",
    get: get_training_course => ("/training-courses/{id}", "get_training_course", "Read one training course", "The training course"),
    history: training_course_history => ("/training-courses/{id}/history", "get_training_course_history", "Read a training course's history"),
}

/// Revise a training course
///
/// Restates the whole course. Completions already recorded keep the validity they were
/// recorded with.
#[utoipa::path(
    tag = "training", operation_id = "revise_training_course",
    params(("id" = Uuid, Path, description = "Training course id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = TrainingCourseRequest,
    responses((status = 200, description = "Course revised", body = TrainingCourseRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/training-courses/{id}/revisions")]
pub async fn revise_training_course(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<TrainingCourseRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<TrainingCourse>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let details = body.value.validate()?;
    run(&ledger, context, &id, Creation::ExistingStream, |course: &TrainingCourse| course.revise(details.clone())).await
}

/// Retire a training course
///
/// A retired course takes no new assignment (409 `training_course_retired`).
#[utoipa::path(
    tag = "training", operation_id = "retire_training_course",
    params(("id" = Uuid, Path, description = "Training course id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RetireTrainingCourseRequest,
    responses((status = 200, description = "Course retired", body = TrainingCourseRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/training-courses/{id}/retirement")]
pub async fn retire_training_course(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RetireTrainingCourseRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<TrainingCourse>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let reason = single_field(required_text("/reason", &body.value.reason, MAX_TEXT))?;
    run(&ledger, context, &id, Creation::ExistingStream, |course: &TrainingCourse| course.retire(reason.clone())).await
}

/// Assign training to a person
///
/// Emits `TrainingAssigned` on the person's stream. Refused for a person who left (409
/// `person_left`), a retired course (409 `training_course_retired`) and a course the person
/// already has an open assignment of (409 `training_already_assigned`).
#[utoipa::path(
    tag = "training", operation_id = "assign_training",
    params(("id" = Uuid, Path, description = "Person id"),
           ("If-Match" = Option<String>, Header, description = "Expected person version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = AssignTrainingRequest,
    responses((status = 200, description = "Training assigned", body = PersonRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/people/{id}/training-assignments")]
pub async fn assign_training(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<AssignTrainingRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Person>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let course = referenced_course(&ledger, &auth.principal, body.value.course_id)?;
    // Drawn once, outside the decision, so a retried decision assigns under the same id.
    let assigned = TrainingAssigned {
        assignment_id: Uuid::now_v7(),
        course_id: body.value.course_id,
        due_date: body.value.due_date,
    };
    run(&ledger, context, &id, Creation::ExistingStream, |person: &Person| {
        person.assign_training(assigned.clone(), &course)
    })
    .await
}

/// Record a training completion
///
/// Emits `TrainingCompleted` on the person's stream; it fulfils the person's open assignments
/// of the course and counts for the course's validity. A repeated `completion_id` is refused
/// (409 `training_completion_already_recorded`); a completion date after today is 422.
#[utoipa::path(
    tag = "training", operation_id = "record_training_completion",
    params(("id" = Uuid, Path, description = "Person id"),
           ("If-Match" = Option<String>, Header, description = "Expected person version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = TrainingCompletionRequest,
    responses((status = 200, description = "Completion recorded", body = PersonRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/people/{id}/training-completions")]
pub async fn record_training_completion(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<TrainingCompletionRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Person>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let report = body.value.validate()?;
    let course = referenced_course(&ledger, &auth.principal, report.course_id)?;
    let today = Utc::now().date_naive();
    run(&ledger, context, &id, Creation::ExistingStream, |person: &Person| {
        person.complete_training(report.clone(), &course, today)
    })
    .await
}

/// Awareness coverage per department (7.3)
///
/// For each department: the active people, how many hold a current completion of an
/// `awareness` course, the coverage in percent, and overdue awareness assignments; plus totals.
/// Add `as_of` or `as_of_position` (scope `audit:read`) for the coverage on an earlier day.
#[utoipa::path(
    tag = "reports", operation_id = "get_awareness_report",
    params(TimeTravel),
    responses((status = 200, description = "Awareness coverage", body = AwarenessReportResponse), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/awareness")]
pub async fn awareness_report(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (report, resolved) = read_registers(ledger, auth.principal.tenant.clone(), point, |registers, resolved| {
        registers.awareness_report(resolved.reading_date())
    })
    .await?;
    Ok(HttpResponse::Ok().json(AwarenessReportResponse { report, as_of: resolved.as_of, position: resolved.position }))
}

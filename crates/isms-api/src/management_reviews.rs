//! Management review (ISO/IEC 27001 9.3): schedule, inputs prefilled from the registers,
//! meeting, decisions and actions, closure.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Months, NaiveDate, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::management_review::{
    DecisionKind, ManagementReview, ManagementReviewHeld, ManagementReviewScheduled, NewReviewAction,
    ReviewInputCategory, ReviewInputRecorded, ReviewStatus,
};
use isms_projections::reports::review_inputs::{review_input_drafts, Period, ReviewInputDraft};
use isms_projections::views::management_review::{
    decision_kind_schema, review_input_category_schema, review_status_schema, ManagementReviewRecord,
};
use isms_projections::Registers;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, Principal, ReadScope, WriteScope};
use crate::fields::{single_field, Fields};
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{list_records, run, stream_id, ListParams};
use crate::request::{command_context, read_registers, record_id, CommandBody, CommandGuards, TimeTravel};
use isms_projections::Register;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(schedule_management_review)
        .service(list_management_reviews)
        .service(get_management_review)
        .service(management_review_history)
        .service(management_review_input_draft)
        .service(record_review_inputs)
        .service(record_prefilled_review_inputs)
        .service(hold_management_review)
        .service(record_review_outputs)
        .service(complete_review_action)
        .service(close_management_review);
}

/// Schedule a management review.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Management review 2026 H2", "scheduled_on": "2026-12-15", "chair": "ceo"}))]
pub struct ScheduleReviewRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub title: String,
    pub scheduled_on: NaiveDate,
    /// Start of the period under review. Default: the meeting date of the latest review held
    /// before, or twelve months before `scheduled_on` for the first review.
    pub period_start_on: Option<NaiveDate>,
    /// Top management chairing the review.
    #[schema(value_type = crate::fields::SingleLine)]
    pub chair: String,
}

/// One input, written by a person.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInputRequest {
    #[schema(schema_with = review_input_category_schema)]
    pub category: ReviewInputCategory,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub summary: String,
    /// Records the input draws on.
    #[serde(default)]
    pub record_ids: Vec<Uuid>,
}

/// Record inputs (9.3.2); recording a category again restates it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"inputs": [{"category": "interested_party_feedback", "summary": "Two customers asked for ISMS certification evidence in tenders."}]}))]
pub struct RecordInputsRequest {
    #[schema(min_items = 1)]
    pub inputs: Vec<ReviewInputRequest>,
}

/// Record the server's drafts as inputs.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"categories": ["nonconformity_trends", "risk_assessment_results"]}))]
pub struct PrefillInputsRequest {
    /// The categories to record from the drafts; default: every category not yet recorded.
    /// 409 `nothing_to_prefill` when that leaves nothing to record.
    #[schema(inline, value_type = Option<Vec<ReviewInputCategoryName>>, min_items = 1)]
    pub categories: Option<Vec<ReviewInputCategory>>,
}

crate::param_schemas::param_schema!(ReviewInputCategoryName, review_input_category_schema);

/// Record that the review meeting was held.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"held_on": "2026-12-15", "attendees": ["ceo", "ciso", "cfo"], "minutes": "Reviewed all 9.3.2 inputs."}))]
pub struct HoldReviewRequest {
    pub held_on: NaiveDate,
    #[schema(value_type = Vec<crate::fields::SingleLine>, min_items = 1)]
    pub attendees: Vec<String>,
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub minutes: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecisionRequest {
    #[schema(schema_with = decision_kind_schema)]
    pub kind: DecisionKind,
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewActionRequest {
    #[schema(value_type = crate::fields::RequiredFreeText)]
    pub description: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub owner: String,
    pub due_date: NaiveDate,
}

/// Record decisions and actions (9.3.3).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "decisions": [{"kind": "continual_improvement", "description": "Make restore tests quarterly."}],
    "actions": [{"description": "Budget a second backup site", "owner": "cfo", "due_date": "2027-03-31"}]
}))]
pub struct RecordOutputsRequest {
    #[serde(default)]
    pub decisions: Vec<ReviewDecisionRequest>,
    #[serde(default)]
    pub actions: Vec<ReviewActionRequest>,
}

/// Complete an action of a review.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Budget approved."}))]
pub struct CompleteReviewActionRequest {
    #[serde(default)]
    #[schema(value_type = crate::fields::FreeText)]
    pub note: String,
}

/// Close a review.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct CloseReviewRequest {}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ManagementReviewFilter {
    #[param(schema_with = review_status_schema)]
    pub status: Option<ReviewStatus>,
}

/// A page of management reviews.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagementReviewPage {
    pub items: Vec<ManagementReviewRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Drafts of the 9.3.2 inputs for one review.
#[derive(Debug, Serialize, ToSchema)]
pub struct InputDraftPage {
    pub review_id: Uuid,
    pub period_start_on: NaiveDate,
    pub period_end_on: NaiveDate,
    pub drafts: Vec<ReviewInputDraft>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The meeting date of the latest review held before `date`.
fn previous_meeting(registers: &Registers, date: NaiveDate) -> Option<NaiveDate> {
    registers
        .management_reviews
        .values()
        .filter_map(|e| e.state.meeting.as_ref().map(|m| m.held_on))
        .filter(|d| *d <= date)
        .max()
}

/// Schedule a management review
#[utoipa::path(
    tag = "management-reviews", operation_id = "schedule_management_review",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the first response is replayed")),
    request_body = ScheduleReviewRequest,
    responses((status = 201, description = "Review scheduled", body = ManagementReviewRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews")]
pub async fn schedule_management_review(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<ScheduleReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let request = &body.value;
    let mut fields = Fields::default();
    let title = fields.line("/title", &request.title);
    let chair = fields.line("/chair", &request.chair);
    let scheduled = fields.finish(|| Some((title?, chair?)))?;
    let period_start_on = match request.period_start_on {
        Some(from) => from,
        None => {
            let scheduled_on = request.scheduled_on;
            let (previous, _) = read_registers(
                ledger.clone(),
                auth.principal.tenant.clone(),
                ReadPoint::Latest,
                move |registers, _| previous_meeting(registers, scheduled_on),
            )
            .await?;
            previous
                .unwrap_or_else(|| request.scheduled_on.checked_sub_months(Months::new(12)).unwrap_or(NaiveDate::MIN))
        }
    };
    let command = ManagementReviewScheduled {
        title: scheduled.0,
        scheduled_on: request.scheduled_on,
        period_start_on,
        chair: scheduled.1,
    };
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |review: &ManagementReview| review.schedule(command.clone())).await
}

/// List management reviews
#[utoipa::path(
    tag = "management-reviews", operation_id = "list_management_reviews",
    params(ListParams, ManagementReviewFilter),
    responses((status = 200, description = "A page of management reviews", body = ManagementReviewPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/management-reviews")]
pub async fn list_management_reviews(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<ManagementReviewFilter>,
) -> Result<HttpResponse, ApiError> {
    let status = filter.status;
    let page = list_records::<ManagementReview>(&request, &auth.principal, ledger, &params, move |_, record| {
        status.is_none_or(|s| s == record.status)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ManagementReviewPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: ManagementReview,
    record: ManagementReviewRecord,
    tag: "management-reviews",
    noun: "Management review id",
    get: get_management_review => ("/management-reviews/{id}", "get_management_review", "Read one management review", "The management review"),
    history: management_review_history => ("/management-reviews/{id}/history", "get_management_review_history", "Read a management review's history"),
}

/// The drafts of every input for a review, from the registers at `point`, over the period from
/// the review's `period_start_on` to the date read for.
async fn drafts_for(
    ledger: web::Data<Ledger>,
    principal: &Principal,
    raw_id: &str,
    point: ReadPoint,
) -> Result<InputDraftPage, ApiError> {
    let review_id = record_id(raw_id, ManagementReview::NOUN)?;
    let (page, _) = read_registers(ledger, principal.tenant.clone(), point, move |registers, resolved| {
        let entry = registers.management_reviews.get(&review_id).filter(|e| e.state.exists())?;
        let period_start_on = entry.state.schedule.as_ref().map_or(NaiveDate::MIN, |s| s.period_start_on);
        let period_end_on = resolved.reading_date();
        Some(InputDraftPage {
            review_id,
            period_start_on,
            period_end_on,
            drafts: review_input_drafts(registers, review_id, Period { from: period_start_on, until: period_end_on }),
            as_of: resolved.as_of,
            position: resolved.position,
        })
    })
    .await?;
    page.ok_or_else(|| ApiError::not_found(format!("no management review with id {raw_id}")))
}

/// Draft the review's inputs from the registers
///
/// For each input of 9.3.2, a summary generated from the registers for the period since the
/// review's `period_start_on`, with the ids of the records it draws on. Nothing is recorded: see
/// `POST /management-reviews/{id}/inputs/prefill`.
#[utoipa::path(
    tag = "management-reviews", operation_id = "draft_management_review_inputs",
    params(("id" = Uuid, Path, description = "Management review id"), TimeTravel),
    responses((status = 200, description = "Drafts of every 9.3.2 input", body = InputDraftPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/management-reviews/{id}/input-draft")]
pub async fn management_review_input_draft(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    Ok(HttpResponse::Ok().json(drafts_for(ledger, &auth.principal, &id, point).await?))
}

/// Record inputs
///
/// Inputs written by people (e.g. interested-party feedback). Recording a category again
/// restates it.
#[utoipa::path(
    tag = "management-reviews", operation_id = "record_management_review_inputs",
    params(("id" = Uuid, Path, description = "Management review id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RecordInputsRequest,
    responses((status = 200, description = "Inputs recorded", body = ManagementReviewRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews/{id}/inputs")]
pub async fn record_review_inputs(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RecordInputsRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<ManagementReview>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let inputs: Vec<Option<ReviewInputRecorded>> = body
        .value
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            Some(ReviewInputRecorded {
                category: input.category,
                summary: fields.required_text(&format!("/inputs/{i}/summary"), &input.summary)?,
                record_ids: input.record_ids.clone(),
                prefilled: false,
            })
        })
        .collect();
    let inputs = fields.finish(|| inputs.into_iter().collect::<Option<Vec<_>>>())?;
    run(&ledger, context, &id, Creation::ExistingStream, |review: &ManagementReview| {
        review.record_inputs(inputs.clone())
    })
    .await
}

/// Record the drafted inputs
///
/// Generates the drafts (as `GET .../input-draft` shows them now) and records them, so the
/// review keeps exactly the figures management was shown.
#[utoipa::path(
    tag = "management-reviews", operation_id = "record_prefilled_management_review_inputs",
    params(("id" = Uuid, Path, description = "Management review id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PrefillInputsRequest,
    responses((status = 200, description = "Drafted inputs recorded", body = ManagementReviewRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews/{id}/inputs/prefill")]
pub async fn record_prefilled_review_inputs(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PrefillInputsRequest>,
) -> Result<HttpResponse, ApiError> {
    let stream = stream_id::<ManagementReview>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let page = drafts_for(ledger.clone(), &auth.principal, &stream, ReadPoint::Latest).await?;
    let chosen = body.value.categories.clone();
    run(&ledger, context, &stream, Creation::ExistingStream, |review: &ManagementReview| {
        let wanted = |category: ReviewInputCategory| match &chosen {
            Some(categories) => categories.contains(&category),
            None => !review.inputs.contains_key(&category),
        };
        let inputs = page
            .drafts
            .iter()
            .filter(|draft| wanted(draft.category))
            .map(|draft| ReviewInputRecorded {
                category: draft.category,
                summary: draft.summary.clone(),
                record_ids: draft.record_ids.clone(),
                prefilled: true,
            })
            .collect::<Vec<_>>();
        if inputs.is_empty() {
            return Err(isms_domain::DomainError::new(
                isms_domain::ErrorCode::NothingToPrefill,
                "every input of 9.3.2 asked for is already recorded",
            ));
        }
        review.record_inputs(inputs)
    })
    .await
}

/// Record the review meeting
#[utoipa::path(
    tag = "management-reviews", operation_id = "hold_management_review",
    params(("id" = Uuid, Path, description = "Management review id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = HoldReviewRequest,
    responses((status = 200, description = "Meeting recorded", body = ManagementReviewRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews/{id}/meeting")]
pub async fn hold_management_review(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<HoldReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<ManagementReview>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let attendees = fields.lines("/attendees", &body.value.attendees);
    let minutes = fields.text("/minutes", &body.value.minutes);
    let meeting = fields.finish(|| {
        Some(ManagementReviewHeld { held_on: body.value.held_on, attendees: attendees?, minutes: minutes? })
    })?;
    run(&ledger, context, &id, Creation::ExistingStream, |review: &ManagementReview| review.hold(meeting.clone())).await
}

/// Record decisions and actions
///
/// The outputs of 9.3.3, after the meeting. Each decision and action gets an id.
#[utoipa::path(
    tag = "management-reviews", operation_id = "record_management_review_outputs",
    params(("id" = Uuid, Path, description = "Management review id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = RecordOutputsRequest,
    responses((status = 200, description = "Outputs recorded", body = ManagementReviewRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews/{id}/outputs")]
pub async fn record_review_outputs(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<RecordOutputsRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<ManagementReview>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let mut fields = Fields::default();
    let decisions: Vec<Option<(Uuid, DecisionKind, String)>> = body
        .value
        .decisions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Some((
                Uuid::now_v7(),
                d.kind,
                fields.required_text(&format!("/decisions/{i}/description"), &d.description)?,
            ))
        })
        .collect();
    let actions: Vec<Option<(Uuid, NewReviewAction)>> = body
        .value
        .actions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let description = fields.required_text(&format!("/actions/{i}/description"), &a.description);
            let owner = fields.line(&format!("/actions/{i}/owner"), &a.owner);
            Some((Uuid::now_v7(), NewReviewAction { description: description?, owner: owner?, due_date: a.due_date }))
        })
        .collect();
    let (decisions, actions) = fields.finish(|| {
        Some((decisions.into_iter().collect::<Option<Vec<_>>>()?, actions.into_iter().collect::<Option<Vec<_>>>()?))
    })?;
    run(&ledger, context, &id, Creation::ExistingStream, |review: &ManagementReview| {
        review.record_outputs(decisions.clone(), actions.clone())
    })
    .await
}

/// Complete a review action
#[utoipa::path(
    tag = "management-reviews", operation_id = "complete_management_review_action",
    params(("id" = Uuid, Path, description = "Management review id"), ("action_id" = Uuid, Path, description = "Action id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CompleteReviewActionRequest,
    responses((status = 200, description = "Action completed", body = ManagementReviewRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews/{id}/actions/{action_id}/completion")]
pub async fn complete_review_action(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    path: web::Path<(String, String)>,
    guards: CommandGuards,
    body: CommandBody<CompleteReviewActionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, action_id) = path.into_inner();
    let id = stream_id::<ManagementReview>(&id)?;
    let action_id = record_id(&action_id, "review action")?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(isms_domain::values::free_text("/note", &body.value.note, isms_domain::values::MAX_TEXT))?;
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |review: &ManagementReview| {
        review.complete_action(action_id, note.clone(), &actor)
    })
    .await
}

/// Close a management review
///
/// Refused (409 `management_review_inputs_missing`) while any input of 9.3.2 is not recorded,
/// and without a decision.
#[utoipa::path(
    tag = "management-reviews", operation_id = "close_management_review",
    params(("id" = Uuid, Path, description = "Management review id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CloseReviewRequest,
    responses((status = 200, description = "Review closed", body = ManagementReviewRecord, headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/management-reviews/{id}/closure")]
pub async fn close_management_review(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<CloseReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<ManagementReview>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let actor = context.actor.clone();
    run(&ledger, context, &id, Creation::ExistingStream, |review: &ManagementReview| review.close(&actor)).await
}

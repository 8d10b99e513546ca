//! People (ISO/IEC 27001 7.2, 7.3): joiners, movers and leavers, as an HR system reports them.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::people::{Person, PersonJoined, PersonProfile, PersonStatus};
use isms_domain::{DomainError, ErrorCode};
use isms_projections::views::people::{person_status_schema, PersonRecord};
use isms_projections::Register;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Authorized, Principal, ReadScope, WriteScope};
use crate::fields::Fields;
use crate::problem::{ApiError, CommandProblems, ReadProblems};
use crate::register::{ensure_exist, list_records, run, stream_id, ListParams};
use crate::request::{command_context, CommandBody, CommandGuards};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(join_person)
        .service(list_people)
        .service(get_person)
        .service(person_history)
        .service(change_person)
        .service(record_person_left);
}

/// Like `ensure_exist` for one optional reference, reported at `pointer` itself.
pub(crate) fn ensure_referenced<R: Register>(
    ledger: &Ledger,
    principal: &Principal,
    pointer: &str,
    id: Option<Uuid>,
) -> Result<(), ApiError> {
    ensure_exist::<R>(ledger, principal, pointer, id.as_slice()).map_err(|error| match error {
        ApiError::Status { status, code, detail, mut errors } => {
            errors.iter_mut().for_each(|e| e.pointer = pointer.to_owned());
            ApiError::Status { status, code, detail, errors }
        }
        other => other,
    })
}

/// A new person, as the HR system knows them.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "user_name": "hanako.sato",
    "external_id": "HR-00042",
    "display_name": "佐藤 花子",
    "email": "hanako.sato@example.com",
    "department": "development",
    "role": "software engineer"
}))]
pub struct JoinPersonRequest {
    /// Unique (case-insensitively) among the people who have not left.
    #[schema(value_type = crate::fields::SingleLine)]
    pub user_name: String,
    /// The person's id in the HR system.
    #[schema(value_type = Option<crate::fields::SingleLineOrBlank>)]
    pub external_id: Option<String>,
    #[schema(value_type = crate::fields::SingleLine)]
    pub display_name: String,
    #[schema(value_type = Option<crate::fields::EmailOrBlank>)]
    pub email: Option<String>,
    #[schema(value_type = crate::fields::SingleLine)]
    pub department: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub role: String,
    /// Another person of the register.
    pub manager_id: Option<Uuid>,
}

/// A mover: the profile restated with its new department, role or manager.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "display_name": "佐藤 花子",
    "email": "hanako.sato@example.com",
    "department": "security",
    "role": "security engineer"
}))]
pub struct ChangePersonRequest {
    #[schema(value_type = crate::fields::SingleLine)]
    pub display_name: String,
    #[schema(value_type = Option<crate::fields::EmailOrBlank>)]
    pub email: Option<String>,
    #[schema(value_type = crate::fields::SingleLine)]
    pub department: String,
    #[schema(value_type = crate::fields::SingleLine)]
    pub role: String,
    pub manager_id: Option<Uuid>,
}

/// A leaver.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"left_on": "2026-12-31"}))]
pub struct PersonLeftRequest {
    pub left_on: NaiveDate,
}

/// Checks the profile fields that joining and moving share.
fn profile(
    fields: &mut Fields,
    display_name: &str,
    email: Option<&str>,
    department: &str,
    role: &str,
    manager_id: Option<Uuid>,
) -> Option<PersonProfile> {
    let display_name = fields.line("/display_name", display_name);
    let email = fields.optional_line("/email", email).and_then(|email| match email {
        Some(address) if !looks_like_email(&address) => {
            fields.take::<()>(Err(DomainError::at(ErrorCode::ValidationFailed, "/email", "must be an email address")));
            None
        }
        email => Some(email),
    });
    let department = fields.line("/department", department);
    let role = fields.line("/role", role);
    Some(PersonProfile { display_name: display_name?, email: email?, department: department?, role: role?, manager_id })
}

pub(crate) fn looks_like_email(address: &str) -> bool {
    address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !address.chars().any(char::is_whitespace)
    })
}

impl JoinPersonRequest {
    fn validate(&self) -> Result<PersonJoined, ApiError> {
        let mut fields = Fields::default();
        let user_name = fields.line("/user_name", &self.user_name);
        let external_id = fields.optional_line("/external_id", self.external_id.as_deref());
        let profile = profile(
            &mut fields,
            &self.display_name,
            self.email.as_deref(),
            &self.department,
            &self.role,
            self.manager_id,
        );
        fields.finish(|| Some(PersonJoined { user_name: user_name?, external_id: external_id?, profile: profile? }))
    }
}

impl ChangePersonRequest {
    fn validate(&self) -> Result<PersonProfile, ApiError> {
        let mut fields = Fields::default();
        let profile = profile(
            &mut fields,
            &self.display_name,
            self.email.as_deref(),
            &self.department,
            &self.role,
            self.manager_id,
        );
        fields.finish(|| profile)
    }
}

/// Filters of the people register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonFilter {
    pub department: Option<String>,
    #[param(schema_with = person_status_schema)]
    pub status: Option<PersonStatus>,
    /// Matched case-insensitively.
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    /// Only people with (or without) an overdue training assignment.
    pub overdue_training: Option<bool>,
}

/// A page of the people register.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonPage {
    pub items: Vec<PersonRecord>,
    pub next_cursor: Option<String>,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Record a joiner
///
/// Emits `PersonJoined`. The user name must not belong to anyone who has not left (409
/// `person_user_name_taken`); a manager must be a person of the register (422).
#[utoipa::path(
    tag = "people", operation_id = "join_person",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes retries safe: the first response is replayed")),
    request_body = JoinPersonRequest,
    responses((status = 201, description = "Person joined", body = PersonRecord,
        headers(("ETag" = String), ("Location" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/people")]
pub async fn join_person(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    guards: CommandGuards,
    body: CommandBody<JoinPersonRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = command_context(&auth.principal, &guards, &body);
    let joined = body.value.validate()?;
    ensure_referenced::<Person>(&ledger, &auth.principal, "/manager_id", joined.profile.manager_id)?;
    let (holder, _) = ledger.with_registers(&auth.principal.tenant, ReadPoint::Latest, |registers, _| {
        registers.active_person_named(&joined.user_name)
    })?;
    let id = Uuid::now_v7().to_string();
    run(&ledger, context, &id, Creation::NewStream, |person: &Person| person.join(joined.clone(), holder)).await
}

/// List the people register
#[utoipa::path(
    tag = "people", operation_id = "list_people",
    params(ListParams, PersonFilter, crate::privacy::PurposeHeader),
    responses((status = 200, description = "A page of people", body = PersonPage), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/people")]
pub async fn list_people(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    params: web::Query<ListParams>,
    filter: web::Query<PersonFilter>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter.into_inner();
    let user_name = filter.user_name.as_deref().map(str::to_lowercase);
    let page = list_records::<Person>(&request, &auth.principal, ledger.clone(), &params, move |_, record| {
        filter.department.as_ref().is_none_or(|d| *d == record.department)
            && filter.status.is_none_or(|s| s == record.status)
            && user_name.as_ref().is_none_or(|u| *u == record.user_name.to_lowercase())
            && filter.external_id.as_ref().is_none_or(|e| record.external_id.as_ref() == Some(e))
            && filter.overdue_training.is_none_or(|o| o == record.overdue_training)
    })
    .await?;
    let subject = isms_domain::privacy::SUBJECT_PEOPLE_LIST;
    crate::privacy::record_read(&request, &auth.principal, &ledger, subject).await?;
    Ok(HttpResponse::Ok().json(PersonPage {
        items: page.items,
        next_cursor: page.next_cursor,
        as_of: page.resolved.as_of,
        position: page.resolved.position,
    }))
}

crate::register::record_reads! {
    register: Person,
    record: PersonRecord,
    tag: "people",
    noun: "Person id",
    get: get_person => ("/people/{id}", "get_person", "Read one person", "The person",
        "With their training assignments (`overdue` derived) and completions (`expires_on`, `current` derived) as of the day read."),
    history: person_history => ("/people/{id}/history", "get_person_history", "Read a person's history"),
    recorded_read: crate::privacy::record_read => crate::privacy::PurposeHeader,
}

/// Record a mover
///
/// Emits `PersonChanged` with the restated profile. Refused for a person who left (409
/// `person_left`).
#[utoipa::path(
    tag = "people", operation_id = "change_person",
    params(("id" = Uuid, Path, description = "Person id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = ChangePersonRequest,
    responses((status = 200, description = "Person changed", body = PersonRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/people/{id}/changes")]
pub async fn change_person(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<ChangePersonRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Person>(&id)?;
    let own_id = Uuid::parse_str(&id).unwrap_or_default();
    let context = command_context(&auth.principal, &guards, &body);
    let profile = body.value.validate()?;
    ensure_referenced::<Person>(&ledger, &auth.principal, "/manager_id", profile.manager_id)?;
    run(&ledger, context, &id, Creation::ExistingStream, |person: &Person| person.change(own_id, profile.clone())).await
}

/// Record a leaver
///
/// Emits `PersonLeft` and `AccessRemovalOpened` (the leaver's checklist, A.5.18, A.6.5). The
/// user name becomes free; the person takes no further change or training assignment.
#[utoipa::path(
    tag = "people", operation_id = "record_person_left",
    params(("id" = Uuid, Path, description = "Person id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = PersonLeftRequest,
    responses((status = 200, description = "Person left", body = PersonRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/people/{id}/departure")]
pub async fn record_person_left(
    request: HttpRequest,
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    guards: CommandGuards,
    body: CommandBody<PersonLeftRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<Person>(&id)?;
    let context = command_context(&auth.principal, &guards, &body);
    let left_on = body.value.left_on;
    let settings = crate::access_removal::settings(&request);
    let plan = crate::access_removal::plan_departure(&ledger, &auth.principal.tenant, &id, left_on, &settings)?;
    run(&ledger, context, &id, Creation::ExistingStream, |person: &Person| person.leave(left_on, plan.clone())).await
}

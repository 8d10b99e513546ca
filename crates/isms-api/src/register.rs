//! The command and read paths every record register shares: one place decides how a command is
//! answered, how a record is read as of a point, and how a register is paged.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{CommandContext, Creation, Ledger, Resolved};
use isms_domain::DomainError;
use isms_projections::{Entry, Register};
use isms_store::StreamRef;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::problem::ApiError;
use crate::request::{encode_cursor, record_id, ListWindow, TimeTravel};
use crate::responses::{command_response, record_response};

/// Runs a command on one record and answers with the record as the command left it
/// (201 with `Location` for a new record).
pub(crate) async fn run<R: Register>(
    ledger: &Ledger,
    context: CommandContext,
    id: &str,
    creation: Creation,
    decide: impl Fn(&R) -> Result<Vec<R::Event>, DomainError>,
) -> Result<HttpResponse, ApiError> {
    let outcome = ledger.execute::<R>(&context, id, creation, R::exists, decide).await?;
    let record = R::record(&outcome.entry, Utc::now().date_naive());
    let location = (outcome.status == 201).then(|| format!("/api/v1/{}/{}", R::COLLECTION, outcome.entry.id));
    Ok(command_response(outcome.status, outcome.entry.version, &record, location, outcome.replayed))
}

/// The record id from the path, as a stream id; anything not a UUID cannot exist (404).
pub(crate) fn stream_id<R: Register>(raw: &str) -> Result<String, ApiError> {
    Ok(record_id(raw, R::NOUN)?.to_string())
}

/// One record as of the requested point, with `ETag` and the read point in headers.
pub(crate) fn read_one<R: Register>(
    request: &HttpRequest,
    principal: &Principal,
    ledger: &Ledger,
    raw_id: &str,
    travel: &TimeTravel,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<R>(raw_id)?;
    let point = travel.point(request, principal)?;
    let (entry, resolved) = ledger.record::<R>(&principal.tenant, &id, point)?;
    let entry = entry
        .filter(|e| R::exists(&e.state))
        .ok_or_else(|| ApiError::not_found(format!("no {} with id {id}", R::NOUN)))?;
    Ok(record_response(&R::record(&entry, resolved.reading_date()), entry.version, &resolved))
}

/// A record's events as of the requested point.
pub(crate) fn read_history<R: Register>(
    request: &HttpRequest,
    principal: &Principal,
    ledger: &Ledger,
    raw_id: &str,
    travel: &TimeTravel,
) -> Result<HttpResponse, ApiError> {
    let id = stream_id::<R>(raw_id)?;
    crate::history_response(request, principal, ledger, StreamRef::new(R::STREAM_TYPE, id), travel)
}

/// Paging and time travel, common to every register list (filters come on top).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Read the register as it stood at this instant (RFC 3339). Needs `audit:read`.
    pub as_of: Option<DateTime<Utc>>,
    /// Read the register as it stood after this log position. Needs `audit:read`.
    pub as_of_position: Option<u64>,
    /// Only records that took effect at or after this instant (RFC 3339). A record takes
    /// effect at the business time its first event states (an incident's detection, a
    /// review's meeting day, a supplier's first signed agreement; dates as 00:00 UTC), or,
    /// when none does, when it was created. Independent of `as_of`, which is recorded time.
    pub effective_from: Option<DateTime<Utc>>,
    /// Only records that took effect at or before this instant (RFC 3339).
    pub effective_to: Option<DateTime<Utc>>,
}

/// A window on the records' effective (business) time; open on a side not given.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EffectiveWindow {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl EffectiveWindow {
    pub fn admits<A>(&self, entry: &Entry<A>) -> bool {
        let effective = entry.effective_time();
        self.from.is_none_or(|from| effective >= from) && self.to.is_none_or(|to| effective <= to)
    }
}

/// One page of a register and the read point it reflects.
pub(crate) struct ListedPage<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub resolved: Resolved,
}

/// Pages a register in creation order, keeping the records `keep` accepts, as of the point
/// the parameters ask for (see [`Ledger::page`]: an earlier point folds only the records changed
/// since, so it costs about as much as a current read). Runs on the blocking pool, because a
/// read as of an earlier point reads streams from the store.
pub(crate) async fn list_records<R: Register>(
    request: &HttpRequest,
    principal: &Principal,
    ledger: web::Data<Ledger>,
    params: &ListParams,
    keep: impl Fn(&R, &R::Record) -> bool + Send + 'static,
) -> Result<ListedPage<R::Record>, ApiError> {
    let travel = TimeTravel { as_of: params.as_of, as_of_position: params.as_of_position };
    let window = ListWindow::parse(request, principal, params.limit, params.cursor.as_deref(), travel)?;
    let tenant = principal.tenant.clone();
    let effective = EffectiveWindow { from: params.effective_from, to: params.effective_to };
    let keep = move |entry: &isms_projections::Entry<R>, record: &R::Record| {
        effective.admits(entry) && keep(&entry.state, record)
    };
    let read = move || ledger.page::<R>(&tenant, window.point, window.after, window.limit, keep);
    let page = web::block(crate::request::in_request_span(read))
        .await
        .map_err(|error| ApiError::Internal(format!("register read did not complete: {error}")))??;
    Ok(ListedPage {
        items: page.items,
        next_cursor: page.next_after.map(|id| encode_cursor(&id.to_string())),
        resolved: page.resolved,
    })
}

/// Refuses a command that names records which do not exist (now) in register `R`, with one
/// `referenced_record_not_found` error per missing id at `pointer/i`. Reads the live registers,
/// which every acknowledged command has already reached.
pub(crate) fn ensure_exist<R: Register>(
    ledger: &Ledger,
    principal: &Principal,
    pointer: &str,
    ids: &[uuid::Uuid],
) -> Result<(), ApiError> {
    let (missing, _) = ledger.with_registers(&principal.tenant, isms_app::ReadPoint::Latest, |registers, _| {
        let register = R::register(registers);
        ids.iter()
            .enumerate()
            .filter(|(_, id)| !register.get(id).is_some_and(|entry| R::exists(&entry.state)))
            .map(|(i, id)| {
                DomainError::at(
                    isms_domain::ErrorCode::ReferencedRecordNotFound,
                    format!("{pointer}/{i}"),
                    format!("no {} with id {id}", R::NOUN),
                )
            })
            .collect::<Vec<_>>()
    })?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(missing))
    }
}

/// The two reads every record register serves the same way: one record and its history, both
/// readable as of any point. Expands to two handlers with their OpenAPI operations, so a
/// register module states only what differs (names, paths, the record type). The calling
/// module imports `actix_web::get` and `uuid::Uuid`: utoipa recognizes the route attribute by
/// that name only. A register of personal data adds `recorded_read: f => Params`: the read of
/// one record then awaits `f(&request, &principal, &ledger, id)` before answering, and the
/// operation documents the parameters `Params`.
macro_rules! record_reads {
    (
        register: $register:ty,
        record: $record:ident,
        tag: $tag:tt,
        noun: $noun:tt,
        get: $get:ident => ($get_path:tt, $get_operation:tt, $get_summary:tt, $get_description:tt $(, $get_details:tt)?),
        history: $history:ident => ($history_path:tt, $history_operation:tt, $history_summary:tt $(, $history_details:tt)?)
        $(, recorded_read: $recorded_read:path => $read_params:path)? $(,)?
    ) => {
        #[doc = $get_summary]
        $(#[doc = ""] #[doc = $get_details])?
        #[utoipa::path(
            tag = $tag, operation_id = $get_operation,
            params(("id" = Uuid, Path, description = $noun), $crate::request::TimeTravel $(, $read_params)?),
            responses((status = 200, description = $get_description, body = $record,
                headers(("ETag" = String), ("Isms-Position" = u64), ("Isms-As-Of" = String))), $crate::problem::ReadProblems),
            security(("bearer" = ["isms:read"]))
        )]
        #[get($get_path)]
        pub async fn $get(
            request: actix_web::HttpRequest,
            auth: $crate::auth::Authorized<$crate::auth::ReadScope>,
            ledger: actix_web::web::Data<isms_app::Ledger>,
            id: actix_web::web::Path<String>,
            travel: actix_web::web::Query<$crate::request::TimeTravel>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let response = $crate::register::read_one::<$register>(&request, &auth.principal, &ledger, &id, &travel)?;
            $($recorded_read(&request, &auth.principal, &ledger, &id).await?;)?
            Ok(response)
        }

        #[doc = $history_summary]
        $(#[doc = ""] #[doc = $history_details])?
        #[utoipa::path(
            tag = $tag, operation_id = $history_operation,
            params(("id" = Uuid, Path, description = $noun), $crate::request::TimeTravel),
            responses((status = 200, description = "The record's events, oldest first", body = $crate::HistoryPage),
                $crate::problem::ReadProblems),
            security(("bearer" = ["audit:read"]))
        )]
        #[get($history_path)]
        pub async fn $history(
            request: actix_web::HttpRequest,
            auth: $crate::auth::Authorized<$crate::auth::AuditScope>,
            ledger: actix_web::web::Data<isms_app::Ledger>,
            id: actix_web::web::Path<String>,
            travel: actix_web::web::Query<$crate::request::TimeTravel>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            $crate::register::read_history::<$register>(&request, &auth.principal, &ledger, &id, &travel)
        }
    };
}
pub(crate) use record_reads;

//! Follow-ups: commands the system issues because of another record's event, such as the
//! nonconformity an audit finding or an incident raises (10.2).
//!
//! How "exactly one nonconformity per cause" holds without a transaction across streams:
//! - the nonconformity's stream id is fixed by the cause (the finding's id; the id an incident
//!   recorded when it asked for one), so every attempt targets the same stream;
//! - the follow-up runs after the causing command, also when that command is an
//!   Idempotency-Key replay, so a retry completes a follow-up that failed half-way;
//! - it first looks whether the nonconformity exists; if two requests still race, the loser's
//!   append conflicts, the command path re-decides on the raised stream, and the decision
//!   refuses with `nonconformity_already_raised`, which counts as done here.
//!
//! The raised nonconformity's envelope carries `causation_id` = the `event_id` of the causing
//! event and the causing request's `correlation_id`, so the audit trail links the two.

use actix_web::HttpResponse;
use chrono::Utc;
use isms_app::{AppError, CommandContext, Creation, Ledger, ReadPoint};
use isms_domain::audits::raise_caused_nonconformity;
use isms_domain::nonconformity::{Nonconformity, NonconformityRaised};
use isms_domain::{DomainError, ErrorCode};
use isms_projections::{Entry, Register};
use isms_store::StreamRef;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::responses::command_response;

/// A nonconformity that an event of another record calls for.
pub(crate) struct CausedNonconformity {
    /// Fixed by the cause, so that it is raised once.
    pub id: Uuid,
    /// The stream holding the causing event, and the field of that event's payload that
    /// names `id` (how the causing event is recognised).
    pub cause: StreamRef,
    pub cause_field: &'static str,
    pub raised: NonconformityRaised,
}

/// Runs a command like `register::run` does, then raises the nonconformity `follow_up` finds
/// in the record as the command left it (or as it was when a replayed command first ran).
pub(crate) async fn run_with_follow_up<R: Register>(
    ledger: &Ledger,
    context: CommandContext,
    id: &str,
    creation: Creation,
    decide: impl Fn(&R) -> Result<Vec<R::Event>, DomainError>,
    follow_up: impl FnOnce(&Entry<R>) -> Option<CausedNonconformity>,
) -> Result<HttpResponse, ApiError> {
    let outcome = ledger.execute::<R>(&context, id, creation, R::exists, decide).await?;
    if let Some(caused) = follow_up(&outcome.entry) {
        raise_caused(ledger, &context, caused).await?;
    }
    let record = R::record(&outcome.entry, Utc::now().date_naive());
    let location = (outcome.status == 201).then(|| format!("/api/v1/{}/{}", R::COLLECTION, outcome.entry.id));
    Ok(command_response(outcome.status, outcome.entry.version, &record, location, outcome.replayed))
}

/// Makes sure the caused nonconformity exists, raising it (caused by its event) if not.
pub(crate) async fn raise_caused(
    ledger: &Ledger,
    context: &CommandContext,
    caused: CausedNonconformity,
) -> Result<(), ApiError> {
    let id = caused.id.to_string();
    let (existing, _) = ledger.record::<Nonconformity>(&context.tenant, &id, ReadPoint::Latest)?;
    if existing.is_some_and(|entry| entry.state.exists()) {
        return Ok(());
    }
    let (events, _) = ledger.history(&context.tenant, &caused.cause, ReadPoint::Latest)?;
    let cause = events
        .iter()
        .find(|event| event.data.get(caused.cause_field).and_then(|v| v.as_str()) == Some(id.as_str()))
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "no event of {} {} names nonconformity {id}",
                caused.cause.stream_type, caused.cause.stream_id
            ))
        })?;
    // A policy, not the caller, issues this command: no key or version of the caller's applies.
    let policy =
        CommandContext { causation_id: Some(cause.event_id), idempotency: None, if_match: None, ..context.clone() };
    let raised = caused.raised;
    let outcome = ledger
        .execute::<Nonconformity>(&policy, &id, Creation::NewStream, Nonconformity::exists, |nc| {
            raise_caused_nonconformity(nc, raised.clone())
        })
        .await;
    match outcome {
        Ok(_) => Ok(()),
        Err(AppError::Domain(error)) if error.code == ErrorCode::NonconformityAlreadyRaised => Ok(()),
        Err(error) => Err(error.into()),
    }
}

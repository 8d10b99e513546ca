//! A leaver's access-removal checklist (A.5.18, A.6.5, A.5.11): the plan a departure opens,
//! and the command that confirms one item as done.

use actix_web::{post, web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use isms_app::{Creation, Ledger, ReadPoint};
use isms_domain::access_removal::{AccessRemovalItemCompleted, AccessRemovalPlan};
use isms_domain::assets::AssetStatus;
use isms_domain::people::Person;
use isms_domain::values::{free_text, MAX_TEXT};
use isms_projections::views::people::PersonRecord;
use isms_store::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Authorized, WriteScope};
use crate::fields::single_field;
use crate::problem::{ApiError, CommandProblems};
use crate::register::{run, stream_id};
use crate::request::{command_context, record_id, CommandBody, CommandGuards};

/// How the checklist of a leaver is set up (configuration `access_removal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRemovalSettings {
    /// Days after the leave date by which every item is due (A.5.18 asks for prompt removal).
    pub due_days: u32,
}

impl Default for AccessRemovalSettings {
    fn default() -> Self {
        Self { due_days: 5 }
    }
}

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(complete_access_removal_item);
}

/// The settings the server was started with; the defaults where none were given (a server
/// built without state, e.g. to render the OpenAPI document).
pub(crate) fn settings(request: &HttpRequest) -> AccessRemovalSettings {
    request.app_data::<web::Data<AccessRemovalSettings>>().map(|s| s.get_ref().clone()).unwrap_or_default()
}

/// The checklist a departure of `person_id` on `left_on` opens: the standard items, and one
/// item per asset in service whose owner names the person (their id, user name or e-mail).
pub(crate) fn plan_departure(
    ledger: &Ledger,
    tenant: &TenantId,
    person_id: &str,
    left_on: NaiveDate,
    settings: &AccessRemovalSettings,
) -> Result<AccessRemovalPlan, ApiError> {
    let (owned, _) = ledger.with_registers(tenant, ReadPoint::Latest, |registers, _| {
        let Some(person) = Uuid::parse_str(person_id).ok().and_then(|id| registers.people.get(&id)) else {
            return Vec::new();
        };
        let mut names = vec![person_id.to_lowercase(), person.state.user_name.to_lowercase()];
        names.extend(person.state.profile.as_ref().and_then(|p| p.email.as_ref()).map(|e| e.to_lowercase()));
        registers
            .assets
            .iter()
            .filter(|(_, asset)| asset.state.status != AssetStatus::Retired)
            .filter_map(|(id, asset)| asset.state.details.as_ref().map(|details| (*id, details)))
            .filter(|(_, details)| names.contains(&details.owner.to_lowercase()))
            .map(|(id, details)| (id, details.name.clone()))
            .collect::<Vec<_>>()
    })?;
    Ok(AccessRemovalPlan::new(left_on, settings.due_days, &owned))
}

/// Confirms an item of a leaver's access-removal checklist.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Okta account and VPN certificate disabled"}))]
pub struct CompleteAccessRemovalItemRequest {
    /// What was done, e.g. which accounts were disabled; optional.
    #[schema(value_type = Option<crate::fields::FreeText>)]
    pub note: Option<String>,
}

/// Complete an access-removal item
///
/// Emits `AccessRemovalItemCompleted` with the caller's `sub` and the time. Refused when the
/// person has no checklist (409 `access_removal_not_opened`), the item is not on it (404
/// `access_removal_item_not_found`) or it is already completed (409
/// `access_removal_item_already_completed`).
#[utoipa::path(
    tag = "people", operation_id = "complete_access_removal_item",
    params(("id" = Uuid, Path, description = "Person id"),
           ("item_id" = Uuid, Path, description = "Checklist item id"),
           ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\""),
           ("Idempotency-Key" = Option<String>, Header)),
    request_body = CompleteAccessRemovalItemRequest,
    responses((status = 200, description = "Item completed", body = PersonRecord,
        headers(("ETag" = String))), CommandProblems),
    security(("bearer" = ["isms:write"]))
)]
#[post("/people/{id}/access-removal/items/{item_id}/completion")]
pub async fn complete_access_removal_item(
    auth: Authorized<WriteScope>,
    ledger: web::Data<Ledger>,
    path: web::Path<(String, String)>,
    guards: CommandGuards,
    body: CommandBody<CompleteAccessRemovalItemRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, item_id) = path.into_inner();
    let id = stream_id::<Person>(&id)?;
    let item_id = record_id(&item_id, "access-removal item")?;
    let context = command_context(&auth.principal, &guards, &body);
    let note = single_field(free_text("/note", body.value.note.as_deref().unwrap_or_default(), MAX_TEXT))?;
    let completed = AccessRemovalItemCompleted {
        item_id,
        completed_by: auth.principal.subject.clone(),
        completed_at: Utc::now(),
        note,
    };
    run(&ledger, context, &id, Creation::ExistingStream, |person: &Person| {
        person.complete_access_removal_item(completed.clone())
    })
    .await
}

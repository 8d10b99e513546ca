//! SCIM `Users`: people of the register as an identity provider sees them.
//!
//! Mapping (RFC 7643 4.1 and 4.3): `userName` ↔ user name, `externalId` ↔ external id,
//! `displayName` (else `name.formatted`, else given and family name, else `userName`) ↔ display
//! name, the primary (else first) of `emails` ↔ e-mail, `title` ↔ role, the enterprise
//! extension's `department` and `manager.value` (a person id) ↔ department and manager,
//! `active` ↔ not left. `userName` and `externalId` cannot change once set (400
//! `mutability`): the register has no rename, and a provider that renames a user is told so.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::Utc;
use isms_app::{AppError, CommandContext, Creation, Ledger, ReadPoint};
use isms_domain::people::{Person, PersonJoined, PersonProfile, PersonStatus};
use isms_domain::provisioning::DesiredPerson;
use isms_domain::values::{required_line, MAX_LINE};
use isms_domain::ErrorCode;
use isms_projections::{Entry, Registers};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{
    authorized_context, boolean, created_response, is_nothing_changed, json_body, location, no_such, ok_response,
    patched, read, resource_id, Resource, ScimCommandErrors, ScimError, ScimListResponse, ScimPatchOp, ScimReadErrors,
    ENTERPRISE_SCHEMA, USER_SCHEMA,
};
use crate::access_removal::{plan_departure, settings};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(create_user)
        .service(list_users)
        .service(get_user)
        .service(replace_user)
        .service(patch_user)
        .service(delete_user);
}

/// How many times a PATCH is re-applied when the user changed between its read and its write.
const PATCH_RETRIES: usize = 4;

/// A SCIM user read from a request body (POST, PUT, or a patched representation).
#[derive(Debug, Clone, PartialEq)]
struct UserInput {
    user_name: String,
    external_id: Option<String>,
    profile: PersonProfile,
    active: bool,
}

fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
}

fn attribute<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).filter(|v| !v.is_null())
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidValue", detail)
}

impl UserInput {
    fn parse(body: &Value) -> Result<Self, ScimError> {
        let object = body.as_object().ok_or_else(|| invalid("a user is a JSON object"))?;
        let user_name = required_line("/userName", text(object, "userName").unwrap_or_default(), MAX_LINE)
            .map_err(|e| invalid(format!("userName: {}", e.detail)))?;
        let external_id = text(object, "externalId").map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let name = attribute(object, "name").and_then(Value::as_object);
        let given_and_family = name
            .map(|n| [text(n, "givenName"), text(n, "familyName")].into_iter().flatten().collect::<Vec<_>>().join(" "));
        let display_name =
            [text(object, "displayName"), name.and_then(|n| text(n, "formatted")), given_and_family.as_deref()]
                .into_iter()
                .flatten()
                .find(|v| !v.trim().is_empty())
                .unwrap_or(&user_name)
                .to_owned();
        let display_name = required_line("/displayName", &display_name, MAX_LINE)
            .map_err(|e| invalid(format!("displayName: {}", e.detail)))?;
        let email = primary_email(object)?;
        let role = text(object, "title").unwrap_or_default().trim().to_owned();
        let extension = attribute(object, ENTERPRISE_SCHEMA).and_then(Value::as_object);
        let department = extension.and_then(|e| text(e, "department")).unwrap_or_default().trim().to_owned();
        let manager_id = match extension.and_then(|e| attribute(e, "manager")) {
            None => None,
            Some(Value::String(id)) if id.trim().is_empty() => None,
            Some(Value::String(id)) => Some(manager(id)?),
            Some(Value::Object(reference)) => match text(reference, "value").map(str::trim) {
                None | Some("") => None,
                Some(id) => Some(manager(id)?),
            },
            Some(_) => return Err(invalid("manager is a person id or {\"value\": \"<person id>\"}")),
        };
        let active = match attribute(object, "active") {
            None => true,
            Some(value) => boolean(value).ok_or_else(|| invalid("active is true or false"))?,
        };
        let profile = PersonProfile { display_name, email, department, role, manager_id };
        Ok(Self { user_name, external_id, profile, active })
    }
}

fn manager(id: &str) -> Result<Uuid, ScimError> {
    Uuid::parse_str(id.trim()).map_err(|_| invalid(format!("manager '{id}' is not the id of a user of this server")))
}

fn primary_email(object: &Map<String, Value>) -> Result<Option<String>, ScimError> {
    let Some(emails) = attribute(object, "emails") else { return Ok(None) };
    let emails = emails.as_array().ok_or_else(|| invalid("emails is a list"))?;
    let primary = emails.iter().find(|e| e.get("primary").and_then(boolean) == Some(true)).or_else(|| emails.first());
    let address = primary.and_then(|e| e.get("value")).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    match address {
        Some(address) if !crate::people::looks_like_email(address) => {
            Err(invalid(format!("'{address}' is not an email address")))
        }
        address => Ok(address.map(str::to_owned)),
    }
}

impl Resource for Person {
    const TYPE: &'static str = "Users";
    const NOUN: &'static str = "user";
    const SCHEMA: &'static str = USER_SCHEMA;
    const NAME_ATTRIBUTE: &'static str = "userName";

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.people
    }

    /// A person that exists and was not deleted from the directory.
    fn served(&self) -> bool {
        self.exists() && self.deprovisioned_on.is_none()
    }

    fn name(&self) -> &str {
        &self.user_name
    }

    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    /// The SCIM representation of a person.
    fn json(request: &HttpRequest, entry: &Entry<Self>) -> Value {
        let state = &entry.state;
        let profile = state.profile.clone().unwrap_or_else(|| PersonProfile {
            display_name: String::new(),
            email: None,
            department: String::new(),
            role: String::new(),
            manager_id: None,
        });
        let mut user = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "id": entry.id,
            "userName": state.user_name,
            "displayName": profile.display_name,
            "name": {"formatted": profile.display_name},
            "active": state.status == PersonStatus::Active,
            "meta": {
                "resourceType": "User",
                "created": entry.created_at,
                "lastModified": entry.updated_at,
                "location": location(request, "Users", &entry.id),
                "version": super::etag(entry.version),
            },
        });
        let mut extension = Map::new();
        if !profile.department.is_empty() {
            extension.insert("department".into(), json!(profile.department));
        }
        if let Some(manager) = profile.manager_id {
            extension.insert(
                "manager".into(),
                json!({"value": manager, "$ref": location(request, "Users", &manager.to_string())}),
            );
        }
        user[ENTERPRISE_SCHEMA] = Value::Object(extension);
        if let Some(external_id) = &state.external_id {
            user["externalId"] = json!(external_id);
        }
        if let Some(email) = &profile.email {
            user["emails"] = json!([{"value": email, "type": "work", "primary": true}]);
        }
        if !profile.role.is_empty() {
            user["title"] = json!(profile.role);
        }
        user
    }
}

/// An erased person's attributes read `[erased]` and their key is gone: nothing can be
/// changed about them (schemathesis found a PATCH failing on the `[erased]` e-mail). The
/// provider creates a new user instead.
fn ensure_not_erased(current: &Entry<Person>) -> Result<(), ScimError> {
    if current.state.erased {
        return Err(ScimError::new(
            StatusCode::CONFLICT,
            None,
            "this user's personal data was erased; provision a new user instead",
        ));
    }
    Ok(())
}

/// The manager must be a person the provider can see (400 `invalidValue` otherwise).
fn ensure_manager(ledger: &Ledger, context: &CommandContext, input: &UserInput) -> Result<(), ScimError> {
    let Some(manager) = input.profile.manager_id else { return Ok(()) };
    read::<Person>(ledger, context, &manager.to_string())
        .map(|_| ())
        .map_err(|_| invalid(format!("manager {manager} is not a user of this server")))
}

/// The person other than `except` who holds `user_name` and has not left.
fn holder(
    ledger: &Ledger,
    context: &CommandContext,
    user_name: &str,
    except: Option<Uuid>,
) -> Result<Option<Uuid>, ScimError> {
    let (holder, _) = ledger
        .with_registers(&context.tenant, ReadPoint::Latest, |registers, _| registers.active_person_named(user_name))?;
    Ok(holder.filter(|h| Some(*h) != except))
}

/// Create a user (a joiner)
///
/// Emits `PersonJoined` (and, for a user created inactive, `PersonLeft` with its access-removal
/// checklist). 409 `uniqueness` when the `userName` belongs to a person who has not left.
#[utoipa::path(
    tag = "scim", operation_id = "scim_create_user",
    request_body(content = super::ScimUserRequest, content_type = "application/scim+json", example = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": "hanako.sato@example.com",
        "externalId": "00u1a2b3c4",
        "name": {"givenName": "Hanako", "familyName": "Sato"},
        "displayName": "Hanako Sato",
        "emails": [{"value": "hanako.sato@example.com", "type": "work", "primary": true}],
        "title": "Software engineer",
        "active": true,
        ENTERPRISE_SCHEMA: {"department": "Development"}
    })),
    responses(
        (status = 201, description = "User created", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String), ("Location" = String))),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[post("/Users")]
pub async fn create_user(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    bytes: Bytes,
) -> Result<HttpResponse, ScimError> {
    let context = authorized_context(&request)?;
    let input = UserInput::parse(&json_body(&request, &bytes)?)?;
    ensure_manager(&ledger, &context, &input)?;
    let _claim = super::claim_names().await;
    let holder = holder(&ledger, &context, &input.user_name, None)?;
    let id = Uuid::now_v7().to_string();
    let today = Utc::now().date_naive();
    let plan = plan_departure(&ledger, &context.tenant, &id, today, &settings(&request))?;
    let joined = PersonJoined {
        user_name: input.user_name.clone(),
        external_id: input.external_id.clone(),
        profile: input.profile.clone(),
    };
    let outcome = ledger
        .execute::<Person>(&context, &id, Creation::NewStream, Person::exists, |person| {
            let mut events = person.join(joined.clone(), holder)?;
            if !input.active {
                let mut joined_state = person.clone();
                events.iter().for_each(|e| isms_domain::Aggregate::apply(&mut joined_state, e));
                events.extend(joined_state.leave(today, plan.clone())?);
            }
            Ok(events)
        })
        .await?;
    Ok(created_response(&request, &outcome.entry))
}

/// List users
///
/// `filter` supports `userName eq "..."` (case-insensitive) and `externalId eq "..."`; any
/// other filter is 400 `invalidFilter`. Paged by `startIndex` (from 1) and `count` (at most
/// 200). Users deleted from the directory are not listed.
#[utoipa::path(
    tag = "scim", operation_id = "scim_list_users",
    params(
        ("filter" = Option<String>, Query, description = "`userName eq \"...\"` or `externalId eq \"...\"`",
            pattern = r#"^\s*((userName|externalId)\s+eq\s+"([^"\\\x00-\x1f]|\\["\\/bfnrt])*"\s*)?$"#,
            example = "userName eq \"hanako.sato@example.com\""),
        ("startIndex" = Option<i64>, Query, description = "1-based index of the first result"),
        ("count" = Option<i64>, Query, description = "Page size, at most 200"),
    ),
    responses(
        (status = 200, description = "A page of users", body = ScimListResponse, content_type = "application/scim+json"),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/Users")]
pub async fn list_users(request: HttpRequest, ledger: web::Data<Ledger>) -> Result<HttpResponse, ScimError> {
    super::list::<Person>(&request, &ledger)
}

/// Read a user
///
/// 404 for an unknown id and for a user deleted from the directory (RFC 7644 3.6); a
/// deactivated user (`active: false`) is still served.
#[utoipa::path(
    tag = "scim", operation_id = "scim_get_user",
    params(("id" = Uuid, Path, description = "User id = person id")),
    responses(
        (status = 200, description = "The user", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String))),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/Users/{id}")]
pub async fn get_user(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    super::get::<Person>(&request, &ledger, &id)
}

/// Brings a user to what the provider states: the mover, leaver or rejoiner events, none when
/// it is already so. Answers with the user as it then stands.
async fn reconcile(
    request: &HttpRequest,
    ledger: &Ledger,
    context: &CommandContext,
    id: &str,
    current: &Entry<Person>,
    input: UserInput,
) -> Result<HttpResponse, ScimError> {
    if !input.user_name.eq_ignore_ascii_case(&current.state.user_name) {
        return Err(ScimError::bad_request(
            "mutability",
            format!("userName cannot change ('{}' to '{}')", current.state.user_name, input.user_name),
        ));
    }
    if input.external_id.is_some() && input.external_id != current.state.external_id {
        return Err(ScimError::bad_request("mutability", "externalId cannot change once set"));
    }
    ensure_manager(ledger, context, &input)?;
    let own_id = current.uuid();
    let _claim = super::claim_names().await;
    let holder = holder(ledger, context, &current.state.user_name, Some(own_id))?;
    let today = Utc::now().date_naive();
    let plan = plan_departure(ledger, &context.tenant, id, today, &settings(request))?;
    let desired = DesiredPerson { profile: input.profile, active: input.active };
    let outcome = ledger
        .execute::<Person>(context, id, Creation::ExistingStream, Person::exists, |person| {
            person.reconcile(own_id, desired.clone(), today, plan.clone(), holder)
        })
        .await;
    let entry = match outcome {
        Ok(outcome) => outcome.entry,
        Err(error) if is_nothing_changed(&error) => read::<Person>(ledger, context, id)?,
        Err(AppError::Domain(domain)) if domain.code == ErrorCode::PersonDeprovisioned => {
            return Err(no_such::<Person>(id))
        }
        Err(error) => return Err(error.into()),
    };
    Ok(ok_response(request, &entry))
}

/// Replace a user (mover, leaver or re-activation)
///
/// The body states the whole user. Emits `PersonChanged` when the profile changes,
/// `PersonLeft` with the access-removal checklist when `active` turns false, and
/// `PersonRejoined` when a leaver turns active again (409 `uniqueness` if someone else took
/// the user name meanwhile). Nothing is recorded when nothing changes. `userName` and
/// `externalId` are immutable (400 `mutability`).
#[utoipa::path(
    tag = "scim", operation_id = "scim_replace_user",
    params(("id" = Uuid, Path, description = "User id = person id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read, e.g. W/\"3\"")),
    request_body(content = super::ScimUserRequest, content_type = "application/scim+json", example = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "userName": "hanako.sato@example.com",
        "displayName": "Hanako Sato",
        "emails": [{"value": "hanako.sato@example.com", "type": "work", "primary": true}],
        "title": "Security engineer",
        "active": true,
        ENTERPRISE_SCHEMA: {"department": "Security"}
    })),
    responses(
        (status = 200, description = "The user as it now stands", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String))),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[put("/Users/{id}")]
pub async fn replace_user(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    bytes: Bytes,
) -> Result<HttpResponse, ScimError> {
    let context = authorized_context(&request)?;
    let id = resource_id::<Person>(&id)?;
    let input = UserInput::parse(&json_body(&request, &bytes)?)?;
    let current = read::<Person>(&ledger, &context, &id)?;
    ensure_not_erased(&current)?;
    reconcile(&request, &ledger, &context, &id, &current, input).await
}

/// Patch a user (PatchOp)
///
/// `add`, `replace` and `remove`, with or without `path`, as Okta (`{"op": "replace", "value":
/// {"active": false}}`) and Entra ID (`{"op": "Replace", "path": "active", "value": "False"}`,
/// `emails[type eq "work"].value`, the enterprise extension's `manager`) send them. The patched
/// user is then treated as a PUT: the same events, the same rules.
#[utoipa::path(
    tag = "scim", operation_id = "scim_patch_user",
    params(("id" = Uuid, Path, description = "User id = person id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read, e.g. W/\"3\"")),
    request_body(content = ScimPatchOp, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The user as it now stands", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String))),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[patch("/Users/{id}")]
pub async fn patch_user(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    bytes: Bytes,
) -> Result<HttpResponse, ScimError> {
    let caller = authorized_context(&request)?;
    let id = resource_id::<Person>(&id)?;
    let body = json_body(&request, &bytes)?;
    for _ in 0..PATCH_RETRIES {
        let current = read::<Person>(&ledger, &caller, &id)?;
        ensure_not_erased(&current)?;
        let input = UserInput::parse(&patched(&request, &caller, &current, &body)?)?;
        // The patch was applied to this version: a concurrent write must make it re-apply,
        // not overwrite what the other writer recorded.
        let context = CommandContext { if_match: Some(current.version), ..caller.clone() };
        match reconcile(&request, &ledger, &context, &id, &current, input).await {
            Err(error) if error.status == StatusCode::PRECONDITION_FAILED && caller.if_match.is_none() => continue,
            answer => return answer,
        }
    }
    Err(ScimError::new(StatusCode::CONFLICT, None, "the user kept changing while the patch was applied; retry"))
}

/// Delete a user (leaver)
///
/// Emits `PersonLeft` with the access-removal checklist (for a user still active) and
/// `PersonDeprovisioned`. The person stays in the people register; the user is no longer
/// served here (404). Deleting a user already deleted answers 204 again.
#[utoipa::path(
    tag = "scim", operation_id = "scim_delete_user",
    params(("id" = Uuid, Path, description = "User id = person id")),
    responses(
        (status = 204, description = "Deleted (or already deleted)"),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[delete("/Users/{id}")]
pub async fn delete_user(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let context = authorized_context(&request)?;
    let id = resource_id::<Person>(&id)?;
    let (entry, _) = ledger.record::<Person>(&context.tenant, &id, ReadPoint::Latest)?;
    match entry {
        Some(entry) if entry.state.exists() && entry.state.deprovisioned_on.is_some() => {
            return Ok(HttpResponse::NoContent().finish())
        }
        Some(entry) if entry.state.exists() => {}
        _ => return Err(no_such::<Person>(&id)),
    }
    let today = Utc::now().date_naive();
    let plan = plan_departure(&ledger, &context.tenant, &id, today, &settings(&request))?;
    let outcome = ledger
        .execute::<Person>(&context, &id, Creation::ExistingStream, Person::exists, |person| {
            person.deprovision(today, plan.clone())
        })
        .await;
    match outcome {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(AppError::Domain(domain)) if domain.code == ErrorCode::PersonDeprovisioned => {
            Ok(HttpResponse::NoContent().finish())
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_read_with_fallbacks_for_display_name_and_string_booleans() {
        let input = UserInput::parse(&json!({
            "userName": "hanako@example.com",
            "name": {"givenName": "Hanako", "familyName": "Sato"},
            "emails": [{"value": "other@example.com"}, {"value": "hanako@example.com", "primary": "True"}],
            "active": "False",
            ENTERPRISE_SCHEMA: {"department": "Development", "manager": {"value": "0193c7e0-0000-7000-8000-000000000001"}}
        }))
        .unwrap();
        assert_eq!(input.profile.display_name, "Hanako Sato");
        assert_eq!(input.profile.email.as_deref(), Some("hanako@example.com"));
        assert_eq!(input.profile.department, "Development");
        assert_eq!(input.profile.manager_id, Some(Uuid::from_u128(0x0193c7e0_0000_7000_8000_000000000001)));
        assert!(!input.active);
        let bare = UserInput::parse(&json!({"userName": "kenji"})).unwrap();
        assert_eq!((bare.profile.display_name.as_str(), bare.active), ("kenji", true));
    }

    #[test]
    fn invalid_users_are_refused_as_invalid_values() {
        for body in [
            json!({"displayName": "no user name"}),
            json!({"userName": "a", "emails": [{"value": "not an address"}]}),
            json!({"userName": "a", "active": "maybe"}),
            json!({"userName": "a", ENTERPRISE_SCHEMA: {"manager": "boss"}}),
        ] {
            assert_eq!(UserInput::parse(&body).unwrap_err().scim_type, Some("invalidValue"), "{body}");
        }
    }
}

//! SCIM `Groups`: directory groups and their members (people), each group its own stream.

use std::collections::BTreeMap;

use actix_web::web::Bytes;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use isms_app::{AppError, CommandContext, Creation, Ledger, ReadPoint};
use isms_domain::groups::{Group, GroupChange, GroupCreated};
use isms_domain::values::{required_line, MAX_LINE};
use isms_projections::{Entry, Registers};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    authorized_context, created_response, is_nothing_changed, json_body, location, ok_response, patched, read,
    resource_id, Resource, ScimCommandErrors, ScimError, ScimListResponse, ScimPatchOp, ScimReadErrors, GROUP_SCHEMA,
};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(create_group).service(list_groups).service(get_group).service(patch_group).service(delete_group);
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidValue", detail)
}

impl Resource for Group {
    const TYPE: &'static str = "Groups";
    const NOUN: &'static str = "group";
    const SCHEMA: &'static str = GROUP_SCHEMA;
    const NAME_ATTRIBUTE: &'static str = "displayName";

    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>> {
        &registers.groups
    }

    fn served(&self) -> bool {
        self.exists()
    }

    fn name(&self) -> &str {
        &self.display_name
    }

    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }

    fn json(request: &HttpRequest, entry: &Entry<Self>) -> Value {
        let members: Vec<Value> = entry
            .state
            .members
            .iter()
            .map(|id| json!({"value": id, "$ref": location(request, "Users", &id.to_string()), "type": "User"}))
            .collect();
        let mut group = json!({
            "schemas": [GROUP_SCHEMA],
            "id": entry.id,
            "displayName": entry.state.display_name,
            "members": members,
            "meta": {
                "resourceType": "Group",
                "created": entry.created_at,
                "lastModified": entry.updated_at,
                "location": location(request, "Groups", &entry.id),
                "version": super::etag(entry.version),
            },
        });
        if let Some(external_id) = &entry.state.external_id {
            group["externalId"] = json!(external_id);
        }
        group
    }
}

/// `displayName` and the member ids of a group body, each member a user this server serves.
fn read_group_body(ledger: &Ledger, context: &CommandContext, body: &Value) -> Result<(String, Vec<Uuid>), ScimError> {
    let name = body.get("displayName").and_then(Value::as_str).unwrap_or_default();
    let name =
        required_line("/displayName", name, MAX_LINE).map_err(|e| invalid(format!("displayName: {}", e.detail)))?;
    let members = match body.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(members)) => members
            .iter()
            .map(|m| m.get("value").and_then(Value::as_str).and_then(|v| Uuid::parse_str(v.trim()).ok()))
            .collect::<Option<Vec<Uuid>>>()
            .ok_or_else(|| invalid("each member is {\"value\": \"<user id>\"}"))?,
        Some(_) => return Err(invalid("members is a list")),
    };
    let (unknown, _) = ledger.with_registers(&context.tenant, ReadPoint::Latest, |registers, _| {
        members
            .iter()
            .filter(|id| {
                !registers.people.get(id).is_some_and(|p| p.state.exists() && p.state.deprovisioned_on.is_none())
            })
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
    })?;
    if !unknown.is_empty() {
        return Err(invalid(format!("no user with id {}", unknown.join(", "))));
    }
    Ok((name, members))
}

/// The group other than `except` that goes by `name` (case-insensitively).
fn name_holder(
    ledger: &Ledger,
    context: &CommandContext,
    name: &str,
    except: Option<Uuid>,
) -> Result<Option<Uuid>, ScimError> {
    let (holder, _) = ledger.with_registers(&context.tenant, ReadPoint::Latest, |registers, _| {
        registers
            .groups
            .iter()
            .find(|(id, g)| Some(**id) != except && g.state.exists() && g.state.display_name.eq_ignore_ascii_case(name))
            .map(|(id, _)| *id)
    })?;
    Ok(holder)
}

/// Create a group
///
/// Emits `GroupCreated` with its members (users of this server). 409 `uniqueness` when another
/// group has the `displayName`.
#[utoipa::path(
    tag = "scim", operation_id = "scim_create_group",
    request_body(content = super::ScimGroupRequest, content_type = "application/scim+json", example = json!({
        "schemas": [GROUP_SCHEMA],
        "displayName": "Engineering",
        "externalId": "00g1a2b3c4",
        "members": []
    })),
    responses(
        (status = 201, description = "Group created", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String), ("Location" = String))),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[post("/Groups")]
pub async fn create_group(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    bytes: Bytes,
) -> Result<HttpResponse, ScimError> {
    let context = authorized_context(&request)?;
    let body = json_body(&request, &bytes)?;
    let (display_name, members) = read_group_body(&ledger, &context, &body)?;
    let external_id = body.get("externalId").and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    let created = GroupCreated { display_name, external_id: external_id.map(str::to_owned), members };
    let _claim = super::claim_names().await;
    let holder = name_holder(&ledger, &context, &created.display_name, None)?;
    let id = Uuid::now_v7().to_string();
    let outcome = ledger
        .execute::<Group>(&context, &id, Creation::NewStream, Group::exists, |group| {
            group.create(created.clone(), holder)
        })
        .await?;
    Ok(created_response(&request, &outcome.entry))
}

/// List groups
///
/// `filter` supports `displayName eq "..."` (case-insensitive) and `externalId eq "..."`.
#[utoipa::path(
    tag = "scim", operation_id = "scim_list_groups",
    params(
        ("filter" = Option<String>, Query, description = "`displayName eq \"...\"` or `externalId eq \"...\"`",
            pattern = r#"^\s*((displayName|externalId)\s+eq\s+"([^"\\\x00-\x1f]|\\["\\/bfnrt])*"\s*)?$"#),
        ("startIndex" = Option<i64>, Query, description = "1-based index of the first result"),
        ("count" = Option<i64>, Query, description = "Page size, at most 200"),
    ),
    responses(
        (status = 200, description = "A page of groups", body = ScimListResponse, content_type = "application/scim+json"),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/Groups")]
pub async fn list_groups(request: HttpRequest, ledger: web::Data<Ledger>) -> Result<HttpResponse, ScimError> {
    super::list::<Group>(&request, &ledger)
}

/// Read a group
#[utoipa::path(
    tag = "scim", operation_id = "scim_get_group",
    params(("id" = Uuid, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String))),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/Groups/{id}")]
pub async fn get_group(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    super::get::<Group>(&request, &ledger, &id)
}

/// Patch a group: rename, add or remove members
///
/// Emits `GroupRenamed`, `GroupMembersAdded` and `GroupMembersRemoved` for what changes
/// (`members` by `add`, `remove` with `members[value eq "..."]` or a listed value, `replace`).
#[utoipa::path(
    tag = "scim", operation_id = "scim_patch_group",
    params(("id" = Uuid, Path, description = "Group id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read, e.g. W/\"3\"")),
    request_body(content = ScimPatchOp, content_type = "application/scim+json"),
    responses(
        (status = 200, description = "The group as it now stands", body = Object, content_type = "application/scim+json",
            headers(("ETag" = String))),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[patch("/Groups/{id}")]
pub async fn patch_group(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
    bytes: Bytes,
) -> Result<HttpResponse, ScimError> {
    let caller = authorized_context(&request)?;
    let id = resource_id::<Group>(&id)?;
    let body = json_body(&request, &bytes)?;
    let current = read::<Group>(&ledger, &caller, &id)?;
    let resource = patched(&request, &caller, &current, &body)?;
    let (display_name, members) = read_group_body(&ledger, &caller, &resource)?;
    let _claim = super::claim_names().await;
    let holder = name_holder(&ledger, &caller, &display_name, Some(current.uuid()))?;
    let changes = vec![GroupChange::Rename(display_name), GroupChange::ReplaceMembers(members)];
    // Applied to this version: a concurrent change makes the provider retry (412), rather than
    // this patch silently undoing it.
    let context = CommandContext { if_match: Some(current.version), ..caller };
    let outcome = ledger
        .execute::<Group>(&context, &id, Creation::ExistingStream, Group::exists, |group| {
            group.change(changes.clone(), holder)
        })
        .await;
    let entry = match outcome {
        Ok(outcome) => outcome.entry,
        Err(error) if is_nothing_changed(&error) => current,
        Err(error) => return Err(error.into()),
    };
    Ok(ok_response(&request, &entry))
}

/// Delete a group
///
/// Emits `GroupDeleted`; the group is no longer served (404).
#[utoipa::path(
    tag = "scim", operation_id = "scim_delete_group",
    params(("id" = Uuid, Path, description = "Group id")),
    responses(
        (status = 204, description = "Deleted"),
        ScimCommandErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[delete("/Groups/{id}")]
pub async fn delete_group(
    request: HttpRequest,
    ledger: web::Data<Ledger>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let context = authorized_context(&request)?;
    let id = resource_id::<Group>(&id)?;
    read::<Group>(&ledger, &context, &id)?;
    match ledger.execute::<Group>(&context, &id, Creation::ExistingStream, Group::exists, Group::delete).await {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(AppError::NotFound(detail)) => Err(ScimError::not_found(detail)),
        Err(error) => Err(error.into()),
    }
}

//! Service discovery (RFC 7644 4): what this SCIM service supports, its schemas and resource
//! types. Providers read these to decide which requests to send.

use actix_web::{get, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::{authorize, url, ListQuery, ScimError, ScimListResponse, ScimReadErrors, MAX_RESULTS, MEDIA_TYPE};
use super::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(service_provider_config).service(list_schemas).service(list_resource_types);
}

fn scim_json(body: &Value) -> HttpResponse {
    HttpResponse::Ok().content_type(MEDIA_TYPE).json(body)
}

/// Describe the service's capabilities
#[utoipa::path(
    tag = "scim", operation_id = "scim_service_provider_config",
    responses(
        (status = 200, description = "Supported features", body = Object, content_type = "application/scim+json"),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/ServiceProviderConfig")]
pub async fn service_provider_config(request: HttpRequest) -> Result<HttpResponse, ScimError> {
    authorize(&request)?;
    Ok(scim_json(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A JWT with the `scim` scope; its `sub` (the provider's client id) is the actor of every event",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": url(&request, "ServiceProviderConfig")},
    })))
}

fn attribute(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required, "caseExact": false,
        "mutability": mutability, "returned": "default", "uniqueness": uniqueness
    })
}

/// The schemas served, restricted to the attributes this service keeps.
fn all_schemas() -> Vec<Value> {
    let email = json!({
        "name": "emails", "type": "complex", "multiValued": true, "required": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
        "subAttributes": [attribute("value", "string", false, "readWrite", "none"),
                          attribute("type", "string", false, "readWrite", "none"),
                          attribute("primary", "boolean", false, "readWrite", "none")]
    });
    let name = json!({
        "name": "name", "type": "complex", "multiValued": false, "required": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
        "subAttributes": [attribute("formatted", "string", false, "readWrite", "none"),
                          attribute("givenName", "string", false, "writeOnly", "none"),
                          attribute("familyName", "string", false, "writeOnly", "none")]
    });
    let manager = json!({
        "name": "manager", "type": "complex", "multiValued": false, "required": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
        "subAttributes": [attribute("value", "string", false, "readWrite", "none"),
                          attribute("$ref", "reference", false, "readOnly", "none")]
    });
    let members = json!({
        "name": "members", "type": "complex", "multiValued": true, "required": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
        "subAttributes": [attribute("value", "string", false, "immutable", "none"),
                          attribute("$ref", "reference", false, "immutable", "none")]
    });
    let schema = |id: &str, name: &str, description: &str, attributes: Vec<Value>| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id, "name": name, "description": description, "attributes": attributes,
            "meta": {"resourceType": "Schema"}
        })
    };
    vec![
        schema(
            USER_SCHEMA,
            "User",
            "A person of the people register",
            vec![
                attribute("userName", "string", true, "immutable", "server"),
                attribute("externalId", "string", false, "immutable", "none"),
                attribute("displayName", "string", false, "readWrite", "none"),
                name,
                email,
                attribute("title", "string", false, "readWrite", "none"),
                attribute("active", "boolean", false, "readWrite", "none"),
            ],
        ),
        schema(
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            "Department and manager of a person",
            vec![attribute("department", "string", false, "readWrite", "none"), manager],
        ),
        schema(
            GROUP_SCHEMA,
            "Group",
            "A directory group of people",
            vec![
                attribute("displayName", "string", true, "readWrite", "server"),
                attribute("externalId", "string", false, "immutable", "none"),
                members,
            ],
        ),
    ]
}

/// List the schemas
#[utoipa::path(
    tag = "scim", operation_id = "scim_list_schemas",
    responses(
        (status = 200, description = "User, enterprise extension and Group schemas", body = ScimListResponse,
            content_type = "application/scim+json"),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/Schemas")]
pub async fn list_schemas(request: HttpRequest) -> Result<HttpResponse, ScimError> {
    authorize(&request)?;
    Ok(ListQuery::default().page(all_schemas()))
}

/// List the resource types
#[utoipa::path(
    tag = "scim", operation_id = "scim_list_resource_types",
    responses(
        (status = 200, description = "User and Group", body = ScimListResponse, content_type = "application/scim+json"),
        ScimReadErrors,
    ),
    security(("bearer" = ["scim"]))
)]
#[get("/ResourceTypes")]
pub async fn list_resource_types(request: HttpRequest) -> Result<HttpResponse, ScimError> {
    authorize(&request)?;
    let resource_type = |id: &str, endpoint: &str, schema: &str, extensions: Value| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": id, "name": id, "endpoint": endpoint, "schema": schema, "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType"}
        })
    };
    Ok(ListQuery::default().page(vec![
        resource_type("User", "/Users", USER_SCHEMA, json!([{"schema": ENTERPRISE_SCHEMA, "required": false}])),
        resource_type("Group", "/Groups", GROUP_SCHEMA, json!([])),
    ]))
}

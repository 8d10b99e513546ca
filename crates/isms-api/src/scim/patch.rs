//! PATCH (RFC 7644 3.5.2) applied to a resource's JSON representation. The patched
//! representation is then read like a PUT body, so PATCH and PUT share one parser and one
//! decision, and every PATCH form a provider sends reduces to "this is the user now".
//!
//! Supported: `add` / `replace` / `remove` in any case; with a `path` (`active`,
//! `name.givenName`, `emails[type eq "work"].value`, `members[value eq "..."]`, attributes
//! qualified by their schema URN such as the enterprise extension's `...:User:manager`) or
//! without one (the value is an object of attributes, as Okta sends `{"active": false}`).

use serde_json::{Map, Value};

use super::filter::Equality;
use super::{ScimError, ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies every operation of a PatchOp body to `resource`, in order.
pub(crate) fn apply_patch(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    // Absent is tolerated (some providers leave it out); present, it is a list naming PatchOp
    // (schemathesis found a number accepted there).
    let declares_patch = |schemas: &Value| {
        schemas.as_array().is_some_and(|schemas| schemas.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)))
    };
    if body.get("schemas").is_some_and(|schemas| !declares_patch(schemas)) {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            format!("a PATCH body declares the schema {PATCH_SCHEMA}"),
        ));
    }
    let operations = body
        .get("Operations")
        .or_else(|| body.get("operations"))
        .and_then(Value::as_array)
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "a PATCH body has a non-empty `Operations` array"))?;
    let target = resource
        .as_object_mut()
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "the resource is not an object"))?;
    for operation in operations {
        let op = match operation.get("op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => {
                return Err(ScimError::bad_request("invalidSyntax", "each operation's `op` is add, replace or remove"))
            }
        };
        let value = operation.get("value").cloned();
        match operation.get("path").and_then(Value::as_str).map(str::trim).filter(|p| !p.is_empty()) {
            Some(path) => apply_path(target, op, path, value)?,
            None if op == Op::Remove => {
                return Err(ScimError::bad_request("noTarget", "a remove operation needs a `path`"));
            }
            None => {
                let Some(Value::Object(attributes)) = value else {
                    return Err(ScimError::bad_request(
                        "invalidValue",
                        "an operation without `path` takes an object of attributes as `value`",
                    ));
                };
                for (name, value) in attributes {
                    match value {
                        // `{"urn:...:enterprise:2.0:User": {"department": "..."}}`
                        Value::Object(inner) if is_schema(&name) => {
                            for (inner_name, inner_value) in inner {
                                apply_path(target, op, &format!("{name}:{inner_name}"), Some(inner_value))?;
                            }
                        }
                        value => apply_path(target, op, &name, Some(value))?,
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_schema(name: &str) -> bool {
    [USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA].iter().any(|schema| name.eq_ignore_ascii_case(schema))
}

/// Strips a schema URN prefix; attributes of the enterprise extension live in its own object.
fn locate<'a>(resource: &'a mut Map<String, Value>, path: &'a str) -> (&'a mut Map<String, Value>, &'a str) {
    let strip = |schema: &str| {
        path.get(..schema.len() + 1).filter(|p| p.eq_ignore_ascii_case(&format!("{schema}:"))).map(|_| schema.len() + 1)
    };
    if let Some(cut) = strip(ENTERPRISE_SCHEMA) {
        let extension = resource.entry(ENTERPRISE_SCHEMA).or_insert_with(|| Value::Object(Map::new()));
        if !extension.is_object() {
            *extension = Value::Object(Map::new());
        }
        let extension = extension.as_object_mut().expect("made an object above");
        return (extension, &path[cut..]);
    }
    let cut = strip(USER_SCHEMA).or_else(|| strip(GROUP_SCHEMA)).unwrap_or(0);
    (resource, &path[cut..])
}

/// The key `name` goes by in `object` (attribute names are case-insensitive, RFC 7643 2.1).
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    const KNOWN: &[&str] = &[
        "userName",
        "externalId",
        "displayName",
        "name",
        "emails",
        "title",
        "active",
        "members",
        "givenName",
        "familyName",
        "formatted",
        "department",
        "manager",
        "value",
        "type",
        "primary",
    ];
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .or_else(|| KNOWN.iter().find(|k| k.eq_ignore_ascii_case(name)).map(|k| (*k).to_owned()))
        .unwrap_or_else(|| name.to_owned())
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::bad_request("invalidPath", format!("unsupported path: {path}"))
}

fn apply_path(resource: &mut Map<String, Value>, op: Op, path: &str, value: Option<Value>) -> Result<(), ScimError> {
    let (target, rest) = locate(resource, path);
    // `attr[filter].sub`, `attr[filter]`, `attr.sub` or `attr`.
    let (attribute, filter, sub) = match rest.split_once('[') {
        Some((attribute, after)) => {
            let (filter, tail) = after.split_once(']').ok_or_else(|| invalid_path(path))?;
            let sub = match tail {
                "" => None,
                tail => Some(tail.strip_prefix('.').ok_or_else(|| invalid_path(path))?),
            };
            (attribute, Some(Equality::parse(filter).ok_or_else(|| invalid_path(path))?), sub)
        }
        None => match rest.split_once('.') {
            Some((attribute, sub)) => (attribute, None, Some(sub)),
            None => (rest, None, None),
        },
    };
    if attribute.is_empty() {
        return Err(invalid_path(path));
    }
    let key = key_of(target, attribute);
    let needs_value =
        || value.clone().ok_or_else(|| ScimError::bad_request("invalidValue", format!("`{path}` needs a value")));
    match (filter, sub) {
        (Some(filter), sub) => {
            let list = target.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = list else { return Err(invalid_path(path)) };
            let matches = |item: &Value| {
                let field = item.as_object().and_then(|o| o.get(&key_of(o, &filter.attribute)));
                match (field, &filter.value) {
                    (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (Some(a), b) => a == b,
                    (None, _) => false,
                }
            };
            match (op, sub) {
                (Op::Remove, None) => items.retain(|item| !matches(item)),
                (Op::Remove, Some(sub)) => items.iter_mut().filter(|i| matches(i)).for_each(|item| {
                    if let Some(object) = item.as_object_mut() {
                        let sub_key = key_of(object, sub);
                        object.remove(&sub_key);
                    }
                }),
                (_, sub) => {
                    let value = needs_value()?;
                    let mut found = false;
                    for item in items.iter_mut().filter(|i| matches(i)) {
                        found = true;
                        set_in(item, sub, value.clone());
                    }
                    if !found {
                        let mut item =
                            Value::Object(Map::from_iter([(filter.attribute.clone(), filter.value.clone())]));
                        set_in(&mut item, sub, value);
                        items.push(item);
                    }
                }
            }
        }
        (None, Some(sub)) => {
            let parent = target.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !parent.is_object() {
                *parent = Value::Object(Map::new());
            }
            let parent = parent.as_object_mut().expect("made an object above");
            let sub_key = key_of(parent, sub);
            match op {
                Op::Remove => {
                    parent.remove(&sub_key);
                }
                _ => {
                    parent.insert(sub_key, needs_value()?);
                }
            }
        }
        (None, None) => match (op, value) {
            // Entra ID removes members by listing them as the value of a remove on `members`.
            (Op::Remove, Some(Value::Array(listed))) => {
                if let Some(Value::Array(items)) = target.get_mut(&key) {
                    items.retain(|item| !listed.iter().any(|l| l.get("value") == item.get("value")));
                }
            }
            (Op::Remove, _) => {
                target.remove(&key);
            }
            (Op::Add, Some(Value::Array(added))) => match target.get_mut(&key) {
                Some(Value::Array(items)) => {
                    for item in added {
                        if !items.iter().any(|i| i.get("value").is_some() && i.get("value") == item.get("value")) {
                            items.push(item);
                        }
                    }
                }
                _ => {
                    target.insert(key, Value::Array(added));
                }
            },
            (_, value) => {
                let value =
                    value.ok_or_else(|| ScimError::bad_request("invalidValue", format!("`{path}` needs a value")))?;
                target.insert(key, value);
            }
        },
    }
    Ok(())
}

/// Sets `sub` of an object item, or replaces the item when there is no sub-attribute.
fn set_in(item: &mut Value, sub: Option<&str>, value: Value) {
    match (sub, item.as_object_mut()) {
        (Some(sub), Some(object)) => {
            let key = key_of(object, sub);
            object.insert(key, value);
        }
        _ => *item = value,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(mut resource: Value, operations: Value) -> Value {
        apply_patch(&mut resource, &json!({"schemas": [PATCH_SCHEMA], "Operations": operations})).unwrap();
        resource
    }

    #[test]
    fn okta_and_entra_forms_of_deactivation_and_attribute_changes() {
        let user = json!({"userName": "h", "active": true, "emails": [{"type": "work", "value": "a@x.io"}]});
        let okta = patched(user.clone(), json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(okta["active"], false);
        let entra = patched(user.clone(), json!([{"op": "Replace", "path": "active", "value": "False"}]));
        assert_eq!(entra["active"], "False");
        let email =
            patched(user.clone(), json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "b@x.io"}]));
        assert_eq!(email["emails"], json!([{"type": "work", "value": "b@x.io"}]));
        let given = patched(user.clone(), json!([{"op": "add", "path": "name.givenName", "value": "Hana"}]));
        assert_eq!(given["name"]["givenName"], "Hana");
        let manager = format!("{ENTERPRISE_SCHEMA}:manager");
        let managed = patched(user.clone(), json!([{"op": "Add", "path": manager, "value": "m-1"}]));
        assert_eq!(managed[ENTERPRISE_SCHEMA]["manager"], "m-1");
        let unmanaged = patched(managed, json!([{"op": "Remove", "path": manager}]));
        assert!(unmanaged[ENTERPRISE_SCHEMA].get("manager").is_none());
        let nested = patched(user, json!([{"op": "replace", "value": {ENTERPRISE_SCHEMA: {"department": "sales"}}}]));
        assert_eq!(nested[ENTERPRISE_SCHEMA]["department"], "sales");
    }

    #[test]
    fn members_are_added_and_removed_by_value_path_or_listed_value() {
        let group = json!({"displayName": "g", "members": [{"value": "a"}, {"value": "b"}]});
        let added = patched(
            group.clone(),
            json!([{"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]}]),
        );
        assert_eq!(added["members"], json!([{"value": "a"}, {"value": "b"}, {"value": "c"}]));
        let okta = patched(group.clone(), json!([{"op": "remove", "path": "members[value eq \"a\"]"}]));
        assert_eq!(okta["members"], json!([{"value": "b"}]));
        let entra = patched(group, json!([{"op": "Remove", "path": "members", "value": [{"value": "b"}]}]));
        assert_eq!(entra["members"], json!([{"value": "a"}]));
    }

    #[test]
    fn malformed_operations_are_refused_with_their_scim_type() {
        let mut resource = json!({});
        let no_target = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove"}]});
        assert_eq!(apply_patch(&mut resource, &no_target).unwrap_err().scim_type, Some("noTarget"));
        let not_a_list = json!({"schemas": 5, "Operations": [{"op": "remove", "path": "title"}]});
        assert_eq!(apply_patch(&mut json!({}), &not_a_list).unwrap_err().scim_type, Some("invalidSyntax"));
        let bad_op = json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "move", "path": "x"}]});
        assert_eq!(apply_patch(&mut resource, &bad_op).unwrap_err().scim_type, Some("invalidSyntax"));
        let bad_path =
            json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "emails[type", "value": 1}]});
        assert_eq!(apply_patch(&mut resource, &bad_path).unwrap_err().scim_type, Some("invalidPath"));
    }
}

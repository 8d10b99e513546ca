//! Finding the personal values in an event's payload, sealed or not.
//!
//! [`isms_domain::personal::personal_fields`] declares which fields are personal; this module
//! walks them, so the command path (sealing), the read path (unsealing) and readers without
//! keys (masking) visit exactly the same values under the same JSON pointers.

use isms_domain::personal::{personal_fields, SEALED};
use serde_json::Value;

/// A sealed personal value as the log stores it: `{"sealed": "<base64 nonce || ciphertext>",
/// "key": "<person id>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed<'a> {
    pub sealed: &'a str,
    /// The id of the person whose key sealed the value.
    pub key: &'a str,
}

/// The member names of a sealed value.
pub const SEALED_MEMBER: &str = "sealed";
pub const KEY_MEMBER: &str = "key";

impl<'a> Sealed<'a> {
    /// `value` as a sealed value: an object of exactly the two string members.
    pub fn of(value: &'a Value) -> Option<Self> {
        let object = value.as_object().filter(|o| o.len() == 2)?;
        Some(Self { sealed: object.get(SEALED_MEMBER)?.as_str()?, key: object.get(KEY_MEMBER)?.as_str()? })
    }

    /// The JSON the log stores for a sealed value.
    pub fn to_value(sealed: String, key: &str) -> Value {
        serde_json::json!({ SEALED_MEMBER: sealed, KEY_MEMBER: key })
    }
}

/// Calls `visit` with the JSON pointer (into `data`) and the value of every personal leaf of an
/// event of `stream_type`: each string, and each sealed value, inside the declared fields. The
/// visitor may replace the value.
pub fn visit_personal_values(stream_type: &str, data: &mut Value, visit: &mut dyn FnMut(&str, &mut Value)) {
    let fields = personal_fields(stream_type);
    if fields.is_empty() {
        return;
    }
    let Some(object) = data.as_object_mut() else { return };
    for field in fields {
        if let Some(value) = object.get_mut(*field) {
            walk(&mut format!("/{}", escape(field)), value, visit);
        }
    }
}

fn walk(pointer: &mut String, value: &mut Value, visit: &mut dyn FnMut(&str, &mut Value)) {
    if value.is_string() || Sealed::of(value).is_some() {
        visit(pointer, value);
        return;
    }
    let length = pointer.len();
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                pointer.push_str(&format!("/{index}"));
                walk(pointer, item, visit);
                pointer.truncate(length);
            }
        }
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                pointer.push('/');
                pointer.push_str(&escape(name));
                walk(pointer, member, visit);
                pointer.truncate(length);
            }
        }
        _ => {}
    }
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Replaces every sealed value of the payload with `[sealed]`: the view of a reader who holds
/// the log but no keys (an evidence pack's registers, `isms verify-pack`).
pub fn mask_sealed(stream_type: &str, data: &mut Value) {
    visit_personal_values(stream_type, data, &mut |_, value| {
        if Sealed::of(value).is_some() {
            *value = Value::String(SEALED.into());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_declared_fields_are_visited_with_their_pointers() {
        let mut data = json!({
            "user_name": "hanako",
            "display_name": {"sealed": "AAAA", "key": "p1"},
            "email": null,
            "department": "development",
            "external_id": ["a", {"x/y": "b"}]
        });
        let mut seen = Vec::new();
        visit_personal_values("person", &mut data, &mut |pointer, value| {
            seen.push(pointer.to_owned());
            *value = json!("seen");
        });
        seen.sort();
        assert_eq!(seen, ["/display_name", "/external_id/0", "/external_id/1/x~1y", "/user_name"]);
        assert_eq!(data["department"], "development");
        assert_eq!(data["email"], Value::Null);
        let mut risk = json!({"user_name": "not personal here"});
        visit_personal_values("risk", &mut risk, &mut |_, _| panic!("risks have no personal fields"));
    }

    #[test]
    fn masking_hides_sealed_values_and_keeps_the_rest() {
        let mut data = json!({"user_name": {"sealed": "AAAA", "key": "p1"}, "display_name": "legacy plaintext"});
        mask_sealed("person", &mut data);
        assert_eq!(data, json!({"user_name": SEALED, "display_name": "legacy plaintext"}));
        assert_eq!(Sealed::of(&json!({"sealed": "a", "key": "b", "more": 1})), None);
    }
}

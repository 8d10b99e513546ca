//! The one filter form providers use to find a resource (RFC 7644 3.4.2.2): `attribute eq
//! "value"`. Okta and Entra ID look users up by `userName` or `externalId` and groups by
//! `displayName` before creating them; anything richer is refused as `invalidFilter` rather
//! than answered wrongly.

use serde_json::Value;

use super::ScimError;

/// `attribute eq value`, the attribute as written and the value as JSON (a string, or a bare
/// `true`/`false`/number inside a value path such as `members[value eq "..."]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Equality {
    pub attribute: String,
    pub value: Value,
}

impl Equality {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (attribute, rest) = text.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        let operator = rest.get(..2)?;
        if !operator.eq_ignore_ascii_case("eq") || !rest[2..].starts_with(char::is_whitespace) {
            return None;
        }
        let value: Value = serde_json::from_str(rest[2..].trim()).ok()?;
        if value.is_object() || value.is_array() || attribute.is_empty() {
            return None;
        }
        Some(Self { attribute: attribute.to_owned(), value })
    }

    /// Whether the attribute is `name` (case-insensitively, with or without its schema URN).
    pub(crate) fn names(&self, name: &str, schema: &str) -> bool {
        let attribute = self.attribute.as_str();
        let unqualified = attribute
            .get(..schema.len() + 1)
            .filter(|prefix| prefix.eq_ignore_ascii_case(&format!("{schema}:")))
            .map_or(attribute, |_| &attribute[schema.len() + 1..]);
        unqualified.eq_ignore_ascii_case(name)
    }

    pub(crate) fn text(&self) -> Option<&str> {
        self.value.as_str()
    }
}

/// A list filter on one of `supported` attributes; `None` without a filter.
pub(crate) fn list_filter(
    filter: Option<&str>,
    supported: &[&str],
    schema: &str,
) -> Result<Option<(String, String)>, ScimError> {
    let Some(filter) = filter.filter(|f| !f.trim().is_empty()) else { return Ok(None) };
    let refused = || {
        ScimError::bad_request(
            "invalidFilter",
            format!("only `<attribute> eq \"<value>\"` on {} is supported, not: {filter}", supported.join(", ")),
        )
    };
    let equality = Equality::parse(filter).ok_or_else(refused)?;
    let attribute = supported.iter().find(|name| equality.names(name, schema)).ok_or_else(refused)?;
    let value = equality.text().ok_or_else(refused)?;
    Ok(Some(((*attribute).to_owned(), value.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::USER_SCHEMA;

    #[test]
    fn equality_filters_are_parsed_and_others_refused() {
        let supported = ["userName", "externalId"];
        let user = list_filter(Some(r#"userName eq "hanako@example.com""#), &supported, USER_SCHEMA).unwrap();
        assert_eq!(user, Some(("userName".into(), "hanako@example.com".into())));
        let external = list_filter(Some(r#"EXTERNALID Eq "a \"b\"""#), &supported, USER_SCHEMA).unwrap();
        assert_eq!(external, Some(("externalId".into(), "a \"b\"".into())));
        let qualified = format!(r#"{USER_SCHEMA}:userName eq "x""#);
        assert_eq!(list_filter(Some(&qualified), &supported, USER_SCHEMA).unwrap().unwrap().1, "x");
        for refused in [r#"userName co "x""#, r#"title eq "x""#, r#"userName eq "x" and active eq true"#, "userName"] {
            let error = list_filter(Some(refused), &supported, USER_SCHEMA).unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"), "{refused}");
        }
        assert_eq!(Equality::parse("primary eq true").unwrap().value, Value::Bool(true));
    }
}

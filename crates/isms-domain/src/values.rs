//! Validated value objects: once constructed they are known to be acceptable, so aggregates
//! never re-check them (parse, don't validate).

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorCode};

/// A short single-line text such as a title or a person's subject: not blank, at most `max`
/// characters and no control character at all, both counted on the value as given (as
/// [`free_text`] counts), so the limits read the same as the OpenAPI `maxLength` and `pattern`
/// that state them. Stored trimmed.
pub fn required_line(pointer: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::at(ErrorCode::ValidationFailed, pointer, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(DomainError::at(ErrorCode::ValidationFailed, pointer, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::at(
            ErrorCode::ValidationFailed,
            pointer,
            "must be a single line without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A free text (description, rationale): may be multi-line, at most `max` characters.
pub fn free_text(pointer: &str, value: &str, max: usize) -> Result<String, DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::at(ErrorCode::ValidationFailed, pointer, format!("must be at most {max} characters")));
    }
    // Other control characters have no place in a register and would be stored escaped, at
    // six bytes each.
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(DomainError::at(
            ErrorCode::ValidationFailed,
            pointer,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(value.trim().to_owned())
}

/// Like [`free_text`] but must say something.
pub fn required_text(pointer: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let text = free_text(pointer, value, max)?;
    if text.is_empty() {
        return Err(DomainError::at(ErrorCode::ValidationFailed, pointer, "must not be empty"));
    }
    Ok(text)
}

/// Maximum lengths, shared by every register so limits read the same everywhere.
pub const MAX_LINE: usize = 200;
pub const MAX_TEXT: usize = 10_000;

/// An ISO/IEC 27001:2022 Annex A control identifier such as `5.15` or `8.8`, known to be in
/// the catalog ([`crate::catalog::ISO27001_2022`]). An optional `A.` prefix is accepted on
/// input and dropped, so `A.5.15` and `5.15` are the same control.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ControlRef(String);

impl ControlRef {
    pub fn parse(pointer: &str, raw: &str) -> Result<Self, DomainError> {
        // The catalog is the one list of controls; a lookup rather than a shape check keeps
        // look-alikes such as `05.1` or `5.1.1` out as well.
        let control = crate::catalog::control_2022(raw).ok_or_else(|| {
            DomainError::at(
                ErrorCode::InvalidControlReference,
                pointer,
                format!(
                    "'{raw}' is not an ISO/IEC 27001:2022 Annex A control \
                     (5.1-5.37, 6.1-6.8, 7.1-7.14, 8.1-8.34)"
                ),
            )
        })?;
        Ok(Self(control.id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_refs_accept_the_2022_ranges_only() {
        for ok in ["5.1", "5.37", "6.8", "7.14", "8.34", "A.8.8", " 5.15 "] {
            assert!(ControlRef::parse("/c", ok).is_ok(), "{ok} should parse");
        }
        for bad in ["5.38", "4.1", "9.1", "6.9", "8.0", "05.1", "5.", ".5", "5-1", "A.5", "", "5.1.1"] {
            let err = ControlRef::parse("/c", bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidControlReference, "{bad}");
        }
        assert_eq!(ControlRef::parse("/c", "A.8.8").unwrap().as_str(), "8.8");
    }

    #[test]
    fn lines_are_trimmed_and_bounded() {
        assert_eq!(required_line("/t", "  x ", 5).unwrap(), "x");
        assert!(required_line("/t", "   ", 5).is_err());
        assert!(required_line("/t", "", 5).is_err());
        assert!(required_line("/t", "abcdef", 5).is_err());
        assert!(required_line("/t", "a\nb", 5).is_err());
        assert_eq!(free_text("/t", "a\n\tb", 9).unwrap(), "a\n\tb");
        assert!(free_text("/t", "a\u{7}b", 9).is_err());
    }

    #[test]
    fn a_line_is_measured_and_checked_as_given() {
        // The length counts the surrounding spaces, as `maxLength` does.
        assert_eq!(required_line("/t", "abcde", 5).unwrap(), "abcde");
        assert!(required_line("/t", " abcde", 5).is_err());
        assert!(required_line("/t", "abc   ", 5).is_err());
        // Characters, not bytes.
        assert_eq!(required_line("/t", "顧客名簿", 4).unwrap(), "顧客名簿");
        // A control character is refused wherever it is, trailing line breaks and tabs included.
        for bad in ["x\n", "\tx", "x\r\n", "x\u{85}", "x\u{7f}"] {
            let err = required_line("/t", bad, 5).unwrap_err();
            assert_eq!(err.detail, "must be a single line without control characters", "{bad:?}");
        }
        // Blank is empty, whatever the blank characters.
        assert_eq!(required_line("/t", " \t\n", 5).unwrap_err().detail, "must not be empty");
        // Other whitespace around the line is trimmed off.
        assert_eq!(required_line("/t", "\u{3000}x\u{a0}", 5).unwrap(), "x");
    }
}

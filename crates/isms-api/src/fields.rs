//! Field validation for request bodies: every bad field is collected, so one 422 names them all.

use isms_domain::values::{free_text, required_line, required_text, MAX_LINE, MAX_TEXT};
use isms_domain::DomainError;

use crate::problem::ApiError;

/// Collects field validation results so one response names every bad field.
#[derive(Default)]
pub(crate) struct Fields(Vec<DomainError>);

impl Fields {
    pub(crate) fn take<T>(&mut self, result: Result<T, DomainError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// A required single line (title, owner, name), at most `MAX_LINE` characters.
    pub(crate) fn line(&mut self, pointer: &str, value: &str) -> Option<String> {
        self.take(required_line(pointer, value, MAX_LINE))
    }

    /// An optional single line: absent, null or blank is `None`; anything else is checked as
    /// [`Fields::line`] checks it, on the value as given (its length includes the spaces around it).
    pub(crate) fn optional_line(&mut self, pointer: &str, value: Option<&str>) -> Option<Option<String>> {
        match value.filter(|v| !v.trim().is_empty()) {
            None => Some(None),
            Some(v) => self.line(pointer, v).map(Some),
        }
    }

    /// Free text that may be empty, at most `MAX_TEXT` characters.
    pub(crate) fn text(&mut self, pointer: &str, value: &str) -> Option<String> {
        self.take(free_text(pointer, value, MAX_TEXT))
    }

    /// Free text that must say something.
    pub(crate) fn required_text(&mut self, pointer: &str, value: &str) -> Option<String> {
        self.take(required_text(pointer, value, MAX_TEXT))
    }

    /// A list of single lines, each checked at `pointer/i`.
    pub(crate) fn lines(&mut self, pointer: &str, values: &[String]) -> Option<Vec<String>> {
        let checked: Vec<Option<String>> =
            values.iter().enumerate().map(|(i, v)| self.line(&format!("{pointer}/{i}"), v)).collect();
        checked.into_iter().collect()
    }

    /// Builds the validated value when no field failed, or answers 422 naming every bad field.
    pub(crate) fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if self.0.is_empty() {
            if let Some(value) = build() {
                return Ok(value);
            }
        }
        Err(ApiError::validation(self.0))
    }
}

/// Validates a body with one field to check.
pub(crate) fn single_field<T>(result: Result<T, DomainError>) -> Result<T, ApiError> {
    result.map_err(|error| ApiError::validation(vec![error]))
}

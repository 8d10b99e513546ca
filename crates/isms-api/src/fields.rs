//! Field validation for request bodies: every bad field is collected, so one 422 names them all.

use isms_domain::values::{free_text, required_line, required_text, MAX_LINE, MAX_TEXT};
use isms_domain::DomainError;

use crate::problem::ApiError;

/// The rules these validators enforce, as the OpenAPI document states them
/// (`isms_projections::views::text`): a request body's text field names the one it is checked
/// with as its value type, e.g. `#[schema(value_type = crate::fields::SingleLine)]`, or
/// `Option<...>` / `Vec<...>` of it.
pub(crate) use isms_projections::views::text::{
    EmailOrBlank, FreeText, HttpUrlOrBlank, RequiredFreeText, SingleLine, SingleLineOrBlank,
};

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

#[cfg(test)]
mod tests {
    use isms_domain::values::{MAX_LINE, MAX_TEXT};
    use isms_projections::views::text::{
        EMAIL_OR_BLANK_PATTERN, HTTP_URL_OR_BLANK_PATTERN, LINE_OR_BLANK_PATTERN, LINE_PATTERN, MAX_URL,
        REQUIRED_TEXT_PATTERN, TEXT_PATTERN,
    };

    use super::Fields;

    /// Characters whose class matters to some rule: letters (one outside the BMP), the
    /// punctuation of addresses and URLs, whitespace that is and is not a control character,
    /// a control character of each range, and look-alikes that are neither (U+200B, U+FEFF).
    const ALPHABET: [char; 33] = [
        'a', 'Z', '顧', '😀', '@', '.', ':', '/', 'h', 't', 'p', 's', ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\0',
        '\u{1b}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{200b}',
        '\u{2028}', '\u{202f}', '\u{3000}', '\u{feff}',
    ];

    fn samples() -> Vec<String> {
        let mut samples = vec![String::new()];
        // Every string of one to three characters of the alphabet.
        let mut shorter = vec![String::new()];
        for _ in 0..3 {
            shorter = shorter.iter().flat_map(|s| ALPHABET.iter().map(move |c| format!("{s}{c}"))).collect();
            samples.extend(shorter.iter().cloned());
        }
        // Every character up to U+3100, alone and inside a value.
        for c in (0..=0x3100).filter_map(char::from_u32) {
            samples.extend([c.to_string(), format!("a{c}"), format!("{c}a"), format!("a{c}b")]);
        }
        // An address and a URL with one odd character.
        for c in ALPHABET {
            samples.extend([
                format!("a{c}@b.c"),
                format!("a@b{c}.c"),
                format!("{c} a@b.c{c}"),
                format!("{c}https://x"),
                format!("https://x{c}"),
                format!("htt{c}p://x"),
            ]);
        }
        // Lengths around each limit, in characters, with and without spaces around.
        for n in [MAX_LINE, MAX_LINE + 1, MAX_URL, MAX_URL + 1, MAX_TEXT, MAX_TEXT + 1] {
            samples.extend([
                "顧".repeat(n),
                format!(" {}", "a".repeat(n - 1)),
                format!("{} ", "a".repeat(n - 1)),
                " ".repeat(n),
                format!("https://{}", "a".repeat(n - 8)),
                format!("a@b.{}", "c".repeat(n - 4)),
            ]);
        }
        samples
    }

    fn accepted<T>(check: impl FnOnce(&mut Fields) -> Option<T>) -> bool {
        let mut fields = Fields::default();
        check(&mut fields).is_some() && fields.0.is_empty()
    }

    fn line(value: &str) -> bool {
        accepted(|f| f.line("/v", value))
    }
    fn line_or_blank(value: &str) -> bool {
        accepted(|f| f.optional_line("/v", Some(value)))
    }
    fn text(value: &str) -> bool {
        accepted(|f| f.text("/v", value))
    }
    fn required_text(value: &str) -> bool {
        accepted(|f| f.required_text("/v", value))
    }
    /// As `people::profile` checks an email.
    fn email_or_blank(value: &str) -> bool {
        match Fields::default().optional_line("/v", Some(value)) {
            Some(Some(address)) => crate::people::looks_like_email(&address),
            Some(None) => true,
            None => false,
        }
    }
    fn http_url_or_blank(value: &str) -> bool {
        crate::ticketing::ticket_url("/v", Some(value)).is_ok()
    }

    /// A rule's component name, pattern and `maxLength`, and what the server accepts.
    type Rule = (&'static str, &'static str, usize, fn(&str) -> bool);

    /// The OpenAPI document states each validator exactly: its pattern and `maxLength` (in
    /// characters, as JSON Schema counts) accept what the validator accepts, and nothing else.
    #[test]
    fn the_documented_text_rules_are_the_validators() {
        let rules: [Rule; 6] = [
            ("SingleLine", LINE_PATTERN, MAX_LINE, line),
            ("SingleLineOrBlank", LINE_OR_BLANK_PATTERN, MAX_LINE, line_or_blank),
            ("FreeText", TEXT_PATTERN, MAX_TEXT, text),
            ("RequiredFreeText", REQUIRED_TEXT_PATTERN, MAX_TEXT, required_text),
            ("EmailOrBlank", EMAIL_OR_BLANK_PATTERN, MAX_LINE, email_or_blank),
            ("HttpUrlOrBlank", HTTP_URL_OR_BLANK_PATTERN, MAX_URL, http_url_or_blank),
        ];
        let samples = samples();
        let mut disagreements = Vec::new();
        for (name, pattern, max, server) in rules {
            let regex = regex::Regex::new(pattern).unwrap();
            for sample in &samples {
                let documented = sample.chars().count() <= max && regex.is_match(sample);
                // A blank value of more than `max` characters is no value to the server, but
                // longer than `maxLength` in the document: the one place the two differ.
                let blank_and_long = sample.trim().is_empty() && sample.chars().count() > max;
                if documented != server(sample) && !(blank_and_long && name.ends_with("OrBlank")) {
                    disagreements.push(format!("{name}: {sample:?} (document {documented})"));
                }
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} disagreements:\n{}",
            disagreements.len(),
            disagreements[..20.min(disagreements.len())].join("\n")
        );
    }
}

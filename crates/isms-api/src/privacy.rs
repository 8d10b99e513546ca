//! Reads of personal data are themselves recorded: the people register (one person or the
//! list) and the personal-information register append `PersonalDataRead` to the tenant's
//! `personal_data_access` stream, durably, before they answer. Only these routes write on the
//! read path; a read that fails (404, 403) discloses nothing and records nothing.

use actix_web::HttpRequest;
use isms_app::{Ledger, PersonalDataReadContext};
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::problem::ApiError;
use crate::request::correlation_id;

/// The header a reader states the purpose of a read in.
const PURPOSE_HEADER: &str = "isms-purpose";
const MAX_PURPOSE_CHARS: usize = 500;

/// The header of reads that are recorded, for the OpenAPI document ([`stated_purpose`] reads
/// and checks the value).
#[allow(dead_code)]
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct PurposeHeader {
    /// Why the personal data is read (e.g. `annual access review`), recorded with the read in
    /// the audit trail (`stream_type=personal_data_access`); at most 500 characters, UTF-8.
    #[param(rename = "Isms-Purpose")]
    pub purpose: Option<String>,
}

/// The stated purpose: trimmed, `None` when absent or blank; 400 when it is not one line of
/// at most 500 characters.
fn stated_purpose(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(PURPOSE_HEADER) else { return Ok(None) };
    let invalid = || {
        ApiError::bad_request(
            "invalid_purpose",
            format!("Isms-Purpose must be one line of UTF-8 text of at most {MAX_PURPOSE_CHARS} characters"),
        )
    };
    // HTTP allows bytes beyond ASCII in a field value; accepting UTF-8 lets a purpose be
    // written in the reader's language.
    let text = std::str::from_utf8(value.as_bytes()).map_err(|_| invalid())?.trim();
    if text.chars().count() > MAX_PURPOSE_CHARS || text.chars().any(char::is_control) {
        return Err(invalid());
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// Records that `principal` read `subject_read` (a person id, or `list` / `personal-information`)
/// and returns once the record is durable; the caller answers only after that.
pub(crate) async fn record_read(
    request: &HttpRequest,
    principal: &Principal,
    ledger: &Ledger,
    subject_read: &str,
) -> Result<(), ApiError> {
    let context = PersonalDataReadContext {
        tenant: principal.tenant.clone(),
        reader: principal.subject.clone(),
        correlation_id: correlation_id(request),
        purpose: stated_purpose(request)?,
    };
    ledger.record_personal_data_read(&context, subject_read).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn purpose_of(value: &str) -> Result<Option<String>, ApiError> {
        stated_purpose(&TestRequest::default().insert_header((PURPOSE_HEADER, value)).to_http_request())
    }

    #[test]
    fn a_purpose_is_one_trimmed_line_of_at_most_500_characters() {
        assert_eq!(stated_purpose(&TestRequest::default().to_http_request()).unwrap(), None);
        assert_eq!(purpose_of("  annual access review ").unwrap().as_deref(), Some("annual access review"));
        assert_eq!(purpose_of("   ").unwrap(), None);
        assert!(purpose_of(&"x".repeat(MAX_PURPOSE_CHARS + 1)).is_err());
        assert!(purpose_of("a\tb").is_err());
    }
}

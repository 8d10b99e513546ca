//! The rules of the request bodies' text fields, as OpenAPI states them.
//!
//! Each schema states one validator of `isms_domain::values` (and `Fields` in the API crate)
//! exactly: a value the document accepts is one the server accepts, and the other way round.
//! A field names its rule as its value type (`#[schema(value_type = SingleLine)]`,
//! `Option<SingleLineOrBlank>`, `Vec<SingleLine>`), so the rule is one component of the
//! document and the field keeps its own description and example; the schema functions are
//! there for `schema_with` where a parameter needs one.
//!
//! The patterns are ECMA-262 regular expressions (the JSON Schema dialect) that read the same
//! in Python `re` and the Rust `regex` crate: anchored, character classes of `\xNN` and
//! `\uNNNN` escapes only. Whitespace is spelled out rather than written `\s`, whose meaning
//! differs between those engines; the set is Unicode `White_Space`, which is what Rust's
//! `str::trim` removes. Lengths are in characters (code points), as `maxLength` counts them and
//! `chars().count()` counts them.

use std::borrow::Cow;

use isms_domain::values::{MAX_LINE, MAX_TEXT};
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A control character (`char::is_control`: U+0000 to U+001F, U+007F to U+009F).
macro_rules! control {
    () => {
        r"\x00-\x1f\x7f-\x9f"
    };
}

/// A whitespace character that is not a control character (the rest of `White_Space`).
macro_rules! space {
    () => {
        r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}

/// Any whitespace character (`char::is_whitespace`), control characters included.
macro_rules! whitespace {
    () => {
        concat!(r"\t-\r\x85", space!())
    };
}

/// What a line may hold: anything but a control character.
macro_rules! line_char {
    () => {
        concat!("[^", control!(), "]")
    };
}

/// A character that makes a value not blank: neither whitespace nor control.
macro_rules! visible_char {
    () => {
        concat!("[^", control!(), space!(), "]")
    };
}

/// What a free text may hold: anything but a control character other than tab, line feed and
/// carriage return.
macro_rules! text_char {
    () => {
        r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
    };
}

/// A blank value: nothing, or whitespace only.
macro_rules! blank {
    () => {
        concat!("[", whitespace!(), "]*")
    };
}

/// States `required_line` (`Fields::line`): not blank, no control character at all.
pub const LINE_PATTERN: &str = concat!("^", line_char!(), "*", visible_char!(), line_char!(), "*$");

/// States `Fields::optional_line`: blank (whitespace only, control characters included) is no
/// value; anything else is a line.
pub const LINE_OR_BLANK_PATTERN: &str =
    concat!("^(?:", blank!(), "|", line_char!(), "*", visible_char!(), line_char!(), "*)$");

/// States `free_text` (`Fields::text`): no control character but tab, line feed and carriage
/// return; may be empty.
pub const TEXT_PATTERN: &str = concat!("^", text_char!(), "*$");

/// States `required_text` (`Fields::required_text`): free text that is not blank.
pub const REQUIRED_TEXT_PATTERN: &str = concat!("^", text_char!(), "*", visible_char!(), text_char!(), "*$");

/// States the people register's email (`Fields::optional_line`, then `looks_like_email` on the
/// trimmed value): blank is no address; otherwise, between optional spaces, one without any
/// whitespace, with something before its first `@` and a `.` after it.
pub const EMAIL_OR_BLANK_PATTERN: &str = concat!(
    "^(?:",
    blank!(),
    "|[",
    space!(),
    "]*[^@",
    control!(),
    space!(),
    "]+@",
    visible_char!(),
    r"*\.",
    visible_char!(),
    "*[",
    space!(),
    "]*)$"
);

/// States the ticket link's `url` (`link_corrective_action_ticket`): blank is no URL; otherwise
/// a line that starts, after optional spaces, with `http://` or `https://`.
pub const HTTP_URL_OR_BLANK_PATTERN: &str =
    concat!("^(?:", blank!(), "|[", space!(), "]*https?://", line_char!(), "*)$");

/// The longest ticket URL kept (`link_corrective_action_ticket`).
pub const MAX_URL: usize = 2000;

fn string(pattern: &str, max_length: usize, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .max_length(Some(max_length))
        .description(Some(description))
        .build()
}

/// A single line: a title, a name, an owner's subject.
pub fn single_line() -> Object {
    string(
        LINE_PATTERN,
        MAX_LINE,
        "A single line: 1 to 200 characters, not blank, no control characters. Stored without \
         the whitespace around it.",
    )
}

/// A single line that may be left blank.
pub fn single_line_or_blank() -> Object {
    string(
        LINE_OR_BLANK_PATTERN,
        MAX_LINE,
        "A single line (at most 200 characters, no control characters), or blank (whitespace \
         only) for none.",
    )
}

/// A free text: a description, a note.
pub fn free_text() -> Object {
    string(
        TEXT_PATTERN,
        MAX_TEXT,
        "Free text: at most 10000 characters; line breaks and tabs are the only control \
         characters allowed. May be empty. Stored without the whitespace around it.",
    )
}

/// A free text that must say something: a reason, a summary.
pub fn required_free_text() -> Object {
    string(
        REQUIRED_TEXT_PATTERN,
        MAX_TEXT,
        "Free text that is not blank: at most 10000 characters; line breaks and tabs are the \
         only control characters allowed. Stored without the whitespace around it.",
    )
}

/// An email address that may be left blank.
pub fn email_or_blank() -> Object {
    string(
        EMAIL_OR_BLANK_PATTERN,
        MAX_LINE,
        "An email address (a single line of at most 200 characters without whitespace, with \
         `@` and a `.` after it), or blank for none.",
    )
}

/// An http(s) URL that may be left blank.
pub fn http_url_or_blank() -> Object {
    string(
        HTTP_URL_OR_BLANK_PATTERN,
        MAX_URL,
        "An `http://` or `https://` URL (a single line of at most 2000 characters), or blank \
         for none.",
    )
}

/// One value type per rule, named in the document, for `#[schema(value_type = ...)]`.
macro_rules! rule {
    ($(#[$doc:meta])* $name:ident => $schema:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema().into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

rule!(
    /// The value type of a field checked with `required_line` or `Fields::line`.
    SingleLine => single_line
);
rule!(
    /// The value type of a field checked with `Fields::optional_line` (as `Option<SingleLineOrBlank>`).
    SingleLineOrBlank => single_line_or_blank
);
rule!(
    /// The value type of a field checked with `free_text` or `Fields::text`.
    FreeText => free_text
);
rule!(
    /// The value type of a field checked with `required_text` or `Fields::required_text`.
    RequiredFreeText => required_free_text
);
rule!(
    /// The value type of the people register's `email`.
    EmailOrBlank => email_or_blank
);
rule!(
    /// The value type of a ticket link's `url`.
    HttpUrlOrBlank => http_url_or_blank
);

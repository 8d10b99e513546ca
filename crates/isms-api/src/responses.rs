//! How successful answers are shaped: ETags, locations, read points.

use actix_web::http::header;
use actix_web::HttpResponse;
use isms_app::Resolved;
use serde::Serialize;

/// `Idempotent-Replayed: true` marks a response replayed for a repeated Idempotency-Key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Echo of the read point of a single-record read.
pub const AS_OF_HEADER: &str = "isms-as-of";
pub const POSITION_HEADER: &str = "isms-position";

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The answer to a command: the record as the command left it.
pub fn command_response<V: Serialize>(
    status: u16,
    version: u64,
    record: &V,
    location: Option<String>,
    replayed: bool,
) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::ETAG, etag(version)));
    if let Some(location) = location {
        response.insert_header((header::LOCATION, location));
    }
    if replayed {
        response.insert_header((REPLAYED_HEADER, "true"));
    }
    response.json(record)
}

/// The answer to a single-record read, with the read point in headers.
pub fn record_response<V: Serialize>(record: &V, version: u64, resolved: &Resolved) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::ETAG, etag(version)));
    response.insert_header((POSITION_HEADER, resolved.position.to_string()));
    if let Some(as_of) = resolved.as_of {
        response.insert_header((AS_OF_HEADER, as_of.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)));
    }
    response.json(record)
}

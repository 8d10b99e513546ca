//! CSV answers: the text comes from the one CSV writer (`isms_projections::csv`), shared with
//! the evidence pack; this module only makes it an HTTP attachment.

use actix_web::http::header;
use actix_web::HttpResponse;
use isms_projections::csv::CSV_CONTENT_TYPE;

/// A 200 answer with the CSV text as an attachment named `filename`.
pub(crate) fn csv_response(filename: &str, text: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CSV_CONTENT_TYPE)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(text)
}

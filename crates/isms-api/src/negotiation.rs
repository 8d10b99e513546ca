//! Content negotiation for reports that come in several formats (JSON, CSV, SVG).

use actix_web::http::header;
use actix_web::HttpRequest;

pub(crate) const JSON: &str = "application/json";
pub(crate) const CSV: &str = "text/csv";
pub(crate) const SVG: &str = "image/svg+xml";

/// The one of `offered` that the request's `Accept` header prefers: highest quality first, then
/// the order of `offered` (so JSON, listed first, wins ties and answers `*/*`, a missing header
/// and types nobody offers).
pub(crate) fn negotiate(request: &HttpRequest, offered: &[&'static str]) -> &'static str {
    let Some(accept) = request.headers().get(header::ACCEPT).and_then(|value| value.to_str().ok()) else {
        return offered[0];
    };
    let mut best: Option<(f32, usize)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality =
            parts.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        let covers = |offer: &&str| {
            media == *offer
                || media == "*/*"
                || media.strip_suffix("/*").is_some_and(|kind| offer.split('/').next() == Some(kind))
        };
        if let Some(index) = offered.iter().position(covers) {
            if best.is_none_or(|(q, i)| quality > q || (quality == q && index < i)) {
                best = Some((quality, index));
            }
        }
    }
    best.map_or(offered[0], |(_, index)| offered[index])
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with_accept(accept: &str) -> HttpRequest {
        TestRequest::default().insert_header((header::ACCEPT, accept)).to_http_request()
    }

    #[test]
    fn picks_the_best_offered_type_and_defaults_to_the_first() {
        let offered = ["application/json", "text/csv"];
        assert_eq!(negotiate(&TestRequest::default().to_http_request(), &offered), "application/json");
        assert_eq!(negotiate(&with_accept("text/csv"), &offered), "text/csv");
        assert_eq!(negotiate(&with_accept("text/html, */*"), &offered), "application/json");
        assert_eq!(negotiate(&with_accept("application/json;q=0.5, text/csv"), &offered), "text/csv");
        assert_eq!(negotiate(&with_accept("text/csv;q=0"), &offered), "application/json");
        assert_eq!(negotiate(&with_accept("TEXT/CSV; charset=utf-8"), &offered), "text/csv");
        assert_eq!(negotiate(&with_accept("text/csv;q=0.5, application/json"), &offered), "application/json");
        assert_eq!(negotiate(&with_accept("application/json, text/csv"), &offered), "application/json");
        assert_eq!(negotiate(&with_accept("text/*"), &offered), "text/csv");
        assert_eq!(negotiate(&with_accept("application/xml"), &offered), "application/json");
    }
}

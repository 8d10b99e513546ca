//! Limits that keep one caller from exhausting the service (OWASP API4): per-principal rate
//! limiting, a handler timeout, security headers on every response, and CORS (closed unless
//! origins are configured). Body and page size limits live with the extractors in
//! [`crate::request`]; connection timeouts are set on the server in the `isms` crate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web;

use crate::auth::Authentication;
use crate::problem::ApiError;

/// The operator's limits. `Default` is meant for production.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Requests per second each principal (tenant and `sub`; the peer IP when unauthenticated)
    /// may sustain. Zero turns rate limiting off.
    pub rate_per_second: f64,
    /// Requests a principal may send at once after being idle (the token bucket's size).
    pub rate_burst: u32,
    /// Most principals tracked at once; beyond it idle ones are forgotten first (bounded memory).
    pub rate_max_principals: usize,
    /// Longest a handler may take to produce its response head; then `503 handler_timeout`.
    pub handler_timeout: Duration,
    /// Longest a client may take to send a request's head after connecting.
    pub client_request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// Origins (`https://app.example.com`) browsers may call the API from. Empty: none (CORS
    /// closed; same-origin use such as `/docs/` is unaffected).
    pub cors_allowed_origins: Vec<String>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            rate_per_second: 100.0,
            rate_burst: 500,
            rate_max_principals: 100_000,
            handler_timeout: Duration::from_secs(60),
            client_request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(30),
            cors_allowed_origins: Vec::new(),
        }
    }
}

impl HttpLimits {
    /// Checks the settings, naming the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !self.rate_per_second.is_finite() || self.rate_per_second < 0.0 {
            return Err(format!("rate_per_second must be 0 (off) or positive, not {}", self.rate_per_second));
        }
        if self.rate_per_second > 0.0 && self.rate_burst == 0 {
            return Err("rate_burst must be at least 1 when rate limiting is on".into());
        }
        if self.rate_max_principals == 0 {
            return Err("rate_max_principals must be at least 1".into());
        }
        if self.handler_timeout.is_zero() {
            return Err("handler_timeout must be positive".into());
        }
        for origin in &self.cors_allowed_origins {
            let valid = origin.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains('/')
            });
            if !valid {
                return Err(format!(
                    "cors_allowed_origins: '{origin}' is not an origin such as https://app.example.com"
                ));
            }
        }
        Ok(())
    }

    /// The CORS policy: closed unless origins are configured; then those origins may send the
    /// headers the API reads and read the headers it sets.
    pub fn cors(&self) -> actix_cors::Cors {
        let mut cors = actix_cors::Cors::default();
        for origin in &self.cors_allowed_origins {
            cors = cors.allowed_origin(origin);
        }
        cors.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static("isms-next-cursor"),
                crate::request::PAGE_LIMIT.clone(),
            ])
            .max_age(600)
    }
}

/// The limits in force and the rate limiter's state, shared by every worker.
pub struct Limiter {
    pub limits: HttpLimits,
    buckets: Mutex<Buckets>,
}

struct Buckets {
    by_principal: HashMap<String, Bucket>,
    last_sweep: Instant,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Limiter {
    pub fn new(limits: HttpLimits) -> Self {
        Self { limits, buckets: Mutex::new(Buckets { by_principal: HashMap::new(), last_sweep: Instant::now() }) }
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let (rate, burst) = (self.limits.rate_per_second, f64::from(self.limits.rate_burst));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.by_principal.contains_key(key) && buckets.by_principal.len() >= self.limits.rate_max_principals {
            buckets.make_room(rate, burst, now);
        }
        let bucket = buckets.by_principal.entry(key.to_owned()).or_insert(Bucket { tokens: burst, updated: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// How many principals are tracked (for tests of the memory bound).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).by_principal.len()
    }
}

impl Buckets {
    /// Forgets principals whose bucket has refilled (they are indistinguishable from new ones),
    /// at most once a second; if that frees nothing, forgets one arbitrary principal, which can
    /// only make the limiter more lenient to it, never lock anyone out.
    fn make_room(&mut self, rate: f64, burst: f64, now: Instant) {
        if now.duration_since(self.last_sweep) >= Duration::from_secs(1) {
            self.last_sweep = now;
            let full_after = Duration::from_secs_f64(burst / rate);
            self.by_principal.retain(|_, bucket| now.duration_since(bucket.updated) < full_after);
        }
        if let Some(key) = self.by_principal.keys().next().cloned() {
            self.by_principal.remove(&key);
        }
    }
}

/// The bucket of a caller without a valid token: its IPv4 address, or its IPv6 /64. One host
/// usually holds a whole /64, so keying by address would let it rotate through addresses to
/// get a fresh bucket per request and churn every other caller's out of the bounded map.
fn network(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        std::net::IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Paths a load balancer or scraper polls; they are cheap and must never be throttled.
fn exempt(path: &str) -> bool {
    matches!(path, "/livez" | "/readyz" | "/metrics")
}

/// Middleware: one token per request from the caller's bucket; `429 rate_limited` with
/// `Retry-After` when it is empty. The bearer token is verified here (once per request: the
/// extractors reuse the outcome) so that the bucket belongs to a proven tenant and `sub`, and a
/// forged token cannot drain someone else's.
pub async fn rate_limit(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limiter) = request.app_data::<web::Data<Limiter>>().cloned() else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    if limiter.limits.rate_per_second <= 0.0 || exempt(request.path()) {
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let key = match crate::auth::authentication(request.request()) {
        Some(Authentication(Ok(principal))) => format!("principal {} {}", principal.tenant, principal.subject),
        _ => format!("peer {}", request.peer_addr().map_or_else(|| "unknown".to_owned(), |peer| network(peer.ip()))),
    };
    match limiter.take(&key, Instant::now()) {
        Ok(()) => Ok(next.call(request).await?.map_into_boxed_body()),
        Err(wait) => {
            let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
            tracing::warn!(target: "security", event = "rate_limited", key = %key, retry_after = seconds);
            let error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests from this caller; retry after {seconds} s"),
            );
            let mut response = request.error_response(error);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            Ok(response)
        }
    }
}

/// Middleware: a handler that has not produced its response head in time is abandoned with
/// `503 handler_timeout`. A command abandoned this way may still be recorded (the writer does
/// not know the caller left): the problem says so, and `Idempotency-Key` makes the retry safe.
/// The refusal is returned as an error because the request cannot be kept for a response (it
/// must not be cloned before routing); the request context renders it like any problem.
pub async fn handler_timeout(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limit) = request.app_data::<web::Data<Limiter>>().map(|l| l.limits.handler_timeout) else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    match actix_web::rt::time::timeout(limit, next.call(request)).await {
        Ok(response) => Ok(response?.map_into_boxed_body()),
        Err(_) => {
            tracing::error!(timeout_ms = limit.as_millis() as u64, "handler timed out");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "handler_timeout",
                format!(
                    "the request did not complete within {} ms; a command may still have been recorded: \
                     retry with the same Idempotency-Key",
                    limit.as_millis()
                ),
            )
            .into())
        }
    }
}

/// The Content-Security-Policy of API responses: they are data, never rendered.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Swagger UI at `/docs/` loads its own scripts, styles and images and fetches `/openapi.json`
/// and the API from the same origin; its initializer sets inline styles.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds the security headers every response carries (OWASP secure headers): no MIME sniffing,
/// no framing, no referrer, no caching of API data unless a handler chose otherwise.
pub fn add_security_headers(path: &str, headers: &mut actix_web::http::header::HeaderMap) {
    let docs = path.starts_with("/docs");
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }));
    if !docs && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn anonymous_ipv6_callers_share_their_64_and_ipv4_callers_their_address() {
        let key = |text: &str| super::network(text.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(key("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    use super::*;

    fn limiter(rate: f64, burst: u32, max: usize) -> Limiter {
        Limiter::new(HttpLimits {
            rate_per_second: rate,
            rate_burst: burst,
            rate_max_principals: max,
            ..Default::default()
        })
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_until_refilled() {
        let limiter = limiter(2.0, 3, 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", start).is_ok());
        }
        let wait = limiter.take("a", start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "one token takes 1/rate seconds: {wait:?}");
        assert!(limiter.take("b", start).is_ok(), "another principal has its own bucket");
        assert!(limiter.take("a", start + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn memory_stays_bounded_by_the_principal_limit() {
        let limiter = limiter(1.0, 1, 100);
        let start = Instant::now();
        for i in 0..1_000 {
            let _ = limiter.take(&format!("peer {i}"), start);
        }
        assert!(limiter.tracked() <= 100);
    }

    #[test]
    fn settings_are_validated_by_name() {
        let bad = HttpLimits { cors_allowed_origins: vec!["*".into()], ..Default::default() };
        assert!(bad.validate().unwrap_err().contains("cors_allowed_origins"));
        assert!(HttpLimits::default().validate().is_ok());
    }
}

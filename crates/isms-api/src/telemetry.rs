//! `/metrics`: the service's measurements in the Prometheus text format, for the monitoring
//! the operator already runs (A.8.16). No token: it carries counts and timings, no ISMS data.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use isms_app::Ledger;
use isms_telemetry::{Collect, Counter, Exposition, Family, Gauge, Histogram, Registry, LATENCY_SECONDS};

/// Most series one HTTP family keeps: routes × methods × statuses stays far below it, so it
/// only matters if a label ever turns out unbounded.
const MAX_HTTP_SERIES: usize = 2_000;

/// Requests by matched route pattern, method and status, and their latency.
pub struct HttpMetrics {
    requests: Family<Counter>,
    latency: Family<Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::new(&["route", "method", "status"], MAX_HTTP_SERIES, Counter::default),
            latency: Family::new(&["route", "method"], MAX_HTTP_SERIES, || Histogram::new(LATENCY_SECONDS)),
        }
    }
}

impl HttpMetrics {
    pub fn record(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.requests.get(&[route, method, &status.to_string()]).inc();
        self.latency.get(&[route, method]).observe_duration(elapsed);
    }
}

/// Methods outside the standard set share one label, so a client cannot invent series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Collect for HttpMetrics {
    fn collect(&self, out: &mut Exposition) {
        out.counter_family(
            "http_requests_total",
            "HTTP requests by matched route pattern (unmatched: no route), method and status.",
            &self.requests,
        );
        out.histogram_family(
            "http_request_duration_seconds",
            "Time to produce the response head, by matched route pattern and method.",
            &self.latency,
        );
    }
}

/// Facts about this run's start.
pub struct StartupMetrics {
    pub started_at: Gauge,
    pub verification_seconds: Gauge,
    pub rebuild_seconds: Gauge,
}

impl Default for StartupMetrics {
    fn default() -> Self {
        let started_at = Gauge::default();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        started_at.set(now.as_secs_f64());
        Self { started_at, verification_seconds: Gauge::default(), rebuild_seconds: Gauge::default() }
    }
}

impl Collect for StartupMetrics {
    fn collect(&self, out: &mut Exposition) {
        out.gauge(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            &[(&[], self.started_at.get())],
        );
        out.gauge(
            "isms_startup_verification_seconds",
            "Time the start-up hash chain verification took.",
            &[(&[], self.verification_seconds.get())],
        );
        out.gauge(
            "isms_startup_rebuild_seconds",
            "Time rebuilding the projections from the log took at start-up.",
            &[(&[], self.rebuild_seconds.get())],
        );
    }
}

/// Everything `/metrics` renders. Other parts of the service add their own collectors with
/// [`Registry::register`] or [`Registry::register_fn`] at start-up.
pub struct Telemetry {
    pub registry: Registry,
    pub http: Arc<HttpMetrics>,
    pub startup: Arc<StartupMetrics>,
}

impl Default for Telemetry {
    fn default() -> Self {
        let telemetry =
            Self { registry: Registry::new(), http: Arc::default(), startup: Arc::new(StartupMetrics::default()) };
        telemetry.registry.register(telemetry.startup.clone());
        telemetry.registry.register(telemetry.http.clone());
        telemetry
    }
}

/// Projection lag, read at scrape time: events durable in the log that the live registers have
/// not applied yet, summed over tenants (a tenant label would grow with the tenants), and the
/// tenants whose projections failed (their lag only grows until a restart).
pub fn ledger_collector(ledger: web::Data<Ledger>) -> impl Collect {
    move |out: &mut Exposition| {
        let (mut lag, mut failed) = (0u64, 0u64);
        for tenant in ledger.store().tenants().unwrap_or_default() {
            let durable = ledger.store().head(&tenant).map_or(0, |head| head.position);
            match ledger.projections().tenant(&tenant) {
                Ok(registers) => {
                    let applied = registers.read().unwrap_or_else(|p| p.into_inner()).position;
                    lag += durable.saturating_sub(applied);
                }
                Err(_) => failed += 1,
            }
        }
        out.gauge(
            "isms_projection_lag_events",
            "Events durable in the log but not yet applied to the live registers, all tenants.",
            &[(&[], lag as f64)],
        );
        out.gauge(
            "isms_projection_failed_tenants",
            "Tenants whose live registers stopped at an event they could not apply.",
            &[(&[], failed as f64)],
        );
    }
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub async fn metrics(telemetry: Option<web::Data<Telemetry>>) -> HttpResponse {
    let text = telemetry.map(|t| t.registry.render()).unwrap_or_default();
    HttpResponse::Ok().content_type(isms_telemetry::CONTENT_TYPE).body(text)
}

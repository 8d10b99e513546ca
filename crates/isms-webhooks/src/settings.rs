//! Operator settings of the feed and the webhooks (`ServeConfig::webhooks`).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Hosts or IP addresses webhooks may target although they are private, loopback or
    /// link-local (e.g. `127.0.0.1` for a local bridge). Names match the URL's host; addresses
    /// match what any name resolves to.
    pub allow_hosts: Vec<String>,
    /// Waits before the 2nd, 3rd, ... attempt of a delivery (the first is immediate); after the
    /// last one the delivery is given up. Each wait gets up to `jitter` of random spread.
    pub retry_delays: Vec<Duration>,
    /// Fraction (0..1) of random spread added to or taken from each retry wait, so receivers
    /// that come back are not hit by every sender at the same instant.
    pub jitter: f64,
    pub connect_timeout: Duration,
    /// Whole request, connect to last byte of the response.
    pub request_timeout: Duration,
    /// How long a rotated-out secret keeps signing beside the new one.
    pub rotation_grace: Duration,
    /// Deliveries in flight at once, over all subscriptions.
    pub max_concurrent_deliveries: usize,
    /// Prefix of the CloudEvents `source` (`<base>/tenants/<tenant>`): names this ledger.
    pub event_source_base: String,
    /// Comment lines on an idle event stream, so proxies and clients keep it open.
    pub stream_heartbeat: Duration,
}

/// Roughly doubling waits from 5 seconds to a day, about three days in all (75.6 hours):
/// a receiver down over a long weekend still gets every event.
pub const DEFAULT_RETRY_DELAYS_SECS: [u64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_hosts: Vec::new(),
            retry_delays: DEFAULT_RETRY_DELAYS_SECS.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter: 0.2,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            rotation_grace: Duration::from_secs(24 * 3600),
            max_concurrent_deliveries: 16,
            event_source_base: "/isms-ledger".to_owned(),
            stream_heartbeat: Duration::from_secs(15),
        }
    }
}

impl WebhookSettings {
    /// Parses a comma-separated list of hosts (the `--webhook-allow-hosts` argument).
    pub fn parse_hosts(list: &str) -> Vec<String> {
        list.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect()
    }
}

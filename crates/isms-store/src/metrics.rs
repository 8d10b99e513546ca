//! What the writer measures for `/metrics`: events made durable, how long an append waits for
//! its answer, how long each fsync takes, and how many events one fsync makes durable (the
//! group commit at work).

use isms_telemetry::{Collect, Counter, Exposition, Histogram, BATCH_SIZES, FSYNC_SECONDS, LATENCY_SECONDS};

#[derive(Debug)]
pub struct StoreMetrics {
    pub events_appended: Counter,
    pub append_latency: Histogram,
    pub fsync_latency: Histogram,
    pub group_commit_events: Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            events_appended: Counter::default(),
            append_latency: Histogram::new(LATENCY_SECONDS),
            fsync_latency: Histogram::new(FSYNC_SECONDS),
            group_commit_events: Histogram::new(BATCH_SIZES),
        }
    }
}

impl Collect for StoreMetrics {
    fn collect(&self, out: &mut Exposition) {
        out.counter(
            "isms_events_appended_total",
            "Events made durable in the log, all tenants.",
            &[(&[], self.events_appended.get())],
        );
        out.histogram(
            "isms_append_duration_seconds",
            "Time from queueing an append to its answer (queue, staging, fsync, projections).",
            &self.append_latency,
        );
        out.histogram("isms_fsync_duration_seconds", "Time of one flush and fsync of the log.", &self.fsync_latency);
        out.histogram(
            "isms_group_commit_events",
            "Events made durable by one fsync (group commit batch size).",
            &self.group_commit_events,
        );
    }
}

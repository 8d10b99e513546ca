//! Latency summaries and result printing shared by both benchmarks.
//!
//! Kept apart from the benchmarks so that both compute percentiles the same way (nearest rank
//! over every measured request, no sampling or histogram bucketing) and print the same shape:
//! human-readable lines first, then one JSON line that can be pasted into notes as it is.

use std::time::Duration;

use serde::Serialize;

/// Latency figures in milliseconds, computed from every recorded duration.
#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    pub samples: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Sorts the durations and reads the percentiles off them (nearest-rank method).
    pub fn from_durations(mut durations: Vec<Duration>) -> Self {
        durations.sort_unstable();
        let total: Duration = durations.iter().sum();
        let mean_ms = if durations.is_empty() { 0.0 } else { ms(total) / durations.len() as f64 };
        Self {
            samples: durations.len(),
            mean_ms: round3(mean_ms),
            p50_ms: round3(ms(percentile(&durations, 50.0))),
            p90_ms: round3(ms(percentile(&durations, 90.0))),
            p99_ms: round3(ms(percentile(&durations, 99.0))),
            max_ms: round3(ms(durations.last().copied().unwrap_or_default())),
        }
    }

    /// One line: `label  p50 … p90 … p99 … max … (mean …, n samples)`.
    pub fn print(&self, label: &str) {
        println!(
            "  {label:<22} p50 {:>8.3} ms  p90 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  (mean {:.3} ms, {} samples)",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.mean_ms, self.samples
        );
    }
}

/// The nearest-rank percentile of already sorted durations (zero when there are none).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Rounds to 3 decimals so the JSON line stays readable.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// A target the brief sets, and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub what: String,
    pub met: bool,
}

impl Target {
    pub fn new(what: impl Into<String>, met: bool) -> Self {
        Self { what: what.into(), met }
    }

    pub fn print(&self) {
        let verdict = if self.met { "met" } else { "NOT met" };
        println!("  target {:<30} {verdict}", self.what);
    }
}

/// Facts about the machine the figures were measured on, stamped into the JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Host {
    pub measured_at: String,
    pub cpus: usize,
    pub os: &'static str,
    pub arch: &'static str,
    /// Whether isms-bench itself is a debug build (the server's build cannot be seen from here).
    pub bench_debug_build: bool,
}

impl Host {
    pub fn current() -> Self {
        Self {
            measured_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            bench_debug_build: cfg!(debug_assertions),
        }
    }
}

/// Prints the final single JSON line.
pub fn print_json_line(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&sorted, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 90.0), Duration::from_millis(90));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_millis(1));
    }

    #[test]
    fn small_and_empty_inputs() {
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        let one = millis(&[7]);
        assert_eq!(percentile(&one, 99.0), Duration::from_millis(7));
        let summary = LatencySummary::from_durations(millis(&[3, 1, 2]));
        assert_eq!(summary.samples, 3);
        assert_eq!(summary.p50_ms, 2.0);
        assert_eq!(summary.max_ms, 3.0);
        assert_eq!(summary.mean_ms, 2.0);
        let empty = LatencySummary::from_durations(Vec::new());
        assert_eq!(empty.samples, 0);
        assert_eq!(empty.max_ms, 0.0);
    }
}

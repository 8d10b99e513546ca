//! Metrics for `/metrics`: counters, gauges and histograms kept in atomics, rendered in the
//! Prometheus text exposition format 0.0.4.
//!
//! Hand-written rather than a metrics crate because the store records on its writer thread and
//! must not depend on the HTTP layer, the set of series is small and fixed, and format 0.0.4 is
//! what every scraper accepts (the OpenMetrics output of `prometheus-client` names counters
//! differently). Recording is lock-free except the first time a labelled series is seen.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The content type of the exposition format this crate renders.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label names and values of one sample, in order.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// A count that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Observations counted into fixed buckets (upper bounds, ascending; `+Inf` is implied).
#[derive(Debug)]
pub struct Histogram {
    bounds: Box<[f64]>,
    /// One more than `bounds`: the last counts what exceeds every bound.
    buckets: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

/// Bucket bounds in seconds for request and append latencies: 0.5 ms to 30 s.
pub const LATENCY_SECONDS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Bucket bounds in seconds for fsync: 50 µs to 1 s.
pub const FSYNC_SECONDS: &[f64] = &[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0];

/// Bucket bounds for counts of things per batch: 1 to 4096, powers of two.
pub const BATCH_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0];

impl Histogram {
    pub fn new(bounds: &[f64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "histogram bounds must ascend");
        Self {
            bounds: bounds.into(),
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub fn observe(&self, value: f64) {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }

    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    /// Cumulative counts per bound (the last is `+Inf`, equal to the count), and the sum.
    /// The count is the buckets' own total, so a scrape never sees `_count` disagree with them.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, f64) {
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(self.buckets.len());
        for (i, bucket) in self.buckets.iter().enumerate() {
            total += bucket.load(Ordering::Relaxed);
            cumulative.push((self.bounds.get(i).copied().unwrap_or(f64::INFINITY), total));
        }
        (cumulative, f64::from_bits(self.sum.load(Ordering::Relaxed)))
    }
}

/// One metric per combination of label values (`route`, `method`, `status`, ...).
pub struct Family<M> {
    label_names: &'static [&'static str],
    series: RwLock<HashMap<Box<[String]>, Arc<M>>>,
    make: Box<dyn Fn() -> M + Send + Sync>,
    max_series: usize,
}

/// The value every label takes for series beyond a family's bound.
pub const OVERFLOW_LABEL: &str = "other";

impl<M> Family<M> {
    /// `max_series` bounds memory and scrape size even if a label turns out less bounded than
    /// designed: further combinations share one series whose labels are all [`OVERFLOW_LABEL`].
    pub fn new(
        label_names: &'static [&'static str],
        max_series: usize,
        make: impl Fn() -> M + Send + Sync + 'static,
    ) -> Self {
        Self { label_names, series: RwLock::new(HashMap::new()), make: Box::new(make), max_series }
    }

    /// The series for these label values (in the order of the label names).
    pub fn get(&self, values: &[&str]) -> Arc<M> {
        debug_assert_eq!(values.len(), self.label_names.len(), "one value per label name");
        if let Some(series) = self.series.read().unwrap_or_else(|p| p.into_inner()).get(values_key(values).as_ref()) {
            return series.clone();
        }
        let mut series = self.series.write().unwrap_or_else(|p| p.into_inner());
        let key: Box<[String]> = if series.len() < self.max_series {
            values.iter().map(|v| (*v).to_owned()).collect()
        } else {
            self.label_names.iter().map(|_| OVERFLOW_LABEL.to_owned()).collect()
        };
        series.entry(key).or_insert_with(|| Arc::new((self.make)())).clone()
    }

    fn sorted(&self) -> Vec<(Box<[String]>, Arc<M>)> {
        let series = self.series.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = series.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

fn values_key(values: &[&str]) -> Box<[String]> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// Something that writes its series into a scrape.
pub trait Collect: Send + Sync {
    fn collect(&self, out: &mut Exposition);
}

impl<F: Fn(&mut Exposition) + Send + Sync> Collect for F {
    fn collect(&self, out: &mut Exposition) {
        self(out)
    }
}

/// Everything `/metrics` renders, in registration order.
#[derive(Default)]
pub struct Registry {
    collectors: RwLock<Vec<Arc<dyn Collect>>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, collector: Arc<dyn Collect>) {
        self.collectors.write().unwrap_or_else(|p| p.into_inner()).push(collector);
    }

    /// Registers a closure, e.g. one that reads a worker's own atomics at scrape time.
    pub fn register_fn(&self, collect: impl Fn(&mut Exposition) + Send + Sync + 'static) {
        self.register(Arc::new(collect));
    }

    /// The scrape, in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        for collector in self.collectors.read().unwrap_or_else(|p| p.into_inner()).iter() {
            collector.collect(&mut out);
        }
        out.text
    }
}

/// A scrape being written. Each method writes one metric family: its `# HELP` and `# TYPE`
/// lines and every sample.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: Labels, value: &str) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let value = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = write!(self.text, "{label}=\"{value}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A counter family given as samples, e.g. `&[(&[("outcome", "delivered")], 12)]`.
    pub fn counter(&mut self, name: &str, help: &str, samples: &[(Labels, u64)]) {
        self.header(name, help, "counter");
        for (labels, value) in samples {
            self.sample(name, labels, &value.to_string());
        }
    }

    /// A gauge family given as samples.
    pub fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels, f64)]) {
        self.header(name, help, "gauge");
        for (labels, value) in samples {
            self.sample(name, labels, &number(*value));
        }
    }

    pub fn counter_family(&mut self, name: &str, help: &str, family: &Family<Counter>) {
        self.header(name, help, "counter");
        for (values, counter) in family.sorted() {
            let labels = pairs(family.label_names, &values);
            self.sample(name, &labels, &counter.get().to_string());
        }
    }

    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.header(name, help, "histogram");
        self.histogram_samples(name, &[], histogram);
    }

    pub fn histogram_family(&mut self, name: &str, help: &str, family: &Family<Histogram>) {
        self.header(name, help, "histogram");
        for (values, histogram) in family.sorted() {
            self.histogram_samples(name, &pairs(family.label_names, &values), histogram.as_ref());
        }
    }

    fn histogram_samples(&mut self, name: &str, labels: Labels, histogram: &Histogram) {
        let (cumulative, sum) = histogram.snapshot();
        let bucket_name = format!("{name}_bucket");
        for (bound, count) in &cumulative {
            let le = number(*bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket_name, &with_le, &count.to_string());
        }
        let count = cumulative.last().map_or(0, |(_, count)| *count);
        self.sample(&format!("{name}_sum"), labels, &number(sum));
        self.sample(&format!("{name}_count"), labels, &count.to_string());
    }
}

fn pairs<'a>(names: &'a [&'static str], values: &'a [String]) -> Vec<(&'a str, &'a str)> {
    names.iter().copied().zip(values.iter().map(String::as_str)).collect()
}

/// Numbers as the exposition format spells them (`+Inf`, `-Inf`, `NaN`).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let histogram = Histogram::new(&[1.0, 2.0]);
        for value in [0.5, 1.0, 1.5, 3.0] {
            histogram.observe(value);
        }
        let (cumulative, sum) = histogram.snapshot();
        assert_eq!(cumulative, vec![(1.0, 2), (2.0, 3), (f64::INFINITY, 4)]);
        assert!((sum - 6.0).abs() < 1e-9);
    }

    #[test]
    fn renders_the_text_format_with_escaped_labels() {
        let registry = Registry::new();
        let family = Arc::new(Family::new(&["route"], 10, Counter::default));
        family.get(&["/a\"b"]).add(2);
        let histogram = Arc::new(Histogram::new(&[0.5]));
        histogram.observe(0.25);
        let (f, h) = (family.clone(), histogram.clone());
        registry.register_fn(move |out| {
            out.counter_family("x_total", "Things.", &f);
            out.histogram("y_seconds", "Time.", &h);
        });
        assert_eq!(
            registry.render(),
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{route=\"/a\\\"b\"} 2\n\
             # HELP y_seconds Time.\n# TYPE y_seconds histogram\ny_seconds_bucket{le=\"0.5\"} 1\n\
             y_seconds_bucket{le=\"+Inf\"} 1\ny_seconds_sum 0.25\ny_seconds_count 1\n"
        );
    }

    #[test]
    fn a_family_beyond_its_bound_folds_new_series_into_one() {
        let family = Family::new(&["route", "method"], 2, Counter::default);
        for route in ["/a", "/b", "/c", "/d"] {
            family.get(&[route, "GET"]).inc();
        }
        let series = family.sorted();
        assert_eq!(series.len(), 3);
        let overflow = series.iter().find(|(k, _)| k.iter().all(|v| v == OVERFLOW_LABEL)).unwrap();
        assert_eq!(overflow.1.get(), 2);
    }
}

//! `isms-bench store`: durable append throughput of the event store, without HTTP.
//!
//! This isolates the write path every command ends in — the group-commit writer over sled,
//! with one atomic batch, one flush and one fsync per group — so its ceiling can be told apart
//! from the HTTP, auth and projection costs that `isms-bench http` adds on top. Each appender
//! works on its own risk streams the way the API does: a `RiskIdentified` append expecting no
//! stream, then a `RiskAssessed` append expecting the exact version, then a new risk. Every
//! append is durable when it returns, so events/s here is durable events/s.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use isms_store::{
    AppendRequest, CommandMeta, CommitListener, Envelope, EventStore, ExpectedVersion, GroupCommitStore, NewEvent,
    SledStorage, Storage, StreamRef, TenantId, WriterConfig,
};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::report::{round3, Host, LatencySummary, Target};

/// The durable events/s the store should sustain with concurrent appenders.
const TARGET_EVENTS_PER_SEC: f64 = 40_000.0;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Concurrent appender tasks.
    #[arg(long, default_value_t = 64)]
    pub appenders: usize,
    /// Total events to append (spread over all appenders).
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Events per append request (one append is one command in the API).
    #[arg(long, default_value_t = 1)]
    pub events_per_append: u64,
    /// Directory in which the temporary event log is created (default: the system temp dir).
    /// Point it at the disk you want to measure: fsync on tmpfs costs nothing.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Counts group commits; otherwise does nothing with the events (no projections here).
#[derive(Default)]
struct CountingListener {
    commits: AtomicU64,
    events: AtomicU64,
}

impl CommitListener for CountingListener {
    fn committed(&self, events: &[Envelope]) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events.len() as u64, Ordering::Relaxed);
    }
}

#[derive(Debug, Serialize)]
struct StoreResult {
    bench: &'static str,
    appenders: usize,
    events: u64,
    events_per_append: u64,
    appends: u64,
    elapsed_s: f64,
    durable_events_per_s: f64,
    appends_per_s: f64,
    group_commits: u64,
    mean_events_per_group_commit: f64,
    append_latency: LatencySummary,
    /// Where the single writer thread spent the run (Linux only): the writer is the serial
    /// part of the write path, so this tells CPU-bound from fsync-bound.
    writer_thread: Option<WriterTime>,
    targets: Vec<Target>,
    data_dir_parent: String,
    host: Host,
}

/// What one appender did.
struct AppenderOutcome {
    latencies: Vec<Duration>,
    events: u64,
}

pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    if args.appenders == 0 || args.events == 0 || args.events_per_append == 0 {
        bail!("--appenders, --events and --events-per-append must all be at least 1");
    }
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("isms-bench-store-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a temporary directory in {}", parent.display()))?;
    let storage =
        SledStorage::open(dir.path()).with_context(|| format!("cannot open sled in {}", dir.path().display()))?;
    let listener = Arc::new(CountingListener::default());
    let store = Arc::new(
        GroupCommitStore::start(Arc::new(storage) as Arc<dyn Storage>, listener.clone(), WriterConfig::default())
            .context("cannot start the group-commit writer")?,
    );
    let tenant = TenantId::parse("bench")?;
    let total_appends = args.events.div_ceil(args.events_per_append);
    let next_ticket = Arc::new(AtomicU64::new(0));

    println!(
        "isms-bench store: {} events, {} per append, {} concurrent appenders, data in {}",
        args.events,
        args.events_per_append,
        args.appenders,
        dir.path().display()
    );
    // The writer thread names itself once it runs; give it a moment to show up.
    let mut writer_before = writer_sched();
    for _ in 0..100 {
        if writer_before.is_some() || !cfg!(target_os = "linux") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        writer_before = writer_sched();
    }
    let started = Instant::now();
    let mut appenders = JoinSet::new();
    for appender in 0..args.appenders {
        let store = store.clone();
        let tenant = tenant.clone();
        let next_ticket = next_ticket.clone();
        let (events, per_append) = (args.events, args.events_per_append);
        appenders.spawn(async move {
            append_loop(&*store, tenant, appender, &next_ticket, total_appends, events, per_append).await
        });
    }
    let mut latencies = Vec::with_capacity(usize::try_from(total_appends).unwrap_or(0));
    let mut written = 0;
    let mut failure = None;
    while let Some(joined) = appenders.join_next().await {
        match joined.context("an appender task panicked")? {
            Ok(outcome) => {
                written += outcome.events;
                latencies.extend(outcome.latencies);
            }
            Err(error) => {
                // Let the others drain their tickets quickly: nothing more is handed out.
                next_ticket.store(total_appends, Ordering::Relaxed);
                failure.get_or_insert(error);
            }
        }
    }
    let elapsed = started.elapsed();
    let writer_after = writer_sched();
    let head = store.head(&tenant)?;
    let writer_failure = store.failure();
    store.shutdown();
    if let Some(error) = failure {
        return Err(error.context("an append failed; the benchmark was stopped"));
    }
    if let Some(reason) = writer_failure {
        bail!("the writer failed: {reason}");
    }
    if head.position != written || written != args.events {
        bail!(
            "the log holds {} events but {written} appends were acknowledged (wanted {})",
            head.position,
            args.events
        );
    }

    let seconds = elapsed.as_secs_f64();
    let commits = listener.commits.load(Ordering::Relaxed);
    let committed_events = listener.events.load(Ordering::Relaxed);
    let events_per_s = written as f64 / seconds;
    let appends = latencies.len() as u64;
    let latency = LatencySummary::from_durations(latencies);
    let targets = vec![Target::new(
        format!(">= {TARGET_EVENTS_PER_SEC} durable events/s"),
        events_per_s >= TARGET_EVENTS_PER_SEC,
    )];
    let result = StoreResult {
        bench: "store",
        appenders: args.appenders,
        events: written,
        events_per_append: args.events_per_append,
        appends,
        elapsed_s: round3(seconds),
        durable_events_per_s: events_per_s.round(),
        appends_per_s: (appends as f64 / seconds).round(),
        group_commits: commits,
        mean_events_per_group_commit: if commits == 0 { 0.0 } else { round3(committed_events as f64 / commits as f64) },
        append_latency: latency,
        writer_thread: writer_before
            .zip(writer_after)
            .map(|(before, after)| WriterTime::between(before, after, elapsed)),
        targets,
        data_dir_parent: parent.display().to_string(),
        host: Host::current(),
    };

    println!();
    println!(
        "  {} durable events in {:.3} s ({} appends, {} group commits = fsyncs)",
        result.events, result.elapsed_s, result.appends, result.group_commits
    );
    println!(
        "  throughput             {:.0} durable events/s, {:.0} appends/s, {:.1} events per group commit",
        result.durable_events_per_s, result.appends_per_s, result.mean_events_per_group_commit
    );
    result.append_latency.print("append latency");
    if let Some(writer) = &result.writer_thread {
        println!(
            "  writer thread          on CPU {:.3} s ({:.0}%), waiting for a CPU {:.3} s ({:.0}%), \
             off CPU (I/O, idle) {:.3} s ({:.0}%)",
            writer.on_cpu_s,
            100.0 * writer.on_cpu_s / seconds,
            writer.runqueue_s,
            100.0 * writer.runqueue_s / seconds,
            writer.off_cpu_s,
            100.0 * writer.off_cpu_s / seconds,
        );
    }
    for target in &result.targets {
        target.print();
    }
    println!();
    crate::report::print_json_line(&result)
}

/// Cumulative scheduler times of one thread, in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct SchedTimes {
    on_cpu_ns: u64,
    runqueue_ns: u64,
}

/// Seconds the writer thread spent on a CPU, runnable but waiting for one, and neither
/// (blocked in flush/fsync or waiting for work) during the run.
#[derive(Debug, Serialize)]
struct WriterTime {
    on_cpu_s: f64,
    runqueue_s: f64,
    off_cpu_s: f64,
}

impl WriterTime {
    fn between(before: SchedTimes, after: SchedTimes, elapsed: Duration) -> Self {
        let on_cpu = after.on_cpu_ns.saturating_sub(before.on_cpu_ns) as f64 / 1e9;
        let runqueue = after.runqueue_ns.saturating_sub(before.runqueue_ns) as f64 / 1e9;
        Self {
            on_cpu_s: round3(on_cpu),
            runqueue_s: round3(runqueue),
            off_cpu_s: round3((elapsed.as_secs_f64() - on_cpu - runqueue).max(0.0)),
        }
    }
}

/// The writer thread's times from `/proc/self/task/*/schedstat` (None where unavailable).
fn writer_sched() -> Option<SchedTimes> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != "isms-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        let mut fields = stat.split_whitespace().map(str::parse::<u64>);
        return Some(SchedTimes { on_cpu_ns: fields.next()?.ok()?, runqueue_ns: fields.next()?.ok()? });
    }
    None
}

/// Takes tickets (one per append) until there are none left; returns the latencies it saw.
async fn append_loop(
    store: &dyn EventStore,
    tenant: TenantId,
    appender: usize,
    next_ticket: &AtomicU64,
    total_appends: u64,
    total_events: u64,
    per_append: u64,
) -> anyhow::Result<AppenderOutcome> {
    let mut outcome = AppenderOutcome { latencies: Vec::new(), events: 0 };
    // The risk this appender is working on, and its stream version once identified.
    let mut current: Option<(String, u64)> = None;
    loop {
        let ticket = next_ticket.fetch_add(1, Ordering::Relaxed);
        if ticket >= total_appends {
            return Ok(outcome);
        }
        let count = per_append.min(total_events - ticket * per_append);
        let (stream_id, expected, event_type, make): (_, _, _, fn(u64, usize) -> Value) = match current.take() {
            None => (Uuid::now_v7().to_string(), ExpectedVersion::NoStream, "RiskIdentified", risk_identified),
            Some((id, version)) => (id, ExpectedVersion::Exact(version), "RiskAssessed", risk_assessed),
        };
        let events = (0..count)
            .map(|_| NewEvent {
                event_type: event_type.to_owned(),
                schema_version: 1,
                data: make(ticket, appender),
                effective_at: None,
            })
            .collect();
        let request = AppendRequest {
            tenant: tenant.clone(),
            stream: StreamRef::new("risk", stream_id.clone()),
            expected,
            events,
            meta: CommandMeta {
                actor: format!("bench-appender-{appender}"),
                correlation_id: Uuid::now_v7(),
                causation_id: None,
                source: None,
                idempotency: None,
            },
        };
        let started = Instant::now();
        let appended = store
            .append(request)
            .await
            .with_context(|| format!("appender {appender}: append to risk {stream_id} failed"))?;
        outcome.latencies.push(started.elapsed());
        outcome.events += appended.envelopes.len() as u64;
        // Identify, then assess once, then move on to a new risk (as `isms-bench http` does).
        if expected == ExpectedVersion::NoStream {
            current = Some((stream_id, appended.version()));
        }
    }
}

/// A realistic risk identification payload, about 400 bytes of JSON.
fn risk_identified(ticket: u64, appender: usize) -> Value {
    json!({
        "kind": "risk",
        "title": format!("Unpatched VPN gateway ({ticket})"),
        "description": "The VPN appliance runs firmware two releases behind the vendor's \
            advisories; a published pre-auth flaw could expose the internal network.",
        "category": "technical-vulnerability",
        "owner": format!("it-operations-{}", appender % 8),
        "asset_refs": ["asset:vpn-gw-01", "asset:corp-network"],
        "threat": "External attacker exploiting a known flaw",
        "vulnerability": "Delayed firmware patching"
    })
}

/// A risk assessment payload of similar size.
fn risk_assessed(ticket: u64, _appender: usize) -> Value {
    json!({
        "likelihood": 3 + (ticket % 3),
        "impact": 4,
        "score": 12 + 4 * (ticket % 3),
        "rationale": "Exploit code is public and the gateway is internet-facing, so likelihood \
            is high; impact is major because a compromise exposes internal systems to an \
            attacker. Compensating control in place: MFA on VPN login; patch window agreed \
            with the vendor for the next maintenance slot.",
        "assessed_by": "ciso-office",
        "criteria_version": 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_about_400_bytes() {
        for payload in [risk_identified(123_456, 7), risk_assessed(123_456, 7)] {
            let size = serde_json::to_vec(&payload).unwrap().len();
            assert!((350..=450).contains(&size), "payload is {size} bytes");
        }
    }
}

//! `isms-bench rebuild`: how long start-up takes on a large log — a full hash-chain check and a
//! rebuild of every projection from position 1.
//!
//! The log is generated through the real writer with real domain events (each risk is
//! identified, assessed, treated and accepted; each nonconformity raised, root-caused, planned
//! and completed), so the rebuild decodes and folds exactly what production would.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use ed25519_dalek::SigningKey;
use isms_app::{to_new_event, Ledger, LiveProjections, ReadPoint};
use isms_domain::criteria::{RiskCriteria, VersionedCriteria};
use isms_domain::metrics::{Frequency, Metric, MetricDefinition, MetricEvent, RecordMeasurement, TargetDirection};
use isms_domain::nonconformity::{
    NewCorrectiveAction, Nonconformity, NonconformityRaised, NonconformitySource, Severity,
};
use isms_domain::objectives::Quantity;
use isms_domain::risk::{
    AcceptResidualRisk, AssessRisk, PlanTreatment, Risk, RiskIdentified, RiskKind, TreatmentOption,
};
use isms_domain::values::ControlRef;
use isms_domain::{Actor, Aggregate};
use isms_store::proofs::Checkpoints;
use isms_store::{
    chain, AppendRequest, CommandMeta, CommitListener, Envelope, EventStore, ExpectedVersion, GroupCommitStore,
    NewEvent, SledStorage, Storage, StreamRef, TenantId, WriterConfig,
};
use serde::Serialize;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::report::{round3, Host, LatencySummary, Target};

const TARGET_REBUILD_SECONDS: f64 = 5.0;
const TARGET_TIME_TRAVEL_P50_MS: f64 = 50.0;
const TARGET_TIME_TRAVEL_P99_MS: f64 = 200.0;
/// Time-travel reads measured: enough for a stable p99.
const TIME_TRAVEL_READS: usize = 600;

struct ReportTimes {
    first_s: f64,
    again_ms: f64,
    later_s: f64,
}

/// Reports need every register at the point read: the first read replays the log up to it.
fn measure_reports_as_of(ledger: &Ledger, tenant: &TenantId, head: u64) -> anyhow::Result<ReportTimes> {
    let dashboard = |position: u64| -> anyhow::Result<f64> {
        let started = Instant::now();
        ledger
            .with_registers(tenant, ReadPoint::Position(position), |registers, resolved| {
                isms_projections::reports::dashboard::dashboard(registers, resolved.reading_date())
            })
            .map_err(|e| anyhow::anyhow!("report read failed: {e}"))?;
        Ok(started.elapsed().as_secs_f64())
    };
    let first_s = dashboard(head / 2)?;
    let again_ms = dashboard(head / 2)? * 1000.0;
    let later_s = dashboard(head / 4 * 3)?;
    Ok(ReportTimes { first_s, again_ms, later_s })
}

/// Reads the first page of a register as of random points of the log: half by position, half
/// by instant (which adds the lookup of the position at that instant).
fn measure_time_travel(
    ledger: &Ledger,
    store: &dyn EventStore,
    tenant: &TenantId,
    head: u64,
) -> anyhow::Result<LatencySummary> {
    // A fixed-seed xorshift: the same points on every run, without another dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut samples = Vec::with_capacity(TIME_TRAVEL_READS);
    for read in 0..TIME_TRAVEL_READS {
        let position = 1 + next() % head;
        let point = if read % 2 == 0 {
            ReadPoint::Position(position)
        } else {
            let event = store.read_all(tenant, position - 1, 1)?;
            ReadPoint::AsOf(event.first().context("the log has that position")?.recorded_at)
        };
        let started = Instant::now();
        let found = match read % 3 {
            0 => ledger.page::<Risk>(tenant, point, None, 50, |_, _| true).map(|p| p.items.len()),
            1 => ledger.page::<Nonconformity>(tenant, point, None, 50, |_, _| true).map(|p| p.items.len()),
            _ => ledger.page::<Metric>(tenant, point, None, 50, |_, _| true).map(|p| p.items.len()),
        }
        .map_err(|e| anyhow::anyhow!("time-travel read failed: {e}"))?;
        samples.push(started.elapsed());
        if found == 0 && position > head / 2 {
            bail!("a page as of position {position} found no records");
        }
    }
    Ok(LatencySummary::from_durations(samples))
}

#[derive(Debug, clap::Args)]
pub struct RebuildArgs {
    /// Events to generate before measuring (about; rounded to whole lifecycles).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Directory in which the temporary event log is created.
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
}

struct Ignore;
impl CommitListener for Ignore {
    fn committed(&self, _: &[Envelope]) {}
}

#[derive(Debug, Serialize)]
struct RebuildResult {
    bench: &'static str,
    events: u64,
    generate_s: f64,
    verify_chain_s: f64,
    verify_events_per_s: f64,
    scan_s: f64,
    rebuild_s: f64,
    rebuild_events_per_s: f64,
    risks: usize,
    nonconformities: usize,
    metrics: usize,
    /// First pages (50 records) of the risk, nonconformity and metric registers, in turn, as of
    /// random positions and instants of the log, through the same `Ledger::page` the API uses.
    time_travel: LatencySummary,
    /// The dashboard as of the middle of the log (a replay), at the same point again (the kept
    /// replay), and as of three quarters (another replay).
    report_as_of_first_s: f64,
    report_as_of_again_ms: f64,
    report_as_of_later_s: f64,
    /// Signing the first checkpoint of the log: the Merkle index of every event is built.
    first_checkpoint_s: f64,
    inclusion_proof_ms: f64,
    targets: Vec<Target>,
    host: Host,
}

/// One risk's whole lifecycle: identified, assessed, treated, accepted (4 events).
fn risk_lifecycle(n: u64) -> anyhow::Result<Vec<NewEvent>> {
    let criteria = VersionedCriteria { version: 0, criteria: RiskCriteria::default() };
    let owner = format!("owner-{}", n % 50);
    let mut risk = Risk::default();
    let mut events = Vec::new();
    let mut step = |risk: &mut Risk, new: Vec<isms_domain::risk::RiskEvent>| {
        for event in new {
            risk.apply(&event);
            events.push(event);
        }
    };
    let identified = risk.identify(RiskIdentified {
        kind: RiskKind::Risk,
        title: format!("Risk {n}: loss of customer records through a stolen laptop"),
        description: "Field staff carry laptops with local copies of customer files; theft exposes them.".into(),
        category: "physical".into(),
        owner: owner.clone(),
        asset_refs: vec!["laptops".into(), "customer-db".into()],
        threat: Some("theft".into()),
        vulnerability: Some("unencrypted disks".into()),
    })?;
    step(&mut risk, identified);
    let assessed = risk.assess(
        AssessRisk {
            likelihood: (n % 5 + 1) as u8,
            impact: ((n / 5) % 5 + 1) as u8,
            rationale: "incident history".into(),
        },
        &criteria,
    )?;
    step(&mut risk, assessed);
    let planned = risk.plan_treatment(
        PlanTreatment {
            option: TreatmentOption::Modify,
            controls: vec![ControlRef::parse("/", "8.1")?, ControlRef::parse("/", "5.15")?],
            actions: vec!["Full-disk encryption".into()],
            owner: owner.clone(),
            due_date: NaiveDate::from_ymd_opt(2027, 3, 31),
            target_residual_likelihood: 1,
            target_residual_impact: 2,
        },
        &criteria,
    )?;
    step(&mut risk, planned);
    let accepted = risk.accept_residual(
        AcceptResidualRisk { justification: None },
        &Actor { subject: owner, is_admin: false },
        &criteria,
    )?;
    step(&mut risk, accepted);
    Ok(events.iter().map(to_new_event).collect::<Result<_, _>>()?)
}

/// One nonconformity: raised, root cause, one action planned and completed (4 events).
fn nonconformity_lifecycle(n: u64) -> anyhow::Result<Vec<NewEvent>> {
    let mut nc = Nonconformity::default();
    let mut events = Vec::new();
    let mut step = |nc: &mut Nonconformity, new: Vec<isms_domain::nonconformity::NonconformityEvent>| {
        for event in new {
            nc.apply(&event);
            events.push(event);
        }
    };
    let raised = nc.raise(NonconformityRaised {
        title: format!("Nonconformity {n}: backups never test-restored"),
        description: "No restore test in the last 12 months.".into(),
        source: NonconformitySource::InternalAudit,
        severity: Severity::Major,
        reference: Some("8.13".into()),
        detected_at: Utc::now(),
    })?;
    step(&mut nc, raised);
    let cause = nc.record_root_cause("No owner and no schedule for restore tests.".into())?;
    step(&mut nc, cause);
    // Fixed by n: the lifecycle is recomputed for each phase, and completion names the action.
    let action = Uuid::from_u128(u128::from(n) | 1 << 100);
    let planned = nc.plan_actions(
        vec![NewCorrectiveAction {
            description: "Quarterly restore test with sign-off".into(),
            owner: "bob".into(),
            due_date: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap_or_default(),
            ticket_key: Some(format!("OPS-{n}")),
            ticket_system: None,
            ticket_project: None,
        }],
        || action,
    )?;
    step(&mut nc, planned);
    let completed = nc.complete_action(action, "done".into(), &Actor { subject: "bob".into(), is_admin: false })?;
    step(&mut nc, completed);
    Ok(events.iter().map(to_new_event).collect::<Result<_, _>>()?)
}

/// One metric: defined, three measurements (4 events, with the decimal values the other
/// registers do not carry).
fn metric_lifecycle(n: u64) -> anyhow::Result<Vec<NewEvent>> {
    let analyst = Actor { subject: "carol".into(), is_admin: false };
    let today = Utc::now().date_naive();
    let mut metric = Metric::default();
    let mut events = Vec::new();
    let mut step = |metric: &mut Metric, new: Vec<MetricEvent>| {
        for event in new {
            metric.apply(&event);
            events.push(event);
        }
    };
    let defined = metric.define(MetricDefinition {
        name: format!("Metric {n}: share of laptops with full-disk encryption"),
        what_is_measured: "Encrypted laptops divided by laptops in the asset register".into(),
        method: "MDM export".into(),
        frequency: Frequency::Monthly,
        measured_by: "bob".into(),
        analysed_by: "carol".into(),
        unit: "%".into(),
        target_value: Quantity::parse("/", 95.0)?,
        direction: TargetDirection::AtLeast,
        objective_ids: Vec::new(),
        operational_plan_ids: Vec::new(),
    })?;
    step(&mut metric, defined);
    for month in 0..3u32 {
        let measured_on = today - chrono::Days::new(u64::from(30 * (3 - month)));
        let value = Quantity::parse("/", 80.0 + f64::from(month) * 4.25 + (n % 7) as f64 * 0.5)?;
        let recorded = metric.record_measurement(
            RecordMeasurement { measurement_id: Uuid::now_v7(), value, measured_on, note: String::new() },
            &analyst,
            today,
        )?;
        step(&mut metric, recorded);
    }
    Ok(events.iter().map(to_new_event).collect::<Result<_, _>>()?)
}

pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new().prefix("isms-bench-rebuild-").tempdir_in(&parent)?;
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path())?);
    let store = Arc::new(GroupCommitStore::start(storage.clone(), Arc::new(Ignore), WriterConfig::default())?);
    let tenant = TenantId::parse("bench")?;
    let lifecycles = args.events.div_ceil(4);
    println!(
        "isms-bench rebuild: generating {} events ({lifecycles} record lifecycles) in {}",
        lifecycles * 4,
        dir.path().display()
    );

    // Each record's four events are appended in four phases, one event per append, so records
    // created early change late: a read as of a point in the middle meets records whose state
    // then differs from today's, as in a real ISMS, rather than only finished lifecycles.
    let started = Instant::now();
    const WRITERS: u64 = 32;
    for phase in 0..4usize {
        let mut writers = JoinSet::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            let tenant = tenant.clone();
            writers.spawn(async move {
                let mut n = writer;
                while n < lifecycles {
                    let (stream_type, mut events) = match n % 4 {
                        3 => (Nonconformity::STREAM_TYPE, nonconformity_lifecycle(n)?),
                        2 => (Metric::STREAM_TYPE, metric_lifecycle(n)?),
                        _ => (Risk::STREAM_TYPE, risk_lifecycle(n)?),
                    };
                    let request = AppendRequest {
                        tenant: tenant.clone(),
                        stream: StreamRef::new(stream_type, Uuid::from_u128(u128::from(n) + 1).to_string()),
                        expected: if phase == 0 {
                            ExpectedVersion::NoStream
                        } else {
                            ExpectedVersion::Exact(phase as u64)
                        },
                        events: vec![events.swap_remove(phase)],
                        meta: CommandMeta {
                            actor: "bench".into(),
                            correlation_id: Uuid::now_v7(),
                            causation_id: None,
                            source: None,
                            idempotency: None,
                        },
                    };
                    store.append(request).await.map_err(|e| anyhow::anyhow!("append failed: {e}"))?;
                    n += WRITERS;
                }
                anyhow::Ok(())
            });
        }
        while let Some(joined) = writers.join_next().await {
            joined.context("a writer task panicked")??;
        }
    }
    let generate_s = started.elapsed().as_secs_f64();
    let events = store.head(&tenant)?.position;
    store.shutdown();
    drop(store);
    drop(storage);
    println!("  generated {events} events in {generate_s:.1} s");

    // Each phase reopens the database, as a restarting server would: sled's own cache starts
    // cold (the operating system's file cache stays warm, as it would after a restart).
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path())?);
    let started = Instant::now();
    let verified =
        chain::verify_chain(storage.as_ref(), &tenant, None, None)?.map_err(|broken| anyhow::anyhow!("{broken}"))?;
    let verify_chain_s = started.elapsed().as_secs_f64();
    if verified.events_checked != events {
        bail!("verified {} events, expected {events}", verified.events_checked);
    }
    println!("  full chain verification (cold): {verify_chain_s:.3} s");
    drop(storage);

    let reopen = || -> anyhow::Result<Arc<GroupCommitStore>> {
        let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path())?);
        Ok(Arc::new(GroupCommitStore::start(storage, Arc::new(Ignore), WriterConfig::default())?))
    };
    // The read side alone (scan and decode envelopes), the floor under any rebuild.
    let store = reopen()?;
    let started = Instant::now();
    let (mut after, mut scanned) = (0, 0u64);
    loop {
        let chunk = store.read_all(&tenant, after, isms_store::READ_CHUNK)?;
        let Some(last) = chunk.last() else { break };
        after = last.position;
        scanned += chunk.len() as u64;
    }
    let scan_s = started.elapsed().as_secs_f64();
    println!("  scan and decode of {scanned} envelopes (cold): {scan_s:.3} s");
    store.shutdown();
    drop(store);

    let reopened_storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path())?);
    let store = Arc::new(GroupCommitStore::start(reopened_storage.clone(), Arc::new(Ignore), WriterConfig::default())?);
    let projections = Arc::new(LiveProjections::new());
    let started = Instant::now();
    let applied = projections.rebuild(store.as_ref()).map_err(|e| anyhow::anyhow!("rebuild failed: {e}"))?;
    let rebuild_s = started.elapsed().as_secs_f64();
    if applied != events {
        bail!("rebuilt {applied} events, expected {events}");
    }
    let registers = projections.tenant(&tenant).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (risks, nonconformities, metrics) = {
        let registers = registers.read().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (registers.risks.len(), registers.nonconformities.len(), registers.metrics.len())
    };
    println!(
        "  rebuild of all projections (cold): {rebuild_s:.3} s ({risks} risks, {nonconformities} nonconformities, {metrics} metrics)"
    );
    let event_store: Arc<dyn EventStore> = store.clone();
    let ledger = Ledger::new(event_store, projections.clone());
    let time_travel = measure_time_travel(&ledger, store.as_ref(), &tenant, events)?;
    time_travel.print("register page as of a random point");
    let reports = measure_reports_as_of(&ledger, &tenant, events)?;
    println!(
        "  dashboard as of the middle of the log: {:.3} s (replay), again {:.3} ms (kept replay), \
         three quarters in {:.3} s (replay)",
        reports.first_s, reports.again_ms, reports.later_s
    );
    let started = Instant::now();
    let checkpoints = Checkpoints::new(store.clone(), reopened_storage.clone(), SigningKey::from_bytes(&[7; 32]));
    checkpoints.take(&tenant)?.context("a checkpoint of a non-empty log")?;
    let first_checkpoint_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let proof = checkpoints.latest(&tenant)?.context("the checkpoint just taken")?;
    let proof = checkpoints.inclusion(&proof, events / 2)?;
    let inclusion_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "  first checkpoint (Merkle index of every event): {first_checkpoint_s:.3} s; an inclusion proof then: \
         {inclusion_ms:.3} ms ({} hashes)",
        proof.proof.len()
    );
    store.shutdown();
    let result = RebuildResult {
        bench: "rebuild",
        events,
        generate_s: round3(generate_s),
        verify_chain_s: round3(verify_chain_s),
        verify_events_per_s: (events as f64 / verify_chain_s).round(),
        scan_s: round3(scan_s),
        rebuild_s: round3(rebuild_s),
        rebuild_events_per_s: (events as f64 / rebuild_s).round(),
        risks,
        nonconformities,
        metrics,
        targets: vec![
            Target::new(format!("rebuild < {TARGET_REBUILD_SECONDS} s"), rebuild_s < TARGET_REBUILD_SECONDS),
            Target::new(
                format!("time travel p50 < {TARGET_TIME_TRAVEL_P50_MS} ms"),
                time_travel.p50_ms < TARGET_TIME_TRAVEL_P50_MS,
            ),
            Target::new(
                format!("time travel p99 < {TARGET_TIME_TRAVEL_P99_MS} ms"),
                time_travel.p99_ms < TARGET_TIME_TRAVEL_P99_MS,
            ),
        ],
        time_travel,
        report_as_of_first_s: round3(reports.first_s),
        report_as_of_again_ms: round3(reports.again_ms),
        report_as_of_later_s: round3(reports.later_s),
        first_checkpoint_s: round3(first_checkpoint_s),
        inclusion_proof_ms: round3(inclusion_ms),
        host: Host::current(),
    };
    for target in &result.targets {
        target.print();
    }
    crate::report::print_json_line(&result)
}

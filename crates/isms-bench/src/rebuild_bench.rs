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
use isms_app::{to_new_event, LiveProjections};
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
use isms_store::{
    chain, AppendRequest, CommandMeta, CommitListener, Envelope, EventStore, ExpectedVersion, GroupCommitStore,
    NewEvent, SledStorage, Storage, StreamRef, TenantId, WriterConfig,
};
use serde::Serialize;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::report::{round3, Host, Target};

const TARGET_REBUILD_SECONDS: f64 = 5.0;

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
    let action = Uuid::now_v7();
    let planned = nc.plan_actions(
        vec![NewCorrectiveAction {
            description: "Quarterly restore test with sign-off".into(),
            owner: "bob".into(),
            due_date: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap_or_default(),
            ticket_key: Some(format!("OPS-{n}")),
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

    let started = Instant::now();
    let mut writers = JoinSet::new();
    const WRITERS: u64 = 32;
    for writer in 0..WRITERS {
        let store = store.clone();
        let tenant = tenant.clone();
        writers.spawn(async move {
            let mut n = writer;
            while n < lifecycles {
                let (stream_type, events) = match n % 4 {
                    3 => (Nonconformity::STREAM_TYPE, nonconformity_lifecycle(n)?),
                    2 => (Metric::STREAM_TYPE, metric_lifecycle(n)?),
                    _ => (Risk::STREAM_TYPE, risk_lifecycle(n)?),
                };
                let request = AppendRequest {
                    tenant: tenant.clone(),
                    stream: StreamRef::new(stream_type, Uuid::now_v7().to_string()),
                    expected: ExpectedVersion::NoStream,
                    events,
                    meta: CommandMeta {
                        actor: "bench".into(),
                        correlation_id: Uuid::now_v7(),
                        causation_id: None,
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

    let store = reopen()?;
    let projections = LiveProjections::new();
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
    store.shutdown();
    println!(
        "  rebuild of all projections (cold): {rebuild_s:.3} s ({risks} risks, {nonconformities} nonconformities, {metrics} metrics)"
    );
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
        targets: vec![Target::new(format!("rebuild < {TARGET_REBUILD_SECONDS} s"), rebuild_s < TARGET_REBUILD_SECONDS)],
        host: Host::current(),
    };
    for target in &result.targets {
        target.print();
    }
    crate::report::print_json_line(&result)
}

//! Property test: the change set computed from the events between two points equals the naive
//! difference of two full renderings (replay everything to `from` and to `to`, render every
//! register as its endpoints do, diff every record).
//!
//! Histories are random commands over risks (with treatments naming Annex A controls, so SoA
//! lines change through `linked_risk_ids`), context issues, nonconformities, SoA decisions and
//! implementations, objectives, the scope and the risk criteria. They are run through the real
//! command path, then re-timed over about a year (events spread over days, some at the same
//! instant) so that derived facts such as `overdue` change between the two read dates too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use isms_app::{ChangePoint, CommandContext, Creation, Ledger, LiveProjections, ReadPoint, Resolved};
use isms_domain::context::{ContextIssue, ContextIssueDetails, IssueCategory};
use isms_domain::criteria::{CriteriaState, RiskCriteria};
use isms_domain::nonconformity::{
    NewCorrectiveAction, Nonconformity, NonconformityRaised, NonconformitySource, Severity,
};
use isms_domain::objectives::{Objective, ObjectiveDetails};
use isms_domain::risk::{
    AcceptResidualRisk, AssessRisk, PlanTreatment, Risk, RiskIdentified, RiskKind, TreatmentOption,
};
use isms_domain::scope::{Scope, ScopeDefinition};
use isms_domain::soa::{ControlApplicabilityDecided, ControlImplementationRecorded, ImplementationStatus, SoaEntry};
use isms_domain::values::ControlRef;
use isms_domain::Actor;
use isms_projections::reports::changes::{register_kind, RegisterChanges, REGISTERS};
use isms_projections::views::scope::Singleton;
use isms_projections::views::soa::{risks_naming, soa_records};
use isms_projections::views::{RiskCriteriaBody, RiskCriteriaRecord};
use isms_projections::{Register, Registers};
use isms_store::chain::{envelope_hash, GENESIS_HASH};
use isms_store::{CommitBatch, GroupCommitStore, MemoryStorage, Storage, TenantId, WriterConfig};
use proptest::prelude::*;
use serde_json::Value;
use uuid::Uuid;

const CONTROLS: [&str; 3] = ["5.15", "8.8", "8.24"];

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 8, 0, 0).unwrap()
}

fn day(offset: u16) -> NaiveDate {
    base().date_naive() + Duration::days(i64::from(offset))
}

#[derive(Debug, Clone)]
enum Op {
    IdentifyRisk,
    AssessRisk { risk: usize, likelihood: u8, impact: u8 },
    TreatRisk { risk: usize, controls: u8, due_in: Option<u16>, residual: u8 },
    AcceptRisk { risk: usize },
    CloseRisk { risk: usize },
    RecordIssue { external: bool },
    ReviseIssue { issue: usize, title: u8 },
    RetireIssue { issue: usize },
    RaiseNonconformity,
    PlanAction { nc: usize, due_in: u16 },
    CompleteAction { nc: usize, action: usize },
    DecideControl { control: usize, applicable: bool, justification: u8 },
    ImplementControl { control: usize, status: u8, evidence: u8 },
    SetObjective { due_in: u16 },
    ReviseObjective { objective: usize, due_in: u16 },
    WithdrawObjective { objective: usize },
    DefineScope { statement: u8 },
    DefineCriteria { threshold: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    let risk = 0usize..3;
    prop_oneof![
        3 => Just(Op::IdentifyRisk),
        4 => (risk.clone(), 1u8..6, 1u8..6)
            .prop_map(|(risk, likelihood, impact)| Op::AssessRisk { risk, likelihood, impact }),
        6 => (risk.clone(), 1u8..8, proptest::option::of(0u16..400), 1u8..4)
            .prop_map(|(risk, controls, due_in, residual)| Op::TreatRisk { risk, controls, due_in, residual }),
        1 => risk.clone().prop_map(|risk| Op::AcceptRisk { risk }),
        2 => risk.prop_map(|risk| Op::CloseRisk { risk }),
        2 => any::<bool>().prop_map(|external| Op::RecordIssue { external }),
        1 => (0usize..3, 0u8..3).prop_map(|(issue, title)| Op::ReviseIssue { issue, title }),
        1 => (0usize..3).prop_map(|issue| Op::RetireIssue { issue }),
        2 => Just(Op::RaiseNonconformity),
        2 => (0usize..3, 0u16..400).prop_map(|(nc, due_in)| Op::PlanAction { nc, due_in }),
        2 => (0usize..3, 0usize..3).prop_map(|(nc, action)| Op::CompleteAction { nc, action }),
        3 => (0usize..3, any::<bool>(), 0u8..3)
            .prop_map(|(control, applicable, justification)| Op::DecideControl { control, applicable, justification }),
        2 => (0usize..3, 0u8..4, 0u8..3)
            .prop_map(|(control, status, evidence)| Op::ImplementControl { control, status, evidence }),
        2 => (0u16..400).prop_map(|due_in| Op::SetObjective { due_in }),
        1 => (0usize..3, 0u16..400).prop_map(|(objective, due_in)| Op::ReviseObjective { objective, due_in }),
        1 => (0usize..3).prop_map(|objective| Op::WithdrawObjective { objective }),
        1 => (0u8..3).prop_map(|statement| Op::DefineScope { statement }),
        1 => (4u16..20).prop_map(|threshold| Op::DefineCriteria { threshold }),
    ]
}

/// Hours between one event and the next: often none (the same instant), often hours, often weeks.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), 1i64..30, 24i64..24 * 40]
}

/// One end of a comparison, chosen before the history's length is known.
#[derive(Debug, Clone, Copy)]
enum Spec {
    /// A log position, modulo the number of events plus one.
    Position(usize),
    /// The instant of an event (several events may share it).
    AtEvent(usize),
    /// Any instant from a week before the first event to well after the last.
    Hours(i64),
    Latest,
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        3 => any::<usize>().prop_map(Spec::Position),
        2 => any::<usize>().prop_map(Spec::AtEvent),
        2 => (-24i64 * 7..24 * 800).prop_map(Spec::Hours),
        1 => Just(Spec::Latest),
    ]
}

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn context() -> CommandContext {
    CommandContext {
        tenant: tenant(),
        actor: Actor { subject: "alice".into(), is_admin: true },
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        idempotency: None,
        if_match: None,
        source: None,
    }
}

fn memory_ledger(storage: MemoryStorage) -> Ledger {
    let projections = Arc::new(LiveProjections::new());
    let storage: Arc<dyn Storage> = Arc::new(storage);
    let store = Arc::new(GroupCommitStore::start(storage, projections.clone(), WriterConfig::default()).unwrap());
    projections.rebuild(store.as_ref()).unwrap();
    Ledger::new(store, projections)
}

/// Runs the commands; refusals are expected and simply change nothing.
async fn run(ledger: &Ledger, ops: &[Op]) {
    let alice = context();
    let actor = alice.actor.clone();
    let (mut risks, mut issues, mut ncs, mut objectives) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut actions: BTreeMap<usize, Vec<Uuid>> = BTreeMap::new();
    let criteria = || ledger.with_registers(&tenant(), ReadPoint::Latest, |r, _| r.criteria.current.clone()).unwrap().0;
    let objective = |due_in: u16, title: &str| ObjectiveDetails {
        title: title.into(),
        target: "target".into(),
        target_value: None,
        unit: None,
        owner: "alice".into(),
        resources: String::new(),
        due_date: day(due_in),
        evaluation_method: String::new(),
        plan: String::new(),
        risk_ids: vec![],
    };
    for op in ops {
        match op.clone() {
            Op::IdentifyRisk => {
                let id = Uuid::now_v7().to_string();
                let identified = RiskIdentified {
                    kind: RiskKind::Risk,
                    title: "risk".into(),
                    description: String::new(),
                    category: "c".into(),
                    owner: "alice".into(),
                    asset_refs: vec![],
                    threat: None,
                    vulnerability: None,
                };
                let _ = ledger
                    .execute::<Risk>(&alice, &id, Creation::NewStream, Risk::exists, |r| r.identify(identified.clone()))
                    .await;
                risks.push(id);
            }
            Op::AssessRisk { risk, likelihood, impact } => {
                let Some(id) = risks.get(risk) else { continue };
                let criteria = criteria();
                let _ = ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| {
                        r.assess(AssessRisk { likelihood, impact, rationale: String::new() }, &criteria)
                    })
                    .await;
            }
            Op::TreatRisk { risk, controls, due_in, residual } => {
                let Some(id) = risks.get(risk) else { continue };
                let criteria = criteria();
                let controls: Vec<ControlRef> = (0..CONTROLS.len())
                    .filter(|i| controls & (1 << i) != 0)
                    .map(|i| ControlRef::parse("/", CONTROLS[i]).unwrap())
                    .collect();
                let _ = ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| {
                        let plan = PlanTreatment {
                            option: TreatmentOption::Modify,
                            controls: controls.clone(),
                            actions: vec![],
                            owner: "alice".into(),
                            due_date: due_in.map(day),
                            target_residual_likelihood: residual,
                            target_residual_impact: residual,
                        };
                        r.plan_treatment(plan, &criteria)
                    })
                    .await;
            }
            Op::AcceptRisk { risk } => {
                let Some(id) = risks.get(risk) else { continue };
                let criteria = criteria();
                let _ = ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| {
                        r.accept_residual(AcceptResidualRisk { justification: Some("ok".into()) }, &actor, &criteria)
                    })
                    .await;
            }
            Op::CloseRisk { risk } => {
                let Some(id) = risks.get(risk) else { continue };
                let _ = ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| r.close("done".into()))
                    .await;
            }
            Op::RecordIssue { external } => {
                let id = Uuid::now_v7().to_string();
                let details = ContextIssueDetails {
                    category: if external { IssueCategory::External } else { IssueCategory::Internal },
                    title: "issue".into(),
                    description: String::new(),
                    effect_on_isms: String::new(),
                };
                let _ = ledger
                    .execute::<ContextIssue>(&alice, &id, Creation::NewStream, ContextIssue::exists, |c| {
                        c.record(details.clone())
                    })
                    .await;
                issues.push(id);
            }
            Op::ReviseIssue { issue, title } => {
                let Some(id) = issues.get(issue) else { continue };
                let details = ContextIssueDetails {
                    category: IssueCategory::Internal,
                    title: format!("issue {title}"),
                    description: String::new(),
                    effect_on_isms: "effect".into(),
                };
                let _ = ledger
                    .execute::<ContextIssue>(&alice, id, Creation::ExistingStream, ContextIssue::exists, |c| {
                        c.revise(details.clone())
                    })
                    .await;
            }
            Op::RetireIssue { issue } => {
                let Some(id) = issues.get(issue) else { continue };
                let _ = ledger
                    .execute::<ContextIssue>(&alice, id, Creation::ExistingStream, ContextIssue::exists, |c| {
                        c.retire("gone".into())
                    })
                    .await;
            }
            Op::RaiseNonconformity => {
                let id = Uuid::now_v7().to_string();
                let raised = NonconformityRaised {
                    title: "nc".into(),
                    description: String::new(),
                    source: NonconformitySource::InternalAudit,
                    severity: Severity::Minor,
                    reference: None,
                    detected_at: base(),
                };
                let _ = ledger
                    .execute::<Nonconformity>(&alice, &id, Creation::NewStream, Nonconformity::exists, |n| {
                        n.raise(raised.clone())
                    })
                    .await;
                ncs.push(id);
            }
            Op::PlanAction { nc, due_in } => {
                let Some(id) = ncs.get(nc) else { continue };
                let action = NewCorrectiveAction {
                    description: "fix".into(),
                    owner: "bob".into(),
                    due_date: day(due_in),
                    ticket_key: None,
                    ticket_system: None,
                    ticket_project: None,
                };
                let action_id = Uuid::now_v7();
                let planned = ledger
                    .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                        n.plan_actions(vec![action.clone()], || action_id)
                    })
                    .await;
                if planned.is_ok() {
                    actions.entry(nc).or_default().push(action_id);
                }
            }
            Op::CompleteAction { nc, action } => {
                let (Some(id), Some(&action_id)) = (ncs.get(nc), actions.get(&nc).and_then(|a| a.get(action))) else {
                    continue;
                };
                let _ = ledger
                    .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                        n.complete_action(action_id, "done".into(), &actor)
                    })
                    .await;
            }
            Op::DecideControl { control, applicable, justification } => {
                let control = CONTROLS[control];
                let required_by =
                    ledger.with_registers(&tenant(), ReadPoint::Latest, |r, _| risks_naming(r, control)).unwrap().0;
                let decision =
                    ControlApplicabilityDecided { applicable, justification: format!("why {justification}") };
                let _ = ledger
                    .execute::<SoaEntry>(
                        &alice,
                        control,
                        Creation::ExistingStream,
                        |_| true,
                        |e| e.decide(decision.clone(), &required_by),
                    )
                    .await;
            }
            Op::ImplementControl { control, status, evidence } => {
                let status = [
                    ImplementationStatus::NotImplemented,
                    ImplementationStatus::Planned,
                    ImplementationStatus::PartiallyImplemented,
                    ImplementationStatus::Implemented,
                ][usize::from(status)];
                let implementation = ControlImplementationRecorded {
                    status,
                    owner: "alice".into(),
                    evidence_refs: (0..evidence).map(|i| format!("DOC-{i}")).collect(),
                };
                let _ = ledger
                    .execute::<SoaEntry>(
                        &alice,
                        CONTROLS[control],
                        Creation::ExistingStream,
                        |_| true,
                        |e| e.record_implementation(implementation.clone()),
                    )
                    .await;
            }
            Op::SetObjective { due_in } => {
                let id = Uuid::now_v7().to_string();
                let details = objective(due_in, "objective");
                let _ = ledger
                    .execute::<Objective>(&alice, &id, Creation::NewStream, Objective::exists, |o| {
                        o.set(details.clone())
                    })
                    .await;
                objectives.push(id);
            }
            Op::ReviseObjective { objective: index, due_in } => {
                let Some(id) = objectives.get(index) else { continue };
                let details = objective(due_in, "revised");
                let _ = ledger
                    .execute::<Objective>(&alice, id, Creation::ExistingStream, Objective::exists, |o| {
                        o.revise(details.clone())
                    })
                    .await;
            }
            Op::WithdrawObjective { objective } => {
                let Some(id) = objectives.get(objective) else { continue };
                let _ = ledger
                    .execute::<Objective>(&alice, id, Creation::ExistingStream, Objective::exists, |o| {
                        o.withdraw("no longer relevant".into())
                    })
                    .await;
            }
            Op::DefineScope { statement } => {
                let scope = ScopeDefinition { statement: format!("scope {statement}"), ..ScopeDefinition::default() };
                let _ = ledger
                    .execute::<Scope>(
                        &alice,
                        Scope::STREAM_ID,
                        Creation::ExistingStream,
                        |_| true,
                        |s| s.define(scope.clone()),
                    )
                    .await;
            }
            Op::DefineCriteria { threshold } => {
                let criteria = RiskCriteria { acceptance_threshold: threshold, ..RiskCriteria::default() };
                let _ = ledger
                    .execute::<CriteriaState>(
                        &alice,
                        CriteriaState::STREAM_ID,
                        Creation::ExistingStream,
                        |_| true,
                        |c| c.define(criteria.clone()),
                    )
                    .await;
            }
        }
    }
}

/// The history re-timed: the same events, recorded `gaps` hours apart from `base()`, re-chained.
fn retimed(ledger: &Ledger, gaps: &[i64]) -> (Ledger, Vec<DateTime<Utc>>) {
    let mut events = ledger.store().read_all(&tenant(), 0, usize::MAX).unwrap();
    let (mut at, mut prev_hash) = (base(), GENESIS_HASH.to_owned());
    let mut times = Vec::new();
    for (i, event) in events.iter_mut().enumerate() {
        at += Duration::hours(gaps[i % gaps.len()]);
        event.recorded_at = at;
        event.prev_hash = prev_hash;
        event.hash = envelope_hash(event);
        prev_hash = event.hash.clone();
        times.push(at);
    }
    let storage = MemoryStorage::new();
    storage.write(&CommitBatch { events, idempotency: vec![] }).unwrap();
    (memory_ledger(storage), times)
}

fn point(spec: Spec, times: &[DateTime<Utc>]) -> ReadPoint {
    match spec {
        Spec::Position(n) => ReadPoint::Position((n % (times.len() + 1)) as u64),
        Spec::AtEvent(n) if !times.is_empty() => ReadPoint::AsOf(times[n % times.len()]),
        Spec::AtEvent(_) => ReadPoint::AsOf(base()),
        Spec::Hours(hours) => ReadPoint::AsOf(base() + Duration::hours(hours)),
        Spec::Latest => ReadPoint::Latest,
    }
}

/// The date derived facts are computed for, as the register endpoints choose it.
fn read_on(resolved: &Resolved) -> NaiveDate {
    if resolved.latest {
        Utc::now().date_naive()
    } else {
        resolved.as_of.unwrap_or(DateTime::<Utc>::UNIX_EPOCH).date_naive()
    }
}

fn json(record: impl serde::Serialize) -> Value {
    serde_json::to_value(record).unwrap()
}

/// Every live record of register `R`, as its list endpoint renders it.
fn records<R: Register>(registers: &Registers, today: NaiveDate) -> BTreeMap<String, Value> {
    R::register(registers)
        .values()
        .filter(|entry| R::exists(&entry.state))
        .map(|entry| (entry.id.clone(), json(R::record(entry, today))))
        .collect()
}

/// A singleton as its `GET` endpoint renders it, folded from its stream.
fn singleton<S: Singleton>(ledger: &Ledger, point: ReadPoint) -> BTreeMap<String, Value> {
    let (entry, _) = ledger.record::<S>(&tenant(), S::STREAM_ID, point).unwrap();
    S::record(entry.as_ref()).map(|record| (S::STREAM_ID.to_owned(), json(record))).into_iter().collect()
}

/// The naive reading of every register at one point: a full replay, every record rendered.
fn render_everything(ledger: &Ledger, point: ReadPoint) -> (BTreeMap<&'static str, BTreeMap<String, Value>>, Resolved) {
    use isms_domain::{assets, audits, certification, documents, incidents, management_review, metrics};
    use isms_domain::{operations, parties, people, suppliers, training};
    let (registers, resolved) = ledger.with_registers(&tenant(), point, |registers, _| registers.clone()).unwrap();
    let today = read_on(&resolved);
    let (entry, _) = ledger.record::<CriteriaState>(&tenant(), CriteriaState::STREAM_ID, point).unwrap();
    let criteria = entry.map(|e| e.state).unwrap_or_default().current;
    let criteria =
        RiskCriteriaRecord { version: criteria.version, criteria: RiskCriteriaBody::from(&criteria.criteria) };
    let everything = BTreeMap::from([
        ("context-issues", records::<ContextIssue>(&registers, today)),
        ("interested-parties", records::<parties::InterestedParty>(&registers, today)),
        ("scope", singleton::<Scope>(ledger, point)),
        ("risks", records::<Risk>(&registers, today)),
        ("risk-criteria", BTreeMap::from([("current".to_owned(), json(criteria))])),
        ("soa", soa_records(&registers).into_iter().map(|line| (line.control_id.clone(), json(line))).collect()),
        ("objectives", records::<Objective>(&registers, today)),
        ("assets", records::<assets::Asset>(&registers, today)),
        ("asset-classification-scheme", singleton::<assets::ClassificationSchemeState>(ledger, point)),
        ("people", records::<people::Person>(&registers, today)),
        ("training-courses", records::<training::TrainingCourse>(&registers, today)),
        ("documents", records::<documents::Document>(&registers, today)),
        ("operational-plans", records::<operations::OperationalPlan>(&registers, today)),
        ("suppliers", records::<suppliers::Supplier>(&registers, today)),
        ("incidents", records::<incidents::Incident>(&registers, today)),
        ("metrics", records::<metrics::Metric>(&registers, today)),
        ("audit-programmes", records::<audits::AuditProgramme>(&registers, today)),
        ("audits", records::<audits::Audit>(&registers, today)),
        ("management-reviews", records::<management_review::ManagementReview>(&registers, today)),
        ("certification-cycles", records::<certification::CertificationCycle>(&registers, today)),
        ("nonconformities", records::<Nonconformity>(&registers, today)),
    ]);
    (everything, resolved)
}

/// The naive change set: both points rendered whole, every record diffed.
fn naive_changes(ledger: &Ledger, from: ReadPoint, to: ReadPoint) -> Vec<RegisterChanges> {
    let (mut old, _) = render_everything(ledger, from);
    let (mut new, _) = render_everything(ledger, to);
    assert_eq!(old.len(), REGISTERS.len(), "the oracle reads every register");
    REGISTERS
        .iter()
        .map(|kind| {
            let (mut old, mut new) = (old.remove(kind.name).unwrap(), new.remove(kind.name).unwrap());
            let ids: BTreeSet<String> = old.keys().chain(new.keys()).cloned().collect();
            kind.changes(ids.into_iter().map(|id| (id.clone(), old.remove(&id), new.remove(&id))).collect())
        })
        .collect()
}

fn check(ledger: &Ledger, times: &[DateTime<Utc>], pairs: &[(Spec, Spec, usize)]) -> Result<(), TestCaseError> {
    let all: Vec<_> = REGISTERS.iter().collect();
    for &(from, to, only) in pairs {
        let (mut from, mut to) = (point(from, times), point(to, times));
        let mut resolved = (ledger.resolve(&tenant(), from).unwrap(), ledger.resolve(&tenant(), to).unwrap());
        if resolved.0.position > resolved.1.position {
            (from, to) = (to, from);
            resolved = (resolved.1, resolved.0);
        }
        let points = (
            ChangePoint { position: resolved.0.position, read_on: read_on(&resolved.0) },
            ChangePoint { position: resolved.1.position, read_on: read_on(&resolved.1) },
        );
        let computed = ledger.changes(&tenant(), points.0, points.1, &all).unwrap();
        let expected = naive_changes(ledger, from, to);
        prop_assert_eq!(&computed, &expected, "from {:?} to {:?}", points.0, points.1);
        // One register alone (the SoA without the risk register, say) reads the same.
        let kind = &REGISTERS[only % REGISTERS.len()];
        let alone = ledger.changes(&tenant(), points.0, points.1, &[kind]).unwrap();
        prop_assert_eq!(&alone[0], expected.iter().find(|c| c.register == kind.name).unwrap());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn changes_from_the_events_between_equal_the_difference_of_two_full_renderings(
        ops in proptest::collection::vec(op(), 1..60),
        gaps in proptest::collection::vec(gap(), 1..16),
        pairs in proptest::collection::vec((spec(), spec(), any::<usize>()), 1..10),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (ledger, times) = runtime.block_on(async {
            let recorded = memory_ledger(MemoryStorage::new());
            run(&recorded, &ops).await;
            retimed(&recorded, &gaps)
        });
        check(&ledger, &times, &pairs)?;
    }
}

/// The SoA line of a control changes when a risk's treatment names it, with no SoA event; an
/// untouched risk naming the same control stays in the list on both sides.
#[test]
fn a_treatment_changes_the_linked_risks_of_the_controls_it_names() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ops = [
        Op::IdentifyRisk,
        Op::AssessRisk { risk: 0, likelihood: 3, impact: 3 },
        Op::TreatRisk { risk: 0, controls: 0b010, due_in: None, residual: 1 },
        Op::IdentifyRisk,
        Op::AssessRisk { risk: 1, likelihood: 3, impact: 3 },
        Op::TreatRisk { risk: 1, controls: 0b011, due_in: None, residual: 1 },
    ];
    let ledger = runtime.block_on(async {
        let ledger = memory_ledger(MemoryStorage::new());
        run(&ledger, &ops).await;
        ledger
    });
    let today = Utc::now().date_naive();
    let from = ChangePoint { position: 5, read_on: today };
    let to = ChangePoint { position: 6, read_on: today };
    let soa = register_kind("soa").unwrap();
    let changes = ledger.changes(&tenant(), from, to, &[soa]).unwrap().remove(0);
    let (risks, _) = ledger.with_registers(&tenant(), ReadPoint::Latest, |r, _| r.risks.clone()).unwrap();
    let ids: Vec<String> = risks.keys().map(Uuid::to_string).collect();
    let lines: Vec<(&str, &str, &Value, &Value)> = changes
        .changed
        .iter()
        .flat_map(|c| c.fields.iter().map(move |f| (c.id.as_str(), f.field.as_str(), &f.old, &f.new)))
        .collect();
    assert_eq!(
        lines,
        [
            ("5.15", "/linked_risk_ids", &serde_json::json!([]), &serde_json::json!([ids[1]])),
            ("8.8", "/linked_risk_ids", &serde_json::json!([ids[0]]), &serde_json::json!([ids[0], ids[1]])),
        ]
    );
    assert!(changes.added.is_empty() && changes.removed.is_empty());
}

/// A record no event touched between the points is still listed when a derived fact changed
/// with the date, also when it has events after `to` (the live registers then hold it past its
/// `to` state, so it is folded up to `to` instead).
#[test]
fn an_objective_falls_overdue_between_the_points_though_revised_after_them() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ops = [
        Op::SetObjective { due_in: 30 },
        Op::RecordIssue { external: false },
        Op::RecordIssue { external: true },
        Op::RecordIssue { external: false },
        Op::ReviseObjective { objective: 0, due_in: 300 },
    ];
    // One event every 20 days: the objective is due between the second and the fourth event.
    let (ledger, times) = runtime.block_on(async {
        let recorded = memory_ledger(MemoryStorage::new());
        run(&recorded, &ops).await;
        retimed(&recorded, &[24 * 20])
    });
    assert_eq!(times.len(), 5);
    let from = ChangePoint { position: 1, read_on: times[0].date_naive() };
    let to = ChangePoint { position: 4, read_on: times[3].date_naive() };
    let objectives = register_kind("objectives").unwrap();
    let changes = ledger.changes(&tenant(), from, to, &[objectives]).unwrap().remove(0);
    assert_eq!(changes.changed.len(), 1, "{changes:?}");
    let fields: Vec<(&str, &Value, &Value)> =
        changes.changed[0].fields.iter().map(|f| (f.field.as_str(), &f.old, &f.new)).collect();
    assert_eq!(fields, [("/overdue", &Value::Bool(false), &Value::Bool(true))]);
    check(&ledger, &times, &[(Spec::Position(1), Spec::Position(4), 0)]).unwrap();
}

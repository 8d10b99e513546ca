//! Property test: random command sequences through the application keep every invariant, and
//! the live registers always equal a rebuild from the log.

use std::sync::Arc;

use chrono::NaiveDate;
use isms_app::{CommandContext, Creation, Ledger, LiveProjections, ReadPoint};
use isms_domain::criteria::{CriteriaState, VersionedCriteria};
use isms_domain::nonconformity::{
    NewCorrectiveAction, Nonconformity, NonconformityRaised, NonconformitySource, NonconformityStatus, Severity,
};
use isms_domain::risk::{
    AcceptResidualRisk, AssessRisk, PlanTreatment, Risk, RiskIdentified, RiskKind, RiskStatus, TreatmentOption,
};
use isms_domain::values::ControlRef;
use isms_domain::Actor;
use isms_projections::{Register, Registers};
use isms_store::{EventStore, GroupCommitStore, MemoryStorage, Storage, TenantId, WriterConfig};
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Identify,
    Assess { risk: usize, likelihood: u8, impact: u8 },
    Treat { risk: usize, likelihood: u8, impact: u8 },
    Accept { risk: usize, by_owner: bool, justified: bool },
    CloseRisk { risk: usize },
    Raise { major: bool },
    RootCause { nc: usize },
    Plan { nc: usize },
    Complete { nc: usize, action: usize },
    Review { nc: usize, effective: bool, by_owner: bool },
    CloseNc { nc: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Identify),
        (0usize..4, 0u8..7, 0u8..7).prop_map(|(risk, likelihood, impact)| Op::Assess { risk, likelihood, impact }),
        (0usize..4, 1u8..6, 1u8..6).prop_map(|(risk, likelihood, impact)| Op::Treat { risk, likelihood, impact }),
        (0usize..4, any::<bool>(), any::<bool>()).prop_map(|(risk, by_owner, justified)| Op::Accept {
            risk,
            by_owner,
            justified
        }),
        (0usize..4).prop_map(|risk| Op::CloseRisk { risk }),
        any::<bool>().prop_map(|major| Op::Raise { major }),
        (0usize..3).prop_map(|nc| Op::RootCause { nc }),
        (0usize..3).prop_map(|nc| Op::Plan { nc }),
        (0usize..3, 0usize..3).prop_map(|(nc, action)| Op::Complete { nc, action }),
        (0usize..3, any::<bool>(), any::<bool>()).prop_map(|(nc, effective, by_owner)| Op::Review {
            nc,
            effective,
            by_owner
        }),
        (0usize..3).prop_map(|nc| Op::CloseNc { nc }),
    ]
}

fn context(subject: &str) -> CommandContext {
    CommandContext {
        tenant: TenantId::parse("acme").unwrap(),
        actor: Actor { subject: subject.into(), is_admin: false },
        correlation_id: Uuid::now_v7(),
        causation_id: None,
        idempotency: None,
        if_match: None,
        source: None,
    }
}

fn criteria() -> VersionedCriteria {
    CriteriaState::default().current
}

async fn run(ops: Vec<Op>) {
    let projections = Arc::new(LiveProjections::new());
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let store = Arc::new(GroupCommitStore::start(storage, projections.clone(), WriterConfig::default()).unwrap());
    let event_store: Arc<dyn EventStore> = store.clone();
    let ledger = Ledger::new(event_store, projections.clone());
    let (mut risks, mut ncs): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let alice = context("alice");
    for op in ops {
        // Refusals are expected; what matters is that accepted commands keep the invariants.
        let _ = match op {
            Op::Identify => {
                let id = Uuid::now_v7().to_string();
                let identified = RiskIdentified {
                    kind: RiskKind::Risk,
                    title: "t".into(),
                    description: String::new(),
                    category: "c".into(),
                    owner: "alice".into(),
                    asset_refs: vec![],
                    threat: None,
                    vulnerability: None,
                };
                let result = ledger
                    .execute::<Risk>(&alice, &id, Creation::NewStream, Risk::exists, |r| r.identify(identified.clone()))
                    .await;
                risks.push(id);
                result.map(|_| ())
            }
            Op::Assess { risk, likelihood, impact } => match risks.get(risk) {
                Some(id) => ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| {
                        r.assess(AssessRisk { likelihood, impact, rationale: String::new() }, &criteria())
                    })
                    .await
                    .map(|_| ()),
                None => continue,
            },
            Op::Treat { risk, likelihood, impact } => match risks.get(risk) {
                Some(id) => ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| {
                        r.plan_treatment(
                            PlanTreatment {
                                option: TreatmentOption::Modify,
                                controls: vec![ControlRef::parse("/", "8.8").unwrap()],
                                actions: vec![],
                                owner: "bob".into(),
                                due_date: None,
                                target_residual_likelihood: likelihood,
                                target_residual_impact: impact,
                            },
                            &criteria(),
                        )
                    })
                    .await
                    .map(|_| ()),
                None => continue,
            },
            Op::Accept { risk, by_owner, justified } => match risks.get(risk) {
                Some(id) => {
                    let actor = Actor { subject: if by_owner { "alice" } else { "mallory" }.into(), is_admin: false };
                    let justification = justified.then(|| "because".to_owned());
                    ledger
                        .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| {
                            r.accept_residual(
                                AcceptResidualRisk { justification: justification.clone() },
                                &actor,
                                &criteria(),
                            )
                        })
                        .await
                        .map(|_| ())
                }
                None => continue,
            },
            Op::CloseRisk { risk } => match risks.get(risk) {
                Some(id) => ledger
                    .execute::<Risk>(&alice, id, Creation::ExistingStream, Risk::exists, |r| r.close("done".into()))
                    .await
                    .map(|_| ()),
                None => continue,
            },
            Op::Raise { major } => {
                let id = Uuid::now_v7().to_string();
                let raised = NonconformityRaised {
                    title: "nc".into(),
                    description: String::new(),
                    source: NonconformitySource::InternalAudit,
                    severity: if major { Severity::Major } else { Severity::Minor },
                    reference: None,
                    detected_at: chrono::Utc::now(),
                };
                let result = ledger
                    .execute::<Nonconformity>(&alice, &id, Creation::NewStream, Nonconformity::exists, |n| {
                        n.raise(raised.clone())
                    })
                    .await;
                ncs.push(id);
                result.map(|_| ())
            }
            Op::RootCause { nc } => match ncs.get(nc) {
                Some(id) => ledger
                    .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                        n.record_root_cause("why".into())
                    })
                    .await
                    .map(|_| ()),
                None => continue,
            },
            Op::Plan { nc } => match ncs.get(nc) {
                Some(id) => {
                    let action = NewCorrectiveAction {
                        description: "fix".into(),
                        owner: "bob".into(),
                        due_date: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                        ticket_key: None,
                        ticket_system: None,
                        ticket_project: None,
                    };
                    let action_id = Uuid::now_v7();
                    ledger
                        .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                            n.plan_actions(vec![action.clone()], || action_id)
                        })
                        .await
                        .map(|_| ())
                }
                None => continue,
            },
            Op::Complete { nc, action } => match ncs.get(nc) {
                Some(id) => {
                    let (entry, _) = ledger.record::<Nonconformity>(&alice.tenant, id, ReadPoint::Latest).unwrap();
                    let Some(action_id) = entry.and_then(|e| e.state.actions.get(action).map(|a| a.plan.action_id))
                    else {
                        continue;
                    };
                    let bob = Actor { subject: "bob".into(), is_admin: false };
                    ledger
                        .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                            n.complete_action(action_id, String::new(), &bob)
                        })
                        .await
                        .map(|_| ())
                }
                None => continue,
            },
            Op::Review { nc, effective, by_owner } => match ncs.get(nc) {
                Some(id) => {
                    let reviewer = Actor { subject: if by_owner { "bob" } else { "carol" }.into(), is_admin: false };
                    ledger
                        .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                            n.review_effectiveness(effective, String::new(), &reviewer)
                        })
                        .await
                        .map(|_| ())
                }
                None => continue,
            },
            Op::CloseNc { nc } => match ncs.get(nc) {
                Some(id) => {
                    let closer = Actor { subject: "carol".into(), is_admin: false };
                    ledger
                        .execute::<Nonconformity>(&alice, id, Creation::ExistingStream, Nonconformity::exists, |n| {
                            n.close(String::new(), &closer)
                        })
                        .await
                        .map(|_| ())
                }
                None => continue,
            },
        };
    }

    let tenant = TenantId::parse("acme").unwrap();
    let live = projections.tenant(&tenant).unwrap().read().unwrap().clone();
    let rebuilt = LiveProjections::new();
    rebuilt.rebuild(store.as_ref()).unwrap();
    assert_eq!(live, rebuilt.tenant(&tenant).unwrap().read().unwrap().clone(), "live registers equal a rebuild");
    pages_equal_replays::<Risk>(&ledger, &tenant, store.head(&tenant).unwrap().position, |r| &r.risks);
    pages_equal_replays::<Nonconformity>(&ledger, &tenant, store.head(&tenant).unwrap().position, |r| {
        &r.nonconformities
    });
    for entry in live.risks.values() {
        let risk = &entry.state;
        if risk.status == RiskStatus::Accepted {
            let treatment = risk.treatment.as_ref().expect("acceptance follows a treatment decision");
            let acceptance = risk.acceptance.as_ref().unwrap();
            assert_eq!(acceptance.accepted_by, "alice", "only the owner accepted");
            assert!(treatment.residual.score <= acceptance.acceptance_threshold || acceptance.justification.is_some());
        }
        if risk.treatment.is_some() {
            assert!(risk.assessment.is_some(), "treatment follows an assessment");
        }
    }
    for entry in live.nonconformities.values() {
        let nc = &entry.state;
        if nc.status == NonconformityStatus::Closed {
            assert!(nc.actions.iter().all(|a| a.completion.is_some()));
            let review = nc.effectiveness.as_ref().expect("closed after a review");
            assert!(review.effective && review.reviewed_by != "bob", "verified effective by someone else");
        }
        if nc.raised.as_ref().is_some_and(|r| r.severity == Severity::Major) && !nc.actions.is_empty() {
            assert!(nc.root_cause.is_some(), "major: root cause before actions");
        }
    }
    store.shutdown();
}

/// At every position, paging a register (which folds only the records changed since) gives
/// exactly the records a full replay to that position renders, in the same order, whatever
/// the page size.
fn pages_equal_replays<R: Register>(
    ledger: &Ledger,
    tenant: &TenantId,
    head: u64,
    register: impl Fn(&Registers) -> &std::collections::BTreeMap<Uuid, isms_projections::Entry<R>>,
) where
    R::Record: PartialEq + std::fmt::Debug,
{
    // Forward, then backward: replays continue from the last one or start over.
    for position in (0..=head).chain((0..=head).rev()) {
        let point = ReadPoint::Position(position);
        let (expected, _) = ledger
            .with_registers(tenant, point, |registers, resolved| {
                let today = resolved.reading_date();
                register(registers)
                    .values()
                    .filter(|e| R::exists(&e.state))
                    .map(|e| R::record(e, today))
                    .collect::<Vec<_>>()
            })
            .unwrap();
        for limit in [1, 3, 500] {
            let (mut paged, mut after) = (Vec::new(), None);
            loop {
                let page = ledger.page::<R>(tenant, point, after, limit, |_, _| true).unwrap();
                assert!(page.items.len() <= limit);
                paged.extend(page.items);
                match page.next_after {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(paged, expected, "{} as of position {position}, pages of {limit}", R::NOUN);
        }
    }
    // The live state, paged under the lock, is the state as of the head.
    for limit in [1, 3, 500] {
        let (mut live, mut at_head, mut after) = (Vec::new(), Vec::new(), None);
        loop {
            let page = ledger.page::<R>(tenant, ReadPoint::Latest, after, limit, |_, _| true).unwrap();
            live.extend(page.items);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        after = None;
        loop {
            let page = ledger.page::<R>(tenant, ReadPoint::Position(head), after, limit, |_, _| true).unwrap();
            at_head.extend(page.items);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(live.len(), at_head.len(), "{}: the live register has the records of the head", R::NOUN);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_commands_keep_invariants_and_replays_match(ops in proptest::collection::vec(op(), 1..60)) {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run(ops));
    }
}

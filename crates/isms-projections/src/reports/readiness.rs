//! The readiness report (gap diagnosis): before the certification audit, for each requirement
//! of clauses 4 to 10 and each applicable Annex A control, whether the registers hold what the
//! auditor will look for, which records show it, and what is missing.
//!
//! Each requirement is judged by an explicit rule over the registers (documented on the rule's
//! function below): `met` when the registers show it, `partial` when they show some of it,
//! `gap` when they show none. The rules only see the registers; anything the organization
//! keeps elsewhere does not show here, and the gap sentences say so where it matters.
//!
//! Derived facts (`overdue`, `review_overdue`, ...) are taken from the same record views the
//! register endpoints serve, so the report agrees with them for the date read.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate};
use isms_domain::audits::{Audit, AuditProgramme, AuditProgrammeStatus};
use isms_domain::certification::CertificationCycle;
use isms_domain::context::{ContextIssue, IssueCategory};
use isms_domain::documents::{Document, DocumentStatus, DocumentType};
use isms_domain::incidents::Incident;
use isms_domain::management_review::{DecisionKind, ManagementReview, ReviewStatus};
use isms_domain::metrics::{Metric, MetricStatus};
use isms_domain::nonconformity::{Nonconformity, NonconformityStatus, Severity};
use isms_domain::objectives::{Objective, ObjectiveStatus};
use isms_domain::operations::{OperationalPlan, OperationalPlanStatus};
use isms_domain::parties::{InterestedParty, PartyStatus};
use isms_domain::people::{Person, PersonStatus};
use isms_domain::requirements::{top_clause, ISO27001_2022_REQUIREMENTS};
use isms_domain::risk::{Risk, RiskKind, RiskStatus};
use isms_domain::soa::ImplementationStatus;
use isms_domain::suppliers::Supplier;
use isms_domain::training::{TrainingCourse, TrainingTopic};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::views::certification::CertificationDateView;
use crate::views::documents::DocumentRecord;
use crate::views::soa::{soa_records, soa_status_schema, SoaStatus};
use crate::views::string_enum;
use crate::views::training::{assignment_overdue, completion_current};
use crate::{Entry, Register, Registers};

/// Where a requirement or control stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    Met,
    Partial,
    Gap,
}

impl ReadinessStatus {
    pub const NAMES: &'static [&'static str] = &["met", "partial", "gap"];

    /// `met` if `met`, else `partial` if `partial`, else `gap`.
    fn grade(met: bool, partial: bool) -> Self {
        if met {
            Self::Met
        } else if partial {
            Self::Partial
        } else {
            Self::Gap
        }
    }

    fn at_least_partial(self) -> bool {
        self != Self::Gap
    }
}

pub fn readiness_status_schema() -> utoipa::openapi::schema::Object {
    string_enum(ReadinessStatus::NAMES)
}

/// A record behind a judgement: the register's collection under `/api/v1` and the record's id
/// (a UUID; the Annex A control id for `soa`; `current` for the singletons `scope` and
/// `risk-criteria`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(example = json!({"register": "risks", "id": "01890a5d-ac96-774b-bcce-b302099a8057"}))]
pub struct EvidenceRef {
    pub register: String,
    pub id: String,
}

impl EvidenceRef {
    fn new(register: &str, id: impl ToString) -> Self {
        Self { register: register.to_owned(), id: id.to_string() }
    }
}

/// One requirement of clauses 4 to 10 and how far the registers show it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RequirementReadiness {
    #[schema(example = "6.1.2")]
    pub clause: String,
    pub title: String,
    #[schema(schema_with = readiness_status_schema)]
    pub status: ReadinessStatus,
    /// The records the status rests on.
    pub evidence: Vec<EvidenceRef>,
    /// The records that keep the requirement from being met (e.g. open risks not assessed).
    pub lacking: Vec<EvidenceRef>,
    /// What is missing, in words; null when met.
    pub gap: Option<String>,
}

/// One applicable control of the Statement of Applicability.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ControlReadiness {
    #[schema(example = "8.24")]
    pub control_id: String,
    pub title: String,
    #[schema(schema_with = soa_status_schema)]
    pub implementation_status: SoaStatus,
    pub owner: Option<String>,
    pub evidence_refs: Vec<String>,
    /// Open risks whose treatment names the control.
    pub linked_risk_ids: Vec<Uuid>,
    /// `met` when implemented, `partial` when planned or partially implemented, `gap` when not
    /// implemented.
    #[schema(schema_with = readiness_status_schema)]
    pub status: ReadinessStatus,
}

/// Annex A as the Statement of Applicability has it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AnnexAReadiness {
    /// The controls decided applicable, in catalog order.
    pub controls: Vec<ControlReadiness>,
    /// Controls without an applicability decision: each is a gap (6.1.3 d asks for a decision on
    /// every control).
    pub undecided: usize,
    pub undecided_control_ids: Vec<String>,
    /// Controls decided not applicable (with a justification); they are not rows.
    pub not_applicable: usize,
}

/// The readiness of one top-level clause, or of Annex A.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SectionReadiness {
    /// `4` to `10`, or `A` for Annex A.
    #[schema(example = "6")]
    pub section: String,
    pub title: String,
    /// Requirements of the clause; for Annex A, applicable plus undecided controls.
    pub rows: usize,
    pub met: usize,
    pub partial: usize,
    pub gap: usize,
    /// (met + 0.5 x partial) / rows x 100, one decimal; 0 without rows.
    pub readiness_percent: f64,
}

/// Something past its date in one of the registers.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OverdueItem {
    /// The register's collection under `/api/v1`.
    pub register: String,
    /// The record's id (for an action or an assignment: the record holding it).
    pub id: String,
    pub what: String,
    /// When it was due, where the record says; null for a measurement (due by frequency).
    pub due_on: Option<NaiveDate>,
}

/// The gap diagnosis of the ISMS on one day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Readiness {
    /// The day the registers were judged for (today, or the `as_of` date).
    pub read_on: NaiveDate,
    /// The mean of the eight section percentages (clauses 4 to 10 and Annex A), one decimal:
    /// each counts once, so 93 controls do not outweigh the management system clauses.
    pub overall_percent: f64,
    pub sections: Vec<SectionReadiness>,
    /// One row per requirement of clauses 4 to 10, in clause order.
    pub requirements: Vec<RequirementReadiness>,
    pub annex_a: AnnexAReadiness,
    /// What is still to happen in the open certification cycles, by date.
    pub upcoming_certification_dates: Vec<CertificationDateView>,
    /// Overdue items across the registers, earliest due first (undated last).
    pub overdue: Vec<OverdueItem>,
}

/// A rule's verdict on one requirement.
#[derive(Debug, Clone, PartialEq)]
struct Judgement {
    status: ReadinessStatus,
    evidence: Vec<EvidenceRef>,
    lacking: Vec<EvidenceRef>,
    gap: Option<String>,
}

impl Judgement {
    /// `problems` say what is missing; they become the gap sentence unless the status is `met`.
    fn new(
        status: ReadinessStatus,
        evidence: Vec<EvidenceRef>,
        lacking: Vec<EvidenceRef>,
        problems: &[String],
    ) -> Self {
        let gap = (status != ReadinessStatus::Met).then(|| problems.join(" "));
        Self { status, evidence, lacking, gap }
    }
}

/// What the rules share: the registers, the day, and the open risks.
struct Reading<'a> {
    registers: &'a Registers,
    today: NaiveDate,
    /// The day twelve months before `today`: "within the last 12 months" is on or after it.
    year_ago: NaiveDate,
    /// Open risks (kind `risk`, not closed): what 6.1.2, 6.1.3, 8.2 and 8.3 are about.
    open_risks: Vec<&'a Entry<Risk>>,
    documents: Vec<DocumentRecord>,
}

impl<'a> Reading<'a> {
    fn new(registers: &'a Registers, today: NaiveDate) -> Self {
        let open_risks = registers
            .risks
            .values()
            .filter(|e| {
                e.state.status != RiskStatus::Closed
                    && e.state.identification.as_ref().is_some_and(|i| i.kind == RiskKind::Risk)
            })
            .collect();
        Self {
            registers,
            today,
            year_ago: today.checked_sub_months(Months::new(12)).unwrap_or(NaiveDate::MIN),
            open_risks,
            documents: registers.records_where::<Document>(today, |_| true),
        }
    }

    fn published(&self, document_type: Option<DocumentType>) -> impl Iterator<Item = &DocumentRecord> {
        self.documents.iter().filter(move |d| {
            d.status == DocumentStatus::Published && document_type.is_none_or(|t| d.document_type == t)
        })
    }

    /// The reviews with a decision of `kind` (9.3.3).
    fn reviews_deciding(&self, kind: DecisionKind) -> Vec<Uuid> {
        self.registers
            .management_reviews
            .iter()
            .filter(|(_, e)| e.state.decisions.iter().any(|d| d.kind == kind))
            .map(|(id, _)| *id)
            .collect()
    }

    fn active_people(&self) -> impl Iterator<Item = (&Uuid, &Person)> {
        self.registers
            .people
            .iter()
            .map(|(id, e)| (id, &e.state))
            .filter(|(_, p)| p.exists() && p.status == PersonStatus::Active)
    }
}

fn refs<R: Register>(ids: impl IntoIterator<Item = Uuid>) -> Vec<EvidenceRef> {
    ids.into_iter().map(|id| EvidenceRef::new(R::COLLECTION, id)).collect()
}

fn entry_refs<'a, R: Register>(entries: impl IntoIterator<Item = &'a Entry<R>>) -> Vec<EvidenceRef> {
    refs::<R>(entries.into_iter().map(Entry::uuid))
}

/// "1 open risk is" / "3 open risks are": counts read as sentences.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The name an enum serializes to (its API name).
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// 4.1: met when active context issues of both categories (internal and external) are recorded;
/// partial with one category only; gap with none.
fn context_of_the_organization(reading: &Reading) -> Judgement {
    let active: Vec<(Uuid, IssueCategory)> = reading
        .registers
        .context_issues
        .iter()
        .filter(|(_, e)| e.state.status.is_active())
        .filter_map(|(id, e)| e.state.details.as_ref().map(|d| (*id, d.category)))
        .collect();
    let has = |category| active.iter().any(|(_, c)| *c == category);
    let (internal, external) = (has(IssueCategory::Internal), has(IssueCategory::External));
    let mut problems = Vec::new();
    if !internal {
        problems.push("No active internal issue is recorded (4.1: e.g. culture, skills, systems).".to_owned());
    }
    if !external {
        problems.push("No active external issue is recorded (4.1: e.g. legal, market, technology).".to_owned());
    }
    let evidence = refs::<ContextIssue>(active.iter().map(|(id, _)| *id));
    Judgement::new(ReadinessStatus::grade(internal && external, internal || external), evidence, vec![], &problems)
}

/// 4.2: met when active interested parties have active requirements and each of those is
/// addressed by the ISMS (4.2 c) or linked to an open risk or opportunity (6.1.1 takes it into
/// account); partial when parties are registered but requirements are missing or some are
/// neither addressed nor linked; gap without an active party.
fn interested_parties(reading: &Reading) -> Judgement {
    let registers = reading.registers;
    let linked: BTreeSet<Uuid> = registers
        .risks
        .values()
        .filter(|e| e.state.status != RiskStatus::Closed)
        .flat_map(|e| e.state.sources.requirement_ids.iter().copied())
        .collect();
    let parties: Vec<(&Uuid, &InterestedParty)> = registers
        .interested_parties
        .iter()
        .map(|(id, e)| (id, &e.state))
        .filter(|(_, p)| p.exists() && p.status == PartyStatus::Active)
        .collect();
    let (mut requirements, mut open, mut lacking) = (0, 0, Vec::new());
    for (id, party) in &parties {
        let active = party.requirements.iter().filter(|r| r.withdrawal.is_none());
        let mut party_open = 0;
        for requirement in active {
            requirements += 1;
            if !requirement.requirement.addressed_by_isms && !linked.contains(&requirement.requirement.requirement_id) {
                party_open += 1;
            }
        }
        if party_open > 0 {
            open += party_open;
            lacking.push(**id);
        }
    }
    let mut problems = Vec::new();
    if parties.is_empty() {
        problems.push("No active interested party is registered (4.2 a).".to_owned());
    } else if requirements == 0 {
        problems.push("No requirement of the interested parties is recorded (4.2 b).".to_owned());
    }
    if open > 0 {
        problems.push(format!(
            "{} neither addressed by the ISMS nor linked to a risk (4.2 c).",
            count(open, "active requirement is", "active requirements are")
        ));
    }
    let status = ReadinessStatus::grade(!parties.is_empty() && requirements > 0 && open == 0, !parties.is_empty());
    Judgement::new(
        status,
        refs::<InterestedParty>(parties.iter().map(|(id, _)| **id)),
        refs::<InterestedParty>(lacking),
        &problems,
    )
}

/// 4.3: met when the scope is defined with its organizational, physical and technological
/// boundaries and at least one interface or dependency (4.3 c); partial when defined without
/// them; gap when not defined.
fn scope(reading: &Reading) -> Judgement {
    let Some(defined) = &reading.registers.scope.current else {
        let problem = "The scope of the ISMS is not defined (4.3): state it with its boundaries, interfaces and \
                       dependencies, and justified exclusions.";
        return Judgement::new(ReadinessStatus::Gap, vec![], vec![], &[problem.to_owned()]);
    };
    let scope = &defined.scope;
    let boundaries = &scope.boundaries;
    let blank: Vec<&str> = [
        ("organizational", &boundaries.organizational),
        ("physical", &boundaries.physical),
        ("technological", &boundaries.technological),
    ]
    .into_iter()
    .filter(|(_, text)| text.trim().is_empty())
    .map(|(name, _)| name)
    .collect();
    let mut problems = Vec::new();
    if !blank.is_empty() {
        problems.push(format!("The scope does not state its {} boundaries (4.3).", blank.join(", ")));
    }
    if scope.interfaces_and_dependencies.is_empty() {
        problems.push("The scope names no interfaces and dependencies with activities outside it (4.3 c).".to_owned());
    }
    let status = ReadinessStatus::grade(problems.is_empty(), true);
    Judgement::new(status, vec![EvidenceRef::new("scope", "current")], vec![], &problems)
}

/// 4.4 (judged from the other rows, so a shortfall is not counted twice): met when 4.1, 4.2,
/// 4.3, 6.1.2, 6.1.3 and 9.1 are each at least partial (the ISMS exists in every part);
/// partial when some are; gap when none is.
const ESTABLISHED_BY: [&str; 6] = ["4.1", "4.2", "4.3", "6.1.2", "6.1.3", "9.1"];

fn management_system(judged: &BTreeMap<&str, Judgement>) -> Judgement {
    let missing: Vec<&str> = ESTABLISHED_BY
        .into_iter()
        .filter(|clause| !judged.get(clause).is_some_and(|j| j.status.at_least_partial()))
        .collect();
    let problems = [format!(
        "The ISMS is not established in every part (4.4): nothing is on record yet for {}.",
        missing.join(", ")
    )];
    let status = ReadinessStatus::grade(missing.is_empty(), missing.len() < ESTABLISHED_BY.len());
    Judgement::new(status, vec![], vec![], &problems)
}

/// 5.1: met when an information security policy is published (5.1 a) and top management has
/// held a management review (held or closed, 5.1 g-h); partial with one of the two.
fn leadership(reading: &Reading) -> Judgement {
    let policies: Vec<EvidenceRef> =
        reading.published(Some(DocumentType::Policy)).map(|d| EvidenceRef::new(Document::COLLECTION, d.id)).collect();
    let reviews: Vec<Uuid> = reading
        .registers
        .management_reviews
        .iter()
        .filter(|(_, e)| matches!(e.state.status, ReviewStatus::Held | ReviewStatus::Closed))
        .map(|(id, _)| *id)
        .collect();
    let mut problems = Vec::new();
    if policies.is_empty() {
        problems.push("No information security policy is published (5.1 a).".to_owned());
    }
    if reviews.is_empty() {
        problems.push("No management review has been held, which shows top management's direction (5.1).".to_owned());
    }
    let status = ReadinessStatus::grade(
        !policies.is_empty() && !reviews.is_empty(),
        !(policies.is_empty() && reviews.is_empty()),
    );
    let mut evidence = policies;
    evidence.extend(refs::<ManagementReview>(reviews));
    Judgement::new(status, evidence, vec![], &problems)
}

/// 5.2: met when a document of type `policy` is published and none of the published policies
/// is overdue for review; partial when a policy is registered but unpublished, or overdue.
fn policy(reading: &Reading) -> Judgement {
    let registered: Vec<&DocumentRecord> = reading
        .documents
        .iter()
        .filter(|d| d.document_type == DocumentType::Policy && d.status != DocumentStatus::Withdrawn)
        .collect();
    let published: Vec<&DocumentRecord> = reading.published(Some(DocumentType::Policy)).collect();
    let overdue: Vec<Uuid> = published.iter().filter(|d| d.review_overdue).map(|d| d.id).collect();
    let mut problems = Vec::new();
    if registered.is_empty() {
        problems.push(
            "No information security policy is on record (5.2): register a document of type policy and \
                       publish it."
                .to_owned(),
        );
    } else if published.is_empty() {
        problems.push("The policy is registered but no version of it is published (5.2, 7.5.3).".to_owned());
    }
    if !overdue.is_empty() {
        problems.push(format!(
            "{} overdue for review (5.2).",
            count(overdue.len(), "published policy is", "published policies are")
        ));
    }
    let status = ReadinessStatus::grade(!published.is_empty() && overdue.is_empty(), !registered.is_empty());
    Judgement::new(status, refs::<Document>(published.iter().map(|d| d.id)), refs::<Document>(overdue), &problems)
}

/// 5.3: met when active people with their roles are registered and every open risk (or
/// opportunity) is owned by an active person (the owner is the user who accepts the residual
/// risk); partial when people are registered but some owner is not an active person; gap
/// without active people.
fn roles(reading: &Reading) -> Judgement {
    let registers = reading.registers;
    let people: Vec<Uuid> = reading.active_people().map(|(id, _)| *id).collect();
    let unowned: Vec<Uuid> = registers
        .risks
        .iter()
        .filter(|(_, e)| e.state.exists() && e.state.status != RiskStatus::Closed)
        .filter(|(_, e)| registers.active_person_named(e.state.owner()).is_none())
        .map(|(id, _)| *id)
        .collect();
    let mut problems = Vec::new();
    if people.is_empty() {
        problems.push("No active person is registered with a role (5.3).".to_owned());
    }
    if !unowned.is_empty() {
        problems.push(format!(
            "{} owned by someone who is not an active person in the people register (5.3).",
            count(unowned.len(), "open risk is", "open risks are")
        ));
    }
    let status = ReadinessStatus::grade(!people.is_empty() && unowned.is_empty(), !people.is_empty());
    Judgement::new(status, refs::<Person>(people), refs::<Risk>(unowned), &problems)
}

/// 6.1.1: met when open risks or opportunities are identified and at least one is linked to a
/// context issue (4.1) or an interested-party requirement (4.2), which the planning must
/// consider; partial when risks are identified without such links; gap without open risks.
fn risks_and_opportunities(reading: &Reading) -> Judgement {
    let open: Vec<&Entry<Risk>> =
        reading.registers.risks.values().filter(|e| e.state.exists() && e.state.status != RiskStatus::Closed).collect();
    let linked = open
        .iter()
        .any(|e| !e.state.sources.context_issue_ids.is_empty() || !e.state.sources.requirement_ids.is_empty());
    let mut problems = Vec::new();
    if open.is_empty() {
        problems.push("No open risk or opportunity is identified (6.1.1).".to_owned());
    } else if !linked {
        problems.push(
            "No risk is linked to a context issue (4.1) or an interested-party requirement (4.2), which \
                       6.1.1 asks the planning to consider."
                .to_owned(),
        );
    }
    let status = ReadinessStatus::grade(!open.is_empty() && linked, !open.is_empty());
    Judgement::new(status, entry_refs(open), vec![], &problems)
}

/// 6.1.2: met when the tenant has defined its own risk criteria (version > 0; the built-in
/// default is not the organization's) and every open risk is assessed; partial when the
/// criteria are defined or some risk is assessed; gap otherwise.
fn risk_assessment(reading: &Reading) -> Judgement {
    let criteria_defined = reading.registers.criteria.current.version > 0;
    let (assessed, unassessed): (Vec<&Entry<Risk>>, Vec<&Entry<Risk>>) =
        reading.open_risks.iter().partition(|e| e.state.assessment.is_some());
    let mut problems = Vec::new();
    if !criteria_defined {
        problems.push(
            "The risk criteria are the built-in default: define the organization's risk acceptance \
                       criteria and criteria for assessing risks (6.1.2 a)."
                .to_owned(),
        );
    }
    if reading.open_risks.is_empty() {
        problems.push("No open risk is identified to assess (6.1.2 c).".to_owned());
    }
    if !unassessed.is_empty() {
        problems.push(format!("{} not assessed (6.1.2 d).", count(unassessed.len(), "open risk is", "open risks are")));
    }
    let status = ReadinessStatus::grade(
        criteria_defined && !reading.open_risks.is_empty() && unassessed.is_empty(),
        criteria_defined || !assessed.is_empty(),
    );
    let mut evidence: Vec<EvidenceRef> =
        criteria_defined.then(|| EvidenceRef::new("risk-criteria", "current")).into_iter().collect();
    evidence.extend(entry_refs(assessed));
    Judgement::new(status, evidence, entry_refs(unassessed), &problems)
}

/// 6.1.3: met when assessed open risks exist, each has a treatment decision, and every Annex A
/// control has an applicability decision in the Statement of Applicability (6.1.3 d); partial
/// when some treatment or some control decision is recorded; gap otherwise.
fn risk_treatment(reading: &Reading) -> Judgement {
    let assessed = reading.open_risks.iter().filter(|e| e.state.assessment.is_some());
    let (treated, untreated): (Vec<&Entry<Risk>>, Vec<&Entry<Risk>>) =
        assessed.partition(|e| e.state.treatment.is_some());
    let soa = soa_records(reading.registers);
    let (decided, undecided): (Vec<_>, Vec<_>) = soa.iter().partition(|r| r.decision.is_some());
    let mut problems = Vec::new();
    if treated.is_empty() && untreated.is_empty() {
        problems.push("No assessed risk is on record to decide a treatment for (6.1.3 a).".to_owned());
    }
    if !untreated.is_empty() {
        problems.push(format!(
            "{} no treatment decision (6.1.3 a-c).",
            count(untreated.len(), "assessed open risk has", "assessed open risks have")
        ));
    }
    if !undecided.is_empty() {
        problems.push(format!(
            "{} of {} Annex A controls have no applicability decision in the Statement of Applicability (6.1.3 d).",
            undecided.len(),
            soa.len()
        ));
    }
    let status = ReadinessStatus::grade(
        !treated.is_empty() && untreated.is_empty() && undecided.is_empty(),
        !treated.is_empty() || !decided.is_empty(),
    );
    let mut evidence = entry_refs(treated);
    evidence.extend(decided.iter().map(|r| EvidenceRef::new("soa", &r.control_id)));
    let mut lacking = entry_refs(untreated);
    lacking.extend(undecided.iter().map(|r| EvidenceRef::new("soa", &r.control_id)));
    Judgement::new(status, evidence, lacking, &problems)
}

/// 6.2: met when objectives are set (not withdrawn), each is measurable — a numeric target or a
/// metric (9.1) measuring it — and none is past its due date without an outcome; partial when
/// objectives are set but some are not measurable or overdue; gap without objectives. Owners,
/// resources, due dates and evaluation methods are required fields of every objective.
fn objectives(reading: &Reading) -> Judgement {
    let registers = reading.registers;
    let set = registers.records_where::<Objective>(reading.today, |o| o.status != ObjectiveStatus::Withdrawn);
    let unmeasurable: Vec<Uuid> = set
        .iter()
        .filter(|o| o.target_value.is_none() && registers.metrics_for_objective(o.id).next().is_none())
        .map(|o| o.id)
        .collect();
    let overdue: Vec<Uuid> = set.iter().filter(|o| o.overdue).map(|o| o.id).collect();
    let mut problems = Vec::new();
    if set.is_empty() {
        problems.push("No information security objective is set (6.2).".to_owned());
    }
    if !unmeasurable.is_empty() {
        problems.push(format!(
            "{} neither a numeric target nor a metric measuring it (6.2 b: measurable if practicable).",
            count(unmeasurable.len(), "objective has", "objectives have")
        ));
    }
    if !overdue.is_empty() {
        problems.push(format!(
            "{} past the due date without an outcome (6.2 j).",
            count(overdue.len(), "objective is", "objectives are")
        ));
    }
    let status =
        ReadinessStatus::grade(!set.is_empty() && unmeasurable.is_empty() && overdue.is_empty(), !set.is_empty());
    let lacking: BTreeSet<Uuid> = unmeasurable.into_iter().chain(overdue).collect();
    Judgement::new(status, refs::<Objective>(set.iter().map(|o| o.id)), refs::<Objective>(lacking), &problems)
}

/// 6.3: met when a change to the ISMS is on record as planned: a management review decision of
/// kind `change_to_isms` (9.3.3) or a revised scope (version > 1); partial when only documents
/// show controlled change (more than one published version); gap otherwise.
fn planning_of_changes(reading: &Reading) -> Judgement {
    let decisions = reading.reviews_deciding(DecisionKind::ChangeToIsms);
    let scope_revised = reading.registers.scope.current.as_ref().filter(|s| s.version > 1);
    let revised_documents: Vec<Uuid> = reading
        .documents
        .iter()
        .filter(|d| d.versions.iter().filter(|v| v.published_at.is_some()).count() > 1)
        .map(|d| d.id)
        .collect();
    let expected = "6.3 expects changes to the ISMS to be carried out in a planned manner: record them as \
                    management review decisions of kind change_to_isms, or restate the scope as a new version. \
                    This report sees only those records, not change plans kept elsewhere.";
    let problem = if revised_documents.is_empty() {
        format!("No planned change to the ISMS is on record. {expected}")
    } else {
        format!("Only revised documents show controlled change. {expected}")
    };
    let met = !decisions.is_empty() || scope_revised.is_some();
    let status = ReadinessStatus::grade(met, !revised_documents.is_empty());
    let mut evidence = refs::<ManagementReview>(decisions);
    evidence.extend(scope_revised.map(|_| EvidenceRef::new("scope", "current")));
    evidence.extend(refs::<Document>(revised_documents));
    Judgement::new(status, evidence, vec![], &[problem])
}

/// 7.1: met when objectives state the resources they need (6.2 i; a required field) and a
/// management review has decided on resources (9.3.3, kind `resources`); partial with one of
/// the two; gap with neither.
fn resources(reading: &Reading) -> Judgement {
    let stated: Vec<Uuid> = reading
        .registers
        .objectives
        .iter()
        .filter(|(_, e)| e.state.status != ObjectiveStatus::Withdrawn)
        .filter(|(_, e)| e.state.details.as_ref().is_some_and(|d| !d.resources.trim().is_empty()))
        .map(|(id, _)| *id)
        .collect();
    let decisions = reading.reviews_deciding(DecisionKind::Resources);
    let mut problems = Vec::new();
    if stated.is_empty() {
        problems.push("No objective states the resources it needs (6.2 i, 7.1).".to_owned());
    }
    if decisions.is_empty() {
        problems.push("No management review decision on resources is recorded (7.1, 9.3.3).".to_owned());
    }
    let status = ReadinessStatus::grade(
        !stated.is_empty() && !decisions.is_empty(),
        !(stated.is_empty() && decisions.is_empty()),
    );
    let mut evidence = refs::<Objective>(stated);
    evidence.extend(refs::<ManagementReview>(decisions));
    Judgement::new(status, evidence, vec![], &problems)
}

/// 7.2: met when every active person holds a current (unexpired) training completion and none
/// has overdue training; partial when some active person has a completion or an assignment;
/// gap otherwise.
fn competence(reading: &Reading) -> Judgement {
    let today = reading.today;
    let (mut trained, mut lacking, mut engaged) = (Vec::new(), Vec::new(), false);
    let mut overdue = 0;
    let mut active = 0;
    for (id, person) in reading.active_people() {
        active += 1;
        let current = person.completions.iter().any(|c| completion_current(c, today));
        let late = person.assignments.iter().any(|a| assignment_overdue(a, person.status, today));
        engaged |= !person.completions.is_empty() || !person.assignments.is_empty();
        overdue += usize::from(late);
        if current {
            trained.push(*id);
        }
        if !current || late {
            lacking.push(*id);
        }
    }
    let mut problems = Vec::new();
    if active == 0 {
        problems.push("No active person is registered (7.2).".to_owned());
    }
    let untrained = active - trained.len();
    if untrained > 0 {
        problems.push(format!(
            "{} no current training completion as evidence of competence (7.2 d).",
            count(untrained, "active person holds", "active people hold")
        ));
    }
    if overdue > 0 {
        problems.push(format!("{} overdue training.", count(overdue, "active person has", "active people have")));
    }
    let status = ReadinessStatus::grade(active > 0 && lacking.is_empty(), engaged);
    Judgement::new(status, refs::<Person>(trained), refs::<Person>(lacking), &problems)
}

/// 7.3: from the awareness report (current completions of `awareness` courses among active
/// people): met at 90 % coverage or more, partial above 0 %, gap at 0 % or without people.
fn awareness(reading: &Reading) -> Judgement {
    let totals = reading.registers.awareness_report(reading.today).totals;
    let coverage = totals.coverage_percent.unwrap_or(0.0);
    let courses: Vec<Uuid> = reading
        .registers
        .training_courses
        .iter()
        .filter(|(_, e)| e.state.details.as_ref().is_some_and(|d| d.topic == TrainingTopic::Awareness))
        .map(|(id, _)| *id)
        .collect();
    let problem = if totals.active_people == 0 {
        "No active person is registered, so awareness cannot be shown (7.3).".to_owned()
    } else {
        format!(
            "{} of {} active people ({coverage} %) hold a current awareness training completion; 90 % is expected \
             (7.3).",
            totals.with_current_awareness, totals.active_people
        )
    };
    let status = ReadinessStatus::grade(coverage >= 90.0, coverage > 0.0);
    Judgement::new(status, refs::<TrainingCourse>(courses), vec![], &[problem])
}

/// Title words that mark a communication procedure.
const COMMUNICATION_WORDS: [&str; 3] = ["communication", "コミュニケーション", "伝達"];

/// 7.4 (no register records communication): met when a published document of type `procedure`
/// mentions communication in its title; partial when other documents are published (they may
/// cover it, which this report cannot tell); gap when nothing is published.
fn communication(reading: &Reading) -> Judgement {
    let procedures: Vec<Uuid> = reading
        .published(Some(DocumentType::Procedure))
        .filter(|d| {
            let title = d.title.to_lowercase();
            COMMUNICATION_WORDS.iter().any(|word| title.contains(word))
        })
        .map(|d| d.id)
        .collect();
    let any_published = reading.published(None).next().is_some();
    let expected = "7.4 expects the organization to determine what, when, with whom and how to communicate; no \
                    register records communication, so this report looks for a published procedure with \
                    'communication' in its title.";
    let problem = if any_published {
        format!("No published communication procedure is found; other published documents may cover it. {expected}")
    } else {
        format!("No document is published. {expected}")
    };
    let status = ReadinessStatus::grade(!procedures.is_empty(), any_published);
    Judgement::new(status, refs::<Document>(procedures), vec![], &[problem])
}

/// 7.5: met when documents are published and none is overdue for review; partial when
/// documents are registered but none is published yet, or some are overdue; gap without
/// documents.
fn documented_information(reading: &Reading) -> Judgement {
    let published: Vec<Uuid> = reading.published(None).map(|d| d.id).collect();
    let overdue: Vec<Uuid> = reading.documents.iter().filter(|d| d.review_overdue).map(|d| d.id).collect();
    let mut problems = Vec::new();
    if reading.documents.is_empty() {
        problems.push("No documented information is registered (7.5).".to_owned());
    } else if published.is_empty() {
        problems.push("No document has a published version (7.5.3).".to_owned());
    }
    if !overdue.is_empty() {
        problems.push(format!(
            "{} overdue for review (7.5.2).",
            count(overdue.len(), "published document is", "published documents are")
        ));
    }
    let status = ReadinessStatus::grade(!published.is_empty() && overdue.is_empty(), !reading.documents.is_empty());
    Judgement::new(status, refs::<Document>(published), refs::<Document>(overdue), &problems)
}

/// 8.1: met when operational plans are in operation or completed and none is overdue; partial
/// when plans are drawn up (only planned, or some overdue); gap without plans (retired ones do
/// not count).
fn operational_planning(reading: &Reading) -> Judgement {
    let plans = reading
        .registers
        .records_where::<OperationalPlan>(reading.today, |p| p.status != OperationalPlanStatus::Retired);
    let running: Vec<Uuid> = plans
        .iter()
        .filter(|p| matches!(p.status, OperationalPlanStatus::InOperation | OperationalPlanStatus::Completed))
        .map(|p| p.id)
        .collect();
    let overdue: Vec<Uuid> = plans.iter().filter(|p| p.overdue).map(|p| p.id).collect();
    let mut problems = Vec::new();
    if plans.is_empty() {
        problems.push("No operational plan is drawn up (8.1).".to_owned());
    } else if running.is_empty() {
        problems.push("No operational plan is in operation or completed yet (8.1).".to_owned());
    }
    if !overdue.is_empty() {
        problems.push(format!(
            "{} past the due date (8.1).",
            count(overdue.len(), "operational plan is", "operational plans are")
        ));
    }
    let status = ReadinessStatus::grade(!running.is_empty() && overdue.is_empty(), !plans.is_empty());
    Judgement::new(status, refs::<OperationalPlan>(running), refs::<OperationalPlan>(overdue), &problems)
}

/// 8.2: met when every open risk is assessed and was assessed within the last 12 months;
/// partial when some open risk is assessed; gap otherwise. The register keeps no date on an
/// assessment, so the risk's last recorded event (`updated_at`: an assessment, treatment
/// decision, acceptance or link) stands for it; that is the latest the assessment can have been
/// confirmed, so a risk untouched for 12 months is due for reassessment.
fn periodic_risk_assessment(reading: &Reading) -> Judgement {
    let assessed: Vec<&Entry<Risk>> =
        reading.open_risks.iter().copied().filter(|e| e.state.assessment.is_some()).collect();
    let (fresh, stale): (Vec<&Entry<Risk>>, Vec<&Entry<Risk>>) =
        assessed.iter().partition(|e| e.updated_at.date_naive() >= reading.year_ago);
    let unassessed = reading.open_risks.len() - assessed.len();
    let mut problems = Vec::new();
    if reading.open_risks.is_empty() {
        problems.push("No open risk is on record to assess at planned intervals (8.2).".to_owned());
    }
    if unassessed > 0 {
        problems.push(format!("{} not assessed (8.2).", count(unassessed, "open risk is", "open risks are")));
    }
    if !stale.is_empty() {
        problems.push(format!(
            "{} not been assessed or otherwise updated in the last 12 months (8.2: at planned intervals).",
            count(stale.len(), "open risk has", "open risks have")
        ));
    }
    let status = ReadinessStatus::grade(
        !reading.open_risks.is_empty() && unassessed == 0 && stale.is_empty(),
        !assessed.is_empty(),
    );
    let lacking = reading
        .open_risks
        .iter()
        .copied()
        .filter(|e| e.state.assessment.is_none() || e.updated_at.date_naive() < reading.year_ago);
    Judgement::new(status, entry_refs(fresh), entry_refs(lacking), &problems)
}

/// 8.3: met when open risks have treatment decisions and each is carried out: every control it
/// names is `implemented` in the Statement of Applicability, and a treatment naming no control
/// (retain, avoid, share) has its residual risk accepted; partial when treatments are decided
/// but not all carried out; gap without treatments.
fn risk_treatment_implementation(reading: &Reading) -> Judgement {
    let registers = reading.registers;
    let implemented = |control: &str| {
        registers.soa.get(control).is_some_and(|e| {
            e.state.decision.as_ref().is_some_and(|d| d.applicable)
                && e.state.status() == ImplementationStatus::Implemented
        })
    };
    let treated = reading.open_risks.iter().copied().filter(|e| e.state.treatment.is_some());
    let (done, pending): (Vec<&Entry<Risk>>, Vec<&Entry<Risk>>) = treated.partition(|e| {
        let controls = e.state.treatment.as_ref().map_or(&[][..], |t| t.controls.as_slice());
        if controls.is_empty() {
            e.state.status == RiskStatus::Accepted
        } else {
            controls.iter().all(|c| implemented(c.as_str()))
        }
    });
    let mut problems = Vec::new();
    if done.is_empty() && pending.is_empty() {
        problems.push("No risk treatment is decided, so none can be implemented (8.3).".to_owned());
    }
    if !pending.is_empty() {
        problems.push(format!(
            "{} not carried out: a control it names is not implemented in the Statement of Applicability, or a \
             treatment without controls has no accepted residual risk (8.3).",
            count(pending.len(), "risk treatment is", "risk treatments are")
        ));
    }
    let status =
        ReadinessStatus::grade(!done.is_empty() && pending.is_empty(), !(done.is_empty() && pending.is_empty()));
    Judgement::new(status, entry_refs(done), entry_refs(pending), &problems)
}

/// 9.1: met when active metrics exist, each has measurements, none is overdue for a
/// measurement, and at least one evaluation is recorded; partial when active metrics exist;
/// gap without them.
fn monitoring(reading: &Reading) -> Judgement {
    let metrics = reading.registers.records_where::<Metric>(reading.today, |m| m.status == MetricStatus::Active);
    let unmeasured = metrics.iter().filter(|m| m.measurement_count == 0).count();
    let overdue = metrics.iter().filter(|m| m.measurement_overdue).count();
    let evaluated = metrics.iter().any(|m| !m.evaluations.is_empty());
    let mut problems = Vec::new();
    if metrics.is_empty() {
        problems.push("No active metric is defined (9.1: what is monitored and measured).".to_owned());
    } else if !evaluated {
        problems.push("No metric has an evaluation of its results (9.1 f).".to_owned());
    }
    if unmeasured > 0 {
        problems.push(format!("{} no measurement yet.", count(unmeasured, "active metric has", "active metrics have")));
    }
    if overdue > 0 {
        problems.push(format!(
            "{} overdue for a measurement by its frequency.",
            count(overdue, "active metric is", "active metrics are")
        ));
    }
    let status = ReadinessStatus::grade(
        !metrics.is_empty() && evaluated && unmeasured == 0 && overdue == 0,
        !metrics.is_empty(),
    );
    let lacking = metrics.iter().filter(|m| m.measurement_count == 0 || m.measurement_overdue).map(|m| m.id);
    Judgement::new(status, refs::<Metric>(metrics.iter().map(|m| m.id)), refs::<Metric>(lacking), &problems)
}

/// 9.2: met when the audit programme for the year read is approved and an internal audit was
/// reported within the last 12 months; partial when any programme or audit is on record; gap
/// otherwise.
fn internal_audit(reading: &Reading) -> Judgement {
    let registers = reading.registers;
    let year = reading.today.year();
    let programmes: Vec<(&Uuid, &AuditProgramme)> =
        registers.audit_programmes.iter().map(|(id, e)| (id, &e.state)).filter(|(_, p)| p.year == Some(year)).collect();
    let approved = programmes.iter().any(|(_, p)| p.status == AuditProgrammeStatus::Approved);
    let reported: Vec<Uuid> = registers
        .audits
        .iter()
        .filter(|(_, e)| e.state.report.as_ref().is_some_and(|r| r.reported_at.date_naive() >= reading.year_ago))
        .map(|(id, _)| *id)
        .collect();
    let mut problems = Vec::new();
    if programmes.is_empty() {
        problems.push(format!("No internal audit programme for {year} is established (9.2.2)."));
    } else if !approved {
        problems.push(format!("The internal audit programme for {year} is not approved (9.2.2)."));
    }
    if reported.is_empty() {
        problems.push("No internal audit was reported in the last 12 months (9.2.2 e).".to_owned());
    }
    let anything = !registers.audit_programmes.is_empty() || !registers.audits.is_empty();
    let status = ReadinessStatus::grade(approved && !reported.is_empty(), anything);
    let mut evidence = refs::<AuditProgramme>(programmes.iter().map(|(id, _)| **id));
    evidence.extend(refs::<Audit>(reported));
    Judgement::new(status, evidence, vec![], &problems)
}

/// 9.3: met when a management review held within the last 12 months is closed (closure needs
/// every 9.3.2 input and the decisions on record; the meeting date stands for the review's
/// date); partial when any review is scheduled, held, or closed earlier; gap without reviews.
fn management_review(reading: &Reading) -> Judgement {
    let reviews = &reading.registers.management_reviews;
    let recent: Vec<Uuid> = reviews
        .iter()
        .filter(|(_, e)| {
            e.state.status == ReviewStatus::Closed
                && e.state.meeting.as_ref().is_some_and(|m| m.held_on >= reading.year_ago)
        })
        .map(|(id, _)| *id)
        .collect();
    let problem = if reviews.is_empty() {
        "No management review is on record (9.3).".to_owned()
    } else {
        "No management review held in the last 12 months is closed (9.3: at planned intervals, with every 9.3.2 \
         input and the 9.3.3 decisions)."
            .to_owned()
    };
    let status = ReadinessStatus::grade(!recent.is_empty(), !reviews.is_empty());
    let evidence = if recent.is_empty() { reviews.keys().copied().collect() } else { recent };
    Judgement::new(status, refs::<ManagementReview>(evidence), vec![], &[problem])
}

/// 10.1: met when improvement is completed on record: a closed nonconformity or a management
/// review decision of kind `continual_improvement`; partial when improvement is under way
/// (corrective actions planned, or open opportunities in the risk register); gap otherwise.
fn continual_improvement(reading: &Reading) -> Judgement {
    let registers = reading.registers;
    let closed: Vec<Uuid> = registers
        .nonconformities
        .iter()
        .filter(|(_, e)| e.state.status == NonconformityStatus::Closed)
        .map(|(id, _)| *id)
        .collect();
    let decisions = reading.reviews_deciding(DecisionKind::ContinualImprovement);
    let in_progress: Vec<EvidenceRef> = registers
        .nonconformities
        .iter()
        .filter(|(_, e)| {
            matches!(
                e.state.status,
                NonconformityStatus::ActionsPlanned
                    | NonconformityStatus::AwaitingVerification
                    | NonconformityStatus::Verified
            )
        })
        .map(|(id, _)| EvidenceRef::new(Nonconformity::COLLECTION, id))
        .chain(
            registers
                .risks
                .iter()
                .filter(|(_, e)| {
                    e.state.status != RiskStatus::Closed
                        && e.state.identification.as_ref().is_some_and(|i| i.kind == RiskKind::Opportunity)
                })
                .map(|(id, _)| EvidenceRef::new(Risk::COLLECTION, id)),
        )
        .collect();
    let met = !closed.is_empty() || !decisions.is_empty();
    let problem = "No completed improvement is on record (10.1): no nonconformity is closed and no management \
                   review decision of kind continual_improvement is recorded.";
    let status = ReadinessStatus::grade(met, !in_progress.is_empty());
    let evidence = if met {
        let mut evidence = refs::<Nonconformity>(closed);
        evidence.extend(refs::<ManagementReview>(decisions));
        evidence
    } else {
        in_progress
    };
    Judgement::new(status, evidence, vec![], &[problem.to_owned()])
}

/// 10.2: met when nonconformities are on record (the process is operated), no open one has an
/// overdue corrective action, and every open major nonconformity has its root cause (10.2 b);
/// partial when some are overdue or lack a root cause; gap when no nonconformity is recorded at
/// all, since the audit samples how they are handled.
fn corrective_action(reading: &Reading) -> Judgement {
    let records = reading.registers.records_where::<Nonconformity>(reading.today, |_| true);
    let overdue: Vec<Uuid> = records.iter().filter(|n| n.overdue).map(|n| n.id).collect();
    let unrooted: Vec<Uuid> = records
        .iter()
        .filter(|n| n.status != NonconformityStatus::Closed && n.severity == Severity::Major && n.root_cause.is_none())
        .map(|n| n.id)
        .collect();
    let mut problems = Vec::new();
    if records.is_empty() {
        problems.push(
            "No nonconformity is on record (10.2): the audit samples how nonconformities from audits, \
                       incidents and monitoring are corrected."
                .to_owned(),
        );
    }
    if !overdue.is_empty() {
        problems.push(format!(
            "{} an overdue corrective action (10.2 c).",
            count(overdue.len(), "open nonconformity has", "open nonconformities have")
        ));
    }
    if !unrooted.is_empty() {
        problems.push(format!(
            "{} no root cause recorded (10.2 b).",
            count(unrooted.len(), "open major nonconformity has", "open major nonconformities have")
        ));
    }
    let status =
        ReadinessStatus::grade(!records.is_empty() && overdue.is_empty() && unrooted.is_empty(), !records.is_empty());
    let lacking: BTreeSet<Uuid> = overdue.into_iter().chain(unrooted).collect();
    let evidence = records.iter().map(|n| n.id).filter(|id| !lacking.contains(id));
    Judgement::new(status, refs::<Nonconformity>(evidence), refs::<Nonconformity>(lacking), &problems)
}

type Rule = fn(&Reading) -> Judgement;

/// The rule of each requirement except 4.4, which is judged from the others.
fn rule(clause: &str) -> Option<Rule> {
    Some(match clause {
        "4.1" => context_of_the_organization,
        "4.2" => interested_parties,
        "4.3" => scope,
        "5.1" => leadership,
        "5.2" => policy,
        "5.3" => roles,
        "6.1.1" => risks_and_opportunities,
        "6.1.2" => risk_assessment,
        "6.1.3" => risk_treatment,
        "6.2" => objectives,
        "6.3" => planning_of_changes,
        "7.1" => resources,
        "7.2" => competence,
        "7.3" => awareness,
        "7.4" => communication,
        "7.5" => documented_information,
        "8.1" => operational_planning,
        "8.2" => periodic_risk_assessment,
        "8.3" => risk_treatment_implementation,
        "9.1" => monitoring,
        "9.2" => internal_audit,
        "9.3" => management_review,
        "10.1" => continual_improvement,
        "10.2" => corrective_action,
        _ => return None,
    })
}

fn requirement_rows(reading: &Reading) -> Vec<RequirementReadiness> {
    let mut judged: BTreeMap<&str, Judgement> = ISO27001_2022_REQUIREMENTS
        .iter()
        .filter_map(|requirement| rule(requirement.clause).map(|rule| (requirement.clause, rule(reading))))
        .collect();
    let established = management_system(&judged);
    judged.insert("4.4", established);
    ISO27001_2022_REQUIREMENTS
        .iter()
        .map(|requirement| {
            let judgement = judged.remove(requirement.clause).unwrap_or_else(|| {
                let problem = "No rule reads this requirement from the registers.".to_owned();
                Judgement::new(ReadinessStatus::Gap, vec![], vec![], &[problem])
            });
            RequirementReadiness {
                clause: requirement.clause.to_owned(),
                title: requirement.title.to_owned(),
                status: judgement.status,
                evidence: judgement.evidence,
                lacking: judgement.lacking,
                gap: judgement.gap,
            }
        })
        .collect()
}

fn annex_a(registers: &Registers) -> AnnexAReadiness {
    let (mut controls, mut undecided_control_ids, mut not_applicable) = (Vec::new(), Vec::new(), 0);
    for record in soa_records(registers) {
        match &record.decision {
            None => undecided_control_ids.push(record.control_id),
            Some(decision) if !decision.applicable => not_applicable += 1,
            Some(_) => controls.push(ControlReadiness {
                status: match record.status {
                    SoaStatus::Implemented => ReadinessStatus::Met,
                    SoaStatus::Planned | SoaStatus::PartiallyImplemented => ReadinessStatus::Partial,
                    SoaStatus::NotImplemented | SoaStatus::NotDecided => ReadinessStatus::Gap,
                },
                control_id: record.control_id,
                title: record.title,
                implementation_status: record.status,
                owner: record.owner,
                evidence_refs: record.evidence_refs,
                linked_risk_ids: record.linked_risk_ids,
            }),
        }
    }
    AnnexAReadiness { controls, undecided: undecided_control_ids.len(), undecided_control_ids, not_applicable }
}

const SECTION_TITLES: [(&str, &str); 7] = [
    ("4", "Context of the organization"),
    ("5", "Leadership"),
    ("6", "Planning"),
    ("7", "Support"),
    ("8", "Operation"),
    ("9", "Performance evaluation"),
    ("10", "Improvement"),
];

/// (met + 0.5 x partial) / rows x 100, unrounded; 0 without rows.
fn percent(met: usize, partial: usize, rows: usize) -> f64 {
    if rows == 0 {
        return 0.0;
    }
    (met as f64 + 0.5 * partial as f64) * 100.0 / rows as f64
}

fn one_decimal(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn section(section: &str, title: &str, statuses: impl IntoIterator<Item = ReadinessStatus>) -> (SectionReadiness, f64) {
    let (mut met, mut partial, mut gap) = (0, 0, 0);
    for status in statuses {
        match status {
            ReadinessStatus::Met => met += 1,
            ReadinessStatus::Partial => partial += 1,
            ReadinessStatus::Gap => gap += 1,
        }
    }
    let rows = met + partial + gap;
    let exact = percent(met, partial, rows);
    let summary = SectionReadiness {
        section: section.to_owned(),
        title: title.to_owned(),
        rows,
        met,
        partial,
        gap,
        readiness_percent: one_decimal(exact),
    };
    (summary, exact)
}

/// Overdue items across the registers, each from the record view its register serves.
fn overdue_items(reading: &Reading) -> Vec<OverdueItem> {
    fn item(register: &str, id: impl ToString, what: String, due_on: Option<NaiveDate>) -> OverdueItem {
        OverdueItem { register: register.to_owned(), id: id.to_string(), what, due_on }
    }
    let (registers, today) = (reading.registers, reading.today);
    let mut items = Vec::new();
    for nc in registers.records_where::<Nonconformity>(today, |n| n.overdue) {
        items.extend(nc.corrective_actions.iter().filter(|a| a.overdue).map(|action| {
            let what = format!(
                "Corrective action '{}' ({}) of nonconformity '{}'",
                action.description, action.owner, nc.title
            );
            item(Nonconformity::COLLECTION, nc.id, what, Some(action.due_date))
        }));
    }
    for objective in registers.records_where::<Objective>(today, |o| o.overdue) {
        let what = format!("Objective '{}' ({}) has no outcome", objective.title, objective.owner);
        items.push(item(Objective::COLLECTION, objective.id, what, Some(objective.due_date)));
    }
    for plan in registers.records_where::<OperationalPlan>(today, |p| p.overdue) {
        let what = format!("Operational plan '{}' ({}) is not completed", plan.title, plan.owner);
        items.push(item(OperationalPlan::COLLECTION, plan.id, what, Some(plan.due_date)));
    }
    for document in reading.documents.iter().filter(|d| d.review_overdue) {
        let what = format!("Review of document '{}' ({})", document.title, document.owner);
        items.push(item(Document::COLLECTION, document.id, what, document.review_due_on));
    }
    for supplier in registers.suppliers_with_overdue_reviews(today) {
        let what = format!("Review of supplier '{}' ({})", supplier.name, supplier.owner);
        items.push(item(Supplier::COLLECTION, supplier.id, what, supplier.next_review_due_on));
    }
    for person in registers.people_with_overdue_training(today) {
        items.extend(person.training_assignments.iter().filter(|a| a.overdue).map(|assignment| {
            let course = registers
                .training_courses
                .get(&assignment.course_id)
                .and_then(|c| c.state.details.as_ref())
                .map_or_else(|| assignment.course_id.to_string(), |d| d.title.clone());
            let what = format!("Training '{course}' of {}", person.display_name);
            item(Person::COLLECTION, person.id, what, Some(assignment.due_date))
        }));
    }
    for person in registers.people_with_overdue_access_removal(today) {
        let Some(checklist) = &person.access_removal else { continue };
        for open in checklist.items.iter().filter(|i| !i.completed) {
            let what = format!("Access removal of leaver {}: {}", person.display_name, open.description);
            items.push(item(Person::COLLECTION, person.id, what, Some(checklist.due_date)));
        }
    }
    for date in registers.overdue_surveillance(today) {
        let what = format!("{} with {}", name_of(&date.item).replace('_', " "), date.certification_body);
        items.push(item(CertificationCycle::COLLECTION, date.cycle_id, what, Some(date.due_on)));
    }
    for metric in registers.records_where::<Metric>(today, |m| m.measurement_overdue) {
        let what = format!("Measurement of metric '{}' ({})", metric.name, name_of(&metric.frequency));
        items.push(item(Metric::COLLECTION, metric.id, what, None));
    }
    for review in registers.records_where::<ManagementReview>(today, |r| r.actions.iter().any(|a| a.overdue)) {
        items.extend(review.actions.iter().filter(|a| a.overdue).map(|action| {
            let what =
                format!("Action '{}' ({}) of management review '{}'", action.description, action.owner, review.title);
            item(ManagementReview::COLLECTION, review.id, what, Some(action.due_date))
        }));
    }
    for incident in registers.records_where::<Incident>(today, |i| i.notification_overdue) {
        let what =
            format!("Notification of the personal data breach '{}' to the supervisory authority", incident.title);
        items.push(item(Incident::COLLECTION, incident.id, what, incident.notification_due_at.map(|d| d.date_naive())));
    }
    for audit in registers.records_where::<Audit>(today, |a| a.overdue) {
        let what = format!("Report of internal audit '{}'", audit.title);
        items.push(item(Audit::COLLECTION, audit.id, what, Some(audit.planned_end_on)));
    }
    for risk in registers.records_where::<Risk>(today, |r| r.treatment.as_ref().is_some_and(|t| t.overdue)) {
        let due_on = risk.treatment.as_ref().and_then(|t| t.due_date);
        let what = format!("Acceptance of the treated risk '{}' ({})", risk.title, risk.owner);
        items.push(item(Risk::COLLECTION, risk.id, what, due_on));
    }
    // Earliest first; undated last.
    items.sort_by(|a, b| {
        (a.due_on.is_none(), a.due_on, &a.register, &a.id).cmp(&(b.due_on.is_none(), b.due_on, &b.register, &b.id))
    });
    items
}

/// The readiness report for `today` (the date read).
pub fn readiness(registers: &Registers, today: NaiveDate) -> Readiness {
    let reading = Reading::new(registers, today);
    let requirements = requirement_rows(&reading);
    let annex_a = annex_a(registers);
    let mut sections = Vec::new();
    let mut exact = Vec::new();
    for (top, title) in SECTION_TITLES {
        let statuses = requirements.iter().filter(|r| top_clause(&r.clause) == top).map(|r| r.status);
        let (summary, value) = section(top, title, statuses);
        sections.push(summary);
        exact.push(value);
    }
    let controls = annex_a.controls.iter().map(|c| c.status);
    let undecided = std::iter::repeat_n(ReadinessStatus::Gap, annex_a.undecided);
    let (summary, value) = section("A", "Annex A controls", controls.chain(undecided));
    sections.push(summary);
    exact.push(value);
    Readiness {
        read_on: today,
        overall_percent: one_decimal(exact.iter().sum::<f64>() / exact.len() as f64),
        sections,
        requirements,
        annex_a,
        upcoming_certification_dates: registers.upcoming_certification_dates(today),
        overdue: overdue_items(&reading),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use isms_domain::context::{ContextIssueDetails, ContextIssueEvent};
    use isms_domain::criteria::{Rating, RiskCriteria, VersionedCriteria};
    use isms_domain::risk::{RiskAssessed, RiskEvent, RiskIdentified};
    use isms_domain::soa::{ControlApplicabilityDecided, ControlImplementationRecorded, SoaEntry, SoaEntryEvent};
    use isms_domain::Aggregate;

    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn entry<A: Aggregate>(id: impl ToString, events: &[A::Event], at: &str) -> Entry<A> {
        let mut state = A::default();
        events.iter().for_each(|e| state.apply(e));
        let at: DateTime<Utc> = at.parse().unwrap();
        Entry {
            state,
            id: id.to_string(),
            version: events.len() as u64,
            position: 1,
            first_position: 1,
            created_at: at,
            created_by: "alice".into(),
            updated_at: at,
            effective_at: None,
        }
    }

    fn add_issue(registers: &mut Registers, category: IssueCategory) {
        let details = ContextIssueDetails {
            category,
            title: "t".into(),
            description: String::new(),
            effect_on_isms: String::new(),
        };
        let id = Uuid::now_v7();
        let events = [ContextIssueEvent::ContextIssueRecorded(details)];
        registers.context_issues.insert(id, entry(id, &events, "2026-01-01T00:00:00Z"));
    }

    fn add_risk(registers: &mut Registers, assessed: bool, at: &str) -> Uuid {
        let mut events = vec![RiskEvent::RiskIdentified(RiskIdentified {
            kind: RiskKind::Risk,
            title: "Ransomware".into(),
            description: String::new(),
            category: "availability".into(),
            owner: "alice".into(),
            asset_refs: Vec::new(),
            threat: None,
            vulnerability: None,
        })];
        if assessed {
            events.push(RiskEvent::RiskAssessed(RiskAssessed {
                rating: Rating { likelihood: 3, impact: 4, score: 12, level: "high".into() },
                rationale: String::new(),
                criteria_version: 0,
            }));
        }
        let id = Uuid::now_v7();
        registers.risks.insert(id, entry(id, &events, at));
        id
    }

    fn row<'a>(report: &'a Readiness, clause: &str) -> &'a RequirementReadiness {
        report.requirements.iter().find(|r| r.clause == clause).unwrap()
    }

    #[test]
    fn empty_registers_show_a_gap_everywhere_and_zero_percent() {
        let report = readiness(&Registers::default(), day("2026-06-01"));
        assert_eq!(report.requirements.len(), ISO27001_2022_REQUIREMENTS.len());
        for requirement in &report.requirements {
            assert_eq!(requirement.status, ReadinessStatus::Gap, "{}", requirement.clause);
            let gap = requirement.gap.as_deref().unwrap_or_default();
            assert!(!gap.is_empty() && !gap.starts_with("No rule"), "{}: {gap}", requirement.clause);
        }
        assert!(report.annex_a.controls.is_empty());
        assert_eq!((report.annex_a.undecided, report.annex_a.not_applicable), (93, 0));
        assert_eq!(report.sections.len(), 8);
        assert!(report.sections.iter().all(|s| s.readiness_percent == 0.0 && s.met + s.partial == 0));
        assert_eq!(report.sections[7].rows, 93, "undecided controls are gap rows of Annex A");
        assert_eq!(report.overall_percent, 0.0);
        assert!(report.overdue.is_empty() && report.upcoming_certification_dates.is_empty());
    }

    #[test]
    fn every_requirement_but_4_4_has_its_own_rule() {
        for requirement in &ISO27001_2022_REQUIREMENTS {
            assert_eq!(rule(requirement.clause).is_some(), requirement.clause != "4.4", "{}", requirement.clause);
        }
    }

    #[test]
    fn context_needs_issues_of_both_categories() {
        let mut registers = Registers::default();
        add_issue(&mut registers, IssueCategory::Internal);
        let report = readiness(&registers, day("2026-06-01"));
        let context = row(&report, "4.1");
        assert_eq!(context.status, ReadinessStatus::Partial);
        assert!(context.gap.as_deref().unwrap().contains("external"));
        assert_eq!(context.evidence.len(), 1);
        assert_eq!(context.evidence[0].register, "context-issues");
        add_issue(&mut registers, IssueCategory::External);
        let context = row(&readiness(&registers, day("2026-06-01")), "4.1").clone();
        assert_eq!((context.status, context.gap), (ReadinessStatus::Met, None));
    }

    #[test]
    fn risk_assessment_needs_own_criteria_and_every_open_risk_assessed() {
        let mut registers = Registers::default();
        let assessed = add_risk(&mut registers, true, "2026-05-01T00:00:00Z");
        let report = readiness(&registers, day("2026-06-01"));
        assert_eq!(row(&report, "6.1.2").status, ReadinessStatus::Partial, "default criteria");
        registers.criteria.current = VersionedCriteria { version: 1, criteria: RiskCriteria::default() };
        let report = readiness(&registers, day("2026-06-01"));
        assert_eq!(row(&report, "6.1.2").status, ReadinessStatus::Met);
        assert_eq!(row(&report, "8.2").status, ReadinessStatus::Met);

        let unassessed = add_risk(&mut registers, false, "2026-05-01T00:00:00Z");
        let report = readiness(&registers, day("2026-06-01"));
        let assessment = row(&report, "6.1.2");
        assert_eq!(assessment.status, ReadinessStatus::Partial);
        assert_eq!(assessment.lacking, [EvidenceRef::new("risks", unassessed)]);
        assert!(assessment.evidence.contains(&EvidenceRef::new("risk-criteria", "current")));
        assert!(assessment.evidence.contains(&EvidenceRef::new("risks", assessed)));

        // Read more than a year later, the assessment is stale (8.2).
        let later = readiness(&registers, day("2027-05-02"));
        let periodic = row(&later, "8.2");
        assert_eq!(periodic.status, ReadinessStatus::Partial);
        assert!(periodic.lacking.contains(&EvidenceRef::new("risks", assessed)));
        assert!(periodic.gap.as_deref().unwrap().contains("12 months"));
    }

    #[test]
    fn the_management_system_is_established_when_its_parts_are_at_least_partial() {
        let mut registers = Registers::default();
        add_issue(&mut registers, IssueCategory::Internal);
        let report = readiness(&registers, day("2026-06-01"));
        let established = row(&report, "4.4");
        assert_eq!(established.status, ReadinessStatus::Partial);
        assert!(established.gap.as_deref().unwrap().contains("4.2, 4.3, 6.1.2, 6.1.3, 9.1"));
    }

    #[test]
    fn applicable_controls_are_rows_graded_by_implementation_and_undecided_ones_are_gaps() {
        let mut registers = Registers::default();
        let decided = |applicable| {
            SoaEntryEvent::ControlApplicabilityDecided(ControlApplicabilityDecided {
                applicable,
                justification: "because".into(),
            })
        };
        let implemented = |status| {
            SoaEntryEvent::ControlImplementationRecorded(ControlImplementationRecorded {
                status,
                owner: "alice".into(),
                evidence_refs: vec!["POL-07".into()],
            })
        };
        let at = "2026-01-01T00:00:00Z";
        registers.soa.insert(
            "5.1".into(),
            entry::<SoaEntry>("5.1", &[decided(true), implemented(ImplementationStatus::Implemented)], at),
        );
        registers.soa.insert(
            "8.24".into(),
            entry::<SoaEntry>("8.24", &[decided(true), implemented(ImplementationStatus::Planned)], at),
        );
        registers.soa.insert("7.4".into(), entry::<SoaEntry>("7.4", &[decided(false)], at));
        let report = readiness(&registers, day("2026-06-01"));
        let statuses: Vec<(&str, ReadinessStatus)> =
            report.annex_a.controls.iter().map(|c| (c.control_id.as_str(), c.status)).collect();
        assert_eq!(statuses, [("5.1", ReadinessStatus::Met), ("8.24", ReadinessStatus::Partial)]);
        assert_eq!((report.annex_a.undecided, report.annex_a.not_applicable), (90, 1));
        let annex = &report.sections[7];
        assert_eq!((annex.rows, annex.met, annex.partial, annex.gap), (92, 1, 1, 90));
        // (1 + 0.5) / 92 = 1.63 %.
        assert_eq!(annex.readiness_percent, 1.6);
        // Decided controls make 6.1.3 partial, and with it 4.4: clause 4 at 12.5 %, clause 6 at 10 %.
        assert_eq!(row(&report, "6.1.3").status, ReadinessStatus::Partial);
        assert_eq!(row(&report, "4.4").status, ReadinessStatus::Partial);
        assert_eq!((report.sections[0].readiness_percent, report.sections[2].readiness_percent), (12.5, 10.0));
        assert_eq!(report.overall_percent, 3.0, "(12.5 + 10 + 1.63) / 8");
    }
}

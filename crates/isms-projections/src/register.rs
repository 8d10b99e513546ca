//! What every record register shares, so the command and read paths are written once.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use isms_domain::Aggregate;
use serde::Serialize;
use uuid::Uuid;

use crate::{Entry, Registers};

/// A register of records, one stream per record, keyed by a UUIDv7 id.
pub trait Register: Aggregate + Clone + Send + Sync + 'static {
    /// Singular noun for messages ("context issue").
    const NOUN: &'static str;
    /// The collection's path segment under `/api/v1` ("context-issues"), for `Location`.
    const COLLECTION: &'static str;
    /// The response shape of one record.
    type Record: Serialize + Send + 'static;
    /// Whether a folded stream is a live record (a stream without its creation event is not).
    fn exists(state: &Self) -> bool;
    /// This register inside one tenant's registers.
    fn register(registers: &Registers) -> &BTreeMap<Uuid, Entry<Self>>;
    /// The response shape, with derived facts (such as `overdue`) computed for `today`.
    fn record(entry: &Entry<Self>, today: NaiveDate) -> Self::Record;
}

/// Something done once for each record register, generic over the register's type.
pub trait RegisterVisitor {
    fn visit<R: Register>(&mut self);
}

/// Visits every record register in the order of the standard: context (4), planning (6),
/// support (7), operation (8), performance evaluation (9), improvement (10). The one list of
/// them: the dashboard and the evidence pack walk it, so a new register is added here once.
pub fn for_each_register(visitor: &mut impl RegisterVisitor) {
    use isms_domain::{assets, audits, certification, context, documents, incidents, management_review, metrics};
    use isms_domain::{nonconformity, objectives, operations, parties, people, risk, suppliers, training};
    visitor.visit::<context::ContextIssue>();
    visitor.visit::<parties::InterestedParty>();
    visitor.visit::<assets::Asset>();
    visitor.visit::<risk::Risk>();
    visitor.visit::<objectives::Objective>();
    visitor.visit::<people::Person>();
    visitor.visit::<training::TrainingCourse>();
    visitor.visit::<documents::Document>();
    visitor.visit::<operations::OperationalPlan>();
    visitor.visit::<suppliers::Supplier>();
    visitor.visit::<incidents::Incident>();
    visitor.visit::<metrics::Metric>();
    visitor.visit::<audits::AuditProgramme>();
    visitor.visit::<audits::Audit>();
    visitor.visit::<management_review::ManagementReview>();
    visitor.visit::<nonconformity::Nonconformity>();
    visitor.visit::<certification::CertificationCycle>();
}

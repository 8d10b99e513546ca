//! The scope of the ISMS (4.3) as it is read and stated, and what every per-tenant singleton
//! (the scope, the asset classification scheme) shares.

use chrono::{DateTime, Utc};
use isms_domain::scope::{Scope, ScopeDefinition};
use isms_domain::Aggregate;
use isms_store::Position;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Entry;

/// A register with exactly one stream per tenant under a fixed id, such as the scope: defined
/// with `PUT`, read with `GET`, its version being the stream version.
pub trait Singleton: Aggregate + Send + Sync + 'static {
    /// The fixed stream id.
    const STREAM_ID: &'static str;
    /// What is missing when nothing is defined and there is no default ("scope").
    const NOUN: &'static str;
    type Record: Serialize + Send + 'static;
    /// The response shape of the stream as read (`entry` is `None` when it was never defined);
    /// `None` when there is nothing to show, which reads as 404.
    fn record(entry: Option<&Entry<Self>>) -> Option<Self::Record>;
}

/// Where the ISMS ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundariesBody {
    /// Departments, functions and roles inside the ISMS.
    #[serde(default)]
    #[schema(value_type = crate::views::text::FreeText)]
    pub organizational: String,
    /// Buildings, floors, rooms.
    #[serde(default)]
    #[schema(value_type = crate::views::text::FreeText)]
    pub physical: String,
    /// Networks, systems, cloud services.
    #[serde(default)]
    #[schema(value_type = crate::views::text::FreeText)]
    pub technological: String,
}

/// Something left out of the scope and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExclusionBody {
    #[schema(value_type = crate::views::text::RequiredFreeText)]
    pub description: String,
    /// Required: 4.3 accepts only justified exclusions.
    #[schema(value_type = crate::views::text::RequiredFreeText)]
    pub justification: String,
}

/// The scope of the ISMS (4.3), stated whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "statement": "顧客向け設計サービスの提供に関わる情報資産の管理",
    "boundaries": {
        "organizational": "Design department and IT operations",
        "physical": "Tokyo head office, 5th floor",
        "technological": "Corporate network, the design file server and the SaaS tenant"
    },
    "interfaces_and_dependencies": ["Payroll is outsourced to an external provider"],
    "exclusions": [{"description": "Osaka sales office", "justification": "No customer design data is handled there"}],
    "sites": ["Tokyo head office"]
}))]
pub struct ScopeBody {
    #[schema(value_type = crate::views::text::RequiredFreeText)]
    pub statement: String,
    pub boundaries: BoundariesBody,
    /// 4.3 c: interfaces and dependencies with activities outside the ISMS, one per line.
    #[serde(default)]
    #[schema(value_type = Vec<crate::views::text::SingleLine>)]
    pub interfaces_and_dependencies: Vec<String>,
    #[serde(default)]
    pub exclusions: Vec<ExclusionBody>,
    #[serde(default)]
    #[schema(value_type = Vec<crate::views::text::SingleLine>)]
    pub sites: Vec<String>,
}

impl From<&ScopeDefinition> for ScopeBody {
    fn from(scope: &ScopeDefinition) -> Self {
        Self {
            statement: scope.statement.clone(),
            boundaries: BoundariesBody {
                organizational: scope.boundaries.organizational.clone(),
                physical: scope.boundaries.physical.clone(),
                technological: scope.boundaries.technological.clone(),
            },
            interfaces_and_dependencies: scope.interfaces_and_dependencies.clone(),
            exclusions: scope
                .exclusions
                .iter()
                .map(|e| ExclusionBody { description: e.description.clone(), justification: e.justification.clone() })
                .collect(),
            sites: scope.sites.clone(),
        }
    }
}

/// The scope in force and its version (1 for the first definition).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScopeRecord {
    /// The scope version, which is also its stream version: send it in `If-Match`.
    pub version: u64,
    #[serde(flatten)]
    pub scope: ScopeBody,
    pub position: Position,
    /// When and by whom the scope was first defined.
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// When this version was defined.
    pub updated_at: DateTime<Utc>,
}

impl Singleton for Scope {
    const STREAM_ID: &'static str = Scope::STREAM_ID;
    const NOUN: &'static str = "scope";
    type Record = ScopeRecord;

    fn record(entry: Option<&Entry<Self>>) -> Option<ScopeRecord> {
        let entry = entry?;
        let current = entry.state.current.as_ref()?;
        Some(ScopeRecord {
            version: current.version,
            scope: (&current.scope).into(),
            position: entry.position,
            created_at: entry.created_at,
            created_by: entry.created_by.clone(),
            updated_at: entry.updated_at,
        })
    }
}

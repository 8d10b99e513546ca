//! What changed in the registers between two points of the log (an audit date and today, or
//! two log positions): records added, changed field by field, and removed.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use isms_app::{ChangePoint, Ledger, ReadPoint, Resolved};
use isms_projections::reports::changes::{register_kind, RegisterChanges, RegisterKind, REGISTERS};
use isms_store::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{AuditScope, Authorized};
use crate::problem::{ApiError, ReadProblems};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(changes);
}

/// An RFC 3339 instant or a log position (digits, within `int64`), as `parse_point` reads them.
fn read_point_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let instant =
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    let position = ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[0-9]{1,18}$"));
    AnyOfBuilder::new().item(instant).item(position).build().into()
}

fn register_schema() -> utoipa::openapi::schema::Object {
    let names: Vec<&str> = REGISTERS.iter().map(|kind| kind.name).collect();
    isms_projections::views::string_enum(&names)
}

crate::param_schemas::param_schema!(PointInLog, read_point_schema);
crate::param_schemas::param_schema!(RegisterName, register_schema);

/// The two points to compare and the register to limit the comparison to.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The earlier point: an RFC 3339 instant (the state after every event recorded at or
    /// before it, like `as_of`) or a log position (an integer, like `as_of_position`).
    #[param(example = "2026-03-31T23:59:59Z", inline, value_type = PointInLog)]
    pub from: String,
    /// The later point, in the same forms; the latest state when absent.
    #[param(inline, value_type = Option<PointInLog>)]
    pub to: Option<String>,
    /// Only this register, by its collection name (`risks`, `soa`, `scope`, `context-issues`, ...).
    #[param(inline, value_type = Option<RegisterName>)]
    pub register: Option<String>,
}

/// One end of the comparison, as resolved.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePointView {
    /// The instant asked for, or the time of the event at `position`.
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
    /// The date derived facts such as `overdue` are computed for on this side: the `as_of`
    /// date, or today for the latest state.
    pub read_on: NaiveDate,
}

/// Every register compared (all of them, or the one asked for), in the order of the standard,
/// each with its lists, empty when nothing changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeSet {
    pub from: ChangePointView,
    pub to: ChangePointView,
    pub registers: Vec<RegisterChanges>,
}

/// Parses `from` / `to`: digits are a log position, anything else an RFC 3339 instant.
fn read_point(name: &str, raw: &str) -> Result<ReadPoint, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_query",
            format!("{name} must be an RFC 3339 instant (e.g. 2026-03-31T00:00:00Z) or a log position, not '{raw}'"),
        )
    };
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().map(ReadPoint::Position).map_err(|_| invalid());
    }
    // An unencoded '+' of a time zone offset arrives as a space.
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")))
        .map(|at| ReadPoint::AsOf(at.with_timezone(&Utc)))
        .map_err(|_| invalid())
}

/// Resolves one end; a position beyond the end of the log is 422 `invalid_read_point`.
fn resolve(ledger: &Ledger, tenant: &TenantId, name: &str, point: ReadPoint) -> Result<Resolved, ApiError> {
    let head = ledger.store().head(tenant).map_err(isms_app::AppError::from)?.position;
    if let ReadPoint::Position(position) = point {
        if position > head {
            return Err(ApiError::unprocessable(
                "invalid_read_point",
                format!("{name} position {position} is beyond the log's last position {head}"),
                Vec::new(),
            ));
        }
    }
    Ok(ledger.resolve(tenant, point)?)
}

fn view(resolved: &Resolved) -> ChangePointView {
    ChangePointView { as_of: resolved.as_of, position: resolved.position, read_on: resolved.reading_date() }
}

/// Read what changed between two points
///
/// For every register (or the one named by `register`), the records added, changed and removed
/// between `from` and `to` (default: now). A changed record lists each differing field as a
/// JSON pointer with its old and new value (`/status`, `/treatment/residual_score`,
/// `/decision/justification`); an object that appears or disappears, a list of values and a list
/// whose length changed are one field each, lists of sub-records of the same length are compared
/// item by item. The bookkeeping fields `version`, `position` and `updated_at` are not listed.
///
/// Records are compared as their endpoints render them on each side's own date (`read_on`),
/// so a derived fact such as `overdue` may change with no event. The SoA has a line for every
/// control (decisions show as changes of `/decision`, `/status`, ...), and its `linked_risk_ids`
/// change when a risk's treatment starts or stops naming the control. Records are never
/// deleted, so `removed` stays empty; it is kept for completeness. `from` after `to` is
/// `from_after_to`; a position beyond the log is 422 `invalid_read_point`.
#[utoipa::path(
    tag = "changes", operation_id = "get_changes",
    params(ChangesQuery),
    responses((status = 200, description = "The changes, per register", body = ChangeSet), ReadProblems),
    security(("bearer" = ["audit:read"]))
)]
#[get("/changes")]
pub async fn changes(
    auth: Authorized<AuditScope>,
    ledger: web::Data<Ledger>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let from = read_point("from", &query.from)?;
    let to = match &query.to {
        Some(raw) => read_point("to", raw)?,
        None => ReadPoint::Latest,
    };
    let kinds: Vec<&'static RegisterKind> = match &query.register {
        None => REGISTERS.iter().collect(),
        Some(name) => vec![register_kind(name).ok_or_else(|| {
            let names: Vec<&str> = REGISTERS.iter().map(|kind| kind.name).collect();
            ApiError::bad_request(
                "unknown_register",
                format!("no register '{name}'; the registers are {}", names.join(", ")),
            )
        })?],
    };
    let tenant = auth.principal.tenant.clone();
    let reversed_instants = matches!((from, to), (ReadPoint::AsOf(from), ReadPoint::AsOf(to)) if from > to);
    let (from, to) = (resolve(&ledger, &tenant, "from", from)?, resolve(&ledger, &tenant, "to", to)?);
    if from.position > to.position || reversed_instants {
        return Err(ApiError::bad_request(
            "from_after_to",
            format!("from (position {}) must not be after to (position {})", from.position, to.position),
        ));
    }
    let points = (
        ChangePoint { position: from.position, read_on: from.reading_date() },
        ChangePoint { position: to.position, read_on: to.reading_date() },
    );
    // Reading the registers at `to` may replay the log: off the HTTP worker thread.
    let reader = ledger.clone();
    let registers = web::block(move || reader.changes(&tenant, points.0, points.1, &kinds))
        .await
        .map_err(|error| ApiError::Internal(format!("the change set did not complete: {error}")))??;
    Ok(HttpResponse::Ok().json(ChangeSet { from: view(&from), to: view(&to), registers }))
}

//! The readiness report (gap diagnosis) before certification, readable as of any point.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::Ledger;
use isms_projections::reports::readiness::{readiness, Readiness};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Authorized, ReadScope};
use crate::problem::{ApiError, ReadProblems};
use crate::request::{read_registers, TimeTravel};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(get_readiness);
}

/// The readiness report with the read point it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessReport {
    #[serde(flatten)]
    pub readiness: Readiness,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Readiness for certification (gap diagnosis)
///
/// For each requirement of ISO/IEC 27001:2022 clauses 4 to 10: `met`, `partial` or `gap` by a
/// documented rule over the registers, the records it rests on, the records lacking, and what
/// is missing. Then every applicable Annex A control graded by its implementation (undecided
/// controls count as gaps), readiness percentages per clause, for Annex A and overall, the
/// upcoming certification dates, and the overdue items across the registers.
#[utoipa::path(
    tag = "reports", operation_id = "get_readiness_report",
    params(TimeTravel),
    responses((status = 200, description = "The readiness report", body = ReadinessReport), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/readiness")]
pub async fn get_readiness(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (readiness, resolved) = read_registers(ledger, auth.principal.tenant.clone(), point, |registers, resolved| {
        readiness(registers, resolved.reading_date())
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReadinessReport { readiness, as_of: resolved.as_of, position: resolved.position }))
}

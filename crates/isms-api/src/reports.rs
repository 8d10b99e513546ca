//! Reports over the registers (all readable as of any point): the risk heat map, and the reports
//! certification needs.

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use isms_app::{Ledger, Resolved};
use isms_projections::csv::traceability_csv;
use isms_projections::reports::dashboard::{dashboard, Dashboard};
use isms_projections::reports::heat_map::{heat_map, HeatMap, HeatMapMatrix};
use isms_projections::reports::traceability::{traceability_matrix, TraceabilityMatrix};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Authorized, ReadScope};
use crate::csv::csv_response;
use crate::negotiation::{negotiate, CSV, JSON, SVG};
use crate::problem::{ApiError, ReadProblems};
use crate::request::{read_registers, TimeTravel};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(risk_heat_map).service(get_dashboard).service(traceability);
}

/// A report body with the read point it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeatMapReport {
    #[serde(flatten)]
    pub heat_map: HeatMap,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Risk heat map
///
/// Likelihood by impact counts of the open risks, inherent (current assessment) and residual
/// (treatment target), on the scales of the risk criteria in force. JSON by default; send
/// `Accept: image/svg+xml` for a picture of both matrices.
#[utoipa::path(
    tag = "reports", operation_id = "get_risk_heat_map",
    params(TimeTravel),
    responses((status = 200, description = "The heat map", content(
        (HeatMapReport = "application/json"),
        (String = "image/svg+xml", example = "<svg xmlns=\"http://www.w3.org/2000/svg\">...</svg>")
    )), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/risk-heat-map")]
pub async fn risk_heat_map(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (heat_map, resolved) =
        read_registers(ledger, auth.principal.tenant.clone(), point, |registers, _| heat_map(registers)).await?;
    if negotiate(&request, &[JSON, SVG]) == SVG {
        return Ok(HttpResponse::Ok()
            .content_type("image/svg+xml; charset=utf-8")
            .body(heat_map_svg(&heat_map, &resolved)));
    }
    Ok(HttpResponse::Ok().json(HeatMapReport { heat_map, as_of: resolved.as_of, position: resolved.position }))
}

/// The dashboard with the read point it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardReport {
    #[serde(flatten)]
    pub dashboard: Dashboard,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Dashboard summary
///
/// Per register: records by status and overdue records (for the date read); the open major
/// nonconformities.
#[utoipa::path(
    tag = "reports", operation_id = "get_dashboard",
    params(TimeTravel),
    responses((status = 200, description = "The dashboard", body = DashboardReport), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/dashboard")]
pub async fn get_dashboard(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (dashboard, resolved) = read_registers(ledger, auth.principal.tenant.clone(), point, |registers, resolved| {
        dashboard(registers, resolved.reading_date())
    })
    .await?;
    Ok(HttpResponse::Ok().json(DashboardReport { dashboard, as_of: resolved.as_of, position: resolved.position }))
}

/// The traceability matrix with the read point it reflects.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceabilityReport {
    #[serde(flatten)]
    pub matrix: TraceabilityMatrix,
    pub as_of: Option<DateTime<Utc>>,
    pub position: u64,
}

/// Traceability matrix
///
/// The seed document's table, one row per chain: context issue (4.1), interested party and
/// need (4.2), risk or opportunity (6.1.1), objective and plan (6.2), operational control
/// (8.1), monitoring item and evaluation (9.1), following the links the registers hold
/// (requirement → context issues, risk → requirements and context issues, objective → risks,
/// operational plan → objectives or risks, metric → objectives or operational plans). A row
/// whose chain is broken lists the missing links in `breaks`; `broken` lists every broken
/// chain by register (e.g. objectives nobody measures, risks no objective addresses). JSON by
/// default; `Accept: text/csv` gives an RFC 4180 CSV in UTF-8 with the columns
/// `context_issue_4_1, context_category, interested_party_4_2, need_4_2,
/// risk_or_opportunity_6_1_1, objective_6_2, plan_6_2, operational_control_8_1,
/// monitoring_item_9_1, evaluation_9_1, breaks`, then the ids of the linked records and the
/// read point (`as_of`, `position`) on every row.
#[utoipa::path(
    tag = "reports", operation_id = "get_traceability_matrix",
    params(TimeTravel),
    responses((status = 200, description = "The traceability matrix",
        content((TraceabilityReport = "application/json"), (String = "text/csv"))), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/reports/traceability")]
pub async fn traceability(
    request: HttpRequest,
    auth: Authorized<ReadScope>,
    ledger: web::Data<Ledger>,
    travel: web::Query<TimeTravel>,
) -> Result<HttpResponse, ApiError> {
    let point = travel.point(&request, &auth.principal)?;
    let (matrix, resolved) =
        read_registers(ledger, auth.principal.tenant.clone(), point, |registers, _| traceability_matrix(registers))
            .await?;
    if negotiate(&request, &[JSON, CSV]) != CSV {
        return Ok(HttpResponse::Ok().json(TraceabilityReport {
            matrix,
            as_of: resolved.as_of,
            position: resolved.position,
        }));
    }
    let text = traceability_csv(&matrix, resolved.as_of, resolved.position);
    Ok(csv_response("traceability-matrix.csv", text))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Green to red, spread over however many levels the criteria define.
fn level_colour(levels: &[String], level: &str) -> &'static str {
    const RAMP: [&str; 5] = ["#4caf50", "#cddc39", "#ffc107", "#ff7043", "#d32f2f"];
    match levels.iter().position(|l| l == level) {
        Some(index) if levels.len() > 1 => RAMP[index * (RAMP.len() - 1) / (levels.len() - 1)],
        Some(_) => RAMP[0],
        None => "#bdbdbd",
    }
}

const CELL: usize = 56;
const LEFT: usize = 130;
const TOP: usize = 60;

fn matrix_svg(out: &mut String, map: &HeatMap, matrix: &HeatMapMatrix, title: &str, x0: usize) {
    use std::fmt::Write;
    let rows = map.likelihood_scale.len();
    let columns = map.impact_scale.len();
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" font-size="16" font-weight="bold">{}</text>"#,
        x0 + LEFT,
        TOP - 30,
        xml_escape(title)
    );
    for cell in &matrix.cells {
        // Highest likelihood on top, as heat maps are read.
        let row = rows - usize::from(cell.likelihood);
        let column = usize::from(cell.impact) - 1;
        let (x, y) = (x0 + LEFT + column * CELL, TOP + row * CELL);
        let _ = write!(
            out,
            r##"<g><title>{} x {} = {} ({}): {} risk(s)</title><rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{}" stroke="#ffffff" stroke-width="2"/><text x="{}" y="{}" font-size="18" text-anchor="middle">{}</text></g>"##,
            cell.likelihood,
            cell.impact,
            cell.score,
            xml_escape(&cell.level),
            cell.count,
            level_colour(&map.levels, &cell.level),
            x + CELL / 2,
            y + CELL / 2 + 6,
            if cell.count == 0 { String::new() } else { cell.count.to_string() },
        );
    }
    for (index, level) in map.likelihood_scale.iter().enumerate() {
        let y = TOP + (rows - 1 - index) * CELL + CELL / 2 + 4;
        let _ = write!(
            out,
            r#"<text x="{}" y="{y}" font-size="12" text-anchor="end">{} {}</text>"#,
            x0 + LEFT - 8,
            level.value,
            xml_escape(&level.label)
        );
    }
    for (index, level) in map.impact_scale.iter().enumerate() {
        let x = x0 + LEFT + index * CELL + CELL / 2;
        let y = TOP + rows * CELL + 16;
        let _ = write!(out, r#"<text x="{x}" y="{y}" font-size="11" text-anchor="middle">{}</text>"#, level.value);
        let _ = write!(
            out,
            r#"<text x="{x}" y="{}" font-size="9" text-anchor="middle">{}</text>"#,
            y + 13,
            xml_escape(&level.label)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">impact</text><text x="{}" y="{}" font-size="12" text-anchor="middle" transform="rotate(-90 {} {})">likelihood</text>"#,
        x0 + LEFT + columns * CELL / 2,
        TOP + rows * CELL + 46,
        x0 + 14,
        TOP + rows * CELL / 2,
        x0 + 14,
        TOP + rows * CELL / 2,
    );
}

/// Both matrices side by side, coloured by level, with counts in the cells.
pub fn heat_map_svg(map: &HeatMap, resolved: &Resolved) -> String {
    use std::fmt::Write;
    let panel = LEFT + map.impact_scale.len() * CELL + 40;
    let width = 2 * panel;
    let height = TOP + map.likelihood_scale.len() * CELL + 120;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" role="img" aria-label="Risk heat map">"#
    );
    matrix_svg(&mut out, map, &map.inherent, &format!("Inherent risk ({} open)", map.inherent.total), 0);
    matrix_svg(&mut out, map, &map.residual, &format!("Residual risk ({} treated)", map.residual.total), panel);
    // A legend of the levels, left to right from the lowest band.
    let legend_y = height - 34;
    for (index, level) in map.levels.iter().enumerate() {
        let x = 10 + index * 130;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{legend_y}" width="14" height="14" fill="{}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
            level_colour(&map.levels, level),
            x + 20,
            legend_y + 12,
            xml_escape(level)
        );
    }
    let as_of = resolved.as_of.map_or_else(|| "empty log".to_owned(), |at| at.to_rfc3339());
    let _ = write!(
        out,
        r##"<text x="10" y="{}" font-size="10" fill="#555555">criteria v{}, position {}, as of {}; unassessed: {}</text></svg>"##,
        height - 8,
        map.criteria_version,
        resolved.position,
        xml_escape(&as_of),
        map.unassessed
    );
    out
}

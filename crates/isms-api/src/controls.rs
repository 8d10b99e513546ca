//! The ISO/IEC 27001 Annex A control catalogs (2022 and 2013) with their correspondence.
//! Static data compiled into the server: no events, so no history and no time travel.

use actix_web::{get, web, HttpResponse};
use isms_domain::catalog::{
    control_2013, control_2022, CatalogId, Theme, ISO27001_2013, ISO27001_2013_CLAUSES, ISO27001_2022,
};
use isms_projections::views::soa::ControlView;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Authorized, ReadScope};
use crate::problem::{ApiError, ReadProblems};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(list_controls).service(get_control);
}

fn catalog_schema() -> utoipa::openapi::schema::Object {
    isms_projections::views::string_enum(CatalogId::NAMES)
}

/// Every theme of either catalog: the 2022 themes and the 2013 clauses with and without `A.`;
/// which of them applies depends on `catalog`.
fn theme_schema() -> utoipa::openapi::schema::Object {
    let clauses = ISO27001_2013_CLAUSES.iter().map(|c| c.id);
    let bare_clauses = ISO27001_2013_CLAUSES.iter().map(|c| c.id.trim_start_matches("A."));
    let names: Vec<&str> = Theme::NAMES.iter().copied().chain(clauses).chain(bare_clauses).collect();
    isms_projections::views::string_enum(&names)
}

crate::param_schemas::param_schema!(ThemeName, theme_schema);
crate::param_schemas::param_schema!(CatalogName, catalog_schema);

/// Which catalog to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// `iso27001-2022` (default) or `iso27001-2013`.
    #[param(inline, value_type = Option<CatalogName>)]
    pub catalog: Option<String>,
}

/// Filters of a catalog listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ControlFilter {
    /// 2022: `organizational`, `people`, `physical` or `technological`; 2013: a clause such as
    /// `A.9` (the prefix may be left out).
    #[param(inline, value_type = Option<ThemeName>)]
    pub theme: Option<String>,
}

/// A catalog, or the part of it a filter kept.
#[derive(Debug, Serialize, ToSchema)]
pub struct ControlCatalog {
    #[schema(example = "iso27001-2022")]
    pub catalog: String,
    pub count: usize,
    pub controls: Vec<ControlView>,
}

fn catalog(query: &CatalogQuery) -> Result<CatalogId, ApiError> {
    match query.catalog.as_deref() {
        None => Ok(CatalogId::Iso27001_2022),
        Some(raw) => CatalogId::parse(raw).ok_or_else(|| {
            ApiError::bad_request(
                "unknown_catalog",
                format!("unknown catalog '{raw}'; known catalogs: {}", CatalogId::NAMES.join(", ")),
            )
        }),
    }
}

fn unknown_theme(raw: &str, known: &[&str]) -> ApiError {
    ApiError::bad_request("unknown_theme", format!("unknown theme '{raw}'; known themes: {}", known.join(", ")))
}

/// The controls of `catalog` that `theme` keeps, in catalog order.
fn controls(catalog: CatalogId, theme: Option<&str>) -> Result<Vec<ControlView>, ApiError> {
    match catalog {
        CatalogId::Iso27001_2022 => {
            let theme =
                theme.map(|raw| Theme::parse(raw).ok_or_else(|| unknown_theme(raw, Theme::NAMES))).transpose()?;
            Ok(ISO27001_2022
                .iter()
                .filter(|c| theme.is_none_or(|t| t == c.theme))
                .map(ControlView::from_2022)
                .collect())
        }
        CatalogId::Iso27001_2013 => {
            let clause = theme
                .map(|raw| {
                    let wanted = raw.trim().trim_start_matches("A.");
                    ISO27001_2013_CLAUSES
                        .iter()
                        .find(|c| c.id.trim_start_matches("A.") == wanted)
                        .map(|c| c.id)
                        .ok_or_else(|| {
                            unknown_theme(raw, &ISO27001_2013_CLAUSES.iter().map(|c| c.id).collect::<Vec<_>>())
                        })
                })
                .transpose()?;
            Ok(ISO27001_2013
                .iter()
                .filter(|c| clause.is_none_or(|id| id == c.clause))
                .map(ControlView::from_2013)
                .collect())
        }
    }
}

/// List the controls of an Annex A catalog
///
/// 2022 controls list their 2013 counterparts and whether they are new in 2022 (11 are);
/// 2013 controls list the 2022 controls they correspond to.
#[utoipa::path(
    tag = "controls", operation_id = "list_controls",
    params(CatalogQuery, ControlFilter),
    responses((status = 200, description = "The catalog's controls in the standard's order", body = ControlCatalog),
        ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/controls")]
pub async fn list_controls(
    _auth: Authorized<ReadScope>,
    query: web::Query<CatalogQuery>,
    filter: web::Query<ControlFilter>,
) -> Result<HttpResponse, ApiError> {
    let catalog = catalog(&query)?;
    let controls = controls(catalog, filter.theme.as_deref())?;
    Ok(HttpResponse::Ok().json(ControlCatalog {
        catalog: catalog.as_str().to_owned(),
        count: controls.len(),
        controls,
    }))
}

/// Read one control of an Annex A catalog
#[utoipa::path(
    tag = "controls", operation_id = "get_control",
    params(("id" = String, Path, description = "Control id, e.g. `8.24` (2022) or `A.10.1.1` (2013)"), CatalogQuery),
    responses((status = 200, description = "The control", body = ControlView), ReadProblems),
    security(("bearer" = ["isms:read"]))
)]
#[get("/controls/{id}")]
pub async fn get_control(
    _auth: Authorized<ReadScope>,
    id: web::Path<String>,
    query: web::Query<CatalogQuery>,
) -> Result<HttpResponse, ApiError> {
    let catalog = catalog(&query)?;
    let control = match catalog {
        CatalogId::Iso27001_2022 => control_2022(&id).map(ControlView::from_2022),
        CatalogId::Iso27001_2013 => control_2013(&id).map(ControlView::from_2013),
    };
    let control = control.ok_or_else(|| ApiError::not_found(format!("no control {id} in {catalog}")))?;
    Ok(HttpResponse::Ok().json(control))
}

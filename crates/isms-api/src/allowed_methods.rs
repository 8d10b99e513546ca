//! Which methods each documented path answers, read from the OpenAPI document itself, so a
//! request with another method on a known path gets 405 with `Allow` instead of 404, and the
//! answer cannot drift from the routes.

use utoipa::openapi::OpenApi as OpenApiDocument;

/// One path template of the document: its segments (`None` for a `{parameter}`) and methods.
#[derive(Debug)]
struct Template {
    segments: Vec<Option<String>>,
    methods: Vec<&'static str>,
}

impl Template {
    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(template, actual)| match template {
                Some(literal) => literal == actual,
                None => !actual.is_empty(),
            })
    }

    fn parameters(&self) -> usize {
        self.segments.iter().filter(|segment| segment.is_none()).count()
    }
}

#[derive(Debug, Default)]
pub struct AllowedMethods {
    templates: Vec<Template>,
}

/// In the order `Allow` lists them.
const METHODS: [&str; 8] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

impl AllowedMethods {
    pub fn from_document(document: &OpenApiDocument) -> Self {
        let templates = document
            .paths
            .paths
            .iter()
            .filter_map(|(path, item)| {
                let item = serde_json::to_value(item).ok()?;
                let methods: Vec<&'static str> =
                    METHODS.into_iter().filter(|method| item.get(method.to_ascii_lowercase()).is_some()).collect();
                let segments = path
                    .trim_start_matches('/')
                    .split('/')
                    .map(|segment| (!segment.starts_with('{')).then(|| segment.to_owned()))
                    .collect();
                Some(Template { segments, methods })
            })
            .collect();
        Self { templates }
    }

    /// The `Allow` value for a path the document knows, `None` for an unknown path. Where a
    /// literal path and a template both match (`/risks/export` and `/risks/{id}`), the literal
    /// one is the resource the path names, as in routing.
    pub fn allow(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let template = self
            .templates
            .iter()
            .filter(|template| template.matches(&segments))
            .min_by_key(|template| template.parameters())?;
        Some(template.methods.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> OpenApiDocument {
        serde_json::from_value(serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/api/v1/risks": {"get": {"responses": {}}, "post": {"responses": {}}},
                "/api/v1/risks/{id}": {"get": {"responses": {}}},
                "/api/v1/risks/export": {"get": {"responses": {}}, "post": {"responses": {}}}
            }
        }))
        .expect("a valid document")
    }

    #[test]
    fn a_known_path_lists_its_documented_methods_in_a_fixed_order() {
        let allowed = AllowedMethods::from_document(&document());
        assert_eq!(allowed.allow("/api/v1/risks").as_deref(), Some("GET, POST"));
        assert_eq!(allowed.allow("/api/v1/risks/0193").as_deref(), Some("GET"));
    }

    #[test]
    fn a_literal_path_wins_over_a_template_that_also_matches() {
        let allowed = AllowedMethods::from_document(&document());
        assert_eq!(allowed.allow("/api/v1/risks/export").as_deref(), Some("GET, POST"));
    }

    #[test]
    fn unknown_paths_and_empty_parameters_are_not_known() {
        let allowed = AllowedMethods::from_document(&document());
        assert_eq!(allowed.allow("/api/v1/unknown"), None);
        assert_eq!(allowed.allow("/api/v1/risks/"), None);
        assert_eq!(allowed.allow("/api/v1/risks/1/2"), None);
    }
}

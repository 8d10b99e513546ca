//! Types that only carry a schema, for query parameters and body fields whose schema is built
//! by a function.
//! `#[param(schema_with = f)]` would drop the parameter's description and `required`;
//! `#[param(value_type = T)]` with one of these keeps them.

/// Declares `$name` as a type whose OpenAPI schema is what `$schema()` returns.
macro_rules! param_schema {
    ($(#[$doc:meta])* $name:ident, $schema:path) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                utoipa::openapi::RefOr::T($schema().into())
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use param_schema;

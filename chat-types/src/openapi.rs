//! OpenAPI schemas (with the `openapi` feature) of the core types the
//! REST API returns: the ids and [`Timestamp`] by hand (their serde forms
//! are custom), the rest derived where the types are declared.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::ids::{Id, IdKind};
use crate::time::Timestamp;

fn string(format: SchemaFormat, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(format))
        .description(Some(description))
        .into()
}

impl<K: IdKind> PartialSchema for Id<K> {
    fn schema() -> RefOr<Schema> {
        string(
            // `KnownFormat::Uuid` needs utoipa's `uuid` feature; the
            // format's name is all a document carries.
            SchemaFormat::Custom("uuid".to_owned()),
            "A UUID (version 7 for ids the server makes).",
        )
    }
}

impl<K: IdKind> ToSchema for Id<K> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(K::NAME)
    }
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        string(
            SchemaFormat::KnownFormat(KnownFormat::DateTime),
            "UTC time in RFC 3339 with milliseconds, e.g. 2026-01-08T10:30:00.123Z.",
        )
    }
}

impl ToSchema for Timestamp {}

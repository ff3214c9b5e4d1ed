//! The OpenAPI 3.1 document of every route the server serves (the demo's
//! static files aside), generated from the handlers' `#[utoipa::path]`
//! attributes as the routes are registered, and served at
//! `GET /api/v1/openapi.json`.
//!
//! A route exists only through `utoipa_axum::routes!`, which takes its
//! path and method from the same attribute that documents it, so the
//! document cannot drift from the router.

use std::collections::BTreeMap;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;
use bytes::Bytes;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder,
};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use crate::error::ErrorBody;

/// The name of the bearer-token security scheme operations refer to.
pub const BEARER: &str = "bearer";

/// The document's frame: info and the security scheme. The router fills
/// in paths and schemas.
pub fn base() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("chat-engine")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The REST API of the chat engine. Errors answer \
                     `{\"error\": {\"code\", \"message\", \"field\"?, \"retry_after\"?}}` \
                     with a stable machine `code` (see docs/api.md). The WebSocket \
                     protocol spoken after `GET /ws` is described in docs/protocol.md.",
                ))
                .build(),
        )
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    // [`ApiErrors`] refers to it by name.
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    let mut nested = Vec::new();
    ErrorBody::schemas(&mut nested);
    components.schemas.extend(nested);
    doc
}

/// The error answers every operation may give, in the one error shape:
/// `responses(..., ApiErrors)` in a `#[utoipa::path]`.
pub struct ApiErrors;

impl IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let error = |description: &str| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build();
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .build(),
            )
        };
        BTreeMap::from([
            (
                "4XX".to_owned(),
                error("Refused: `error.code` says why (docs/api.md lists the codes)"),
            ),
            (
                "5XX".to_owned(),
                error("Server-side failure, e.g. `STORE_UNAVAILABLE` (503): retry later"),
            ),
        ])
    }
}

/// The serialized document, shared by every request for it.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub Bytes);

impl OpenApiJson {
    /// Serializes `doc` once.
    pub fn new(doc: &OpenApi) -> Self {
        // Serializing plain data to a Vec cannot fail; an empty body
        // would at worst make the document unreadable, not the server.
        Self(Bytes::from(serde_json::to_vec(doc).unwrap_or_default()))
    }
}

/// The OpenAPI 3.1 document of this server.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = serde_json::Value))
)]
pub async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.0)
}

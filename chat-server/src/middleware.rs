//! Cross-cutting layers: request ids, request logs and failure logs.
//!
//! Request logs carry the method, the path (never the query string, which
//! may hold a `token`) and the request id; headers are not logged, so
//! `Authorization` never reaches the log.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::Response;
use chat_core::Metrics;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::{ErrorCode, FailureCause};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in the layers every route shares. The last layer added
/// runs first: a request gets its id, then its span, then is handled.
pub fn apply(router: Router, instance_id: &str, metrics: Metrics) -> Router {
    let instance_id: std::sync::Arc<str> = instance_id.into();
    router
        .layer(middleware::from_fn_with_state(metrics, count_errors))
        .layer(middleware::from_fn(log_failures))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request| request_span(req, &instance_id))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn request_span(req: &Request, instance_id: &str) -> tracing::Span {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
        instance_id = %instance_id,
    )
}

/// Counts every error answer by its code (`chat_errors_total`).
async fn count_errors(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        metrics.error(code);
    }
    response
}

/// Logs the hidden cause of every 5xx answer (see [`FailureCause`]).
async fn log_failures(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(FailureCause(cause)) = response.extensions().get::<FailureCause>() {
        tracing::error!(status = %response.status(), cause = %cause, "request failed");
    }
    response
}

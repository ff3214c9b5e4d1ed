//! Cross-cutting layers: request ids, request logs, failure logs, head
//! limits and the CORS policy.
//!
//! Request logs carry the method, the path (never the query string, which
//! may hold a `token`) and the request id; headers are not logged, so
//! `Authorization` never reaches the log.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::IntoResponse as _;
use axum::response::Response;
use chat_core::Metrics;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::{ApiError, ErrorCode, FailureCause};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in the layers every route shares. The last layer added
/// runs first: a request gets its id, then its span, then is handled.
pub fn apply(router: Router, instance_id: &str, metrics: Metrics, limits: HeadLimits) -> Router {
    let instance_id: std::sync::Arc<str> = instance_id.into();
    router
        .layer(middleware::from_fn_with_state(limits, limit_head))
        .layer(middleware::from_fn_with_state(metrics, count_errors))
        .layer(middleware::from_fn(log_failures))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |req: &Request| request_span(req, &instance_id))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::from_fn(drop_unfit_request_id))
}

/// Longest `X-Request-Id` kept from a client.
const MAX_REQUEST_ID: usize = 64;

/// Whether a client's request id can go into a log line as it is: 1 to 64
/// letters, digits, `-`, `_`, `.` or `:` (UUIDs, ULIDs, trace ids).
fn is_fit_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Drops a client's `X-Request-Id` that is not fit to log (spaces, quotes,
/// `key=value` text that would forge fields in a text log line, or a very
/// long one), so the server makes its own for the request.
async fn drop_unfit_request_id(mut req: Request, next: Next) -> Response {
    let unfit = req
        .headers()
        .get_all(&REQUEST_ID)
        .iter()
        .any(|v| !is_fit_request_id(v.as_bytes()));
    if unfit {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// The CORS policy for `origins`: `None` (no CORS headers, so browsers
/// keep pages of other origins out) when there are none. Allowed origins
/// may call every route with a bearer token; no cookies are involved, so
/// credentials are not allowed.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
            .expose_headers([REQUEST_ID])
            .max_age(Duration::from_secs(3600)),
    )
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

/// Largest URI and request head the server accepts.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Longest URI, bytes.
    pub uri_bytes: usize,
    /// Largest head (URI and headers), bytes.
    pub head_bytes: usize,
}

/// Refuses an over-long URI (414 `URI_TOO_LONG`) or an oversized head
/// (431 `HEADERS_TOO_LARGE`) before any handler or extractor sees it.
async fn limit_head(State(limits): State<HeadLimits>, req: Request, next: Next) -> Response {
    // What the request line carried (origin form: path and query), without
    // formatting the URI on every request.
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > limits.uri_bytes {
        return ApiError::request(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("the URI is longer than {} bytes", limits.uri_bytes),
        )
        .into_response();
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if uri + headers > limits.head_bytes {
        return ApiError::request(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "HEADERS_TOO_LARGE",
            format!(
                "the request head is larger than {} bytes",
                limits.head_bytes
            ),
        )
        .into_response();
    }
    next.run(req).await
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

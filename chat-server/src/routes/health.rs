//! `GET /healthz` (the process answers), `GET /readyz` (the store
//! answers; Redis, when configured, is reported too) and `GET /metrics`
//! (Prometheus).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The health routes (mounted at the root, outside `/api/v1`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The engine's figures in the Prometheus text format.
///
/// docs/operations.md lists every series.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8")
    )
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.engine.render_metrics(),
    )
}

/// Health or readiness report.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok` (healthz); `ready`, `degraded` (serving, but Redis is out of
    /// reach: events cannot cross instances until it returns) or
    /// `unavailable` (the store does not answer).
    status: &'static str,
    /// This instance's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
    /// `ok` or `unreachable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
    /// `ok` or `unreachable`; absent without Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "The process answers", body = HealthReport),
        ApiErrors
    )
)]
async fn healthz() -> Json<HealthReport> {
    Json(HealthReport {
        status: "ok",
        instance_id: None,
        store: None,
        redis: None,
    })
}

/// Readiness: the store answers (and Redis, when configured).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses(
        (status = 200, description = "`ready`, or `degraded` when Redis is out of reach", body = HealthReport),
        (status = 503, description = "`unavailable`: the store does not answer", body = HealthReport),
        ApiErrors
    )
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let redis_up = state.instance.redis.as_ref().map(|r| r.health().available);
    let store_up = match state.engine.store().ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: store unreachable");
            false
        }
    };
    let (code, status) = match (store_up, redis_up) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (true, Some(false)) => (StatusCode::OK, "degraded"),
        (true, _) => (StatusCode::OK, "ready"),
    };
    let word = |up: bool| if up { "ok" } else { "unreachable" };
    (
        code,
        Json(HealthReport {
            status,
            instance_id: Some(state.instance.id.clone()),
            store: Some(word(store_up)),
            redis: redis_up.map(word),
        }),
    )
}

//! `GET /healthz` (the process answers), `GET /readyz` (the store
//! answers; Redis, when configured, is reported too) and `GET /metrics`
//! (Prometheus).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::AppState;

/// The health routes (mounted at the root, outside `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// `GET /metrics`: the engine's figures in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.engine.metrics().render(),
    )
}

/// Health or readiness report.
#[derive(Debug, Serialize)]
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

async fn healthz() -> Json<HealthReport> {
    Json(HealthReport {
        status: "ok",
        instance_id: None,
        store: None,
        redis: None,
    })
}

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

//! `GET /healthz` (the process answers) and `GET /readyz` (the store answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::state::AppState;

/// The health routes (mounted at the root, outside `/api/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Health or readiness report.
#[derive(Debug, Serialize)]
pub struct HealthReport {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    store: Option<&'static str>,
}

async fn healthz() -> Json<HealthReport> {
    Json(HealthReport {
        status: "ok",
        store: None,
    })
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    match state.engine.store().ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(HealthReport {
                status: "ready",
                store: Some("ok"),
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthReport {
                    status: "unavailable",
                    store: Some("unreachable"),
                }),
            )
        }
    }
}

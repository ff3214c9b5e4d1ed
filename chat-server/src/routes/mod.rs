//! The REST API, one file per resource, merged under `/api/v1`.

pub mod auth;
pub mod health;
pub mod users;

use axum::Router;

use crate::state::AppState;

/// Every `/api/v1` route.
pub fn api() -> Router<AppState> {
    Router::new()
        .nest("/auth", auth::router())
        .nest("/users", users::router())
}

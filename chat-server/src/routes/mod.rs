//! The REST API, one file per resource, merged under `/api/v1`.

pub mod auth;
pub mod conversations;
pub mod groups;
pub mod health;
pub mod message_body;
pub mod messages;
pub mod paging;
pub mod users;

use axum::Router;

use crate::state::AppState;

/// Every `/api/v1` route (see [`auth::router`] for `builtin_accounts`).
pub fn api(builtin_accounts: bool) -> Router<AppState> {
    Router::new()
        .nest("/auth", auth::router(builtin_accounts))
        .nest("/users", users::router())
        .nest("/messages", messages::router())
        .nest("/groups", groups::router())
        .nest("/conversations", conversations::router())
}

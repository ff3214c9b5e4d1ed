//! The REST API, one file per resource, merged under `/api/v1`.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod blocks;
pub mod bots;
pub mod conversations;
pub mod groups;
pub mod health;
pub mod message_body;
pub mod message_changes;
pub mod messages;
pub mod paging;
pub mod push;
pub mod reports;
pub mod search;
pub mod users;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi;
use crate::state::AppState;

/// Every `/api/v1` route (see [`auth::router`] for `builtin_accounts`),
/// each documented as it is registered.
pub fn api(builtin_accounts: bool) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi::openapi_json))
        .nest("/auth", auth::router(builtin_accounts))
        .nest("/users", users::router())
        .nest("/messages", messages::router())
        .nest("/groups", groups::router())
        .nest("/conversations", conversations::router())
        .nest("/search", search::router())
        .nest("/attachments", attachments::router())
        .nest("/push", push::router())
        .nest("/admin/webhooks", webhooks::router())
        .nest("/admin/bots", bots::router())
        .nest("/admin", admin::router())
}

//! `/api/v1/search/*`: full-text search of the messages the caller can
//! read.

use axum::Json;
use axum::extract::State;
use chat_core::ConversationId;
use chat_core::conversations::SearchResults;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::extract::{ApiQuery, AuthUser};
use crate::openapi::ApiErrors;
use crate::state::AppState;

/// The search routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(messages))
}

/// `GET /search/messages` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageSearchQuery {
    /// The words to find (1 to 10 words, at most 200 characters): every
    /// one must be in a message, as a whole word, in any case and order.
    #[serde(default)]
    q: String,
    /// Only this conversation (one the caller is in).
    conversation_id: Option<ConversationId>,
    /// Results per page, 1 to 50 (default 20).
    limit: Option<u32>,
    /// Results to skip, at most 1,000.
    offset: Option<u32>,
}

/// Search the messages the caller can read: in their conversations (or
/// one), sent since they joined, not deleted. Best match first, then
/// newest first; each result carries a snippet with the matched words'
/// character ranges (no markup). Words in very many messages
/// (`CHAT_SEARCH_COMMON_WORD_MESSAGES`) do not rank: a search of only such
/// words returns one conversation's matches latest first (`ranked`:
/// false) and is refused across all conversations (`SEARCH_TOO_BROAD`).
#[utoipa::path(
    get,
    path = "/messages",
    tag = "search",
    operation_id = "search_messages",
    params(MessageSearchQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of results, best first (or latest first)", body = SearchResults),
        ApiErrors
    )
)]
async fn messages(
    State(state): State<AppState>,
    AuthUser(ctx): AuthUser,
    ApiQuery(query): ApiQuery<MessageSearchQuery>,
) -> Result<Json<SearchResults>, ApiError> {
    let results = state
        .engine
        .conversations()
        .search_messages(
            ctx.user_id,
            &query.q,
            query.conversation_id,
            query.limit,
            query.offset,
        )
        .await?;
    Ok(Json(results))
}

//! Query parameters for paged history and lists.

use axum::Json;
use chat_core::conversations::HistoryPage;
use chat_core::{ChatError, ConversationRef, MessageId, PageRequest, UserId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::state::AppState;

/// `?limit=&offset=&before=&around=` on history endpoints. Values that do not
/// parse (`limit=abc`, `offset=-1`, `before=xyz`) are `400 INVALID_QUERY`;
/// values out of range are `400 INVALID_PAGINATION`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages per page, 1 to 100 (default 50).
    limit: Option<u32>,
    /// Messages to skip from the newest (or from `before`).
    offset: Option<u64>,
    /// Only messages older than this one (a message of the conversation).
    before: Option<MessageId>,
    /// A page around this message instead ("jump to message"): it, older
    /// messages up to half the limit, and newer ones; `has_newer` says
    /// whether more newer ones exist. Not with `before` or `offset`.
    around: Option<MessageId>,
}

impl HistoryQuery {
    /// The validated page.
    ///
    /// # Errors
    /// `INVALID_PAGINATION` for a limit outside 1 to 100, or `around`
    /// with `before` or `offset`.
    pub fn page(&self) -> Result<PageRequest, ChatError> {
        PageRequest::new(self.limit, self.offset, self.before)?.around(self.around)
    }
}

/// A page of `target`'s history for `user`, answering as every history
/// endpoint does.
///
/// # Errors
/// `INVALID_PAGINATION` and the engine's history errors.
pub async fn history_of(
    state: &AppState,
    user: UserId,
    target: ConversationRef,
    query: &HistoryQuery,
) -> Result<Json<HistoryPage>, ApiError> {
    let page = state
        .engine
        .conversations()
        .history(user, target, query.page()?)
        .await?;
    Ok(Json(page))
}

/// `?limit=` on the unread list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// Messages to return (default 50, at most 100).
    pub limit: Option<u32>,
}

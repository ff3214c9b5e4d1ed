//! Query parameters for paged history and lists.

use chat_core::{ChatError, MessageId, PageRequest};
use serde::Deserialize;

/// `?limit=&offset=&before=` on history endpoints. Values that do not
/// parse (`limit=abc`, `offset=-1`, `before=xyz`) are `400 INVALID_QUERY`;
/// values out of range are `400 INVALID_PAGINATION`.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    before: Option<MessageId>,
}

impl HistoryQuery {
    /// The validated page.
    ///
    /// # Errors
    /// `INVALID_PAGINATION` for a limit outside 1 to 100.
    pub fn page(&self) -> Result<PageRequest, ChatError> {
        PageRequest::new(self.limit, self.offset, self.before)
    }
}

/// `?limit=` on the unread list.
#[derive(Debug, Default, Deserialize)]
pub struct LimitQuery {
    /// Messages to return (default 50, at most 100).
    pub limit: Option<u32>,
}

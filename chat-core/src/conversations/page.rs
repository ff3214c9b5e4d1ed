use crate::error::{ChatError, Result, ValidationError};
use crate::ids::MessageId;

/// Which page of history to read: newest first, `limit` messages, skipping
/// `offset`, older than `before` when given.
///
/// `before` is a cursor that stays correct while new messages arrive, and
/// costs one index range read however deep it is; `offset` is a plain
/// count of messages to skip (message seqs have gaps where changes are in
/// the log, so it is skipped row by row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Messages per page, 1 to [`MAX_LIMIT`](Self::MAX_LIMIT).
    pub limit: u32,
    /// Messages to skip (after `before`, when given).
    pub offset: u64,
    /// Only messages older than this one.
    pub before: Option<MessageId>,
    /// A page around this message instead ("jump to message"): it and
    /// up to half the limit of older messages, the rest newer ones.
    pub around: Option<MessageId>,
}

impl PageRequest {
    /// Page size when none is given.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// Largest page.
    pub const MAX_LIMIT: u32 = 100;

    /// Validates paging parameters, applying the defaults.
    ///
    /// # Errors
    /// `INVALID_PAGINATION` (naming `limit`) when `limit` is 0 or above 100.
    pub fn new(limit: Option<u32>, offset: Option<u64>, before: Option<MessageId>) -> Result<Self> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(invalid_limit());
        }
        Ok(Self {
            limit,
            offset: offset.unwrap_or(0),
            before,
            around: None,
        })
    }

    /// The page around `message` instead, when given.
    ///
    /// # Errors
    /// `INVALID_PAGINATION` (naming `around`) when `before` or `offset` is
    /// also given.
    pub fn around(self, message: Option<MessageId>) -> Result<Self> {
        if message.is_some() && (self.before.is_some() || self.offset > 0) {
            return Err(ChatError::InvalidPagination(ValidationError::new(
                "around",
                "INVALID_PAGINATION",
                "around cannot be combined with before or offset",
            )));
        }
        Ok(Self {
            around: message,
            ..self
        })
    }

    /// The first page of [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) messages.
    pub fn latest() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
            before: None,
            around: None,
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::latest()
    }
}

/// Validates a bare `limit` (the unread list takes no offset or cursor).
///
/// # Errors
/// `INVALID_PAGINATION` when `limit` is 0 or above 100.
pub(crate) fn limit_or_default(limit: Option<u32>) -> Result<u32> {
    Ok(PageRequest::new(limit, None, None)?.limit)
}

/// Validates the `limit` of a `sync` (default and maximum 100).
///
/// # Errors
/// `INVALID_PAGINATION` when `limit` is 0 or above 100.
pub(crate) fn sync_limit(limit: Option<u32>) -> Result<u32> {
    Ok(PageRequest::new(Some(limit.unwrap_or(PageRequest::MAX_LIMIT)), None, None)?.limit)
}

fn invalid_limit() -> ChatError {
    ChatError::InvalidPagination(ValidationError::new(
        "limit",
        "INVALID_PAGINATION",
        "limit must be between 1 and 100",
    ))
}

/// The error for a `before` cursor that names no message of the conversation.
pub(crate) fn invalid_before() -> ChatError {
    not_in_conversation("before")
}

/// The error for an `around` that names no message of the conversation.
pub(crate) fn invalid_around() -> ChatError {
    not_in_conversation("around")
}

fn not_in_conversation(field: &'static str) -> ChatError {
    ChatError::InvalidPagination(ValidationError::new(
        field,
        "INVALID_PAGINATION",
        format!("{field} must be the id of a message in this conversation"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let p = PageRequest::new(None, None, None).expect("valid");
        assert_eq!(p, PageRequest::latest());
        assert_eq!(p.limit, 50);
    }

    #[test]
    fn limits_outside_1_to_100_are_refused() {
        for limit in [0, 101, u32::MAX] {
            let err = PageRequest::new(Some(limit), None, None).expect_err("bad limit");
            assert_eq!(err.code(), "INVALID_PAGINATION");
            assert_eq!(err.field(), Some("limit"));
        }
        assert!(PageRequest::new(Some(100), Some(u64::MAX), None).is_ok());
    }
}

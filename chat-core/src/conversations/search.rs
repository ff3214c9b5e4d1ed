//! Full-text search of the messages a user can read.

use std::collections::HashMap;

use serde::Serialize;

use super::ConversationService;
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{ConversationId, UserId};
use crate::message_views::decorate;
use crate::model::{MessageView, SearchQuery, SearchTerms, Snippet};

/// Results per page when no limit is given.
pub const SEARCH_DEFAULT_LIMIT: u32 = 20;
/// Most results per page.
pub const SEARCH_MAX_LIMIT: u32 = 50;
/// Most results one may page through (deep pages of a ranked search cost
/// a scan of everything before them, and nobody reads them).
pub const SEARCH_MAX_OFFSET: u32 = 1_000;

/// One message found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    /// The message as the searcher sees it (with reactions and quote).
    pub message: MessageView,
    /// The part of its content around the matches, with the matched words'
    /// character ranges.
    pub snippet: Snippet,
}

/// A page of search results, best match first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The results.
    pub results: Vec<SearchResult>,
    /// True when more results follow (ask again with a larger `offset`).
    pub has_more: bool,
}

impl ConversationService {
    /// Searches the messages `user` can read: in their conversations (or
    /// the one given), sent since they joined, not deleted, holding every
    /// word of `query`. Best match first, then newest first.
    ///
    /// # Errors
    /// `INVALID_QUERY` (a query with no word, over 10 words or 200
    /// characters), `INVALID_PAGINATION` (limit outside 1 to 50, offset
    /// over 1,000), `CONVERSATION_NOT_FOUND` for a conversation the user
    /// is not in.
    pub async fn search_messages(
        &self,
        user: UserId,
        query: &str,
        conversation: Option<ConversationId>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<SearchResults> {
        let terms = SearchTerms::parse(query).map_err(ChatError::InvalidQuery)?;
        let limit = limit.unwrap_or(SEARCH_DEFAULT_LIMIT);
        if !(1..=SEARCH_MAX_LIMIT).contains(&limit) {
            return Err(invalid_page("limit", "limit must be between 1 and 50"));
        }
        let offset = offset.unwrap_or(0);
        if offset > SEARCH_MAX_OFFSET {
            return Err(invalid_page("offset", "offset must be at most 1000"));
        }
        if let Some(c) = conversation {
            self.require_member(user, c, None).await?;
        }
        let d = &self.deps;
        let query = SearchQuery {
            user,
            terms,
            conversation,
            offset,
            limit: limit + 1,
        };
        let mut hits = d.messages.search_messages(&query).await?;
        let has_more = hits.len() > limit as usize;
        hits.truncate(limit as usize);
        if hits.is_empty() {
            return Ok(SearchResults {
                results: Vec::new(),
                has_more,
            });
        }
        // Each hit is shown as its reader sees it in that conversation.
        let overviews = d.conversations.overviews(user, None).await?;
        let by_id: HashMap<ConversationId, _> = overviews
            .iter()
            .map(|o| (o.membership.conversation.id, o))
            .collect();
        let mut views = Vec::with_capacity(hits.len());
        let mut snippets = Vec::with_capacity(hits.len());
        for hit in hits {
            let Some(o) = by_id.get(&hit.message.conversation_id) else {
                continue;
            };
            let kind = o.membership.conversation.kind;
            let peer = o.peer.as_ref().map(|p| &p.member);
            views.push(MessageView::for_reader(
                hit.message,
                kind,
                &o.membership.member,
                peer,
            ));
            snippets.push(Snippet::from_marked(&hit.snippet));
        }
        decorate(&*d.messages, user, &mut views).await?;
        Ok(SearchResults {
            results: views
                .into_iter()
                .zip(snippets)
                .map(|(message, snippet)| SearchResult { message, snippet })
                .collect(),
            has_more,
        })
    }
}

fn invalid_page(field: &'static str, message: &'static str) -> ChatError {
    ChatError::InvalidPagination(ValidationError::new(field, "INVALID_PAGINATION", message))
}

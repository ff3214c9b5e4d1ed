//! Full-text search of the messages a user can read.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;

use super::ConversationService;
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{ConversationId, UserId};
use crate::message_views::decorate;
use crate::model::{
    ConversationKind, Member, MessageView, SearchQuery, SearchScope, SearchTerms, Snippet,
};
use crate::rate_limit::RateDecision;

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

/// A page of search results, best match first (or latest first).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The results.
    pub results: Vec<SearchResult>,
    /// True when the results come best match first; false when they come
    /// latest first (a search of one conversation for only very common
    /// words).
    pub ranked: bool,
    /// True when more results follow (ask again with a larger `offset`).
    pub has_more: bool,
}

impl ConversationService {
    /// Searches the messages `user` can read: in their conversations (or
    /// the one given), sent since they joined, not deleted, holding every
    /// word of `query`. Best match first, then newest first; except that
    /// when every word is very common (in more than
    /// [`search_common_word_messages`](super::ConversationConfig::search_common_word_messages)
    /// messages), a search of one conversation returns its matches latest
    /// first, unranked, and a search of all conversations is refused:
    /// ranking such words would read every match.
    ///
    /// # Errors
    /// `INVALID_QUERY` (a query with no word, over 10 words or 200
    /// characters), `SEARCH_TOO_BROAD` (only very common words, across
    /// all conversations), `INVALID_PAGINATION` (limit outside 1 to 50,
    /// offset over 1,000), `CONVERSATION_NOT_FOUND` for a conversation the
    /// user is not in, `RATE_LIMITED` past
    /// [`search_limit`](super::ConversationConfig::search_limit).
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
        let d = &self.deps;
        let key = format!("search:{user}");
        let limited = d.limiter.hit(&key, self.config.search_limit);
        if let RateDecision::Limited { retry_after } = limited.await? {
            return Err(ChatError::RateLimited { retry_after });
        }
        if let Some(c) = conversation {
            self.require_member(user, c, None).await?;
        }
        let common = self.config.search_common_word_messages;
        let counts = self
            .word_counts
            .counts(&*d.messages, terms.words(), common.saturating_add(1))
            .await?;
        let unranked_words: Vec<String> = (terms.words().iter())
            .zip(&counts)
            .filter(|(_, n)| **n > common)
            .map(|(word, _)| word.clone())
            .collect();
        let too_common = unranked_words.len() == terms.words().len();
        let scope = match (conversation, too_common) {
            (None, false) => SearchScope::All,
            (None, true) => return Err(ChatError::SearchTooBroad),
            (Some(c), false) => SearchScope::Conversation(c),
            (Some(c), true) => SearchScope::ConversationLatest(c),
        };
        let query = SearchQuery {
            user,
            terms,
            scope,
            unranked_words,
            offset,
            limit: limit + 1,
        };
        let mut hits = d.messages.search_messages(&query).await?;
        let has_more = hits.len() > limit as usize;
        hits.truncate(limit as usize);
        // Each hit is shown as its reader sees it in that conversation.
        // A group message's view needs only the kind (cached); a direct
        // one the other member's cursors, read once per conversation.
        let mut readers: HashMap<ConversationId, Option<Reader>> = HashMap::new();
        let mut views = Vec::with_capacity(hits.len());
        let mut snippets = Vec::with_capacity(hits.len());
        for hit in hits {
            let c = hit.message.conversation_id;
            let reader = match readers.entry(c) {
                Entry::Occupied(held) => held.into_mut(),
                Entry::Vacant(slot) => slot.insert(self.reader(c, user).await?),
            };
            // Left since the search ran: not shown.
            let Some(reader) = reader else {
                continue;
            };
            views.push(match reader {
                Reader::Group => MessageView::new(hit.message, ConversationKind::Group, None),
                Reader::Direct { me, peer } => MessageView::for_reader(
                    hit.message,
                    ConversationKind::Direct,
                    me,
                    peer.as_ref(),
                ),
            });
            snippets.push(Snippet::from_marked(&hit.snippet));
        }
        decorate(&*d.messages, user, &mut views).await?;
        Ok(SearchResults {
            results: views
                .into_iter()
                .zip(snippets)
                .map(|(message, snippet)| SearchResult { message, snippet })
                .collect(),
            ranked: scope.is_ranked(),
            has_more,
        })
    }
}

/// What the view of a message found needs of its conversation.
enum Reader {
    /// A group: nothing but the kind.
    Group,
    /// A direct conversation: the searcher's and the other member's
    /// cursors (for `delivered_at` and `read_at`).
    Direct { me: Member, peer: Option<Member> },
}

impl ConversationService {
    /// What showing `user` a message of `conversation` needs; `None` when
    /// they are no longer a member.
    async fn reader(&self, conversation: ConversationId, user: UserId) -> Result<Option<Reader>> {
        let d = &self.deps;
        let set = d.members.of(conversation).await?;
        if !set.contains(user) {
            return Ok(None);
        }
        if set.kind != ConversationKind::Direct {
            return Ok(Some(Reader::Group));
        }
        let (mine, others): (Vec<Member>, Vec<Member>) = d
            .conversations
            .members(conversation)
            .await?
            .into_iter()
            .map(|entry| entry.member)
            .partition(|m| m.user_id == user);
        Ok(mine.into_iter().next().map(|me| Reader::Direct {
            me,
            peer: others.into_iter().next(),
        }))
    }
}

fn invalid_page(field: &'static str, message: &'static str) -> ChatError {
    ChatError::InvalidPagination(ValidationError::new(field, "INVALID_PAGINATION", message))
}

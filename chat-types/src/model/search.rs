//! Full-text search of messages: the validated query, what stores return,
//! and the highlighted snippet clients get.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::ids::{ConversationId, UserId};
use crate::model::Message;

/// Marks the start of a highlighted word in a snippet a store returns.
/// Message text never holds control characters, so the marks cannot be
/// confused with content.
pub const MARK_START: char = '\u{2}';
/// Marks the end of a highlighted word.
pub const MARK_END: char = '\u{3}';

/// The words of a search: letters and digits, lowercased, 1 to
/// [`MAX_TERMS`](Self::MAX_TERMS) of them. A message matches when it holds
/// every word as a whole word (case-insensitive), in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms(Vec<String>);

impl SearchTerms {
    /// Most words in one search.
    pub const MAX_TERMS: usize = 10;
    /// Longest query, in characters.
    pub const MAX_QUERY_CHARS: usize = 200;

    /// Splits a query into words at every character that is not a letter
    /// or a digit.
    ///
    /// # Errors
    /// `INVALID_QUERY` (naming `q`) for a query with no word, too many
    /// words, or over 200 characters.
    pub fn parse(query: &str) -> Result<Self, ValidationError> {
        let invalid = |message: &str| ValidationError::new("q", "INVALID_QUERY", message);
        if query.chars().count() > Self::MAX_QUERY_CHARS {
            return Err(invalid("the search query must be at most 200 characters"));
        }
        let mut words: Vec<String> = Vec::new();
        for word in words_of(query) {
            if !words.contains(&word) {
                words.push(word);
            }
        }
        if words.is_empty() {
            return Err(invalid("the search query needs at least one word"));
        }
        if words.len() > Self::MAX_TERMS {
            return Err(invalid("the search query may hold at most 10 words"));
        }
        Ok(Self(words))
    }

    /// The words, lowercase, without repeats, in query order.
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

/// The lowercase words of `text`: runs of letters and digits (the way
/// stores tokenize content for their index).
pub fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Where a search looks, and in what order it returns what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// Every conversation of the searcher, best match first (a store's
    /// relevance rank: more of the words, in a shorter message, ranks
    /// higher), then newest first (`created_at`, then id).
    All,
    /// One conversation, ranked as [`All`](Self::All).
    Conversation(ConversationId),
    /// One conversation, latest first in its log order (`seq`
    /// descending), unranked: how a search of only very common words
    /// runs, since ranking them would read every match (docs/api.md, "Search").
    ConversationLatest(ConversationId),
}

impl SearchScope {
    /// The one conversation searched, if only one is.
    pub fn conversation(self) -> Option<ConversationId> {
        match self {
            Self::All => None,
            Self::Conversation(c) | Self::ConversationLatest(c) => Some(c),
        }
    }

    /// Whether hits come best match first.
    pub fn is_ranked(self) -> bool {
        !matches!(self, Self::ConversationLatest(_))
    }
}

/// A search to run in a store.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// Who searches: only conversations they are a member of, and only
    /// messages sent since they joined (`seq > joined_seq`), are searched.
    pub user: UserId,
    /// The words.
    pub terms: SearchTerms,
    /// Where to look, and the order of the hits.
    pub scope: SearchScope,
    /// Words of `terms` too common to rank by (see
    /// `MessageStore::search_word_counts`): hits must hold them, but a
    /// store may rank by the other words alone (SQLite does: its ranking
    /// counts every message holding each word it ranks by). Never all of
    /// `terms` in a ranked scope.
    pub unranked_words: Vec<String>,
    /// Hits to skip (in the scope's order).
    pub offset: u32,
    /// Most hits to return.
    pub limit: u32,
}

impl SearchQuery {
    /// The words a ranked scope ranks by: those not in
    /// [`unranked_words`](Self::unranked_words), in query order; every
    /// word should they all be there (the engine never asks that of a
    /// ranked scope).
    pub fn ranked_words(&self) -> Vec<&String> {
        let words = self.terms.words();
        let ranked: Vec<&String> = (words.iter())
            .filter(|w| !self.unranked_words.contains(w))
            .collect();
        if ranked.is_empty() {
            words.iter().collect()
        } else {
            ranked
        }
    }
}

/// One message a search found, as a store returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The message (never a deleted one).
    pub message: Message,
    /// A short part of the content around the matches, each matched word
    /// between [`MARK_START`] and [`MARK_END`].
    pub snippet: String,
    /// Relevance: higher is better; 0 in an unranked scope
    /// ([`SearchScope::ConversationLatest`]).
    pub rank: f64,
}

/// A snippet for clients: plain text and the character ranges to
/// highlight (no markup, so a client renders it as text like any content).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// A part of the message's content.
    pub text: String,
    /// `[start, end)` character offsets into `text` of the matched words.
    pub highlights: Vec<[usize; 2]>,
}

impl Snippet {
    /// Turns a store's marked snippet into text and ranges. Unbalanced
    /// marks are dropped.
    pub fn from_marked(marked: &str) -> Self {
        let mut text = String::with_capacity(marked.len());
        let mut highlights = Vec::new();
        let mut start: Option<usize> = None;
        let mut chars = 0;
        for c in marked.chars() {
            match c {
                MARK_START => start = Some(chars),
                MARK_END => {
                    if let Some(s) = start.take()
                        && s < chars
                    {
                        highlights.push([s, chars]);
                    }
                }
                c => {
                    text.push(c);
                    chars += 1;
                }
            }
        }
        Self { text, highlights }
    }
}

/// Marks the words of `content` that are among `terms`, keeping at most
/// about `max_chars` characters around the first match (with `…` where
/// text was cut): a reference snippet for stores without their own.
pub fn mark_snippet(content: &str, terms: &SearchTerms, max_chars: usize) -> String {
    let chars: Vec<char> = content.chars().collect();
    let mut out = String::new();
    let mut first_match = None;
    let mut marks: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            if terms.words().contains(&word) {
                first_match.get_or_insert(start);
                marks.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    let from = first_match.map_or(0, |m| m.saturating_sub(max_chars / 3));
    let to = (from + max_chars).min(chars.len());
    if from > 0 {
        out.push('…');
    }
    for (i, c) in chars.iter().enumerate().take(to).skip(from) {
        if marks.iter().any(|(s, _)| *s == i) {
            out.push(MARK_START);
        }
        out.push(*c);
        if marks.iter().any(|(_, e)| *e == i + 1) {
            out.push(MARK_END);
        }
    }
    if to < chars.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_lowercase_words() {
        let t = SearchTerms::parse("Lunch, at NOON? lunch!").expect("valid");
        assert_eq!(t.words(), ["lunch", "at", "noon"]);
        assert_eq!(
            SearchTerms::parse("café ÜBER").expect("valid").words(),
            ["café", "über"]
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("w{i}")).collect();
        for bad in ["", "  ", "!?*", &eleven.join(" "), &"x".repeat(201)] {
            assert_eq!(
                SearchTerms::parse(bad).expect_err(bad).code,
                "INVALID_QUERY"
            );
        }
    }

    #[test]
    fn marked_snippets_become_text_and_ranges() {
        let s = Snippet::from_marked("lunch at \u{2}noon\u{3}, \u{2}café\u{3}");
        assert_eq!(s.text, "lunch at noon, café");
        assert_eq!(s.highlights, vec![[9, 13], [15, 19]]);
        assert_eq!(Snippet::from_marked("\u{3}odd\u{2}").text, "odd");
    }

    #[test]
    fn reference_snippets_mark_whole_words_around_the_first_match() {
        let terms = SearchTerms::parse("noon").expect("valid");
        let marked = mark_snippet("lunch at noon, not noonish", &terms, 100);
        assert_eq!(marked, "lunch at \u{2}noon\u{3}, not noonish");
        let long = format!("{} noon {}", "a ".repeat(100), "b ".repeat(100));
        let cut = mark_snippet(&long, &terms, 30);
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains("\u{2}noon\u{3}"));
    }
}

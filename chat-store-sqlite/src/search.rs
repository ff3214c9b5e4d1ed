//! Full-text search of messages for `MessageStore::search_messages`, on
//! the contentless FTS5 index `message_search` of migration 0004 (which
//! explains its layout: an entry's rowid is `search_key * 2^32 + seq`).

use chat_core::Result;
use chat_core::model::{SearchHit, SearchQuery, SearchTerms, mark_snippet};
use sqlx::SqlitePool;

use crate::messages::{MessageRow, msg_columns};
use crate::{to_chat_error, to_sql_count};

/// About how many characters of a message a snippet keeps (as the memory
/// store's).
const SNIPPET_CHARS: usize = 120;

/// A hit as [`search`] reads it: the message and its rank.
#[derive(sqlx::FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    message: MessageRow,
    rank: f64,
}

/// The FTS5 query for `terms`: each word as a quoted string (so no word
/// is read as an operator or a column filter), separated by spaces, which
/// FTS5 reads as AND. Words are letters and digits only, but a `"` would
/// be escaped by doubling it all the same.
pub(crate) fn match_expression(terms: &SearchTerms) -> String {
    let quoted: Vec<String> = terms
        .words()
        .iter()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    quoted.join(" ")
}

/// The search, in four steps:
///
/// 1. `scope`: the searcher's conversations (or the one asked for) with
///    their search keys and the seq they joined at: a walk of their
///    memberships.
/// 2. `hits`: one pass over the index entries of the words (the FTS5
///    table is the outer loop, forced by CROSS JOIN: as the inner loop it
///    would be queried once per conversation, and bm25() would recount
///    each word's documents over the whole index every time). Each entry
///    is checked against `scope` from its rowid alone, through the
///    automatic index SQLite builds on it, and only the entries in scope
///    are ranked. `bounds` narrows the pass to the rowids of the
///    conversations in scope, which for a search of one conversation is
///    that conversation's range of the index.
/// 3. `cutoff`: the rank of the last hit of the page. Only hits ranked at
///    least as well (the page, the hits before it, and ties) are joined to
///    `messages` for the order among equal ranks, so the cost of a common
///    word is its entries, not one message read per hit.
/// 4. The page: best rank first, then newest (`created_at`, then id).
///
/// bm25() is lower-is-better, hence the minus; `deleted_at IS NULL` is
/// already true of every entry (deletion removes it) and checked anyway.
const SEARCH: &str = concat!(
    "WITH scope AS MATERIALIZED ( \
         SELECT k.search_key, m.joined_seq \
         FROM conversation_members m \
         JOIN message_search_conversations k ON k.conversation_id = m.conversation_id \
         WHERE m.user_id = ?1 AND (?2 IS NULL OR m.conversation_id = ?2) \
     ), \
     bounds AS MATERIALIZED ( \
         SELECT min(search_key * 4294967296 + joined_seq + 1) AS low, \
                max(search_key * 4294967296 + 4294967295) AS high \
         FROM scope \
     ), \
     hits AS MATERIALIZED ( \
         SELECT message_search.rowid AS search_rowid, -bm25(message_search) AS rank \
         FROM message_search \
         CROSS JOIN scope ON scope.search_key = message_search.rowid >> 32 \
         WHERE message_search MATCH ?3 \
           AND message_search.rowid BETWEEN (SELECT low FROM bounds) AND (SELECT high FROM bounds) \
           AND (message_search.rowid & 4294967295) > scope.joined_seq \
     ), \
     cutoff AS ( \
         SELECT rank FROM hits ORDER BY rank DESC LIMIT 1 OFFSET ?4 \
     ) \
     SELECT h.rank, ",
    msg_columns!(),
    " FROM hits h \
      JOIN message_search_conversations k ON k.search_key = h.search_rowid >> 32 \
      JOIN messages msg ON msg.conversation_id = k.conversation_id \
           AND msg.seq = (h.search_rowid & 4294967295) \
      WHERE h.rank >= coalesce((SELECT rank FROM cutoff), h.rank) \
        AND msg.deleted_at IS NULL \
      ORDER BY h.rank DESC, msg.created_at DESC, msg.message_id DESC \
      LIMIT ?5 OFFSET ?6"
);

/// Runs `query` (see [`SEARCH`]) and marks each hit's snippet.
pub(crate) async fn search(pool: &SqlitePool, query: &SearchQuery) -> Result<Vec<SearchHit>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    // The position of the page's last hit; limit >= 1.
    let last = u64::from(query.offset) + u64::from(query.limit) - 1;
    let rows: Vec<HitRow> = sqlx::query_as(SEARCH)
        .bind(query.user.as_uuid())
        .bind(query.conversation.map(|c| c.as_uuid()))
        .bind(match_expression(&query.terms))
        .bind(to_sql_count(last))
        .bind(i64::from(query.limit))
        .bind(i64::from(query.offset))
        .fetch_all(pool)
        .await
        .map_err(to_chat_error)?;
    rows.into_iter()
        .map(|row| {
            let message = row.message.into_model()?;
            Ok(SearchHit {
                snippet: mark_snippet(&message.content, &query.terms, SNIPPET_CHARS),
                rank: row.rank,
                message,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chat_core::{ConversationId, UserId};

    use super::*;
    use crate::SqliteStore;

    /// The plan [`SEARCH`] depends on: inside `hits`, one pass over the
    /// FTS5 index as the outer loop, each entry looked up in an automatic
    /// index of `scope` (never `scope` as the outer loop, which would query
    /// the index, and recount bm25's statistics, once per conversation).
    #[tokio::test]
    async fn the_index_is_read_once_and_each_entry_looked_up_in_the_scope() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        for conversation in [None, Some(ConversationId::new())] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {SEARCH}"))
                    .bind(UserId::new().as_uuid())
                    .bind(conversation.map(|c| c.as_uuid()))
                    .bind("\"lunch\"")
                    .bind(19_i64)
                    .bind(20_i64)
                    .bind(0_i64)
                    .fetch_all(store.pool())
                    .await
                    .expect("plan");
            let hits = plan
                .iter()
                .find(|(_, _, _, detail)| detail == "MATERIALIZE hits")
                .map(|(id, ..)| *id)
                .expect("hits is materialized");
            let steps: Vec<&str> = plan
                .iter()
                .filter(|(_, parent, ..)| *parent == hits)
                .map(|(.., detail)| detail.as_str())
                .filter(|detail| detail.starts_with("SCAN") || detail.starts_with("SEARCH"))
                .collect();
            assert_eq!(steps.len(), 2, "{plan:#?}");
            assert!(
                steps[0].starts_with("SCAN message_search VIRTUAL TABLE"),
                "{plan:#?}"
            );
            assert!(
                steps[1].starts_with("SEARCH scope USING AUTOMATIC"),
                "{plan:#?}"
            );
        }
        store.pool().close().await;
    }

    #[test]
    fn every_word_is_one_quoted_string() {
        let terms = SearchTerms::parse("Lunch AND noon OR").expect("valid");
        assert_eq!(match_expression(&terms), r#""lunch" "and" "noon" "or""#);
    }
}

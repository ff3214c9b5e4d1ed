//! Full-text search of messages for `MessageStore::search_messages`, on
//! the contentless FTS5 index `message_search` of migration 0004 (which
//! explains its layout: an entry's rowid is `search_key * 2^32 + seq`).

use chat_core::Result;
use chat_core::model::{SearchHit, SearchQuery, SearchScope, mark_snippet};
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

/// The FTS5 query for `words`: each word as a quoted string (so no word
/// is read as an operator or a column filter), separated by spaces, which
/// FTS5 reads as AND. Words are letters and digits only, but a `"` would
/// be escaped by doubling it all the same.
pub(crate) fn match_expression<'a>(words: impl Iterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = words.map(|word| quoted(word)).collect();
    quoted.join(" ")
}

/// `word` as one FTS5 string (a phrase of its tokens).
fn quoted(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// The page of hits, best rank first, then newest (`created_at`, then
/// id), from the CTE `hits` (`search_rowid`, `rank`) that [`SEARCH_ALL`]
/// and [`SEARCH_ONE`] start with. `cutoff` is the rank of the last hit of
/// the page: only hits ranked at least as well (the page, the hits before
/// it, and ties) are joined to `messages` for the order among equal ranks,
/// so a common word costs its index entries, not a message read per hit.
/// `deleted_at IS NULL` is already true of every entry (deletion removes
/// it) and checked anyway.
macro_rules! search_page {
    () => {
        concat!(
            "cutoff AS ( \
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
        )
    };
}

/// A search of all the searcher's conversations (`?2` is NULL, unused).
///
/// `scope` holds their conversations, by search key, with the seq they
/// joined at. `hits` is one pass over the index entries of the words:
/// the FTS5 table is the outer loop, forced by CROSS JOIN (as the inner
/// loop it would be queried once per conversation, and bm25() would
/// recount each word's documents over the whole index every time). Each
/// entry is checked against `scope` from its rowid alone, through the
/// automatic index SQLite builds on `scope`, and only the entries in scope
/// are ranked. bm25() is lower-is-better, hence the minus.
///
/// No rowid range narrows the pass: the conversations of a member are
/// spread over the whole index, and SQLite checks a range on the FTS5
/// table again for every entry, which costs more than it saves.
const SEARCH_ALL: &str = concat!(
    "WITH scope AS MATERIALIZED ( \
         SELECT k.search_key, m.joined_seq \
         FROM conversation_members m \
         JOIN message_search_conversations k ON k.conversation_id = m.conversation_id \
         WHERE m.user_id = ?1 AND ?2 IS NULL \
     ), \
     hits AS MATERIALIZED ( \
         SELECT message_search.rowid AS search_rowid, -bm25(message_search) AS rank \
         FROM message_search \
         CROSS JOIN scope ON scope.search_key = message_search.rowid >> 32 \
         WHERE message_search MATCH ?3 \
           AND (message_search.rowid & 4294967295) > scope.joined_seq \
           AND (?7 IS NULL OR message_search.rowid IN ( \
                    SELECT rowid FROM message_search WHERE message_search MATCH ?7)) \
     ), ",
    search_page!()
);

/// The CTE `scope` of a search of one conversation (`?2`): the range of
/// rowids its entries since the searcher (`?1`) joined hold, one row if
/// they are a member, none otherwise.
macro_rules! one_conversation_scope {
    () => {
        "WITH scope AS MATERIALIZED ( \
             SELECT k.search_key * 4294967296 + m.joined_seq + 1 AS low, \
                    k.search_key * 4294967296 + 4294967295 AS high \
             FROM conversation_members m \
             JOIN message_search_conversations k ON k.conversation_id = m.conversation_id \
             WHERE m.conversation_id = ?2 AND m.user_id = ?1 \
         ), "
    };
}

/// A search of one conversation (`?2`), if the searcher is a member: the
/// rowids of its entries since they joined are one range of the index,
/// which FTS5 reads alone.
const SEARCH_ONE: &str = concat!(
    one_conversation_scope!(),
    "hits AS MATERIALIZED ( \
         SELECT rowid AS search_rowid, -bm25(message_search) AS rank \
         FROM message_search \
         WHERE message_search MATCH ?3 \
           AND rowid BETWEEN (SELECT low FROM scope) AND (SELECT high FROM scope) \
           AND (?7 IS NULL OR rowid IN ( \
                    SELECT rowid FROM message_search WHERE message_search MATCH ?7)) \
     ), ",
    search_page!()
);

/// A search of one conversation (`?2`) latest first, unranked: its range
/// of the index read backwards (FTS5 reads rowids in either direction),
/// stopping at the page, so however common the words, it costs about the
/// page and the entries before it. Rowid order within a conversation is
/// seq order; deleted messages have no entry.
const SEARCH_LATEST: &str = concat!(
    one_conversation_scope!(),
    "hits AS MATERIALIZED ( \
         SELECT rowid AS search_rowid FROM message_search \
         WHERE message_search MATCH ?3 \
           AND rowid BETWEEN (SELECT low FROM scope) AND (SELECT high FROM scope) \
         ORDER BY rowid DESC LIMIT ?4 OFFSET ?5 \
     ) \
     SELECT 0.0 AS rank, ",
    msg_columns!(),
    " FROM hits h \
      JOIN message_search_conversations k ON k.search_key = h.search_rowid >> 32 \
      JOIN messages msg ON msg.conversation_id = k.conversation_id \
           AND msg.seq = (h.search_rowid & 4294967295) \
      WHERE msg.deleted_at IS NULL \
      ORDER BY h.search_rowid DESC"
);

/// Runs `query` ([`SEARCH_ALL`], [`SEARCH_ONE`] or [`SEARCH_LATEST`]) and
/// marks each hit's snippet.
///
/// When some words are too common to rank by
/// ([`SearchQuery::unranked_words`]), `?3` holds only the others, which
/// find and rank the hits, and `?7` every word: the rowids holding them
/// all (no more than the rarest word's) are the set the hits must be in.
/// bm25() counts, for each word it ranks by, every entry of the whole index
/// holding it, which for a word in most messages costs more than all the
/// rest of the search; so it never ranks by such a word. `?7` is NULL when
/// every word ranks (the `OR` also keeps SQLite from handing the set to
/// FTS5 as rowids to look up one by one).
pub(crate) async fn search(pool: &SqlitePool, query: &SearchQuery) -> Result<Vec<SearchHit>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let expression = match_expression(query.terms.words().iter());
    let rows: Vec<HitRow> = if let SearchScope::ConversationLatest(c) = query.scope {
        sqlx::query_as(SEARCH_LATEST)
            .bind(query.user.as_uuid())
            .bind(c.as_uuid())
            .bind(expression)
            .bind(i64::from(query.limit))
            .bind(i64::from(query.offset))
            .fetch_all(pool)
            .await
    } else {
        // The position of the page's last hit; limit >= 1.
        let last = u64::from(query.offset) + u64::from(query.limit) - 1;
        let conversation = query.scope.conversation();
        let statement = if conversation.is_some() {
            SEARCH_ONE
        } else {
            SEARCH_ALL
        };
        // `ranked_words` is never empty (every word ranks should all be
        // too common): FTS5 has nothing to match by an empty expression.
        let ranking = query.ranked_words();
        let every_word_ranks = ranking.len() == query.terms.words().len();
        let (ranked, all) = if every_word_ranks {
            (expression, None)
        } else {
            (match_expression(ranking.into_iter()), Some(expression))
        };
        sqlx::query_as(statement)
            .bind(query.user.as_uuid())
            .bind(conversation.map(|c| c.as_uuid()))
            .bind(ranked)
            .bind(to_sql_count(last))
            .bind(i64::from(query.limit))
            .bind(i64::from(query.offset))
            .bind(all)
            .fetch_all(pool)
            .await
    }
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

/// How many entries of the index hold each word, counted up to `cap`
/// (see [`MessageStore::search_word_counts`]): one pass over the word's
/// entries that stops at the cap, so a common word costs the cap, not its
/// whole entry list. Deleted messages have no entry.
///
/// [`MessageStore::search_word_counts`]: chat_core::store::MessageStore::search_word_counts
pub(crate) async fn word_counts(pool: &SqlitePool, words: &[String], cap: u64) -> Result<Vec<u64>> {
    let mut counts = Vec::with_capacity(words.len());
    for word in words {
        if word.is_empty() {
            counts.push(0);
            continue;
        }
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM ( \
                 SELECT 1 FROM message_search WHERE message_search MATCH ?1 LIMIT ?2 \
             )",
        )
        .bind(quoted(word))
        .bind(to_sql_count(cap))
        .fetch_one(pool)
        .await
        .map_err(to_chat_error)?;
        counts.push(u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use chat_core::model::SearchTerms;
    use chat_core::{ConversationId, UserId};

    use super::*;
    use crate::SqliteStore;

    /// The steps of the `hits` CTE in the plan of `statement`.
    async fn hits_plan(store: &SqliteStore, statement: &str) -> Vec<String> {
        let conversation = (statement == SEARCH_ONE).then(ConversationId::new);
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {statement}"))
                .bind(UserId::new().as_uuid())
                .bind(conversation.map(|c| c.as_uuid()))
                .bind("\"lunch\"")
                .bind(19_i64)
                .bind(20_i64)
                .bind(0_i64)
                .bind("\"lunch\" \"noon\"")
                .fetch_all(store.pool())
                .await
                .expect("plan");
        let hits = plan
            .iter()
            .find(|(.., detail)| detail == "MATERIALIZE hits")
            .map(|(id, ..)| *id)
            .expect("hits is materialized");
        plan.into_iter()
            .filter(|(_, parent, ..)| *parent == hits)
            .map(|(.., detail)| detail)
            .filter(|detail| detail.starts_with("SCAN") || detail.starts_with("SEARCH"))
            .collect()
    }

    /// The plans the searches depend on. Across conversations: one pass
    /// over the FTS5 index as the outer loop, each entry looked up in an
    /// automatic index of `scope` (never `scope` as the outer loop, which
    /// would query the index, and recount bm25's statistics, once per
    /// conversation). In one conversation: one pass over its rowid range.
    #[tokio::test]
    async fn the_index_is_read_once() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let all = hits_plan(&store, SEARCH_ALL).await;
        assert_eq!(all.len(), 2, "{all:#?}");
        assert!(
            all[0].starts_with("SCAN message_search VIRTUAL TABLE"),
            "{all:#?}"
        );
        assert!(
            all[1].starts_with("SEARCH scope USING AUTOMATIC"),
            "{all:#?}"
        );
        let one = hits_plan(&store, SEARCH_ONE).await;
        assert_eq!(one.len(), 1, "{one:#?}");
        // FTS5 names the constraints it uses in its index string: the
        // MATCH and both ends of the rowid range.
        let index = one[0]
            .strip_prefix("SCAN message_search VIRTUAL TABLE INDEX ")
            .unwrap_or_default();
        assert!(
            index.contains('M') && index.contains('>') && index.contains('<'),
            "{one:#?}"
        );
        store.pool().close().await;
    }

    /// Latest first in one conversation: FTS5 gives the rowids of its
    /// range in descending order itself, so the page's `LIMIT` stops the
    /// read early; a temporary B-tree would sort every match first.
    #[tokio::test]
    async fn latest_first_reads_the_range_backwards_without_sorting() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {SEARCH_LATEST}"))
                .bind(UserId::new().as_uuid())
                .bind(ConversationId::new().as_uuid())
                .bind("\"the\"")
                .bind(20_i64)
                .bind(0_i64)
                .fetch_all(store.pool())
                .await
                .expect("plan");
        let details: Vec<&str> = plan.iter().map(|(.., d)| d.as_str()).collect();
        let hits = plan
            .iter()
            .find(|(.., detail)| detail == "MATERIALIZE hits")
            .map(|(id, ..)| *id)
            .expect("hits is materialized");
        let inside: Vec<&str> = (plan.iter())
            .filter(|(_, parent, ..)| *parent == hits)
            .map(|(.., d)| d.as_str())
            .collect();
        assert!(
            inside
                .iter()
                .any(|d| d.starts_with("SCAN message_search VIRTUAL TABLE")),
            "{details:#?}"
        );
        assert!(
            !inside.iter().any(|d| d.contains("TEMP B-TREE")),
            "{details:#?}"
        );
        store.pool().close().await;
    }

    #[test]
    fn every_word_is_one_quoted_string() {
        let terms = SearchTerms::parse("Lunch AND noon OR").expect("valid");
        assert_eq!(
            match_expression(terms.words().iter()),
            r#""lunch" "and" "noon" "or""#
        );
    }
}

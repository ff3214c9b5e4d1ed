//! Full-text search of messages, on the `search_vector` column and the
//! `messages_search` GIN index (migration 0004).
//!
//! A search is two statements. The first reads the searcher's memberships
//! (the conversations they may search and where they joined each). The
//! second finds, ranks and pages the matches among exactly those
//! conversations, with the ids bound as an array: the planner then knows
//! both how common the words are (from the column's statistics) and how
//! many messages the conversations hold, and picks accordingly between the
//! word's GIN bitmap, the conversations' `(conversation_id, seq)` bitmap,
//! or both ANDed, so that only messages both in the conversations and
//! holding the words are read from the table. That statement is planned
//! afresh on every call (an unnamed statement): a plan cached for a rare
//! word would read the whole index entry of a common one.
//!
//! Ranking reads the vector of every match (`ts_rank` cannot be answered
//! from the index), so a search costs about as much as the searcher has
//! matching messages, plus the bitmaps that find them; the costly
//! snippets (`ts_headline`) are made for the page only, after the ranking
//! has picked it (the ranking's subquery ends in its `LIMIT`, so the
//! planner cannot move them before it). That is why the engine never
//! ranks by a very common word (`ConversationConfig::
//! search_common_word_messages`): for one held by half of all messages,
//! building its bitmap alone costs more than the rest of the search. The
//! engine learns which words are that common from [`word_counts`], and a
//! search of one conversation for only such words runs latest first
//! ([`latest`]), which reads about as many messages as it returns.
//! `examples/pg_search_costs.rs` measures it (docs/benchmarks.md,
//! "Message search").
//!
//! The two statements do not share a snapshot: a member who leaves while
//! their search runs may still get that search's hits, as if it had run a
//! moment earlier.

use chat_core::model::{MARK_END, MARK_START, Message, SearchHit, SearchQuery, mark_snippet};
use chat_core::{Result, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use crate::messages::MessageRow;
use crate::{to_chat_error, to_sql_count};

/// About how many characters a snippet keeps when it has to be made here
/// rather than by `ts_headline` (see [`snippet`]).
const SNIPPET_CHARS: usize = 120;

/// `ts_headline`'s options: one fragment of up to 20 words around the
/// best match, each matched word between the marks chat-types defines,
/// and short words kept (the default drops words of up to 3 letters at the
/// fragment's edges).
fn headline_options() -> String {
    format!(
        "StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=1, MaxWords=20, MinWords=8, \
         ShortWord=0, HighlightAll=false"
    )
}

/// A search hit's row: the message, its rank and its marked snippet.
#[derive(sqlx::FromRow)]
struct HitRow {
    #[sqlx(flatten)]
    message: MessageRow,
    rank: f32,
    snippet: String,
}

/// Runs `query` (see
/// [`MessageStore::search_messages`](chat_core::store::MessageStore::search_messages)).
pub(crate) async fn search_messages(pool: &PgPool, query: &SearchQuery) -> Result<Vec<SearchHit>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let (conversations, joined) = searchable(pool, query.user, query.scope.conversation()).await?;
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let words = query.terms.words();
    if !query.scope.is_ranked() {
        return latest(pool, query, conversations[0], joined[0]).await;
    }
    // The words are letters and digits (`SearchTerms`), bound as one text
    // that `plainto_tsquery` reads as plain words joined by AND: nothing
    // of the query reaches the SQL text, and it cannot carry tsquery
    // operators either. If the parser does not make exactly one lexeme of
    // each word (a character Rust counts as a letter or digit and
    // PostgreSQL does not, such as `½`), the `numnode` check makes the
    // search find nothing rather than ignore a word. It is a constant the
    // planner folds before reading anything.
    let rows: Vec<HitRow> = sqlx::query_as(concat!(
        "WITH hits AS ( \
             SELECT ",
        message_columns!("m."),
        ", ts_rank(m.search_vector, plainto_tsquery('simple', $8), 1) AS rank \
             FROM messages m \
             JOIN UNNEST($1::uuid[], $2::bigint[]) AS c(conversation_id, joined_seq) \
               ON m.conversation_id = c.conversation_id AND m.seq > c.joined_seq \
             WHERE m.conversation_id = ANY($1) \
               AND m.search_vector @@ plainto_tsquery('simple', $3) \
               AND m.deleted_at IS NULL \
               AND numnode(plainto_tsquery('simple', $3)) = 2 * $4 - 1 \
             ORDER BY rank DESC, m.created_at DESC, m.message_id DESC \
             OFFSET $5 LIMIT $6) \
         SELECT *, ts_headline('simple', content, plainto_tsquery('simple', $3), $7) AS snippet \
         FROM hits \
         ORDER BY rank DESC, created_at DESC, message_id DESC"
    ))
    .persistent(false)
    .bind(&conversations)
    .bind(&joined)
    .bind(words.join(" "))
    .bind(i32::try_from(words.len()).unwrap_or(i32::MAX))
    .bind(i64::from(query.offset))
    .bind(i64::from(query.limit))
    .bind(headline_options())
    // Too common words are required (`$3`) but do not rank.
    .bind(
        query
            .ranked_words()
            .iter()
            .map(|w| w.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    )
    .fetch_all(pool)
    .await
    .map_err(to_chat_error)?;
    Ok(hits(rows, query))
}

/// A search of one conversation latest first, unranked: the
/// `(conversation_id, seq)` index read backwards from the newest message,
/// each message's vector checked as it comes, stopping at the page. The
/// match is written `IS TRUE` so that the planner cannot answer it from
/// the GIN index instead: for the very common words this order is for,
/// building the word's bitmap alone would cost more than reading the
/// few dozen messages per hit the backward scan needs.
async fn latest(
    pool: &PgPool,
    query: &SearchQuery,
    conversation: Uuid,
    joined_seq: i64,
) -> Result<Vec<SearchHit>> {
    let words = query.terms.words();
    let rows: Vec<HitRow> = sqlx::query_as(concat!(
        "WITH hits AS ( \
             SELECT ",
        message_columns!("m."),
        " FROM messages m \
             WHERE m.conversation_id = $1 AND m.seq > $2 AND m.deleted_at IS NULL \
               AND (m.search_vector @@ plainto_tsquery('simple', $3)) IS TRUE \
               AND numnode(plainto_tsquery('simple', $3)) = 2 * $4 - 1 \
             ORDER BY m.seq DESC \
             OFFSET $5 LIMIT $6) \
         SELECT *, 0::real AS rank, \
                ts_headline('simple', content, plainto_tsquery('simple', $3), $7) AS snippet \
         FROM hits \
         ORDER BY seq DESC"
    ))
    .bind(conversation)
    .bind(joined_seq)
    .bind(words.join(" "))
    .bind(i32::try_from(words.len()).unwrap_or(i32::MAX))
    .bind(i64::from(query.offset))
    .bind(i64::from(query.limit))
    .bind(headline_options())
    .fetch_all(pool)
    .await
    .map_err(to_chat_error)?;
    Ok(hits(rows, query))
}

/// The hits of `rows`, each with its snippet.
fn hits(rows: Vec<HitRow>, query: &SearchQuery) -> Vec<SearchHit> {
    rows.into_iter()
        .map(|row| {
            let message = Message::from(row.message);
            SearchHit {
                snippet: snippet(&message.content, row.snippet, query),
                rank: f64::from(row.rank),
                message,
            }
        })
        .collect()
}

/// What `ANALYZE` knows of `messages.search_vector`.
#[derive(sqlx::FromRow)]
struct VectorStats {
    /// The table's estimated rows (`pg_class.reltuples`).
    rows: f32,
    /// Its most common lexemes, when analyzed.
    elems: Option<Vec<String>>,
    /// The share of rows holding each (then a few summary figures).
    freqs: Option<Vec<f32>>,
}

/// Below this many rows (as `pg_class.reltuples` estimates), word counts
/// are exact: counting a word in every message of a small table is cheap.
const COUNT_EXACTLY_BELOW: f32 = 100_000.0;

/// How many messages hold each word, up to `cap` (see
/// [`MessageStore::search_word_counts`]).
///
/// Counting exactly means building each word's bitmap from the GIN
/// index, which for a word in half of a million messages costs more than
/// the search it is meant to spare. So on a large table the counts are
/// estimated from the statistics `ANALYZE` (run by autovacuum as the table
/// grows) keeps of `search_vector`: the share of rows holding each of its
/// most common lexemes (`most_common_elems`, about the 1,000 most common),
/// times the table's row estimate. A word not listed there is rarer than
/// every listed one, and counts 0. A large table never analyzed yet is
/// counted exactly.
///
/// [`MessageStore::search_word_counts`]: chat_core::store::MessageStore::search_word_counts
pub(crate) async fn word_counts(pool: &PgPool, words: &[String], cap: u64) -> Result<Vec<u64>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let stats: Option<VectorStats> = sqlx::query_as(
        "SELECT c.reltuples AS rows, s.most_common_elems::text::text[] AS elems, \
                s.most_common_elem_freqs AS freqs \
         FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_stats s ON s.schemaname = n.nspname \
              AND s.tablename = c.relname AND s.attname = 'search_vector' \
              AND NOT s.inherited \
         WHERE c.oid = 'messages'::regclass",
    )
    .fetch_optional(pool)
    .await
    .map_err(to_chat_error)?;
    if let Some(VectorStats {
        rows,
        elems: Some(elems),
        freqs: Some(freqs),
    }) = stats
        && rows >= COUNT_EXACTLY_BELOW
    {
        return Ok(words
            .iter()
            .map(|word| {
                let share = elems
                    .iter()
                    .position(|e| e == word)
                    .and_then(|i| freqs.get(i))
                    .copied()
                    .unwrap_or(0.0);
                // Both factors are finite and non-negative; `as` saturates.
                ((f64::from(share) * f64::from(rows)).round() as u64).min(cap)
            })
            .collect());
    }
    let mut counts = Vec::with_capacity(words.len());
    for word in words {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM ( \
                 SELECT 1 FROM messages \
                 WHERE search_vector @@ plainto_tsquery('simple', $1) \
                   AND numnode(plainto_tsquery('simple', $1)) = 1 \
                   AND deleted_at IS NULL \
                 LIMIT $2) words",
        )
        .bind(word)
        .bind(to_sql_count(cap))
        .fetch_one(pool)
        .await
        .map_err(to_chat_error)?;
        counts.push(u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// The conversations `user` may search (all theirs, or only `only` when
/// they are a member of it), with the seq they joined each at.
async fn searchable(
    pool: &PgPool,
    user: UserId,
    only: Option<chat_core::ConversationId>,
) -> Result<(Vec<Uuid>, Vec<i64>)> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT conversation_id, joined_seq FROM conversation_members \
         WHERE user_id = $1 AND ($2::uuid IS NULL OR conversation_id = $2)",
    )
    .bind(user.as_uuid())
    .bind(only.map(|c| c.as_uuid()))
    .fetch_all(pool)
    .await
    .map_err(to_chat_error)?;
    Ok(rows.into_iter().unzip())
}

/// The hit's snippet: `ts_headline`'s fragment, with `…` where it cuts
/// words off the content (what it leaves out at either end that is only
/// spaces or punctuation is put back instead). When the fragment marks
/// nothing (the words sat inside what the parser reads as one token, such
/// as `example` in `example.com`, which matched through the vector made
/// without punctuation), the reference snippet of chat-types is made
/// instead, so a snippet always shows its matches.
fn snippet(content: &str, headline: String, query: &SearchQuery) -> String {
    if !headline.contains(MARK_START) {
        return mark_snippet(content, &query.terms, SNIPPET_CHARS);
    }
    let plain: String = headline
        .chars()
        .filter(|c| *c != MARK_START && *c != MARK_END)
        .collect();
    let Some(start) = content.find(&plain) else {
        return headline;
    };
    let (before, after) = (&content[..start], &content[start + plain.len()..]);
    [edge(before), headline.as_str(), edge(after)].concat()
}

/// What a snippet shows for the content it leaves out at one end: `…`
/// for words, the text itself when it is only spaces and punctuation.
fn edge(left_out: &str) -> &str {
    if left_out.chars().any(char::is_alphanumeric) {
        "…"
    } else {
        left_out
    }
}

/// Up to `limit` messages of `conversation` with `seq > min_seq`, oldest
/// first (see
/// [`MessageStore::messages_after`](chat_core::store::MessageStore::messages_after)).
pub(crate) async fn messages_after(
    pool: &PgPool,
    conversation: chat_core::ConversationId,
    min_seq: u64,
    limit: u32,
) -> Result<Vec<Message>> {
    // A forward scan of the (conversation_id, seq) unique index that stops
    // after `limit` rows, however long the history.
    let rows: Vec<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE conversation_id = $1 AND seq > $2 \
          ORDER BY seq LIMIT $3"
    ))
    .bind(conversation.as_uuid())
    .bind(to_sql_count(min_seq))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(to_chat_error)?;
    Ok(rows.into_iter().map(Message::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::model::SearchTerms;

    fn query(q: &str) -> SearchQuery {
        SearchQuery {
            user: UserId::new(),
            terms: SearchTerms::parse(q).expect("valid"),
            scope: chat_core::model::SearchScope::All,
            unranked_words: Vec::new(),
            offset: 0,
            limit: 10,
        }
    }

    #[test]
    fn fragments_say_where_they_cut_the_content() {
        let q = query("lunch");
        let content = "so, lunch at noon today?";
        let whole = "so, \u{2}lunch\u{3} at noon today?".to_owned();
        assert_eq!(snippet(content, whole.clone(), &q), whole);
        let cut = snippet(content, "\u{2}lunch\u{3} at noon".to_owned(), &q);
        assert_eq!(cut, "…\u{2}lunch\u{3} at noon…");
        let trimmed = snippet(content, "so, \u{2}lunch\u{3} at noon today".to_owned(), &q);
        assert_eq!(trimmed, whole, "only punctuation left out: put back");
    }

    #[test]
    fn a_fragment_without_marks_gives_way_to_the_reference_snippet() {
        let q = query("example");
        let content = "see example.com";
        assert_eq!(
            snippet(content, content.to_owned(), &q),
            "see \u{2}example\u{3}.com"
        );
    }
}

//! A batch of messages stored with a fixed number of statements.
//!
//! Each statement is a round trip to the connection's worker thread, and
//! a message stored alone costs about five (its sender's row, its
//! idempotency key, the seq, the insert, the sender's cursors): under
//! load the one writer spent its time handing statements to that thread
//! and back, not in SQLite. Here a batch reads the conversations' seqs,
//! the senders' rows and the keys already used with one statement each,
//! decides every message in memory by the rules of a single insert
//! ([`MessageBatch`]), and writes the messages, their mention rows, the
//! seqs and the senders' cursors with one statement each. The write lock
//! taken at `BEGIN IMMEDIATE` keeps what was read current until the
//! commit.
//!
//! A batch with attachments is stored one message at a time (the caller
//! checks [`sets_apart`]): each attachment is checked and linked in the
//! message's turn, which the rare message with files can afford.

use chat_core::model::{
    InsertOutcome, Message, MessageBatch, NewMessage, SenderCursors, attachments_to_json,
};
use chat_core::{ConversationId, Result, UserId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::cursor_batch::read_memberships;
use crate::messages::{MessageRow, mentions_to_sql, msg_columns};
use crate::{
    ROWS_PER_STATEMENT, execute_built, from_sql_count, push_id_list, to_chat_error, to_sql_count,
};

/// Whether `batch` must be stored one message at a time: it sends files.
pub(crate) fn sets_apart(batch: &[NewMessage]) -> bool {
    batch.iter().any(|m| !m.attachments.is_empty())
}

/// Stores `batch` (no attachments) inside the caller's write transaction;
/// outcomes in batch order.
///
/// # Errors
/// Store errors; the caller rolls back.
pub(crate) async fn insert_batch(
    conn: &mut SqliteConnection,
    batch: &[NewMessage],
) -> Result<Vec<InsertOutcome>> {
    let mut plan = MessageBatch::default();
    for conversations in MessageBatch::conversations(batch).chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT conversation_id, last_seq FROM conversations WHERE conversation_id IN ",
        );
        push_id_list(
            &mut query,
            conversations.iter().map(ConversationId::as_uuid),
        );
        let rows: Vec<(Uuid, i64)> = query
            .build_query_as()
            .fetch_all(&mut *conn)
            .await
            .map_err(to_chat_error)?;
        for (id, last_seq) in rows {
            plan.add_conversation(ConversationId::from_uuid(id), from_sql_count(last_seq));
        }
    }
    for senders in MessageBatch::senders(batch).chunks(ROWS_PER_STATEMENT) {
        read_senders(conn, senders, &mut plan).await?;
    }
    for keys in MessageBatch::keys(batch).chunks(ROWS_PER_STATEMENT) {
        for message in read_used(conn, keys).await? {
            plan.add_used(message);
        }
    }
    let outcomes: Vec<InsertOutcome> = batch.iter().map(|m| plan.plan(m, |_| true)).collect();
    let created: Vec<&Message> = outcomes
        .iter()
        .filter_map(|o| match o {
            InsertOutcome::Created(m) => Some(m),
            _ => None,
        })
        .collect();
    if created.is_empty() {
        return Ok(outcomes);
    }
    for rows in created.chunks(ROWS_PER_STATEMENT) {
        insert_messages(conn, rows).await?;
    }
    let mentions: Vec<(&Message, UserId)> = created
        .iter()
        .flat_map(|m| m.mentions.iter().map(move |u| (*m, *u)))
        .collect();
    for rows in mentions.chunks(ROWS_PER_STATEMENT) {
        insert_mentions(conn, rows).await?;
    }
    update_conversations(conn, &plan).await?;
    for rows in plan.sender_cursors().chunks(ROWS_PER_STATEMENT) {
        update_senders(conn, rows).await?;
    }
    Ok(outcomes)
}

/// The senders' member rows (none for someone who is not a member), read
/// as cursor moves read theirs ([`read_memberships`]).
async fn read_senders(
    conn: &mut SqliteConnection,
    senders: &[(ConversationId, UserId)],
    plan: &mut MessageBatch,
) -> Result<()> {
    for m in read_memberships(conn, senders).await? {
        plan.add_sender(
            m.conversation.id,
            m.member.user_id,
            m.member.sender_cursors(),
        );
    }
    Ok(())
}

/// The messages already stored under these idempotency keys: one probe of
/// the `(conversation_id, sender_id, client_msg_id)` index each.
async fn read_used(
    conn: &mut SqliteConnection,
    keys: &[(ConversationId, UserId, &str)],
) -> Result<Vec<Message>> {
    let rows: Vec<MessageRow> = used_query(keys)
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(to_chat_error)?;
    rows.into_iter().map(MessageRow::into_model).collect()
}

/// The statement of [`read_used`]. `CROSS JOIN` makes SQLite run the list
/// as the outer loop: with a plain `JOIN`, SQLite 3.46 scanned the whole
/// key index and probed the list through an automatic index, so every
/// batch read every stored key, and at 100,000 messages a batch of 256
/// spent 60 ms here (docs/benchmarks.md, "SQLite read every idempotency
/// key").
fn used_query<'a>(keys: &'a [(ConversationId, UserId, &str)]) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::<Sqlite>::new(concat!("SELECT ", msg_columns!(), " FROM ("));
    query.push_values(keys, |mut row, (conversation, sender, key)| {
        row.push_bind(conversation.as_uuid())
            .push_bind(sender.as_uuid())
            .push_bind(*key);
    });
    query.push(
        ") AS k CROSS JOIN messages msg ON msg.conversation_id = k.column1 \
           AND msg.sender_id = k.column2 AND msg.client_msg_id = k.column3",
    );
    query
}

/// One multi-row `INSERT` (the search index's triggers fire per row).
async fn insert_messages(conn: &mut SqliteConnection, rows: &[&Message]) -> Result<()> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
             message_type, client_msg_id, created_at, reply_to, mentions, attachments) ",
    );
    query.push_values(rows, |mut row, m| {
        row.push_bind(m.id.as_uuid())
            .push_bind(m.conversation_id.as_uuid())
            .push_bind(to_sql_count(m.seq))
            .push_bind(m.sender_id.as_uuid())
            .push_bind(m.content.clone())
            .push_bind(m.message_type.clone())
            .push_bind(m.client_msg_id.clone())
            .push_bind(m.created_at.as_millis())
            .push_bind(m.reply_to.map(|id| id.as_uuid()))
            .push_bind(mentions_to_sql(&m.mentions))
            .push_bind(attachments_to_json(&m.attachments));
    });
    execute_built(conn, query).await
}

/// The `message_mentions` rows of the batch's messages; a member mentioned
/// twice in one message has one row.
async fn insert_mentions(conn: &mut SqliteConnection, rows: &[(&Message, UserId)]) -> Result<()> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO message_mentions (message_id, user_id, conversation_id, seq) ",
    );
    query.push_values(rows, |mut row, (m, user)| {
        row.push_bind(m.id.as_uuid())
            .push_bind(user.as_uuid())
            .push_bind(m.conversation_id.as_uuid())
            .push_bind(to_sql_count(m.seq));
    });
    query.push(" ON CONFLICT DO NOTHING");
    execute_built(conn, query).await
}

/// The seqs, message counts and activity of the conversations that got
/// messages.
async fn update_conversations(conn: &mut SqliteConnection, plan: &MessageBatch) -> Result<()> {
    for grown in plan.grown().chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new("WITH v(id, seq, added, at) AS (");
        query.push_values(grown, |mut row, g| {
            row.push_bind(g.conversation.as_uuid())
                .push_bind(to_sql_count(g.last_seq))
                .push_bind(to_sql_count(g.added))
                .push_bind(g.newest.as_millis());
        });
        query.push(
            ") UPDATE conversations SET last_seq = v.seq, \
                 message_count = message_count + v.added, \
                 last_activity_at = max(last_activity_at, v.at) \
             FROM v WHERE conversations.conversation_id = v.id",
        );
        execute_built(&mut *conn, query).await?;
    }
    Ok(())
}

/// The senders' cursors as their own messages moved them.
async fn update_senders(
    conn: &mut SqliteConnection,
    rows: &[(ConversationId, UserId, SenderCursors)],
) -> Result<()> {
    let mut query = QueryBuilder::<Sqlite>::new("WITH v(c, u, r, rc, d, o) AS (");
    query.push_values(rows, |mut row, (conversation, user, k)| {
        row.push_bind(conversation.as_uuid())
            .push_bind(user.as_uuid())
            .push_bind(to_sql_count(k.read_seq))
            .push_bind(to_sql_count(k.read_message_count))
            .push_bind(to_sql_count(k.delivered_seq))
            .push_bind(to_sql_count(k.own_unread));
    });
    query.push(
        ") UPDATE conversation_members SET read_seq = v.r, read_message_count = v.rc, \
             delivered_seq = v.d, own_unread = v.o \
         FROM v WHERE conversation_members.conversation_id = v.c \
           AND conversation_members.user_id = v.u",
    );
    execute_built(conn, query).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use crate::cursor_batch::memberships_query;

    /// What SQLite's planner does with `sql`, one line per step.
    async fn plan(store: &SqliteStore, sql: &str) -> Vec<String> {
        let rows: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(store.pool())
                .await
                .expect("a plan");
        rows.into_iter().map(|(_, _, _, step)| step).collect()
    }

    /// The batch reads driven by a list of keys run the list as the outer
    /// loop and probe an index per key: a scan of the table would make
    /// every batch read every row, more as the table grows.
    #[tokio::test]
    async fn batch_lookups_probe_an_index_per_key() {
        let dir = tempfile::tempdir().expect("a directory");
        let url = format!("sqlite://{}/chat.db", dir.path().display());
        let store = SqliteStore::connect(&url).await.expect("a store");
        let (c, u) = (ConversationId::new(), UserId::new());
        let pairs = [(c, u), (c, UserId::new())];
        let keys = [(c, u, "k-1"), (c, u, "k-2")];
        for query in [used_query(&keys), memberships_query(&pairs)] {
            let steps = plan(&store, query.sql()).await;
            let scans: Vec<&String> = (steps.iter())
                .filter(|step| step.starts_with("SCAN") && !step.contains("VALUES"))
                .collect();
            assert!(scans.is_empty(), "{}: {steps:?}", query.sql());
            assert!(
                steps.iter().any(|step| step.starts_with("SEARCH")),
                "{steps:?}"
            );
        }
    }
}

use async_trait::async_trait;
use chat_core::model::{
    ChangeOutcome, Cursor, DeliveryMove, EntryKind, InsertOutcome, LogEntry, Membership, Message,
    MessageAttachment, NewChange, NewMessage, Reaction, SearchHit, SearchQuery, SenderCursors,
    attachments_to_json,
};
use chat_core::store::MessageStore;
use chat_core::{ClientMsgId, ConversationId, MessageId, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::attachments::{Links, claim, lock_unsent};
use crate::{PgStore, from_sql_count, to_chat_error, to_sql_count};

/// The columns [`MessageRow`] reads, as a literal so queries stay
/// `'static`; `message_columns!("m.")` qualifies each with a table alias.
macro_rules! message_columns {
    () => {
        message_columns!("")
    };
    ($alias:literal) => {
        message_columns!(@list $alias;
            message_id, conversation_id, seq, sender_id, content, message_type, client_msg_id,
            created_at, reply_to, mentions, attachments, edited_at, deleted_at)
    };
    (@list $alias:literal; $first:ident $(, $column:ident)*) => {
        concat!($alias, stringify!($first) $(, ", ", $alias, stringify!($column))*)
    };
}

/// An `INSERT` of the `message_mentions` rows of the messages in `$from`, a
/// CTE (or table) with their `message_id`, `conversation_id`, `seq` and
/// `mentions`: one row per member a message mentions (a message without
/// mentions adds none), for the data-modifying CTE of the statement that
/// inserts the messages.
macro_rules! insert_mentions_from {
    ($from:literal) => {
        concat!(
            "INSERT INTO message_mentions (message_id, user_id, conversation_id, seq) \
             SELECT DISTINCT n.message_id, u.user_id, n.conversation_id, n.seq \
             FROM ",
            $from,
            " n CROSS JOIN LATERAL UNNEST(n.mentions) AS u(user_id)"
        )
    };
}

/// The name of the unique index behind idempotent sends.
const CLIENT_MSG_ID_UNIQUE: &str = "messages_client_msg_id_unique";

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    message_id: Uuid,
    conversation_id: Uuid,
    seq: i64,
    sender_id: Uuid,
    content: String,
    message_type: String,
    client_msg_id: Option<String>,
    created_at: DateTime<Utc>,
    reply_to: Option<Uuid>,
    mentions: Vec<Uuid>,
    /// Read as JSON: a value that is not a list of attachments fails the
    /// row's decoding.
    attachments: Option<Json<Vec<MessageAttachment>>>,
    edited_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: MessageId::from_uuid(row.message_id),
            conversation_id: ConversationId::from_uuid(row.conversation_id),
            seq: from_sql_count(row.seq),
            sender_id: UserId::from_uuid(row.sender_id),
            content: row.content,
            message_type: row.message_type,
            client_msg_id: row.client_msg_id,
            created_at: Timestamp::from_datetime(row.created_at),
            reply_to: row.reply_to.map(MessageId::from_uuid),
            mentions: row.mentions.into_iter().map(UserId::from_uuid).collect(),
            attachments: row.attachments.map(|a| a.0).unwrap_or_default(),
            edited_at: row.edited_at.map(Timestamp::from_datetime),
            deleted_at: row.deleted_at.map(Timestamp::from_datetime),
        }
    }
}

/// The ids as stored in a `uuid[]` column or bound as an array.
pub(crate) fn user_uuids(users: &[UserId]) -> Vec<Uuid> {
    users.iter().map(|u| u.as_uuid()).collect()
}

/// The sender's message with this idempotency key, if any.
async fn message_by_client_id(
    executor: impl PgExecutor<'_>,
    conversation: ConversationId,
    sender: UserId,
    client_msg_id: &str,
) -> Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages \
          WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3"
    ))
    .bind(conversation.as_uuid())
    .bind(sender.as_uuid())
    .bind(client_msg_id)
    .fetch_optional(executor)
    .await
    .map_err(to_chat_error)?;
    Ok(row.map(Message::from))
}

/// True for a violation of [`CLIENT_MSG_ID_UNIQUE`].
fn is_client_msg_id_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|db| db.constraint())
        .is_some_and(|name| name == CLIENT_MSG_ID_UNIQUE)
}

impl PgStore {
    /// Stores `messages` (a fixed number of statements, see
    /// `message_batch.rs`), then moves one cursor per entry of `moves`, all
    /// in one transaction: one commit, one WAL flush. Every write of this
    /// store but single inserts goes through here, on `pool`: the
    /// writers' own for the message writer's work, the shared one for
    /// read cursors.
    async fn write(
        &self,
        messages: &[NewMessage],
        moves: &[DeliveryMove],
        at: Timestamp,
        cursor: Cursor,
        pool: &PgPool,
    ) -> Result<(Vec<InsertOutcome>, Vec<Option<Membership>>)> {
        let mut tx = pool.begin().await.map_err(to_chat_error)?;
        // The messages' conversations and senders are locked first, then
        // the moves' member rows in one order (cursor_batch.rs), so
        // concurrent writers cannot deadlock.
        let inserted = if messages.is_empty() {
            Ok(Vec::new())
        } else {
            crate::message_batch::insert_batch(&mut tx, messages).await
        };
        let inserted = match inserted {
            Ok(i) => i,
            Err(e) => {
                tx.rollback().await.map_err(to_chat_error)?;
                return Err(e);
            }
        };
        let moved = match crate::cursor_batch::advance_many(&mut tx, moves, at, cursor).await {
            Ok(moved) => moved,
            Err(e) => {
                tx.rollback().await.map_err(to_chat_error)?;
                return Err(e);
            }
        };
        tx.commit().await.map_err(to_chat_error)?;
        Ok((inserted, moved))
    }
}

#[async_trait]
impl MessageStore for PgStore {
    fn write_concurrency(&self) -> usize {
        self.writers
    }

    /// Stores a message with the conversation's next seq, atomically: the
    /// seq is `last_seq + 1`, `last_seq`, `message_count` and
    /// `last_activity_at` move with it, and concurrent inserts and changes
    /// (from any number of instances) get distinct, gap-free seqs in commit
    /// order. Its `reply_to` and `mentions` are stored as given.
    async fn insert_message(&self, new: NewMessage) -> Result<InsertOutcome> {
        // Called by the message writer (alone, or to retry a failed batch
        // one by one): on the writers' connections.
        let mut tx = self.writes.begin().await.map_err(to_chat_error)?;
        match insert_in(&mut tx, &new).await {
            Ok(outcome) => {
                tx.commit().await.map_err(to_chat_error)?;
                Ok(outcome)
            }
            Err(e) => {
                tx.rollback().await.map_err(to_chat_error)?;
                self.after_conflict(&new, e).await
            }
        }
    }

    /// A message of a conversation by id.
    async fn message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE message_id = $1 AND conversation_id = $2"
        ))
        .bind(id.as_uuid())
        .bind(conversation.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(Message::from))
    }

    /// The sender's message with this idempotency key, if any.
    async fn message_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>> {
        message_by_client_id(&self.pool, conversation, sender, client_msg_id.as_str()).await
    }

    /// The messages with these ids, in any order; unknown ids are skipped.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE message_id = ANY($1)"
        ))
        .bind(uuids)
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// Up to `limit` messages with `seq <= max_seq`, newest first, after
    /// skipping the `skip` newest of them (messages only: changes are not
    /// in this table).
    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        // A backward scan of the (conversation_id, seq) unique index that
        // stops after `skip + limit` rows, however long the history. Seqs
        // of messages have gaps where changes are, so `skip` is an OFFSET
        // over the rows, not seq arithmetic.
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE conversation_id = $1 AND seq <= $2 \
              ORDER BY seq DESC OFFSET $3 LIMIT $4"
        ))
        .bind(conversation.as_uuid())
        .bind(to_sql_count(max_seq))
        .bind(to_sql_count(skip))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// Up to `limit` messages with `seq > min_seq`, oldest first (see
    /// `search.rs`).
    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        crate::search::messages_after(&self.pool, conversation, min_seq, limit).await
    }

    /// Full-text search of the searcher's messages, best rank first, then
    /// newest first, or latest first in one conversation (see `search.rs`).
    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        crate::search::search_messages(&self.pool, query).await
    }

    /// Exact on a small table, from `ANALYZE`'s statistics on a large one
    /// (see `search.rs`).
    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>> {
        crate::search::word_counts(&self.pool, words, cap).await
    }

    /// Applies a change to a message in one transaction, in order with
    /// messages (see `changes.rs`).
    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome> {
        crate::changes::apply_change(&self.pool, change).await
    }

    /// The log entries with seqs `from..=to`, oldest first, changes
    /// rendered with their message's current state.
    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        crate::changes::log_between(&self.pool, conversation, from, to).await
    }

    /// The reactions on these messages, in any order.
    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>> {
        crate::changes::reactions(&self.pool, ids).await
    }

    /// Up to `limit` of the user's unread messages across all their
    /// conversations (after their read cursor, sent by others, deleted
    /// ones included), oldest first (by `created_at`, then id).
    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>> {
        // From each conversation, its first `limit` unread messages (a
        // forward scan of the (conversation_id, seq) index from the read
        // cursor that stops after `limit` rows), then the oldest `limit` of
        // all of them: the cost follows the number of conversations and
        // the limit, not the length of history.
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT u.* FROM conversation_members m \
             CROSS JOIN LATERAL ( \
                 SELECT ",
            message_columns!(),
            " FROM messages \
                 WHERE conversation_id = m.conversation_id AND seq > m.read_seq \
                   AND sender_id <> $1 \
                 ORDER BY seq LIMIT $2) u \
             WHERE m.user_id = $1 \
             ORDER BY u.created_at, u.message_id \
             LIMIT $2"
        ))
        .bind(user.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    /// Moves the user's read cursor forward to `seq` (capped at the
    /// conversation's `last_seq`), setting `read_at`, and the delivery
    /// cursor with it when it was behind. Never moves a cursor backwards.
    /// `read_message_count` grows by the messages in the range read, and
    /// `own_unread` shrinks by the user's own among them. `None` when the
    /// user is not a member.
    async fn advance_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        let m = DeliveryMove {
            conversation,
            user,
            seq,
        };
        Ok(self
            .write(&[], &[m], at, Cursor::Read, &self.pool)
            .await?
            .1
            .pop()
            .flatten())
    }

    /// Moves the user's delivery cursor forward to `seq` (capped at
    /// `last_seq`), setting `delivered_at`. Never moves it backwards.
    /// `None` when the user is not a member.
    async fn advance_delivered(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        let m = DeliveryMove {
            conversation,
            user,
            seq,
        };
        Ok(self
            .write(&[], &[m], at, Cursor::Delivered, &self.writes)
            .await?
            .1
            .pop()
            .flatten())
    }

    /// Messages and cursor moves in one transaction, one commit.
    async fn write_batch(
        &self,
        messages: Vec<NewMessage>,
        moves: Vec<DeliveryMove>,
        at: Timestamp,
    ) -> Result<(Vec<InsertOutcome>, Vec<Option<Membership>>)> {
        self.write(&messages, &moves, at, Cursor::Delivered, &self.writes)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_errors_are_not_client_msg_id_conflicts() {
        assert!(!is_client_msg_id_conflict(&sqlx::Error::RowNotFound));
    }
}

/// Why [`insert_in`] failed.
#[derive(Debug)]
enum Conflict {
    /// A statement failed (a unique violation included); the transaction
    /// is aborted.
    Sql(sqlx::Error),
    /// A lookup through the store's own helpers failed.
    Store(chat_core::ChatError),
}

impl From<sqlx::Error> for Conflict {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

fn conflict_error(e: Conflict) -> chat_core::ChatError {
    match e {
        Conflict::Sql(e) => to_chat_error(e),
        Conflict::Store(e) => e,
    }
}

impl PgStore {
    /// The outcome of a single insert that failed: a unique violation on
    /// the idempotency key means a concurrent retry committed first (the
    /// conversation lock makes this all but impossible; the unique index
    /// is what guarantees it), so the winner's row is returned.
    async fn after_conflict(&self, new: &NewMessage, e: Conflict) -> Result<InsertOutcome> {
        if let (Conflict::Sql(sql), Some(key)) = (&e, &new.client_msg_id)
            && is_client_msg_id_conflict(sql)
            && let Some(original) =
                message_by_client_id(&self.pool, new.conversation_id, new.sender_id, key.as_str())
                    .await?
        {
            return Ok(InsertOutcome::Existing(original));
        }
        Err(conflict_error(e))
    }
}

/// The conversation's log end and an author's cursors, read under the
/// locks of [`lock_author`].
pub(crate) struct LockedAuthor {
    /// `conversations.last_seq`: the next entry takes `last_seq + 1`.
    pub(crate) last_seq: i64,
    /// The author's member row.
    pub(crate) cursors: SenderCursors,
}

/// Locks the conversation row and `author`'s member row until the end of
/// the transaction, in that order (as every writer of this store takes
/// them), and reads them: `None`, with nothing locked, when the
/// conversation does not exist or `author` is not a member. Messages and
/// changes both begin here, so they queue on the conversation row and
/// take seqs one at a time, in commit order.
pub(crate) async fn lock_author(
    conn: &mut PgConnection,
    conversation: ConversationId,
    author: UserId,
) -> std::result::Result<Option<LockedAuthor>, sqlx::Error> {
    let row: Option<(i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT c.last_seq, m.read_seq, m.read_message_count, m.delivered_seq, m.own_unread \
         FROM conversations c JOIN conversation_members m \
           ON m.conversation_id = c.conversation_id AND m.user_id = $2 \
         WHERE c.conversation_id = $1 \
         FOR NO KEY UPDATE OF c, m",
    )
    .bind(conversation.as_uuid())
    .bind(author.as_uuid())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(last_seq, read_seq, read_message_count, delivered_seq, own_unread)| LockedAuthor {
            last_seq,
            cursors: SenderCursors {
                read_seq: from_sql_count(read_seq),
                read_message_count: from_sql_count(read_message_count),
                delivered_seq: from_sql_count(delivered_seq),
                own_unread: from_sql_count(own_unread),
            },
        },
    ))
}

/// One message inside the caller's transaction. The conversation row is
/// locked first (senders to one conversation, and membership changes,
/// which take the same lock, queue here until commit), so seqs are handed
/// out in commit order. Membership and idempotency are checked before
/// anything is written: a message that is not stored leaves the
/// transaction untouched, and the next message of a batch goes on.
async fn insert_in(
    conn: &mut PgConnection,
    new: &NewMessage,
) -> std::result::Result<InsertOutcome, Conflict> {
    let conversation = new.conversation_id;
    let client_msg_id = new.client_msg_id.as_ref().map(|c| c.as_str());
    let Some(LockedAuthor {
        last_seq,
        mut cursors,
    }) = lock_author(&mut *conn, conversation, new.sender_id).await?
    else {
        return Ok(InsertOutcome::NotMember);
    };
    if let Some(key) = client_msg_id
        && let Some(original) = message_by_client_id(&mut *conn, conversation, new.sender_id, key)
            .await
            .map_err(Conflict::Store)?
    {
        return Ok(InsertOutcome::Existing(original));
    }
    // So is every attachment: the sender's, and not sent yet.
    if !new.attachments.is_empty() {
        let ids: Vec<Uuid> = new
            .attachments
            .iter()
            .map(|a| a.attachment_id.as_uuid())
            .collect();
        let mut unsent = lock_unsent(&mut *conn, &ids)
            .await
            .map_err(Conflict::Store)?;
        if !claim(&mut unsent, new.sender_id, &new.attachments) {
            return Ok(InsertOutcome::AttachmentNotFound);
        }
    }
    let seq = last_seq + 1;
    cursors.after_own_entry(from_sql_count(seq), EntryKind::Message);
    // One round trip: the message and its mention rows (none without
    // mentions), the conversation's seq, message count and activity, and
    // the sender's cursors.
    let row: MessageRow = sqlx::query_as(concat!(
        "WITH conv AS ( \
             UPDATE conversations SET last_seq = $3, message_count = message_count + 1, \
                 last_activity_at = GREATEST(last_activity_at, $8) \
             WHERE conversation_id = $2), \
         sender AS ( \
             UPDATE conversation_members SET read_seq = $11, read_message_count = $12, \
                 delivered_seq = $13, own_unread = $14 \
             WHERE conversation_id = $2 AND user_id = $4), \
         inserted AS ( \
             INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, client_msg_id, created_at, reply_to, mentions, attachments) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $15::jsonb) \
             RETURNING ",
        message_columns!(),
        "), \
         mentioned AS (",
        insert_mentions_from!("inserted"),
        ") \
         SELECT ",
        message_columns!(),
        " FROM inserted"
    ))
    .bind(new.id.as_uuid())
    .bind(conversation.as_uuid())
    .bind(seq)
    .bind(new.sender_id.as_uuid())
    .bind(new.content.as_str())
    .bind(new.message_type.as_str())
    .bind(client_msg_id)
    .bind(new.created_at.as_datetime())
    .bind(new.reply_to.map(|id| id.as_uuid()))
    .bind(user_uuids(&new.mentions))
    .bind(to_sql_count(cursors.read_seq))
    .bind(to_sql_count(cursors.read_message_count))
    .bind(to_sql_count(cursors.delivered_seq))
    .bind(to_sql_count(cursors.own_unread))
    .bind(attachments_to_json(&new.attachments))
    .fetch_one(&mut *conn)
    .await?;
    let message = Message::from(row);
    let mut links = Links::default();
    links.push(conversation, message.id, &new.attachments);
    links.store(&mut *conn).await.map_err(Conflict::Store)?;
    Ok(InsertOutcome::Created(message))
}

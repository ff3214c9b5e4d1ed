use async_trait::async_trait;
use chat_core::model::{
    ChangeOutcome, Cursor, DeliveryMove, EntryKind, InsertOutcome, LogEntry, Membership, Message,
    MessageAttachment, NewChange, NewMessage, Reaction, SearchHit, SearchQuery, SenderCursors,
    attachments_to_json,
};
use chat_core::store::MessageStore;
use chat_core::{ChatError, ClientMsgId, ConversationId, MessageId, Result, Timestamp, UserId};
use sqlx::error::ErrorKind;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use crate::attachments::{attachments_sendable, link_attachments};
use crate::changes;
use crate::cursor_batch::advance_many;
use crate::message_batch;
use crate::search;
use crate::{SqliteStore, from_sql_count, push_id_list, to_chat_error, to_sql_count};

/// The columns [`MessageRow`] reads, as a literal so queries stay `'static`.
macro_rules! message_columns {
    () => {
        "message_id, conversation_id, seq, sender_id, content, message_type, client_msg_id, \
         created_at, reply_to, mentions, attachments, edited_at, deleted_at"
    };
}

/// [`message_columns`] of the table aliased `msg`, for queries that join.
macro_rules! msg_columns {
    () => {
        "msg.message_id, msg.conversation_id, msg.seq, msg.sender_id, msg.content, \
         msg.message_type, msg.client_msg_id, msg.created_at, msg.reply_to, msg.mentions, \
         msg.attachments, msg.edited_at, msg.deleted_at"
    };
}

pub(crate) use {message_columns, msg_columns};

/// A row of `messages`, as [`message_columns`] reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub(crate) message_id: Uuid,
    pub(crate) conversation_id: Uuid,
    pub(crate) seq: i64,
    pub(crate) sender_id: Uuid,
    pub(crate) content: String,
    pub(crate) message_type: String,
    pub(crate) client_msg_id: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) reply_to: Option<Uuid>,
    pub(crate) mentions: Option<Vec<u8>>,
    /// Read as JSON: a value that is not a list of attachments fails the
    /// row's decoding.
    pub(crate) attachments: Option<Json<Vec<MessageAttachment>>>,
    pub(crate) edited_at: Option<i64>,
    pub(crate) deleted_at: Option<i64>,
}

impl MessageRow {
    /// The message; a `mentions` value that is not a list of ids is a
    /// corrupt row.
    pub(crate) fn into_model(self) -> Result<Message> {
        Ok(Message {
            id: MessageId::from_uuid(self.message_id),
            conversation_id: ConversationId::from_uuid(self.conversation_id),
            seq: from_sql_count(self.seq),
            sender_id: UserId::from_uuid(self.sender_id),
            content: self.content,
            message_type: self.message_type,
            client_msg_id: self.client_msg_id,
            created_at: Timestamp::from_millis(self.created_at),
            reply_to: self.reply_to.map(MessageId::from_uuid),
            mentions: mentions_from_sql(self.mentions.as_deref())?,
            attachments: self.attachments.map(|a| a.0).unwrap_or_default(),
            edited_at: self.edited_at.map(Timestamp::from_millis),
            deleted_at: self.deleted_at.map(Timestamp::from_millis),
        })
    }
}

/// Mentions as `messages.mentions` stores them: the ids' 16 bytes each, in
/// order, or NULL for none.
pub(crate) fn mentions_to_sql(mentions: &[UserId]) -> Option<Vec<u8>> {
    (!mentions.is_empty()).then(|| {
        mentions
            .iter()
            .flat_map(|user| user.as_uuid().into_bytes())
            .collect()
    })
}

/// The ids of a stored `messages.mentions`; a length that is not a
/// multiple of 16 is a corrupt row.
fn mentions_from_sql(stored: Option<&[u8]>) -> Result<Vec<UserId>> {
    stored
        .unwrap_or_default()
        .chunks(16)
        .map(|id| {
            Uuid::from_slice(id)
                .map(UserId::from_uuid)
                .map_err(ChatError::internal)
        })
        .collect()
}

/// Inserts the `message_mentions` rows of a message at `seq`; nothing (no
/// statement) when it mentions nobody, as most messages do. A member
/// mentioned twice has one row.
pub(crate) async fn insert_mentions(
    conn: &mut SqliteConnection,
    message: MessageId,
    conversation: ConversationId,
    seq: i64,
    mentions: &[UserId],
) -> std::result::Result<(), sqlx::Error> {
    if mentions.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO message_mentions (message_id, user_id, conversation_id, seq) ",
    );
    query.push_values(mentions, |mut row, user| {
        row.push_bind(message.as_uuid())
            .push_bind(user.as_uuid())
            .push_bind(conversation.as_uuid())
            .push_bind(seq);
    });
    query.push(" ON CONFLICT DO NOTHING");
    query.build().execute(conn).await?;
    Ok(())
}

/// A member's cursors as their own log entries move them; `None` when the
/// user is not a member.
pub(crate) async fn fetch_sender_cursors(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    user: UserId,
) -> std::result::Result<Option<SenderCursors>, sqlx::Error> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT read_seq, read_message_count, delivered_seq, own_unread \
         FROM conversation_members WHERE conversation_id = ?1 AND user_id = ?2",
    )
    .bind(conversation.as_uuid())
    .bind(user.as_uuid())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(
        |(read_seq, read_message_count, delivered_seq, own_unread)| SenderCursors {
            read_seq: from_sql_count(read_seq),
            read_message_count: from_sql_count(read_message_count),
            delivered_seq: from_sql_count(delivered_seq),
            own_unread: from_sql_count(own_unread),
        },
    ))
}

/// Stores a member's cursors as [`fetch_sender_cursors`] read them and
/// [`SenderCursors::after_own_entry`] moved them.
pub(crate) async fn store_sender_cursors(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    user: UserId,
    cursors: SenderCursors,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conversation_members \
         SET read_seq = ?3, read_message_count = ?4, delivered_seq = ?5, own_unread = ?6 \
         WHERE conversation_id = ?1 AND user_id = ?2",
    )
    .bind(conversation.as_uuid())
    .bind(user.as_uuid())
    .bind(to_sql_count(cursors.read_seq))
    .bind(to_sql_count(cursors.read_message_count))
    .bind(to_sql_count(cursors.delivered_seq))
    .bind(to_sql_count(cursors.own_unread))
    .execute(conn)
    .await?;
    Ok(())
}

/// The sender's message with this idempotency key, if any.
async fn message_by_client_id(
    executor: impl SqliteExecutor<'_>,
    conversation: ConversationId,
    sender: UserId,
    client_msg_id: &str,
) -> Result<Option<Message>> {
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages \
          WHERE conversation_id = ?1 AND sender_id = ?2 AND client_msg_id = ?3"
    ))
    .bind(conversation.as_uuid())
    .bind(sender.as_uuid())
    .bind(client_msg_id)
    .fetch_optional(executor)
    .await
    .map_err(to_chat_error)?;
    row.map(MessageRow::into_model).transpose()
}

/// True for the unique violation of `messages_client_msg_id`. SQLite names
/// the columns, not the index (`UNIQUE constraint failed:
/// messages.conversation_id, messages.sender_id, messages.client_msg_id`).
fn is_client_msg_id_conflict(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|db| {
        matches!(db.kind(), ErrorKind::UniqueViolation)
            && db.message().contains("messages.client_msg_id")
    })
}

impl SqliteStore {
    /// Stores `messages` (several at once with a fixed number of
    /// statements, `message_batch.rs`, unless they send files), then moves
    /// one cursor per entry of `moves`, all in one transaction under the
    /// write lock taken at BEGIN (one commit, one disk flush), so no other
    /// write lands in between. Every write of this store but single inserts
    /// goes through here.
    async fn write(
        &self,
        messages: &[NewMessage],
        moves: &[DeliveryMove],
        at: Timestamp,
        cursor: Cursor,
    ) -> Result<(Vec<InsertOutcome>, Vec<Option<Membership>>)> {
        let mut tx = self.begin_write().await?;
        let inserted = if messages.len() > 1 && !message_batch::sets_apart(messages) {
            match message_batch::insert_batch(&mut tx, messages).await {
                Ok(inserted) => inserted,
                Err(e) => {
                    tx.rollback().await.map_err(to_chat_error)?;
                    return Err(e);
                }
            }
        } else {
            let mut inserted = Vec::with_capacity(messages.len());
            for new in messages {
                match insert_in(&mut tx, new).await {
                    Ok(outcome) => inserted.push(outcome),
                    Err(e) => {
                        tx.rollback().await.map_err(to_chat_error)?;
                        return Err(conflict_error(e));
                    }
                }
            }
            inserted
        };
        let moved = match advance_many(&mut tx, moves, at, cursor).await {
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
impl MessageStore for SqliteStore {
    /// Stores a message with the conversation's next seq, atomically: the
    /// seq is `last_seq + 1`, `last_seq` and `last_activity_at` move with
    /// it, and concurrent inserts (from any number of instances) get
    /// distinct, gap-free seqs in commit order.
    async fn insert_message(&self, new: NewMessage) -> Result<InsertOutcome> {
        // SQLite has one writer at a time: holding the write lock from
        // BEGIN, the checks in `insert_in` cannot be overtaken before the
        // insert, and the seq taken is the next one in commit order.
        let mut tx = self.begin_write().await?;
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
            " FROM messages WHERE message_id = ?1 AND conversation_id = ?2"
        ))
        .bind(id.as_uuid())
        .bind(conversation.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(MessageRow::into_model).transpose()
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
        let mut query = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE message_id IN "
        ));
        push_id_list(&mut query, ids.iter().map(|id| id.as_uuid()));
        let rows: Vec<MessageRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(to_chat_error)?;
        rows.into_iter().map(MessageRow::into_model).collect()
    }

    /// Up to `limit` messages with `seq <= max_seq`, newest first, after
    /// skipping the `skip` newest of them. Changes are not in `messages`, so
    /// `skip` counts messages.
    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        // A backward walk of the (conversation_id, seq) unique index, past
        // the `skip` newest messages.
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE conversation_id = ?1 AND seq <= ?2 \
              ORDER BY seq DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(conversation.as_uuid())
        .bind(to_sql_count(max_seq))
        .bind(i64::from(limit))
        .bind(to_sql_count(skip))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(MessageRow::into_model).collect()
    }

    /// Up to `limit` messages with `seq > min_seq`, oldest first: a forward
    /// walk of the (conversation_id, seq) unique index. Changes are not in
    /// `messages`; tombstones of deleted messages are, as in
    /// `messages_before`.
    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))
        .bind(conversation.as_uuid())
        .bind(to_sql_count(min_seq))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(MessageRow::into_model).collect()
    }

    /// Full-text search on the FTS5 index of migration 0004, ranked by
    /// bm25 (see `search.rs`).
    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        search::search(&self.pool, query).await
    }

    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>> {
        search::word_counts(&self.pool, words, cap).await
    }

    /// Applies a change in one transaction under the write lock taken at
    /// BEGIN, so its seq is the next one in commit order, as a message's
    /// is (see `changes.rs`).
    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome> {
        let mut tx = self.begin_write().await?;
        match changes::apply_in(&mut tx, &change).await {
            Ok(outcome @ ChangeOutcome::Applied { .. }) => {
                tx.commit().await.map_err(to_chat_error)?;
                Ok(outcome)
            }
            // Refused or nothing to do: nothing was written.
            Ok(outcome) => {
                tx.rollback().await.map_err(to_chat_error)?;
                Ok(outcome)
            }
            Err(e) => {
                tx.rollback().await.map_err(to_chat_error)?;
                Err(e)
            }
        }
    }

    /// The log entries with seqs `from..=to`, oldest first: messages as
    /// they are now, and changes rendered with their message's current
    /// state.
    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        changes::log_between(&self.pool, conversation, from, to).await
    }

    /// The reactions on these messages, in any order.
    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>> {
        changes::reactions(&self.pool, ids).await
    }

    /// Up to `limit` of the user's unread messages across all their
    /// conversations (after their read cursor, sent by others), oldest
    /// first (by `created_at`, then id).
    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // From each conversation, its first `limit` unread messages by seq
        // (any message after those can only rank later in its
        // conversation), then the oldest `limit` of all of them. SQLite
        // has no LATERAL join, so the per-conversation limit is a range:
        // up to the seq of the limit-th unread message (the correlated
        // subquery, which walks at most `limit` index entries), or to the
        // end when there are fewer. Either way the cost follows the unread
        // messages read, not the length of history.
        let rows: Vec<MessageRow> = sqlx::query_as(concat!(
            "SELECT ",
            msg_columns!(),
            " FROM conversation_members m \
             JOIN messages msg ON msg.conversation_id = m.conversation_id \
               AND msg.seq > m.read_seq \
               AND msg.seq <= COALESCE( \
                   (SELECT x.seq FROM messages x \
                    WHERE x.conversation_id = m.conversation_id AND x.seq > m.read_seq \
                      AND x.sender_id <> ?1 \
                    ORDER BY x.seq LIMIT 1 OFFSET ?2 - 1), \
                   9223372036854775807) \
             WHERE m.user_id = ?1 AND msg.sender_id <> ?1 \
             ORDER BY msg.created_at, msg.message_id \
             LIMIT ?2"
        ))
        .bind(user.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(MessageRow::into_model).collect()
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
            .write(&[], &[m], at, Cursor::Read)
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
            .write(&[], &[m], at, Cursor::Delivered)
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
        self.write(&messages, &moves, at, Cursor::Delivered).await
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
    /// A statement failed (a unique violation included).
    Sql(sqlx::Error),
    /// A lookup through the store's own helpers failed.
    Store(chat_core::ChatError),
}

impl From<sqlx::Error> for Conflict {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl SqliteStore {
    /// The outcome of a single insert that failed: a unique violation on
    /// the idempotency key means a retry committed first (impossible under
    /// the write lock; the index, not the lock, is what this rests on), so
    /// the original is returned.
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

fn conflict_error(e: Conflict) -> chat_core::ChatError {
    match e {
        Conflict::Sql(e) => to_chat_error(e),
        Conflict::Store(e) => e,
    }
}

/// One message inside the caller's write transaction: membership and
/// idempotency are checked before anything is written, so a message that
/// is not stored leaves the transaction untouched and the next message of
/// a batch goes on.
async fn insert_in(
    conn: &mut SqliteConnection,
    new: &NewMessage,
) -> std::result::Result<InsertOutcome, Conflict> {
    let conversation = new.conversation_id;
    let client_msg_id = new.client_msg_id.as_ref().map(|c| c.as_str().to_owned());
    // The sender's row: they must be a member, and their cursors move
    // with the message.
    let Some(mut cursors) = fetch_sender_cursors(&mut *conn, conversation, new.sender_id).await?
    else {
        return Ok(InsertOutcome::NotMember);
    };
    // Checked before taking a seq, so a retry consumes none.
    if let Some(key) = &client_msg_id
        && let Some(original) = message_by_client_id(&mut *conn, conversation, new.sender_id, key)
            .await
            .map_err(Conflict::Store)?
    {
        return Ok(InsertOutcome::Existing(original));
    }
    // So is every attachment: the sender's, and not sent yet.
    if !attachments_sendable(&mut *conn, new.sender_id, &new.attachments).await? {
        return Ok(InsertOutcome::AttachmentNotFound);
    }
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, message_count = message_count + 1, \
             last_activity_at = max(last_activity_at, ?2) \
         WHERE conversation_id = ?1 \
         RETURNING last_seq",
    )
    .bind(conversation.as_uuid())
    .bind(new.created_at.as_millis())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = seq else {
        return Ok(InsertOutcome::NotMember);
    };
    let inserted: std::result::Result<MessageRow, sqlx::Error> = sqlx::query_as(concat!(
        "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
             message_type, client_msg_id, created_at, reply_to, mentions, attachments) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         RETURNING ",
        message_columns!()
    ))
    .bind(new.id.as_uuid())
    .bind(conversation.as_uuid())
    .bind(seq)
    .bind(new.sender_id.as_uuid())
    .bind(new.content.as_str())
    .bind(new.message_type.as_str())
    .bind(client_msg_id.as_deref())
    .bind(new.created_at.as_millis())
    .bind(new.reply_to.map(|id| id.as_uuid()))
    .bind(mentions_to_sql(&new.mentions))
    .bind(attachments_to_json(&new.attachments))
    .fetch_one(&mut *conn)
    .await;
    let message = inserted?.into_model().map_err(Conflict::Store)?;
    insert_mentions(&mut *conn, message.id, conversation, seq, &new.mentions).await?;
    link_attachments(&mut *conn, conversation, message.id, &new.attachments).await?;
    cursors.after_own_entry(message.seq, EntryKind::Message);
    store_sender_cursors(&mut *conn, conversation, new.sender_id, cursors).await?;
    Ok(InsertOutcome::Created(message))
}

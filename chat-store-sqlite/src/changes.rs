//! The changes of the conversation log (edits, deletions, reactions):
//! applying one, and reading the log back. The `MessageStore` methods in
//! `messages.rs` open the transactions and call these.

use chat_core::model::{
    ChangeAction, ChangeKind, ChangeOutcome, EntryKind, LogEntry, Message, MessageChange,
    NewChange, Reaction,
};
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use uuid::Uuid;

use crate::messages::{
    MessageRow, fetch_sender_cursors, insert_mentions, mentions_to_sql, message_columns,
    msg_columns, store_sender_cursors,
};
use crate::{from_sql_count, push_id_list, to_chat_error, to_sql_count};

/// A row of `message_changes` with its message (`msg`, as it is now) and
/// the current count of its emoji, as [`log_between`] reads it.
#[derive(sqlx::FromRow)]
struct ChangeRow {
    change_seq: i64,
    change_kind: String,
    actor_id: Uuid,
    emoji: Option<String>,
    change_at: i64,
    reaction_count: i64,
    #[sqlx(flatten)]
    message: MessageRow,
}

impl ChangeRow {
    fn into_model(self) -> Result<MessageChange> {
        let kind = parse_change_kind(&self.change_kind)?;
        let message = self.message.into_model()?;
        let count = from_sql_count(self.reaction_count);
        Ok(MessageChange::render(
            from_sql_count(self.change_seq),
            kind,
            UserId::from_uuid(self.actor_id),
            Timestamp::from_millis(self.change_at),
            &message,
            self.emoji.map(|emoji| (emoji, count)),
        ))
    }
}

#[derive(sqlx::FromRow)]
struct ReactionRow {
    message_id: Uuid,
    user_id: Uuid,
    emoji: String,
    created_at: i64,
}

impl From<ReactionRow> for Reaction {
    fn from(row: ReactionRow) -> Self {
        Reaction {
            message_id: MessageId::from_uuid(row.message_id),
            user_id: UserId::from_uuid(row.user_id),
            emoji: row.emoji,
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}

/// A stored change kind; an unknown one is a corrupt row, or one written
/// by a newer build.
fn parse_change_kind(kind: &str) -> Result<ChangeKind> {
    kind.parse().map_err(ChatError::internal)
}

/// Applies `change` inside the caller's write transaction. Every check
/// comes before the first write, and an [`Unchanged`](ChangeOutcome::Unchanged)
/// reaction writes nothing either, so the caller commits only
/// [`Applied`](ChangeOutcome::Applied) outcomes.
pub(crate) async fn apply_in(
    conn: &mut SqliteConnection,
    change: &NewChange,
) -> Result<ChangeOutcome> {
    let conversation = change.conversation_id;
    let actor = change.actor_id;
    let at = change.at.as_millis();
    // A member's row: they must be one (the row's foreign key implies the
    // conversation), and their cursors move with the change. An operator
    // need not be a member, and no cursor of theirs moves, member or not;
    // the conversation must exist all the same.
    let cursors = if change.by_operator {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM conversations WHERE conversation_id = ?1")
                .bind(conversation.as_uuid())
                .fetch_optional(&mut *conn)
                .await
                .map_err(to_chat_error)?;
        if exists.is_none() {
            return Ok(ChangeOutcome::NotMember);
        }
        None
    } else {
        let Some(cursors) = fetch_sender_cursors(&mut *conn, conversation, actor)
            .await
            .map_err(to_chat_error)?
        else {
            return Ok(ChangeOutcome::NotMember);
        };
        Some(cursors)
    };
    let row: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE message_id = ?1 AND conversation_id = ?2"
    ))
    .bind(change.message_id.as_uuid())
    .bind(conversation.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let Some(row) = row else {
        return Ok(ChangeOutcome::MessageNotFound);
    };
    let message = row.into_model()?;
    if message.is_deleted() {
        return Ok(ChangeOutcome::MessageDeleted);
    }
    let (message, reaction) = match &change.action {
        ChangeAction::Edit { content, mentions } => {
            let edited = update_message(
                &mut *conn,
                concat!(
                    "UPDATE messages SET content = ?2, mentions = ?3, edited_at = ?4 \
                     WHERE message_id = ?1 RETURNING ",
                    message_columns!()
                ),
                &message,
                content.as_str(),
                mentions_to_sql(mentions),
                at,
            )
            .await?;
            delete_rows(&mut *conn, DELETE_MENTIONS, message.id).await?;
            let seq = to_sql_count(message.seq);
            insert_mentions(&mut *conn, message.id, conversation, seq, mentions)
                .await
                .map_err(to_chat_error)?;
            (edited, None)
        }
        ChangeAction::Delete => {
            let deleted = update_message(
                &mut *conn,
                concat!(
                    "UPDATE messages SET content = ?2, mentions = ?3, attachments = NULL, \
                         deleted_at = ?4 \
                     WHERE message_id = ?1 RETURNING ",
                    message_columns!()
                ),
                &message,
                "",
                None,
                at,
            )
            .await?;
            delete_rows(&mut *conn, DELETE_MENTIONS, message.id).await?;
            delete_rows(&mut *conn, DELETE_REACTIONS, message.id).await?;
            // Its files go with it; the trigger of migration 0007 queues
            // their blobs for the sweep.
            delete_rows(&mut *conn, DELETE_ATTACHMENTS, message.id).await?;
            (deleted, None)
        }
        ChangeAction::AddReaction(emoji) | ChangeAction::RemoveReaction(emoji) => {
            let emoji = emoji.as_str();
            let query = if matches!(change.action, ChangeAction::AddReaction(_)) {
                sqlx::query(
                    "INSERT INTO message_reactions \
                         (message_id, user_id, emoji, conversation_id, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (message_id, user_id, emoji) DO NOTHING",
                )
                .bind(message.id.as_uuid())
                .bind(actor.as_uuid())
                .bind(emoji)
                .bind(conversation.as_uuid())
                .bind(at)
            } else {
                sqlx::query(
                    "DELETE FROM message_reactions \
                     WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3",
                )
                .bind(message.id.as_uuid())
                .bind(actor.as_uuid())
                .bind(emoji)
            };
            let changed = query
                .execute(&mut *conn)
                .await
                .map_err(to_chat_error)?
                .rows_affected();
            if changed == 0 {
                // Already there, or not there to remove: no seq taken.
                return Ok(ChangeOutcome::Unchanged(message));
            }
            let count = emoji_count(&mut *conn, message.id, emoji).await?;
            (message, Some((emoji.to_owned(), count)))
        }
    };
    // The next seq of the log; `message_count` and `last_activity_at` stay
    // (a change is no new message).
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1 \
         WHERE conversation_id = ?1 RETURNING last_seq",
    )
    .bind(conversation.as_uuid())
    .fetch_one(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let kind = change.action.kind();
    sqlx::query(
        "INSERT INTO message_changes \
             (conversation_id, seq, message_id, kind, actor_id, emoji, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(conversation.as_uuid())
    .bind(seq)
    .bind(message.id.as_uuid())
    .bind(kind.as_str())
    .bind(actor.as_uuid())
    .bind(reaction.as_ref().map(|(emoji, _)| emoji.as_str()))
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let seq = from_sql_count(seq);
    if let Some(before) = cursors {
        let mut after = before;
        after.after_own_entry(seq, EntryKind::Change);
        // Only a caught-up actor's cursors move.
        if after != before {
            store_sender_cursors(&mut *conn, conversation, actor, after)
                .await
                .map_err(to_chat_error)?;
        }
    }
    let change = MessageChange::render(seq, kind, actor, change.at, &message, reaction);
    Ok(ChangeOutcome::Applied { change, message })
}

/// Runs an `UPDATE messages ... RETURNING` of an edit or a deletion, whose
/// parameters are the message id, the content, the mentions and the time.
async fn update_message(
    conn: &mut SqliteConnection,
    statement: &'static str,
    message: &Message,
    content: &str,
    mentions: Option<Vec<u8>>,
    at: i64,
) -> Result<Message> {
    let row: MessageRow = sqlx::query_as(statement)
        .bind(message.id.as_uuid())
        .bind(content)
        .bind(mentions)
        .bind(at)
        .fetch_one(conn)
        .await
        .map_err(to_chat_error)?;
    row.into_model()
}

/// Drops a message's mentions (an edit inserts the new ones after it).
const DELETE_MENTIONS: &str = "DELETE FROM message_mentions WHERE message_id = ?1";

/// Drops a message's reactions.
const DELETE_REACTIONS: &str = "DELETE FROM message_reactions WHERE message_id = ?1";

/// Drops the records of a message's attachments.
const DELETE_ATTACHMENTS: &str = "DELETE FROM attachments WHERE message_id = ?1";

/// Runs [`DELETE_MENTIONS`], [`DELETE_REACTIONS`] or [`DELETE_ATTACHMENTS`]
/// for `message`.
async fn delete_rows(
    conn: &mut SqliteConnection,
    statement: &'static str,
    message: MessageId,
) -> Result<()> {
    sqlx::query(statement)
        .bind(message.as_uuid())
        .execute(conn)
        .await
        .map_err(to_chat_error)?;
    Ok(())
}

/// How many members reacted to the message with `emoji` (a walk of the
/// message's primary-key entries).
async fn emoji_count(conn: &mut SqliteConnection, message: MessageId, emoji: &str) -> Result<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM message_reactions WHERE message_id = ?1 AND emoji = ?2",
    )
    .bind(message.as_uuid())
    .bind(emoji)
    .fetch_one(conn)
    .await
    .map_err(to_chat_error)?;
    Ok(from_sql_count(count))
}

/// The log entries of a conversation with seqs `from..=to`, oldest first.
pub(crate) async fn log_between(
    pool: &SqlitePool,
    conversation: ConversationId,
    from: u64,
    to: u64,
) -> Result<Vec<LogEntry>> {
    if from > to {
        return Ok(Vec::new());
    }
    let (from, to) = (to_sql_count(from), to_sql_count(to));
    // Both reads in one transaction, so they see one state of the log:
    // read separately, a message committed between them could be missed
    // while a later change is returned, leaving a hole in the range.
    let mut tx = pool.begin().await.map_err(to_chat_error)?;
    let messages: Vec<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE conversation_id = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY seq"
    ))
    .bind(conversation.as_uuid())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await
    .map_err(to_chat_error)?;
    // Each change with its message as it is now (a primary-key lookup)
    // and the current count of its emoji.
    let changes: Vec<ChangeRow> = sqlx::query_as(concat!(
        "SELECT ch.seq AS change_seq, ch.kind AS change_kind, ch.actor_id, ch.emoji, \
                ch.created_at AS change_at, \
                (SELECT COUNT(*) FROM message_reactions r \
                 WHERE r.message_id = ch.message_id AND r.emoji = ch.emoji) AS reaction_count, ",
        msg_columns!(),
        " FROM message_changes ch JOIN messages msg ON msg.message_id = ch.message_id \
          WHERE ch.conversation_id = ?1 AND ch.seq >= ?2 AND ch.seq <= ?3 \
          ORDER BY ch.seq"
    ))
    .bind(conversation.as_uuid())
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await
    .map_err(to_chat_error)?;
    tx.commit().await.map_err(to_chat_error)?;
    let mut entries = Vec::with_capacity(messages.len() + changes.len());
    for row in messages {
        entries.push(LogEntry::Message(row.into_model()?));
    }
    for row in changes {
        entries.push(LogEntry::Change(row.into_model()?));
    }
    entries.sort_by_key(LogEntry::seq);
    Ok(entries)
}

/// The reactions on these messages, in any order.
pub(crate) async fn reactions(pool: &SqlitePool, ids: &[MessageId]) -> Result<Vec<Reaction>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT message_id, user_id, emoji, created_at FROM message_reactions \
         WHERE message_id IN ",
    );
    push_id_list(&mut query, ids.iter().map(|id| id.as_uuid()));
    let rows: Vec<ReactionRow> = query
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(to_chat_error)?;
    Ok(rows.into_iter().map(Reaction::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_change_kinds_are_internal_errors() {
        assert_eq!(
            parse_change_kind("pinned").map_err(|e| e.code()),
            Err("INTERNAL")
        );
        assert_eq!(
            parse_change_kind("reaction_removed").ok(),
            Some(ChangeKind::ReactionRemoved)
        );
    }
}

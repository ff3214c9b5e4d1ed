//! Changes to messages (edits, deletions, reactions), the log they share
//! with messages, and reactions.
//!
//! A change takes its conversation's next seq, like a message, in the
//! transaction that applies it and under the same lock (the conversation
//! row, see [`lock_author`]), so messages and changes from any number of
//! instances get one gap-free sequence in commit order. Its row in
//! `message_changes` copies no content: the log renders it with its
//! message's state when it is read ([`MessageChange::render`]).

use chat_core::model::{
    ChangeAction, ChangeKind, ChangeOutcome, EntryKind, LogEntry, Message, MessageChange,
    NewChange, Reaction, SenderCursors,
};
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::conversations::lock_conversation;
use crate::messages::{LockedAuthor, MessageRow, lock_author, user_uuids};
use crate::{from_sql_count, to_chat_error, to_sql_count};

/// Applies `change` in one transaction (see
/// [`MessageStore::apply_change`](chat_core::store::MessageStore::apply_change)).
/// Only an applied change is committed; every other outcome wrote nothing.
pub(crate) async fn apply_change(pool: &PgPool, change: NewChange) -> Result<ChangeOutcome> {
    let mut tx = pool.begin().await.map_err(to_chat_error)?;
    match apply_in(&mut tx, change).await {
        Ok(outcome @ ChangeOutcome::Applied { .. }) => {
            tx.commit().await.map_err(to_chat_error)?;
            Ok(outcome)
        }
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

/// The change inside the caller's transaction: lock, check, apply, then
/// take the seq, record the entry and move the actor's cursors (a
/// member's; an operator's change moves none).
async fn apply_in(conn: &mut PgConnection, change: NewChange) -> Result<ChangeOutcome> {
    let conversation = change.conversation_id;
    let actor = change.actor_id;
    let at = change.at;
    // The actor's cursors, `None` for an operator: they act from outside
    // the conversation, so only its row is locked (the lock every writer
    // of the log takes first), and no member row of theirs is read or
    // moved, even when they happen to be a member.
    let (last_seq, mut cursors) = if change.by_operator {
        match lock_conversation(&mut *conn, conversation).await? {
            Some(end) => (end.last_seq, None),
            None => return Ok(ChangeOutcome::NotMember),
        }
    } else {
        match lock_author(&mut *conn, conversation, actor)
            .await
            .map_err(to_chat_error)?
        {
            Some(LockedAuthor { last_seq, cursors }) => (last_seq, Some(cursors)),
            None => return Ok(ChangeOutcome::NotMember),
        }
    };
    // Every write to a message happens under its conversation's lock, held
    // now: the row cannot change before commit.
    let found: Option<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE message_id = $1 AND conversation_id = $2"
    ))
    .bind(change.message_id.as_uuid())
    .bind(conversation.as_uuid())
    .fetch_optional(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let Some(message) = found.map(Message::from) else {
        return Ok(ChangeOutcome::MessageNotFound);
    };
    if message.is_deleted() {
        return Ok(ChangeOutcome::MessageDeleted);
    }
    let kind = change.action.kind();
    let (message, emoji) = match change.action {
        ChangeAction::Edit { content, mentions } => (
            edit(conn, &message, content.as_str(), &mentions, at).await?,
            None,
        ),
        ChangeAction::Delete => (delete(conn, &message, at).await?, None),
        ChangeAction::AddReaction(emoji) => {
            if !add_reaction(conn, &message, actor, emoji.as_str(), at).await? {
                return Ok(ChangeOutcome::Unchanged(message));
            }
            (message, Some(emoji.as_str()))
        }
        ChangeAction::RemoveReaction(emoji) => {
            if !remove_reaction(conn, &message, actor, emoji.as_str()).await? {
                return Ok(ChangeOutcome::Unchanged(message));
            }
            (message, Some(emoji.as_str()))
        }
    };
    let seq = last_seq + 1;
    if let Some(cursors) = cursors.as_mut() {
        cursors.after_own_entry(from_sql_count(seq), EntryKind::Change);
    }
    let cursor =
        |value: fn(&SenderCursors) -> u64| cursors.as_ref().map(|c| to_sql_count(value(c)));
    // One round trip: the seq (a change is not a message: `message_count`
    // and `last_activity_at` stay), the actor's cursors (`$12`, the member
    // whose cursors move, is NULL for an operator: the update matches no
    // row), the entry, and the emoji's count after the change (the
    // reaction statement before this one is visible to it).
    let count: i64 = sqlx::query_scalar(
        "WITH conv AS ( \
             UPDATE conversations SET last_seq = $2 WHERE conversation_id = $1), \
         actor AS ( \
             UPDATE conversation_members SET read_seq = $8, read_message_count = $9, \
                 delivered_seq = $10, own_unread = $11 \
             WHERE conversation_id = $1 AND user_id = $12) \
         INSERT INTO message_changes \
             (conversation_id, seq, message_id, kind, actor_id, emoji, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING (SELECT COUNT(*) FROM message_reactions \
                    WHERE message_id = $3 AND emoji = $6)",
    )
    .bind(conversation.as_uuid())
    .bind(seq)
    .bind(message.id.as_uuid())
    .bind(kind.as_str())
    .bind(actor.as_uuid())
    .bind(emoji)
    .bind(at.as_datetime())
    .bind(cursor(|c| c.read_seq))
    .bind(cursor(|c| c.read_message_count))
    .bind(cursor(|c| c.delivered_seq))
    .bind(cursor(|c| c.own_unread))
    .bind(cursors.is_some().then_some(actor.as_uuid()))
    .fetch_one(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let reaction = emoji.map(|e| (e.to_owned(), from_sql_count(count)));
    let change = MessageChange::render(from_sql_count(seq), kind, actor, at, &message, reaction);
    Ok(ChangeOutcome::Applied { change, message })
}

/// Replaces the content, the mentions (column and rows) and `edited_at`;
/// returns the message as it is now.
async fn edit(
    conn: &mut PgConnection,
    message: &Message,
    content: &str,
    mentions: &[UserId],
    at: Timestamp,
) -> Result<Message> {
    // The mention rows of members no longer mentioned go, those of newly
    // mentioned ones come; the two sets are disjoint, so the statement's
    // parts cannot trip over each other's rows.
    let row: MessageRow = sqlx::query_as(concat!(
        "WITH gone AS ( \
             DELETE FROM message_mentions WHERE message_id = $1 AND user_id <> ALL($3)), \
         added AS ( \
             INSERT INTO message_mentions (message_id, user_id, conversation_id, seq) \
             SELECT DISTINCT $1, u.user_id, $5, $6 FROM UNNEST($3::uuid[]) AS u(user_id) \
             ON CONFLICT DO NOTHING) \
         UPDATE messages SET content = $2, mentions = $3, edited_at = $4 \
         WHERE message_id = $1 \
         RETURNING ",
        message_columns!()
    ))
    .bind(message.id.as_uuid())
    .bind(content)
    .bind(user_uuids(mentions))
    .bind(at.as_datetime())
    .bind(message.conversation_id.as_uuid())
    .bind(to_sql_count(message.seq))
    .fetch_one(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(Message::from(row))
}

/// Leaves a tombstone: the content, mentions and attachments emptied,
/// `deleted_at` set, the mention rows, reactions and attachments' rows
/// dropped (the trigger of migration 0007 queues their blobs for the
/// sweep). Returns the tombstone.
async fn delete(conn: &mut PgConnection, message: &Message, at: Timestamp) -> Result<Message> {
    let row: MessageRow = sqlx::query_as(concat!(
        "WITH mentions_gone AS ( \
             DELETE FROM message_mentions WHERE message_id = $1), \
         reactions_gone AS ( \
             DELETE FROM message_reactions WHERE message_id = $1), \
         attachments_gone AS ( \
             DELETE FROM attachments WHERE message_id = $1) \
         UPDATE messages SET content = '', mentions = '{}', attachments = NULL, \
             deleted_at = $2 \
         WHERE message_id = $1 \
         RETURNING ",
        message_columns!()
    ))
    .bind(message.id.as_uuid())
    .bind(at.as_datetime())
    .fetch_one(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(Message::from(row))
}

/// Adds `user`'s reaction with `emoji`; false when it was there already.
async fn add_reaction(
    conn: &mut PgConnection,
    message: &Message,
    user: UserId,
    emoji: &str,
    at: Timestamp,
) -> Result<bool> {
    let added = sqlx::query(
        "INSERT INTO message_reactions (message_id, user_id, emoji, conversation_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(message.id.as_uuid())
    .bind(user.as_uuid())
    .bind(emoji)
    .bind(message.conversation_id.as_uuid())
    .bind(at.as_datetime())
    .execute(&mut *conn)
    .await
    .map_err(to_chat_error)?
    .rows_affected();
    Ok(added == 1)
}

/// Removes `user`'s reaction with `emoji`; false when there was none.
async fn remove_reaction(
    conn: &mut PgConnection,
    message: &Message,
    user: UserId,
    emoji: &str,
) -> Result<bool> {
    let removed = sqlx::query(
        "DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
    )
    .bind(message.id.as_uuid())
    .bind(user.as_uuid())
    .bind(emoji)
    .execute(&mut *conn)
    .await
    .map_err(to_chat_error)?
    .rows_affected();
    Ok(removed == 1)
}

/// A row of [`log_between`]'s query: a message (the `change_*` columns
/// NULL), or a change with its message as it is now.
#[derive(sqlx::FromRow)]
struct LogRow {
    /// The entry's seq: the message's, or the change's.
    entry_seq: i64,
    change_kind: Option<String>,
    change_actor: Option<Uuid>,
    change_emoji: Option<String>,
    change_at: Option<DateTime<Utc>>,
    /// For a change with an emoji: how many have it on the message now.
    reaction_count: Option<i64>,
    #[sqlx(flatten)]
    message: MessageRow,
}

impl LogRow {
    fn into_entry(self) -> Result<LogEntry> {
        let message = Message::from(self.message);
        let Some(kind) = self.change_kind else {
            return Ok(LogEntry::Message(message));
        };
        let kind = parse_change_kind(&kind)?;
        let (Some(actor), Some(at)) = (self.change_actor, self.change_at) else {
            return Err(ChatError::internal(
                "a change of the log has no actor or time",
            ));
        };
        let reaction = self
            .change_emoji
            .map(|emoji| (emoji, from_sql_count(self.reaction_count.unwrap_or(0))));
        Ok(LogEntry::Change(MessageChange::render(
            from_sql_count(self.entry_seq),
            kind,
            UserId::from_uuid(actor),
            Timestamp::from_datetime(at),
            &message,
            reaction,
        )))
    }
}

/// A stored change kind; an unknown one is a corrupt or newer row.
fn parse_change_kind(kind: &str) -> Result<ChangeKind> {
    kind.parse().map_err(ChatError::internal)
}

/// The log entries with seqs `from..=to`, oldest first (see
/// [`MessageStore::log_between`](chat_core::store::MessageStore::log_between)).
pub(crate) async fn log_between(
    pool: &PgPool,
    conversation: ConversationId,
    from: u64,
    to: u64,
) -> Result<Vec<LogEntry>> {
    // One statement, so one snapshot: the entries of the range as of one
    // moment, messages and changes alike. Both halves are ranges of a
    // (conversation_id, seq) unique index; a change finds its message by
    // primary key, and the count of its emoji within the message's
    // reactions.
    let rows: Vec<LogRow> = sqlx::query_as(concat!(
        "SELECT m.seq AS entry_seq, NULL::text AS change_kind, NULL::uuid AS change_actor, \
             NULL::text AS change_emoji, NULL::timestamptz AS change_at, \
             NULL::bigint AS reaction_count, ",
        message_columns!("m."),
        " FROM messages m \
          WHERE m.conversation_id = $1 AND m.seq >= $2 AND m.seq <= $3 \
          UNION ALL \
          SELECT ch.seq, ch.kind, ch.actor_id, ch.emoji, ch.created_at, \
             (SELECT COUNT(*) FROM message_reactions r \
              WHERE r.message_id = ch.message_id AND r.emoji = ch.emoji), ",
        message_columns!("m."),
        " FROM message_changes ch JOIN messages m ON m.message_id = ch.message_id \
          WHERE ch.conversation_id = $1 AND ch.seq >= $2 AND ch.seq <= $3 \
          ORDER BY entry_seq"
    ))
    .bind(conversation.as_uuid())
    .bind(to_sql_count(from))
    .bind(to_sql_count(to))
    .fetch_all(pool)
    .await
    .map_err(to_chat_error)?;
    rows.into_iter().map(LogRow::into_entry).collect()
}

/// The reactions on the messages `ids` (a range of the primary key each),
/// in any order.
pub(crate) async fn reactions(pool: &PgPool, ids: &[MessageId]) -> Result<Vec<Reaction>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let uuids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    let rows: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT message_id, user_id, emoji, created_at FROM message_reactions \
         WHERE message_id = ANY($1)",
    )
    .bind(uuids)
    .fetch_all(pool)
    .await
    .map_err(to_chat_error)?;
    Ok(rows
        .into_iter()
        .map(|(message_id, user_id, emoji, created_at)| Reaction {
            message_id: MessageId::from_uuid(message_id),
            user_id: UserId::from_uuid(user_id),
            emoji,
            created_at: Timestamp::from_datetime(created_at),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_change_kinds_are_internal_errors() {
        assert_eq!(
            parse_change_kind("renamed").map_err(|e| e.code()),
            Err("INTERNAL")
        );
        assert_eq!(
            parse_change_kind("reaction_added").ok(),
            Some(ChangeKind::ReactionAdded)
        );
    }
}

//! Moving many cursors in one transaction with a fixed number of
//! statements: lock every member row at once (in one order, so concurrent
//! writers cannot deadlock), read their conversations, plan each move with
//! the model's own rules (`CursorBatch`), and write the moved rows
//! with one `UPDATE` over arrays. Three statements per batch, where one
//! move at a time cost three each.

use std::collections::HashMap;

use chat_core::model::{
    Cursor, CursorBatch, DeliveryMove, Member, Membership, NewlyRead, ReadRange,
};
use chat_core::{ConversationId, Result, Timestamp};
use chrono::{DateTime, Utc};
use sqlx::{FromRow as _, PgConnection, Row as _};
use uuid::Uuid;

use crate::conversations::{ConversationRow, MemberRow};
use crate::{from_sql_count, to_chat_error, to_sql_count};

/// Applies `moves` of `cursor` in order; returns, per move, the
/// membership after it (`None` for someone who is not a member).
pub(crate) async fn advance_many(
    conn: &mut PgConnection,
    moves: &[DeliveryMove],
    at: Timestamp,
    cursor: Cursor,
) -> Result<Vec<Option<Membership>>> {
    if moves.is_empty() {
        return Ok(Vec::new());
    }
    let keys = CursorBatch::keys(moves);
    let (conversations, users): (Vec<Uuid>, Vec<Uuid>) =
        keys.iter().map(|(c, u)| (c.as_uuid(), u.as_uuid())).unzip();

    // The member rows, locked in key order. `last_seq` is read after the
    // locks are granted, by a new statement, as `advance_in` explains.
    let rows = sqlx::query(concat!(
        "SELECT m.conversation_id, ",
        member_columns!(),
        " FROM conversation_members m \
          JOIN UNNEST($1::uuid[], $2::uuid[]) AS k(conversation_id, user_id) \
            ON m.conversation_id = k.conversation_id AND m.user_id = k.user_id \
          ORDER BY m.conversation_id, m.user_id \
          FOR NO KEY UPDATE OF m"
    ))
    .bind(&conversations)
    .bind(&users)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let mut batch = CursorBatch::default();
    for row in &rows {
        let conversation: Uuid = row.try_get("conversation_id").map_err(to_chat_error)?;
        let member = MemberRow::from_row(row)
            .map_err(to_chat_error)?
            .into_model()?;
        batch.add_member(ConversationId::from_uuid(conversation), member);
    }
    let wanted: Vec<Uuid> = batch
        .member_conversations()
        .iter()
        .map(ConversationId::as_uuid)
        .collect();
    let convs: Vec<ConversationRow> = sqlx::query_as(concat!(
        "SELECT ",
        conversation_columns!(),
        " FROM conversations c WHERE c.conversation_id = ANY($1)"
    ))
    .bind(&wanted)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    for row in convs {
        batch.add_conversation(row.into_model()?);
    }

    let mut counts = HashMap::new();
    for range in batch.ranges_read(moves, cursor) {
        counts.insert(range, newly_read(conn, range).await?);
    }
    let after = batch.apply(moves, cursor, at, &counts);
    write_moved(conn, &batch.moved()).await?;
    Ok(after)
}

/// The messages with seqs in `from+1..=to` (read now, they join
/// `read_message_count`; the changes between them do not), and the
/// member's own among them (which leave `own_unread`): two index-only
/// ranges, of the (conversation_id, seq) unique index and of
/// messages_sender.
async fn newly_read(conn: &mut PgConnection, range: ReadRange) -> Result<NewlyRead> {
    let (messages, own): (i64, i64) = sqlx::query_as(
        "SELECT \
             (SELECT COUNT(*) FROM messages \
              WHERE conversation_id = $2 AND seq > $3 AND seq <= $4), \
             (SELECT COUNT(*) FROM messages \
              WHERE sender_id = $1 AND conversation_id = $2 AND seq > $3 AND seq <= $4)",
    )
    .bind(range.user.as_uuid())
    .bind(range.conversation.as_uuid())
    .bind(to_sql_count(range.from))
    .bind(to_sql_count(range.to))
    .fetch_one(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(NewlyRead {
        messages: from_sql_count(messages),
        own: from_sql_count(own),
    })
}

/// One `UPDATE` for every member row a move changed.
async fn write_moved(conn: &mut PgConnection, moved: &[(ConversationId, &Member)]) -> Result<()> {
    if moved.is_empty() {
        return Ok(());
    }
    let conversations: Vec<Uuid> = moved.iter().map(|(c, _)| c.as_uuid()).collect();
    let users: Vec<Uuid> = moved.iter().map(|(_, m)| m.user_id.as_uuid()).collect();
    let read_seq: Vec<i64> = moved
        .iter()
        .map(|(_, m)| to_sql_count(m.read_seq))
        .collect();
    let read_message_count: Vec<i64> = moved
        .iter()
        .map(|(_, m)| to_sql_count(m.read_message_count))
        .collect();
    let read_at: Vec<Option<DateTime<Utc>>> = moved
        .iter()
        .map(|(_, m)| m.read_at.map(|t| t.as_datetime()))
        .collect();
    let own_unread: Vec<i64> = moved
        .iter()
        .map(|(_, m)| to_sql_count(m.own_unread))
        .collect();
    let delivered_seq: Vec<i64> = moved
        .iter()
        .map(|(_, m)| to_sql_count(m.delivered_seq))
        .collect();
    let delivered_at: Vec<Option<DateTime<Utc>>> = moved
        .iter()
        .map(|(_, m)| m.delivered_at.map(|t| t.as_datetime()))
        .collect();
    sqlx::query(
        "UPDATE conversation_members m SET read_seq = v.read_seq, \
             read_message_count = v.read_message_count, read_at = v.read_at, \
             own_unread = v.own_unread, delivered_seq = v.delivered_seq, \
             delivered_at = v.delivered_at \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::timestamptz[], \
                     $6::bigint[], $7::bigint[], $8::timestamptz[]) \
              AS v(conversation_id, user_id, read_seq, read_message_count, read_at, \
                   own_unread, delivered_seq, delivered_at) \
         WHERE m.conversation_id = v.conversation_id AND m.user_id = v.user_id",
    )
    .bind(&conversations)
    .bind(&users)
    .bind(&read_seq)
    .bind(&read_message_count)
    .bind(&read_at)
    .bind(&own_unread)
    .bind(&delivered_seq)
    .bind(&delivered_at)
    .execute(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(())
}

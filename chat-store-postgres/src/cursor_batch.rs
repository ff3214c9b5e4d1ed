//! Moving many cursors in one transaction with a fixed number of
//! statements: lock every member row at once (in one order, so concurrent
//! writers cannot deadlock), read their conversations, plan each move with
//! the model's own rules (`Member::plan_advance`), and write the moved rows
//! with one `UPDATE` over arrays. Three statements per batch, where one
//! move at a time cost three each.

use std::collections::HashMap;

use chat_core::model::{Conversation, Cursor, DeliveryMove, Member, Membership, NewlyRead};
use chat_core::{ConversationId, Result, Timestamp, UserId};
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
    let mut keys: Vec<(Uuid, Uuid)> = moves
        .iter()
        .map(|m| (m.conversation.as_uuid(), m.user.as_uuid()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let (conversations, users): (Vec<Uuid>, Vec<Uuid>) = keys.iter().copied().unzip();

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
    let mut members: HashMap<(Uuid, Uuid), (Member, bool)> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let conversation: Uuid = row.try_get("conversation_id").map_err(to_chat_error)?;
        let member = MemberRow::from_row(row)
            .map_err(to_chat_error)?
            .into_model()?;
        members.insert((conversation, member.user_id.as_uuid()), (member, false));
    }
    let mut wanted: Vec<Uuid> = members.keys().map(|(c, _)| *c).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let convs: Vec<ConversationRow> = sqlx::query_as(concat!(
        "SELECT ",
        conversation_columns!(),
        " FROM conversations c WHERE c.conversation_id = ANY($1)"
    ))
    .bind(&wanted)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let mut by_id: HashMap<Uuid, Conversation> = HashMap::with_capacity(convs.len());
    for row in convs {
        let c = row.into_model()?;
        by_id.insert(c.id.as_uuid(), c);
    }

    let mut after = Vec::with_capacity(moves.len());
    for m in moves {
        let key = (m.conversation.as_uuid(), m.user.as_uuid());
        let (Some((member, dirty)), Some(conv)) = (members.get_mut(&key), by_id.get(&key.0)) else {
            after.push(None);
            continue;
        };
        if let Some(plan) = member.plan_advance(cursor, m.seq, conv.last_seq) {
            let newly_read = match plan.newly_read {
                Some((from, to)) => newly_read(conn, m.conversation, m.user, from, to).await?,
                None => NewlyRead::default(),
            };
            member.apply_advance(plan, newly_read, at);
            *dirty = true;
        }
        after.push(Some(Membership {
            conversation: conv.clone(),
            member: member.clone(),
        }));
    }
    write_moved(conn, &members).await?;
    Ok(after)
}

/// The messages with seqs in `from+1..=to` (read now, they join
/// `read_message_count`; the changes between them do not), and the
/// member's own among them (which leave `own_unread`): two index-only
/// ranges, of the (conversation_id, seq) unique index and of
/// messages_sender.
async fn newly_read(
    conn: &mut PgConnection,
    conversation: ConversationId,
    user: UserId,
    from: u64,
    to: u64,
) -> Result<NewlyRead> {
    let (messages, own): (i64, i64) = sqlx::query_as(
        "SELECT \
             (SELECT COUNT(*) FROM messages \
              WHERE conversation_id = $2 AND seq > $3 AND seq <= $4), \
             (SELECT COUNT(*) FROM messages \
              WHERE sender_id = $1 AND conversation_id = $2 AND seq > $3 AND seq <= $4)",
    )
    .bind(user.as_uuid())
    .bind(conversation.as_uuid())
    .bind(to_sql_count(from))
    .bind(to_sql_count(to))
    .fetch_one(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(NewlyRead {
        messages: from_sql_count(messages),
        own: from_sql_count(own),
    })
}

/// One `UPDATE` for every member row a move changed.
async fn write_moved(
    conn: &mut PgConnection,
    members: &HashMap<(Uuid, Uuid), (Member, bool)>,
) -> Result<()> {
    let moved: Vec<(&(Uuid, Uuid), &Member)> = members
        .iter()
        .filter(|(_, (_, dirty))| *dirty)
        .map(|(k, (m, _))| (k, m))
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    let conversations: Vec<Uuid> = moved.iter().map(|(k, _)| k.0).collect();
    let users: Vec<Uuid> = moved.iter().map(|(k, _)| k.1).collect();
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

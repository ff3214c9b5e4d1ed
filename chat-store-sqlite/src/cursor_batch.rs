//! Moving many cursors in one write transaction with a fixed number of
//! statements: read every member row and its conversation at once, plan
//! each move with the model's rules ([`CursorBatch`]), and write the
//! moved rows with one `UPDATE ... FROM (VALUES ...)`.
//!
//! Each statement is a round trip to the connection's worker thread, so
//! one move at a time (a read and a write each) made a batch of 64 moves
//! cost about 130 of them: under a large group's acknowledgements that
//! kept the one writer busy and every message waiting behind it. The
//! write lock taken at `BEGIN IMMEDIATE` keeps every row read here
//! current until the commit.

use std::collections::HashMap;

use chat_core::model::{
    Cursor, CursorBatch, DeliveryMove, Member, Membership, NewlyRead, ReadRange,
};
use chat_core::{ConversationId, Result, Timestamp, UserId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::conversations::MembershipRow;
use crate::{ROWS_PER_STATEMENT, execute_built, from_sql_count, to_chat_error, to_sql_count};

/// Applies `moves` of `cursor` in order inside the caller's write
/// transaction; returns, per move, the membership after it (`None` for
/// someone who is not a member).
pub(crate) async fn advance_many(
    conn: &mut SqliteConnection,
    moves: &[DeliveryMove],
    at: Timestamp,
    cursor: Cursor,
) -> Result<Vec<Option<Membership>>> {
    let mut batch = CursorBatch::default();
    for keys in CursorBatch::keys(moves).chunks(ROWS_PER_STATEMENT) {
        for membership in read_memberships(conn, keys).await? {
            batch.add_membership(membership);
        }
    }
    let mut counts = HashMap::new();
    for range in batch.ranges_read(moves, cursor) {
        counts.insert(range, newly_read(conn, range).await?);
    }
    let after = batch.apply(moves, cursor, at, &counts);
    for rows in batch.moved().chunks(ROWS_PER_STATEMENT) {
        write_moved(conn, rows).await?;
    }
    Ok(after)
}

/// The member rows of `keys` with their conversations: primary-key
/// lookups driven by the list.
pub(crate) async fn read_memberships(
    conn: &mut SqliteConnection,
    keys: &[(ConversationId, UserId)],
) -> Result<Vec<Membership>> {
    let rows: Vec<MembershipRow> = memberships_query(keys)
        .build_query_as()
        .fetch_all(&mut *conn)
        .await
        .map_err(to_chat_error)?;
    rows.into_iter().map(MembershipRow::into_model).collect()
}

/// The statement of [`read_memberships`]. `CROSS JOIN` keeps the list the
/// outer loop, so SQLite's planner cannot choose to scan the members
/// instead (as it did for the messages' keys, `message_batch.rs`).
pub(crate) fn memberships_query<'a>(
    keys: &'a [(ConversationId, UserId)],
) -> QueryBuilder<'a, Sqlite> {
    let mut query =
        QueryBuilder::<Sqlite>::new(concat!("SELECT ", membership_columns!(), " FROM (",));
    query.push_values(keys, |mut row, (conversation, user)| {
        row.push_bind(conversation.as_uuid())
            .push_bind(user.as_uuid());
    });
    query.push(
        ") AS k \
         CROSS JOIN conversation_members m \
           ON m.conversation_id = k.column1 AND m.user_id = k.column2 \
         JOIN conversations c ON c.conversation_id = m.conversation_id",
    );
    query
}

/// The messages with seqs in `from+1..=to` (read now, they join
/// `read_message_count`; the changes between them do not), and the
/// member's own among them (which leave `own_unread`). Both indexes cover
/// their count, so no message row is read.
async fn newly_read(conn: &mut SqliteConnection, range: ReadRange) -> Result<NewlyRead> {
    let (messages, own): (i64, i64) = sqlx::query_as(
        "SELECT \
             (SELECT COUNT(*) FROM messages \
              WHERE conversation_id = ?2 AND seq > ?3 AND seq <= ?4), \
             (SELECT COUNT(*) FROM messages \
              WHERE sender_id = ?1 AND conversation_id = ?2 AND seq > ?3 AND seq <= ?4)",
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

/// One `UPDATE` for the member rows the moves changed.
async fn write_moved(
    conn: &mut SqliteConnection,
    rows: &[(ConversationId, &Member)],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "WITH v(conversation_id, user_id, read_seq, read_message_count, read_at, own_unread, \
                delivered_seq, delivered_at) AS (",
    );
    query.push_values(rows, |mut row, (conversation, m)| {
        row.push_bind(conversation.as_uuid())
            .push_bind(m.user_id.as_uuid())
            .push_bind(to_sql_count(m.read_seq))
            .push_bind(to_sql_count(m.read_message_count))
            .push_bind(m.read_at.map(|t| t.as_millis()))
            .push_bind(to_sql_count(m.own_unread))
            .push_bind(to_sql_count(m.delivered_seq))
            .push_bind(m.delivered_at.map(|t| t.as_millis()));
    });
    query.push(
        ") UPDATE conversation_members SET read_seq = v.read_seq, \
             read_message_count = v.read_message_count, read_at = v.read_at, \
             own_unread = v.own_unread, delivered_seq = v.delivered_seq, \
             delivered_at = v.delivered_at \
         FROM v \
         WHERE conversation_members.conversation_id = v.conversation_id \
           AND conversation_members.user_id = v.user_id",
    );
    execute_built(conn, query).await
}

//! A batch of messages stored with a fixed number of statements.
//!
//! One statement per message would make a batch cost as many round trips
//! as it has messages, and the writer would spend its time waiting for
//! the network (seen as `idle in transaction, ClientRead` in
//! `pg_stat_activity`). Here a batch costs two statements whatever its
//! size, one more when it sends attachments and one more when a client
//! retried a send: one
//! locks its conversations and its senders' member rows and finds the
//! idempotency keys already used ([`lock_and_read`]; the messages stored
//! under them are read only when there are any), one locks the
//! attachments it sends (none without), and one writes the messages (with
//! their mention rows), the attachments' links, the seqs and the senders'
//! cursors, as data-modifying CTEs over arrays (`UNNEST`). The rules are
//! those of a single insert, applied in batch order in memory between the
//! reads and the writes by `MessageBatch` (chat-types), which the SQLite
//! store shares.

use chat_core::model::{
    ConversationGrowth, InsertOutcome, Message, MessageBatch, NewMessage, SenderCursors,
    attachments_to_json,
};
use chat_core::{ConversationId, Result, UserId};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::attachments::{Links, claim, lock_unsent};
use crate::messages::MessageRow;
use crate::{from_sql_count, to_chat_error, to_sql_count};

/// Stores `batch` inside the caller's transaction; outcomes in batch order.
///
/// Conversations are locked in id order, then member rows in
/// (conversation, user) order, the same order every other writer takes
/// them, so concurrent batches cannot deadlock.
///
/// # Errors
/// Store errors; the caller rolls back.
pub(crate) async fn insert_batch(
    conn: &mut PgConnection,
    batch: &[NewMessage],
) -> Result<Vec<InsertOutcome>> {
    let (mut plan, used) = lock_and_read(conn, batch).await?;
    for message in used_messages(conn, &used).await? {
        plan.add_used(message);
    }
    let attachment_ids: Vec<Uuid> = (batch.iter())
        .flat_map(|m| m.attachments.iter().map(|a| a.attachment_id.as_uuid()))
        .collect();
    let mut unsent = lock_unsent(conn, &attachment_ids).await?;
    let mut links = Links::default();

    let mut outcomes = Vec::with_capacity(batch.len());
    let mut rows = Rows::default();
    for new in batch {
        let outcome = plan.plan(new, |m| claim(&mut unsent, m.sender_id, &m.attachments));
        if let InsertOutcome::Created(message) = &outcome {
            rows.push(message);
            links.push(message.conversation_id, message.id, &message.attachments);
        }
        outcomes.push(outcome);
    }
    if rows.ids.is_empty() {
        return Ok(outcomes);
    }
    let writes = Writes {
        rows,
        links,
        grown: plan.grown(),
        senders: plan.sender_cursors(),
    };
    writes.store(conn).await?;
    Ok(outcomes)
}

/// One row of [`lock_and_read`]'s answer: which of its three reads it
/// comes from (`kind`), and that read's columns, in a shape the three
/// share.
#[derive(sqlx::FromRow)]
struct ReadRow {
    /// 0: a conversation (`id`, `last_seq` in `a`); 1: a sender's member
    /// row (`id` the conversation, `other` the user, its cursors in `a` to
    /// `d`); 2: a message stored under one of the batch's keys (`id`).
    kind: i16,
    id: Uuid,
    other: Option<Uuid>,
    a: i64,
    b: i64,
    c: i64,
    d: i64,
}

/// Locks the batch's conversations and its senders' member rows, reads
/// them, and finds the ids of the messages already stored under the
/// batch's idempotency keys: one statement, so one round trip, where three
/// statements cost three (and each round trip is a wake-up of the writer
/// and of PostgreSQL's backend on a busy machine: about a tenth of a
/// millisecond, docs/benchmarks.md, "PostgreSQL writes a batch with two statements").
///
/// The locks are taken in the order of the `UNION ALL`'s branches, which
/// PostgreSQL runs one after another: conversations, then member rows,
/// each sorted. The key lookup is one index probe per key, as a lateral
/// subquery with a limit: as a plain join, a plan made while the table was
/// small (a fresh deployment, a benchmark) was a hash join over a full
/// scan of `messages`, 8 to 12 ms a batch at 100,000 messages and growing.
async fn lock_and_read(
    conn: &mut PgConnection,
    batch: &[NewMessage],
) -> Result<(MessageBatch, Vec<Uuid>)> {
    let conversations: Vec<Uuid> = MessageBatch::conversations(batch)
        .iter()
        .map(ConversationId::as_uuid)
        .collect();
    let (pair_convs, pair_users): (Vec<Uuid>, Vec<Uuid>) = MessageBatch::senders(batch)
        .iter()
        .map(|(c, u)| (c.as_uuid(), u.as_uuid()))
        .unzip();
    let (mut key_convs, mut key_senders, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for (c, s, k) in MessageBatch::keys(batch) {
        key_convs.push(c.as_uuid());
        key_senders.push(s.as_uuid());
        keys.push(k);
    }
    let rows: Vec<ReadRow> = sqlx::query_as(
        "WITH locked_conversations AS ( \
             SELECT conversation_id, last_seq FROM conversations \
             WHERE conversation_id = ANY($1) ORDER BY conversation_id FOR NO KEY UPDATE), \
         locked_senders AS ( \
             SELECT m.conversation_id, m.user_id, m.read_seq, m.read_message_count, \
                 m.delivered_seq, m.own_unread \
             FROM conversation_members m \
             JOIN UNNEST($2::uuid[], $3::uuid[]) AS p(c, u) \
               ON m.conversation_id = p.c AND m.user_id = p.u \
             ORDER BY m.conversation_id, m.user_id \
             FOR NO KEY UPDATE OF m) \
         SELECT 0::smallint AS kind, conversation_id AS id, NULL::uuid AS other, \
             last_seq AS a, 0::bigint AS b, 0::bigint AS c, 0::bigint AS d \
         FROM locked_conversations \
         UNION ALL \
         SELECT 1::smallint, conversation_id, user_id, read_seq, read_message_count, \
             delivered_seq, own_unread \
         FROM locked_senders \
         UNION ALL \
         SELECT 2::smallint, m.message_id, NULL::uuid, 0, 0, 0, 0 \
         FROM UNNEST($4::uuid[], $5::uuid[], $6::text[]) AS k(c, s, key) \
         CROSS JOIN LATERAL ( \
             SELECT message_id FROM messages m \
             WHERE m.conversation_id = k.c AND m.sender_id = k.s AND m.client_msg_id = k.key \
             LIMIT 1) m",
    )
    .bind(&conversations)
    .bind(&pair_convs)
    .bind(&pair_users)
    .bind(&key_convs)
    .bind(&key_senders)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let mut plan = MessageBatch::default();
    let mut used = Vec::new();
    for row in rows {
        match (row.kind, row.other) {
            (0, _) => {
                plan.add_conversation(ConversationId::from_uuid(row.id), from_sql_count(row.a));
            }
            (1, Some(user)) => {
                let cursors = SenderCursors {
                    read_seq: from_sql_count(row.a),
                    read_message_count: from_sql_count(row.b),
                    delivered_seq: from_sql_count(row.c),
                    own_unread: from_sql_count(row.d),
                };
                plan.add_sender(
                    ConversationId::from_uuid(row.id),
                    UserId::from_uuid(user),
                    cursors,
                );
            }
            (2, _) => used.push(row.id),
            _ => {}
        }
    }
    Ok((plan, used))
}

/// The messages `ids` (stored under keys the batch uses again: a client's
/// retries, so usually none, and then no statement).
async fn used_messages(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE message_id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(found.into_iter().map(Message::from).collect())
}

/// The new messages, column by column, for one `INSERT ... UNNEST`.
///
/// A message's mentions are a `uuid[]`, and arrays of arrays do not
/// unnest row by row (PostgreSQL's arrays are rectangular, and `UNNEST`
/// flattens them): each is sent as the text of an array literal,
/// `{uuid,uuid}`, cast back to `uuid[]` in the statement. A UUID's text
/// needs no quoting in it.
#[derive(Default)]
struct Rows {
    ids: Vec<Uuid>,
    conversations: Vec<Uuid>,
    seqs: Vec<i64>,
    senders: Vec<Uuid>,
    contents: Vec<String>,
    types: Vec<String>,
    keys: Vec<Option<String>>,
    times: Vec<DateTime<Utc>>,
    replies: Vec<Option<Uuid>>,
    mentions: Vec<String>,
    /// JSON text, cast to `jsonb` in the statement.
    attachments: Vec<Option<String>>,
}

/// `users` as the text of a PostgreSQL array literal: `{uuid,uuid}`.
fn uuid_array_literal(users: &[UserId]) -> String {
    let items: Vec<String> = users.iter().map(|u| u.as_uuid().to_string()).collect();
    format!("{{{}}}", items.join(","))
}

impl Rows {
    fn push(&mut self, m: &Message) {
        self.ids.push(m.id.as_uuid());
        self.conversations.push(m.conversation_id.as_uuid());
        self.seqs.push(to_sql_count(m.seq));
        self.senders.push(m.sender_id.as_uuid());
        self.contents.push(m.content.clone());
        self.types.push(m.message_type.clone());
        self.keys.push(m.client_msg_id.clone());
        self.times.push(m.created_at.as_datetime());
        self.replies.push(m.reply_to.map(|id| id.as_uuid()));
        self.mentions.push(uuid_array_literal(&m.mentions));
        self.attachments.push(attachments_to_json(&m.attachments));
    }
}

/// What a batch writes once it is planned: the messages, their mention
/// rows and attachment links, the conversations' seqs, message counts and
/// activity, and the senders' cursors.
struct Writes {
    rows: Rows,
    links: Links,
    grown: Vec<ConversationGrowth>,
    senders: Vec<(ConversationId, UserId, SenderCursors)>,
}

impl Writes {
    /// Writes it all with one statement of data-modifying CTEs, so one
    /// round trip (it was five). The rows it updates were locked by
    /// [`lock_and_read`]; the attachments' links to the new messages pass
    /// their foreign key check at the statement's end, when the messages
    /// are there.
    async fn store(self, conn: &mut PgConnection) -> Result<()> {
        let Self {
            rows,
            links,
            grown,
            senders,
        } = self;
        let (link_ids, link_convs, link_msgs, link_positions) = links.columns();
        let (mut conv_ids, mut conv_seqs, mut conv_added, mut conv_times) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for g in grown {
            conv_ids.push(g.conversation.as_uuid());
            conv_seqs.push(to_sql_count(g.last_seq));
            conv_added.push(to_sql_count(g.added));
            conv_times.push(g.newest.as_datetime());
        }
        let mut cursors: [Vec<i64>; 4] = Default::default();
        let (mut sender_convs, mut sender_users) = (Vec::new(), Vec::new());
        for (c, u, k) in senders {
            sender_convs.push(c.as_uuid());
            sender_users.push(u.as_uuid());
            let values = [
                k.read_seq,
                k.read_message_count,
                k.delivered_seq,
                k.own_unread,
            ];
            for (column, value) in cursors.iter_mut().zip(values) {
                column.push(to_sql_count(value));
            }
        }
        let [read_seqs, read_counts, delivered_seqs, own_unreads] = cursors;
        sqlx::query(concat!(
            "WITH inserted AS ( \
                 INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                     message_type, client_msg_id, created_at, reply_to, mentions, \
                     attachments) \
                 SELECT id, conv, seq, sender, content, kind, key, at, reply_to, \
                     mentions::uuid[], files::jsonb \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::uuid[], \
                     $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::uuid[], \
                     $10::text[], $11::text[]) \
                     AS v(id, conv, seq, sender, content, kind, key, at, reply_to, mentions, \
                         files) \
                 RETURNING message_id, conversation_id, seq, mentions), \
             mentioned AS (",
            insert_mentions_from!("inserted"),
            "), \
             linked AS (",
            link_attachments!("$12", "$13", "$14", "$15"),
            "), \
             grown AS ( \
                 UPDATE conversations c SET last_seq = v.seq, \
                     message_count = c.message_count + v.added, \
                     last_activity_at = GREATEST(c.last_activity_at, v.at) \
                 FROM UNNEST($16::uuid[], $17::bigint[], $18::bigint[], $19::timestamptz[]) \
                     AS v(id, seq, added, at) \
                 WHERE c.conversation_id = v.id) \
             UPDATE conversation_members m SET read_seq = v.r, read_message_count = v.rc, \
                 delivered_seq = v.d, own_unread = v.o \
             FROM UNNEST($20::uuid[], $21::uuid[], $22::bigint[], $23::bigint[], \
                 $24::bigint[], $25::bigint[]) AS v(c, u, r, rc, d, o) \
             WHERE m.conversation_id = v.c AND m.user_id = v.u"
        ))
        .bind(rows.ids)
        .bind(rows.conversations)
        .bind(rows.seqs)
        .bind(rows.senders)
        .bind(rows.contents)
        .bind(rows.types)
        .bind(rows.keys)
        .bind(rows.times)
        .bind(rows.replies)
        .bind(rows.mentions)
        .bind(rows.attachments)
        .bind(link_ids)
        .bind(link_convs)
        .bind(link_msgs)
        .bind(link_positions)
        .bind(conv_ids)
        .bind(conv_seqs)
        .bind(conv_added)
        .bind(conv_times)
        .bind(sender_convs)
        .bind(sender_users)
        .bind(read_seqs)
        .bind(read_counts)
        .bind(delivered_seqs)
        .bind(own_unreads)
        .execute(&mut *conn)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }
}

//! A batch of messages stored with a fixed number of statements.
//!
//! One statement per message would make a batch cost as many round trips
//! as it has messages, and the writer would spend its time waiting for
//! the network (seen as `idle in transaction, ClientRead` in
//! `pg_stat_activity`). Here a batch costs at most eight statements
//! whatever its size: lock its conversations, lock its senders' member
//! rows, find the idempotency keys already used, lock the attachments it
//! sends (none without), then write the messages (with their mention rows,
//! in the same statement), the attachments' links, the seqs and the
//! senders' cursors, each with one statement over arrays (`UNNEST`). The rules are
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
    let conversations: Vec<Uuid> = MessageBatch::conversations(batch)
        .iter()
        .map(ConversationId::as_uuid)
        .collect();
    let locked: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT conversation_id, last_seq FROM conversations \
         WHERE conversation_id = ANY($1) ORDER BY conversation_id FOR NO KEY UPDATE",
    )
    .bind(&conversations)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    let mut plan = MessageBatch::default();
    for (id, last_seq) in locked {
        plan.add_conversation(ConversationId::from_uuid(id), from_sql_count(last_seq));
    }

    let (pair_convs, pair_users): (Vec<Uuid>, Vec<Uuid>) = MessageBatch::senders(batch)
        .iter()
        .map(|(c, u)| (c.as_uuid(), u.as_uuid()))
        .unzip();
    let senders: Vec<(Uuid, Uuid, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT m.conversation_id, m.user_id, m.read_seq, m.read_message_count, \
             m.delivered_seq, m.own_unread \
         FROM conversation_members m \
         JOIN UNNEST($1::uuid[], $2::uuid[]) AS p(c, u) \
           ON m.conversation_id = p.c AND m.user_id = p.u \
         ORDER BY m.conversation_id, m.user_id \
         FOR NO KEY UPDATE OF m",
    )
    .bind(&pair_convs)
    .bind(&pair_users)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    for (c, u, read_seq, read_message_count, delivered_seq, own_unread) in senders {
        let cursors = SenderCursors {
            read_seq: from_sql_count(read_seq),
            read_message_count: from_sql_count(read_message_count),
            delivered_seq: from_sql_count(delivered_seq),
            own_unread: from_sql_count(own_unread),
        };
        plan.add_sender(ConversationId::from_uuid(c), UserId::from_uuid(u), cursors);
    }

    for message in used_keys(conn, batch).await? {
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
    rows.insert(conn).await?;
    links.store(conn).await?;
    update_conversations(conn, &plan.grown()).await?;
    update_senders(conn, &plan.sender_cursors()).await?;
    Ok(outcomes)
}

/// The messages already stored under the batch's idempotency keys.
async fn used_keys(conn: &mut PgConnection, batch: &[NewMessage]) -> Result<Vec<Message>> {
    let keyed: Vec<(Uuid, Uuid, String)> = batch
        .iter()
        .filter_map(|m| {
            let key = m.client_msg_id.as_ref()?;
            Some((
                m.conversation_id.as_uuid(),
                m.sender_id.as_uuid(),
                key.as_str().to_owned(),
            ))
        })
        .collect();
    if keyed.is_empty() {
        return Ok(Vec::new());
    }
    let (mut cs, mut ss, mut ks) = (Vec::new(), Vec::new(), Vec::new());
    for (c, s, k) in keyed {
        cs.push(c);
        ss.push(s);
        ks.push(k);
    }
    // One index probe per key, as a lateral subquery with a limit: as a
    // plain join, a plan made while the table was small (a fresh
    // deployment, a benchmark) was a hash join over a full scan of
    // `messages`, 8 to 12 ms a batch at 100,000 messages and growing.
    let found: Vec<MessageRow> = sqlx::query_as(concat!(
        "SELECT ",
        message_columns!("m."),
        " FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS k(c, s, key) \
          CROSS JOIN LATERAL ( \
            SELECT * FROM messages m \
            WHERE m.conversation_id = k.c AND m.sender_id = k.s AND m.client_msg_id = k.key \
            LIMIT 1) m"
    ))
    .bind(&cs)
    .bind(&ss)
    .bind(&ks)
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

    /// The messages and, in the same statement, their mention rows
    /// (none for a batch without mentions).
    async fn insert(self, conn: &mut PgConnection) -> Result<()> {
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
                 RETURNING message_id, conversation_id, seq, mentions) ",
            insert_mentions_from!("inserted")
        ))
        .bind(self.ids)
        .bind(self.conversations)
        .bind(self.seqs)
        .bind(self.senders)
        .bind(self.contents)
        .bind(self.types)
        .bind(self.keys)
        .bind(self.times)
        .bind(self.replies)
        .bind(self.mentions)
        .bind(self.attachments)
        .execute(&mut *conn)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }
}

/// The seqs, message counts and activity of the conversations that got
/// messages.
async fn update_conversations(conn: &mut PgConnection, grown: &[ConversationGrowth]) -> Result<()> {
    let (mut ids, mut seqs, mut counts, mut times) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for g in grown {
        ids.push(g.conversation.as_uuid());
        seqs.push(to_sql_count(g.last_seq));
        counts.push(to_sql_count(g.added));
        times.push(g.newest.as_datetime());
    }
    sqlx::query(
        "UPDATE conversations c SET last_seq = v.seq, \
             message_count = c.message_count + v.added, \
             last_activity_at = GREATEST(c.last_activity_at, v.at) \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::timestamptz[]) \
             AS v(id, seq, added, at) \
         WHERE c.conversation_id = v.id",
    )
    .bind(ids)
    .bind(seqs)
    .bind(counts)
    .bind(times)
    .execute(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(())
}

async fn update_senders(
    conn: &mut PgConnection,
    cursors: &[(ConversationId, UserId, SenderCursors)],
) -> Result<()> {
    let (mut cs, mut us, mut rs, mut rcs, mut ds, mut os) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for (c, u, k) in cursors {
        cs.push(c.as_uuid());
        us.push(u.as_uuid());
        rs.push(to_sql_count(k.read_seq));
        rcs.push(to_sql_count(k.read_message_count));
        ds.push(to_sql_count(k.delivered_seq));
        os.push(to_sql_count(k.own_unread));
    }
    sqlx::query(
        "UPDATE conversation_members m SET read_seq = v.r, read_message_count = v.rc, \
             delivered_seq = v.d, own_unread = v.o \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::bigint[], \
             $6::bigint[]) AS v(c, u, r, rc, d, o) \
         WHERE m.conversation_id = v.c AND m.user_id = v.u",
    )
    .bind(cs)
    .bind(us)
    .bind(rs)
    .bind(rcs)
    .bind(ds)
    .bind(os)
    .execute(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(())
}

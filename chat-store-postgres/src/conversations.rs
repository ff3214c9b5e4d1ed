use std::collections::HashSet;

use async_trait::async_trait;
use chat_core::model::{
    Conversation, ConversationKind, ConversationOverview, Member, MemberEntry, MemberRemoval,
    MemberRole, Membership, Message, MessageAttachment, NewDirectConversation, NewGroup, NewMember,
    PostingPolicy, UserSummary,
};
use chat_core::store::ConversationStore;
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::{PgStore, from_sql_count, to_chat_error};

/// The columns [`ConversationRow`] reads from `conversations c`, as a
/// literal so queries stay `'static`.
macro_rules! conversation_columns {
    () => {
        "c.conversation_id, c.kind, c.name, c.creator_id, c.created_at, c.last_seq, \
         c.message_count, c.last_activity_at, c.posting"
    };
}

/// The columns [`MemberRow`] reads from `conversation_members m`.
macro_rules! member_columns {
    () => {
        "m.user_id, m.role, m.joined_at, m.joined_seq, m.read_seq, m.read_message_count, \
         m.read_at, m.delivered_seq, m.delivered_at, m.own_unread, m.muted"
    };
}

/// The one query behind `overviews` and `overview`: the user's member row
/// `m` and its conversation `c`; for a direct conversation the other
/// member and their profile (`peer`); the newest message `lm`; and the
/// user's mention count. Every join is a unique-index lookup per listed
/// conversation, so a list costs what its length costs, whatever the size
/// of the groups or of their history. Callers append the WHERE clause.
///
/// The peer is found through the ordered pair: a primary-key lookup of
/// `(conversation_id, the pair's other user)`. As a plain join condition
/// the planner only uses `conversation_id` for the lookup and filters the
/// members by user afterwards (one row per member of every group listed);
/// inside a LATERAL subquery both columns are lookup keys, the subquery is
/// skipped for groups, and `LIMIT 1` keeps the planner from flattening it
/// back into a join.
///
/// The newest message is not the entry at `last_seq`, which may be a
/// change: it is the first row of a backward scan of the (conversation_id,
/// seq) index, past the few changes that may follow it. The mention count
/// is a range of `message_mentions_user`: the user's rows in this
/// conversation after their read cursor.
macro_rules! overview_select {
    () => {
        concat!(
            "SELECT ",
            conversation_columns!(),
            ", ",
            member_columns!(),
            ", peer.*, lm.*, \
               (SELECT COUNT(*) FROM message_mentions mm \
                WHERE mm.user_id = m.user_id AND mm.conversation_id = m.conversation_id \
                  AND mm.seq > m.read_seq) AS mention_count \
             FROM conversation_members m \
             JOIN conversations c ON c.conversation_id = m.conversation_id \
             LEFT JOIN LATERAL ( \
                 SELECT p.user_id AS peer_user_id, p.role AS peer_role, \
                        p.joined_at AS peer_joined_at, p.joined_seq AS peer_joined_seq, \
                        p.read_seq AS peer_read_seq, \
                        p.read_message_count AS peer_read_message_count, \
                        p.read_at AS peer_read_at, \
                        p.delivered_seq AS peer_delivered_seq, \
                        p.delivered_at AS peer_delivered_at, p.own_unread AS peer_own_unread, \
                        p.muted AS peer_muted, \
                        pu.username AS peer_username, pu.display_name AS peer_display_name, pu.is_bot AS peer_is_bot \
                 FROM conversation_members p JOIN users pu ON pu.user_id = p.user_id \
                 WHERE c.kind = 'direct' AND p.conversation_id = c.conversation_id \
                   AND p.user_id = CASE WHEN c.direct_user_low = m.user_id \
                                        THEN c.direct_user_high ELSE c.direct_user_low END \
                 LIMIT 1) peer ON TRUE \
             LEFT JOIN LATERAL ( \
                 SELECT l.message_id AS last_message_id, l.seq AS last_message_seq, \
                        l.sender_id AS last_sender_id, l.content AS last_content, \
                        l.message_type AS last_message_type, \
                        l.client_msg_id AS last_client_msg_id, \
                        l.created_at AS last_created_at, l.reply_to AS last_reply_to, \
                        l.mentions AS last_mentions, l.attachments AS last_attachments, \
                        l.edited_at AS last_edited_at, \
                        l.deleted_at AS last_deleted_at \
                 FROM messages l WHERE l.conversation_id = c.conversation_id \
                 ORDER BY l.seq DESC LIMIT 1) lm ON TRUE "
        )
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
    conversation_id: Uuid,
    kind: String,
    name: Option<String>,
    creator_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    last_seq: i64,
    message_count: i64,
    last_activity_at: DateTime<Utc>,
    posting: String,
}

impl ConversationRow {
    pub(crate) fn into_model(self) -> Result<Conversation> {
        Ok(Conversation {
            id: ConversationId::from_uuid(self.conversation_id),
            kind: parse_kind(&self.kind)?,
            name: self.name,
            creator_id: self.creator_id.map(UserId::from_uuid),
            created_at: Timestamp::from_datetime(self.created_at),
            last_seq: from_sql_count(self.last_seq),
            message_count: from_sql_count(self.message_count),
            last_activity_at: Timestamp::from_datetime(self.last_activity_at),
            posting: parse_posting(&self.posting)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    user_id: Uuid,
    role: String,
    joined_at: DateTime<Utc>,
    joined_seq: i64,
    read_seq: i64,
    read_message_count: i64,
    read_at: Option<DateTime<Utc>>,
    delivered_seq: i64,
    delivered_at: Option<DateTime<Utc>>,
    own_unread: i64,
    muted: bool,
}

impl MemberRow {
    pub(crate) fn into_model(self) -> Result<Member> {
        Ok(Member {
            user_id: UserId::from_uuid(self.user_id),
            role: parse_role(&self.role)?,
            joined_at: Timestamp::from_datetime(self.joined_at),
            joined_seq: from_sql_count(self.joined_seq),
            read_seq: from_sql_count(self.read_seq),
            read_message_count: from_sql_count(self.read_message_count),
            read_at: self.read_at.map(Timestamp::from_datetime),
            delivered_seq: from_sql_count(self.delivered_seq),
            delivered_at: self.delivered_at.map(Timestamp::from_datetime),
            own_unread: from_sql_count(self.own_unread),
            muted: self.muted,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    #[sqlx(flatten)]
    conversation: ConversationRow,
    #[sqlx(flatten)]
    member: MemberRow,
}

impl MembershipRow {
    fn into_model(self) -> Result<Membership> {
        Ok(Membership {
            conversation: self.conversation.into_model()?,
            member: self.member.into_model()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MemberEntryRow {
    #[sqlx(flatten)]
    member: MemberRow,
    username: String,
    display_name: Option<String>,
    is_bot: bool,
}

/// A row of [`overview_select`]. The `peer_*` and `last_*` columns come
/// from outer joins, so they are all NULL when there is no peer or no
/// message.
#[derive(sqlx::FromRow)]
struct OverviewRow {
    #[sqlx(flatten)]
    membership: MembershipRow,
    peer_user_id: Option<Uuid>,
    peer_role: Option<String>,
    peer_joined_at: Option<DateTime<Utc>>,
    peer_joined_seq: Option<i64>,
    peer_read_seq: Option<i64>,
    peer_read_message_count: Option<i64>,
    peer_read_at: Option<DateTime<Utc>>,
    peer_delivered_seq: Option<i64>,
    peer_delivered_at: Option<DateTime<Utc>>,
    peer_own_unread: Option<i64>,
    peer_muted: Option<bool>,
    peer_username: Option<String>,
    peer_display_name: Option<String>,
    peer_is_bot: Option<bool>,
    last_message_id: Option<Uuid>,
    last_message_seq: Option<i64>,
    last_sender_id: Option<Uuid>,
    last_content: Option<String>,
    last_message_type: Option<String>,
    last_client_msg_id: Option<String>,
    last_created_at: Option<DateTime<Utc>>,
    last_reply_to: Option<Uuid>,
    last_mentions: Option<Vec<Uuid>>,
    last_attachments: Option<Json<Vec<MessageAttachment>>>,
    last_edited_at: Option<DateTime<Utc>>,
    last_deleted_at: Option<DateTime<Utc>>,
    mention_count: i64,
}

impl OverviewRow {
    fn into_model(self) -> Result<ConversationOverview> {
        let membership = self.membership.into_model()?;
        let peer = match (
            self.peer_user_id,
            self.peer_role,
            self.peer_joined_at,
            self.peer_joined_seq,
            self.peer_read_seq,
            self.peer_read_message_count,
            self.peer_delivered_seq,
            self.peer_own_unread,
            self.peer_muted,
            self.peer_username,
        ) {
            (
                Some(user_id),
                Some(role),
                Some(joined_at),
                Some(joined_seq),
                Some(read_seq),
                Some(read_message_count),
                Some(delivered_seq),
                Some(own_unread),
                Some(muted),
                Some(username),
            ) => Some(MemberEntry {
                member: MemberRow {
                    user_id,
                    role,
                    joined_at,
                    joined_seq,
                    read_seq,
                    read_message_count,
                    read_at: self.peer_read_at,
                    delivered_seq,
                    delivered_at: self.peer_delivered_at,
                    own_unread,
                    muted,
                }
                .into_model()?,
                profile: UserSummary {
                    id: UserId::from_uuid(user_id),
                    username,
                    display_name: self.peer_display_name,
                    is_bot: self.peer_is_bot.unwrap_or(false),
                },
            }),
            _ => None,
        };
        let last_message = match (
            self.last_message_id,
            self.last_message_seq,
            self.last_sender_id,
            self.last_content,
            self.last_message_type,
            self.last_created_at,
        ) {
            (
                Some(id),
                Some(seq),
                Some(sender_id),
                Some(content),
                Some(message_type),
                Some(created_at),
            ) => Some(Message {
                id: MessageId::from_uuid(id),
                conversation_id: membership.conversation.id,
                seq: from_sql_count(seq),
                sender_id: UserId::from_uuid(sender_id),
                content,
                message_type,
                client_msg_id: self.last_client_msg_id,
                created_at: Timestamp::from_datetime(created_at),
                reply_to: self.last_reply_to.map(MessageId::from_uuid),
                mentions: self
                    .last_mentions
                    .unwrap_or_default()
                    .into_iter()
                    .map(UserId::from_uuid)
                    .collect(),
                attachments: self.last_attachments.map(|a| a.0).unwrap_or_default(),
                edited_at: self.last_edited_at.map(Timestamp::from_datetime),
                deleted_at: self.last_deleted_at.map(Timestamp::from_datetime),
            }),
            _ => None,
        };
        Ok(ConversationOverview {
            membership,
            peer,
            last_message,
            mention_count: from_sql_count(self.mention_count),
        })
    }
}

/// A stored conversation kind; an unknown one is a corrupt or newer row.
fn parse_kind(kind: &str) -> Result<ConversationKind> {
    kind.parse().map_err(ChatError::internal)
}

/// A stored member role; an unknown one is a corrupt or newer row.
fn parse_role(role: &str) -> Result<MemberRole> {
    role.parse().map_err(ChatError::internal)
}

/// A stored posting policy; an unknown one is a corrupt or newer row.
fn parse_posting(posting: &str) -> Result<PostingPolicy> {
    posting.parse().map_err(ChatError::internal)
}

/// The pair as stored in `direct_user_low` / `direct_user_high`: smaller id
/// first (PostgreSQL compares UUIDs byte-wise, as Rust does).
fn ordered_pair(a: UserId, b: UserId) -> (Uuid, Uuid) {
    if a <= b {
        (a.as_uuid(), b.as_uuid())
    } else {
        (b.as_uuid(), a.as_uuid())
    }
}

/// Where a conversation's log ends: the cursors of a member who joins now.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogEnd {
    /// `conversations.last_seq`.
    pub(crate) last_seq: i64,
    /// `conversations.message_count`.
    pub(crate) message_count: i64,
}

/// Locks the conversation's row until the end of the transaction and
/// returns where its log ends, or `None` when it does not exist.
///
/// Every change of membership takes this lock first, and so does sending
/// (its `UPDATE` of `last_seq`) and changing a message, so they run one at
/// a time per conversation. `NO KEY UPDATE` conflicts with exactly those, and not
/// with the key-share locks that inserting a member or a message takes
/// on the row it references.
pub(crate) async fn lock_conversation(
    executor: impl PgExecutor<'_>,
    conversation: ConversationId,
) -> Result<Option<LogEnd>> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT last_seq, message_count FROM conversations WHERE conversation_id = $1 \
         FOR NO KEY UPDATE",
    )
    .bind(conversation.as_uuid())
    .fetch_optional(executor)
    .await
    .map_err(to_chat_error)?;
    Ok(row.map(|(last_seq, message_count)| LogEnd {
        last_seq,
        message_count,
    }))
}

/// Inserts member rows whose cursors all start at the end of the log, in
/// one statement: everything before they joined counts as read.
async fn insert_members(
    executor: impl PgExecutor<'_>,
    conversation: ConversationId,
    members: &[NewMember],
    at: Timestamp,
    end: LogEnd,
) -> Result<()> {
    let users: Vec<Uuid> = members.iter().map(|m| m.user_id.as_uuid()).collect();
    let roles: Vec<&str> = members.iter().map(|m| m.role.as_str()).collect();
    sqlx::query(
        "INSERT INTO conversation_members \
             (conversation_id, user_id, role, joined_at, joined_seq, read_seq, \
              read_message_count, delivered_seq) \
         SELECT $1, new.user_id, new.role, $4, $5, $5, $6, $5 \
         FROM UNNEST($2::uuid[], $3::text[]) AS new (user_id, role)",
    )
    .bind(conversation.as_uuid())
    .bind(users)
    .bind(roles)
    .bind(at.as_datetime())
    .bind(end.last_seq)
    .bind(end.message_count)
    .execute(executor)
    .await
    .map_err(to_chat_error)?;
    Ok(())
}

#[async_trait]
impl ConversationStore for PgStore {
    /// Returns the direct conversation of the pair, creating it (with both
    /// users as members) if there is none. The flag is true when it was
    /// created by this call. Concurrent calls for one pair all return the
    /// same conversation.
    async fn create_direct(&self, new: NewDirectConversation) -> Result<(ConversationId, bool)> {
        let (low, high) = ordered_pair(new.user_a, new.user_b);
        // A concurrent creator of the same pair makes this insert wait on
        // the pair index until it commits; then the insert does nothing
        // and the select below, a new statement, sees the winner's row.
        let mut tx = self.pool.begin().await.map_err(to_chat_error)?;
        let inserted = sqlx::query(
            "INSERT INTO conversations (conversation_id, kind, created_at, last_activity_at, \
                 direct_user_low, direct_user_high) \
             VALUES ($1, 'direct', $2, $2, $3, $4) \
             ON CONFLICT (direct_user_low, direct_user_high) WHERE kind = 'direct' DO NOTHING",
        )
        .bind(new.id.as_uuid())
        .bind(new.created_at.as_datetime())
        .bind(low)
        .bind(high)
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        if inserted == 1 {
            let members = [low, high].map(|user| NewMember {
                user_id: UserId::from_uuid(user),
                role: MemberRole::Member,
            });
            insert_members(
                &mut *tx,
                new.id,
                &members,
                new.created_at,
                LogEnd::default(),
            )
            .await?;
            tx.commit().await.map_err(to_chat_error)?;
            return Ok((new.id, true));
        }
        let existing: Uuid = sqlx::query_scalar(
            "SELECT conversation_id FROM conversations \
             WHERE kind = 'direct' AND direct_user_low = $1 AND direct_user_high = $2",
        )
        .bind(low)
        .bind(high)
        .fetch_one(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        tx.commit().await.map_err(to_chat_error)?;
        Ok((ConversationId::from_uuid(existing), false))
    }

    /// The direct conversation of a pair, if any.
    async fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationId>> {
        let (low, high) = ordered_pair(a, b);
        let id: Option<Uuid> = sqlx::query_scalar(
            "SELECT conversation_id FROM conversations \
             WHERE kind = 'direct' AND direct_user_low = $1 AND direct_user_high = $2",
        )
        .bind(low)
        .bind(high)
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(id.map(ConversationId::from_uuid))
    }

    /// Creates a group with its first members.
    async fn create_group(&self, group: NewGroup) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(to_chat_error)?;
        sqlx::query(
            "INSERT INTO conversations \
                 (conversation_id, kind, name, creator_id, created_at, last_activity_at) \
             VALUES ($1, 'group', $2, $3, $4, $4)",
        )
        .bind(group.id.as_uuid())
        .bind(group.name.as_str())
        .bind(group.creator_id.as_uuid())
        .bind(group.created_at.as_datetime())
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        insert_members(
            &mut *tx,
            group.id,
            &group.members,
            group.created_at,
            LogEnd::default(),
        )
        .await?;
        tx.commit().await.map_err(to_chat_error)
    }

    /// The user's membership in a conversation; `None` when either does
    /// not exist or the user is not a member.
    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        let row: Option<MembershipRow> = sqlx::query_as(concat!(
            "SELECT ",
            conversation_columns!(),
            ", ",
            member_columns!(),
            " FROM conversation_members m \
              JOIN conversations c ON c.conversation_id = m.conversation_id \
              WHERE m.conversation_id = $1 AND m.user_id = $2"
        ))
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(MembershipRow::into_model).transpose()
    }

    /// All members with their profiles, longest-standing first (by
    /// `joined_at`, then user id).
    async fn members(&self, conversation: ConversationId) -> Result<Vec<MemberEntry>> {
        // Inactive users stay listed: a deactivated member is still one.
        let rows: Vec<MemberEntryRow> = sqlx::query_as(concat!(
            "SELECT ",
            member_columns!(),
            ", u.username, u.display_name, u.is_bot \
             FROM conversation_members m JOIN users u ON u.user_id = m.user_id \
             WHERE m.conversation_id = $1 \
             ORDER BY m.joined_at, m.user_id"
        ))
        .bind(conversation.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter()
            .map(|row| {
                let member = row.member.into_model()?;
                Ok(MemberEntry {
                    profile: UserSummary {
                        id: member.user_id,
                        username: row.username,
                        display_name: row.display_name,
                        is_bot: row.is_bot,
                    },
                    member,
                })
            })
            .collect()
    }

    /// Adds users who are not members yet, with `joined_at = at`, every
    /// cursor at the conversation's current `last_seq` and
    /// `read_message_count` at its `message_count`. Returns the
    /// users actually added; existing members are left unchanged.
    async fn add_members(
        &self,
        conversation: ConversationId,
        members: Vec<NewMember>,
        at: Timestamp,
        max_members: u32,
    ) -> Result<Vec<UserId>> {
        // Under the conversation's lock, concurrent adds run one after the
        // other, so the member count, the limit check and the inserts hold
        // together, and no message or change can be stored in between: the
        // log's end is where every new member's cursors start.
        let mut tx = self.pool.begin().await.map_err(to_chat_error)?;
        let Some(end) = lock_conversation(&mut *tx, conversation).await? else {
            tx.rollback().await.map_err(to_chat_error)?;
            return Err(ChatError::ConversationNotFound);
        };
        let current: HashSet<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM conversation_members WHERE conversation_id = $1",
        )
        .bind(conversation.as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(to_chat_error)?
        .into_iter()
        .collect();
        let mut seen = HashSet::new();
        let fresh: Vec<NewMember> = members
            .into_iter()
            .filter(|m| !current.contains(&m.user_id.as_uuid()) && seen.insert(m.user_id))
            .collect();
        if !fresh.is_empty() && current.len() + fresh.len() > max_members as usize {
            tx.rollback().await.map_err(to_chat_error)?;
            return Err(ChatError::GroupFull { max: max_members });
        }
        if !fresh.is_empty() {
            insert_members(&mut *tx, conversation, &fresh, at, end).await?;
        }
        tx.commit().await.map_err(to_chat_error)?;
        Ok(fresh.into_iter().map(|m| m.user_id).collect())
    }

    /// Removes a member. When the owner leaves, ownership passes in the
    /// same transaction to the longest-standing admin, else the
    /// longest-standing member. `None` when the user was not a member.
    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<MemberRemoval>> {
        // The conversation's lock first (see `lock_conversation`): two
        // owners leaving at once, or a removal racing an add, run one
        // after the other, so the successor is chosen among the members
        // that are really left.
        let mut tx = self.pool.begin().await.map_err(to_chat_error)?;
        if lock_conversation(&mut *tx, conversation).await?.is_none() {
            tx.rollback().await.map_err(to_chat_error)?;
            return Ok(None);
        }
        let role: Option<String> = sqlx::query_scalar(
            "DELETE FROM conversation_members \
             WHERE conversation_id = $1 AND user_id = $2 \
             RETURNING role",
        )
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        let Some(role) = role else {
            tx.rollback().await.map_err(to_chat_error)?;
            return Ok(None);
        };
        let role = parse_role(&role)?;
        let new_owner = if role == MemberRole::Owner {
            let promoted: Option<Uuid> = sqlx::query_scalar(
                "UPDATE conversation_members SET role = 'owner' \
                 WHERE conversation_id = $1 AND user_id = ( \
                     SELECT user_id FROM conversation_members \
                     WHERE conversation_id = $1 AND role <> 'owner' \
                     ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined_at, user_id \
                     LIMIT 1) \
                 RETURNING user_id",
            )
            .bind(conversation.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(to_chat_error)?;
            promoted.map(UserId::from_uuid)
        } else {
            None
        };
        tx.commit().await.map_err(to_chat_error)?;
        Ok(Some(MemberRemoval { role, new_owner }))
    }

    /// Changes a member's role. Returns `false` when the user is not a member.
    async fn set_member_role(
        &self,
        conversation: ConversationId,
        user: UserId,
        role: MemberRole,
    ) -> Result<bool> {
        // A role change is a membership change too: it queues behind (or
        // ahead of) a concurrent removal and its promotion of a new owner.
        let mut tx = self.pool.begin().await.map_err(to_chat_error)?;
        if lock_conversation(&mut *tx, conversation).await?.is_none() {
            tx.rollback().await.map_err(to_chat_error)?;
            return Ok(false);
        }
        let updated = sqlx::query(
            "UPDATE conversation_members SET role = $3 \
             WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        tx.commit().await.map_err(to_chat_error)?;
        Ok(updated == 1)
    }

    /// The user's conversations (optionally of one kind), most recent
    /// activity first (`last_activity_at`, then id, both descending), each
    /// with its `mention_count`: the messages after the user's read cursor
    /// whose current `mentions` name them.
    async fn overviews(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>> {
        let rows: Vec<OverviewRow> = sqlx::query_as(concat!(
            overview_select!(),
            "WHERE m.user_id = $1 AND ($2::text IS NULL OR c.kind = $2) \
             ORDER BY c.last_activity_at DESC, c.conversation_id DESC"
        ))
        .bind(user.as_uuid())
        .bind(kind.map(ConversationKind::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(OverviewRow::into_model).collect()
    }

    /// One conversation as [`overviews`](Self::overviews) would list it;
    /// `None` when the user is not a member.
    async fn overview(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<ConversationOverview>> {
        let row: Option<OverviewRow> = sqlx::query_as(concat!(
            overview_select!(),
            "WHERE m.conversation_id = $1 AND m.user_id = $2"
        ))
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(OverviewRow::into_model).transpose()
    }

    /// Sets whether the member muted the conversation. Returns `false`
    /// when the user is not a member.
    async fn set_muted(
        &self,
        conversation: ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool> {
        // One row update, without the conversation's lock: the flag is
        // the member's own preference and no other write depends on it.
        // It waits only for writers of the same member row (sends, cursor
        // moves, role changes), sets a column none of them writes, and
        // holds no other lock, so it cannot take part in a deadlock.
        let updated = sqlx::query(
            "UPDATE conversation_members SET muted = $3 \
             WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .bind(muted)
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Sets who may post in a group. Returns `false` when there is no such
    /// group (direct conversations always let everyone post).
    async fn set_posting(
        &self,
        conversation: ConversationId,
        posting: PostingPolicy,
    ) -> Result<bool> {
        // The `kind` condition leaves direct conversations (and unknown
        // ids) unchanged; `conversations_posting_known` would refuse
        // 'admins' for them besides. The update queues behind whoever
        // holds the conversation's row (a send, a change, a membership
        // change) and holds no other lock.
        let updated = sqlx::query(
            "UPDATE conversations SET posting = $2 \
             WHERE conversation_id = $1 AND kind = 'group'",
        )
        .bind(conversation.as_uuid())
        .bind(posting.as_str())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(updated == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_stored_smaller_id_first() {
        let (a, b) = (UserId::new(), UserId::new());
        assert_eq!(ordered_pair(a, b), ordered_pair(b, a));
        assert_eq!(ordered_pair(a, b), (a.as_uuid(), b.as_uuid()));
    }

    #[test]
    fn unknown_kinds_roles_and_policies_are_internal_errors() {
        assert_eq!(parse_kind("channel").map_err(|e| e.code()), Err("INTERNAL"));
        assert_eq!(parse_role("root").map_err(|e| e.code()), Err("INTERNAL"));
        assert_eq!(parse_role("admin").ok(), Some(MemberRole::Admin));
        assert_eq!(
            parse_posting("nobody").map_err(|e| e.code()),
            Err("INTERNAL")
        );
        assert_eq!(parse_posting("admins").ok(), Some(PostingPolicy::Admins));
    }
}

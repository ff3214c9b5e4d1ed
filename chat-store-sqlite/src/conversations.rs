use std::collections::HashSet;

use async_trait::async_trait;
use chat_core::model::{
    Conversation, ConversationKind, ConversationOverview, Member, MemberEntry, MemberRemoval,
    MemberRole, Membership, MessageAttachment, NewDirectConversation, NewGroup, NewMember,
    PostingPolicy, UserSummary,
};
use chat_core::store::ConversationStore;
use chat_core::{ChatError, ConversationId, Result, Timestamp, UserId};
use sqlx::SqliteExecutor;
use sqlx::types::Json;
use uuid::Uuid;

use crate::messages::MessageRow;
use crate::{SqliteStore, from_sql_count, to_chat_error};

/// The columns [`MembershipRow`] reads (`c` is the conversation, `m` the
/// member row), as a literal so queries stay `'static`.
macro_rules! membership_columns {
    () => {
        "c.conversation_id, c.kind, c.name, c.creator_id, c.created_at, c.last_seq, \
         c.message_count, c.last_activity_at, c.posting, m.user_id, m.role, m.joined_at, \
         m.joined_seq, m.read_seq, m.read_message_count, m.read_at, m.delivered_seq, \
         m.delivered_at, m.own_unread, m.muted"
    };
}

/// The one query behind `overviews` and `overview`: the user's member row
/// `m` and its conversation `c`; for a direct conversation the other
/// member `p` (found through the ordered pair, a primary-key lookup) and
/// their profile `pu`; the newest message `lm` (not necessarily the entry
/// at `last_seq`, which may be a change: the last entry of the
/// `(conversation_id, seq)` unique index, then a lookup in it); and the
/// mention count (a range of the `message_mentions_user` index: the
/// user's mentions in the conversation after their read cursor). Callers
/// append the WHERE clause.
macro_rules! overview_select {
    () => {
        concat!(
            "SELECT ",
            membership_columns!(),
            ", p.user_id AS peer_user_id, p.role AS peer_role, p.joined_at AS peer_joined_at, \
               p.joined_seq AS peer_joined_seq, p.read_seq AS peer_read_seq, \
               p.read_message_count AS peer_read_message_count, \
               p.read_at AS peer_read_at, p.delivered_seq AS peer_delivered_seq, \
               p.delivered_at AS peer_delivered_at, p.own_unread AS peer_own_unread, \
               p.muted AS peer_muted, \
               pu.username AS peer_username, pu.display_name AS peer_display_name, pu.is_bot AS peer_is_bot, \
               lm.message_id AS last_message_id, lm.seq AS last_message_seq, \
               lm.sender_id AS last_sender_id, lm.content AS last_content, \
               lm.message_type AS last_message_type, lm.client_msg_id AS last_client_msg_id, \
               lm.created_at AS last_created_at, lm.reply_to AS last_reply_to, \
               lm.mentions AS last_mentions, lm.attachments AS last_attachments, \
               lm.edited_at AS last_edited_at, \
               lm.deleted_at AS last_deleted_at, \
               (SELECT COUNT(*) FROM message_mentions mm \
                WHERE mm.user_id = m.user_id AND mm.conversation_id = m.conversation_id \
                  AND mm.seq > m.read_seq) AS mention_count \
             FROM conversation_members m \
             JOIN conversations c ON c.conversation_id = m.conversation_id \
             LEFT JOIN conversation_members p ON p.conversation_id = c.conversation_id \
               AND p.user_id = CASE WHEN c.direct_user_low = m.user_id \
                                    THEN c.direct_user_high ELSE c.direct_user_low END \
             LEFT JOIN users pu ON pu.user_id = p.user_id \
             LEFT JOIN messages lm ON lm.conversation_id = c.conversation_id \
               AND lm.seq = (SELECT x.seq FROM messages x \
                             WHERE x.conversation_id = c.conversation_id \
                             ORDER BY x.seq DESC LIMIT 1) "
        )
    };
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    conversation_id: Uuid,
    kind: String,
    name: Option<String>,
    creator_id: Option<Uuid>,
    created_at: i64,
    last_seq: i64,
    message_count: i64,
    last_activity_at: i64,
    posting: String,
}

impl ConversationRow {
    fn into_model(self) -> Result<Conversation> {
        Ok(Conversation {
            id: ConversationId::from_uuid(self.conversation_id),
            kind: parse_kind(&self.kind)?,
            name: self.name,
            creator_id: self.creator_id.map(UserId::from_uuid),
            created_at: Timestamp::from_millis(self.created_at),
            last_seq: from_sql_count(self.last_seq),
            message_count: from_sql_count(self.message_count),
            last_activity_at: Timestamp::from_millis(self.last_activity_at),
            posting: parse_posting(&self.posting)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    role: String,
    joined_at: i64,
    joined_seq: i64,
    read_seq: i64,
    read_message_count: i64,
    read_at: Option<i64>,
    delivered_seq: i64,
    delivered_at: Option<i64>,
    own_unread: i64,
    muted: bool,
}

impl MemberRow {
    fn into_model(self) -> Result<Member> {
        Ok(Member {
            user_id: UserId::from_uuid(self.user_id),
            role: parse_role(&self.role)?,
            joined_at: Timestamp::from_millis(self.joined_at),
            joined_seq: from_sql_count(self.joined_seq),
            read_seq: from_sql_count(self.read_seq),
            read_message_count: from_sql_count(self.read_message_count),
            read_at: self.read_at.map(Timestamp::from_millis),
            delivered_seq: from_sql_count(self.delivered_seq),
            delivered_at: self.delivered_at.map(Timestamp::from_millis),
            own_unread: from_sql_count(self.own_unread),
            muted: self.muted,
        })
    }
}

/// A conversation and one member's row, as [`membership_columns`] reads them.
#[derive(sqlx::FromRow)]
pub(crate) struct MembershipRow {
    #[sqlx(flatten)]
    conversation: ConversationRow,
    #[sqlx(flatten)]
    member: MemberRow,
}

impl MembershipRow {
    pub(crate) fn into_model(self) -> Result<Membership> {
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
    peer_joined_at: Option<i64>,
    peer_joined_seq: Option<i64>,
    peer_read_seq: Option<i64>,
    peer_read_message_count: Option<i64>,
    peer_read_at: Option<i64>,
    peer_delivered_seq: Option<i64>,
    peer_delivered_at: Option<i64>,
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
    last_created_at: Option<i64>,
    last_reply_to: Option<Uuid>,
    last_mentions: Option<Vec<u8>>,
    last_attachments: Option<Json<Vec<MessageAttachment>>>,
    last_edited_at: Option<i64>,
    last_deleted_at: Option<i64>,
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
                Some(message_id),
                Some(seq),
                Some(sender_id),
                Some(content),
                Some(message_type),
                Some(created_at),
            ) => Some(
                MessageRow {
                    message_id,
                    conversation_id: membership.conversation.id.as_uuid(),
                    seq,
                    sender_id,
                    content,
                    message_type,
                    client_msg_id: self.last_client_msg_id,
                    created_at,
                    reply_to: self.last_reply_to,
                    mentions: self.last_mentions,
                    attachments: self.last_attachments,
                    edited_at: self.last_edited_at,
                    deleted_at: self.last_deleted_at,
                }
                .into_model()?,
            ),
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
/// first. BLOBs compare byte-wise, which is UUID order.
fn ordered_pair(a: UserId, b: UserId) -> (Uuid, Uuid) {
    if a <= b {
        (a.as_uuid(), b.as_uuid())
    } else {
        (b.as_uuid(), a.as_uuid())
    }
}

/// The user's membership in the conversation, if any.
pub(crate) async fn fetch_membership(
    executor: impl SqliteExecutor<'_>,
    conversation: ConversationId,
    user: UserId,
) -> Result<Option<Membership>> {
    let row: Option<MembershipRow> = sqlx::query_as(concat!(
        "SELECT ",
        membership_columns!(),
        " FROM conversation_members m \
          JOIN conversations c ON c.conversation_id = m.conversation_id \
          WHERE m.conversation_id = ?1 AND m.user_id = ?2"
    ))
    .bind(conversation.as_uuid())
    .bind(user.as_uuid())
    .fetch_optional(executor)
    .await
    .map_err(to_chat_error)?;
    row.map(MembershipRow::into_model).transpose()
}

/// Inserts a member row whose cursors all start at the end of the log:
/// `seq` is the conversation's `last_seq`, `message_count` its
/// `message_count` (the messages up to the read cursor).
async fn insert_member(
    executor: impl SqliteExecutor<'_>,
    conversation: ConversationId,
    member: NewMember,
    at: Timestamp,
    (seq, message_count): (i64, i64),
) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversation_members \
             (conversation_id, user_id, role, joined_at, joined_seq, read_seq, \
              read_message_count, delivered_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?5)",
    )
    .bind(conversation.as_uuid())
    .bind(member.user_id.as_uuid())
    .bind(member.role.as_str())
    .bind(at.as_millis())
    .bind(seq)
    .bind(message_count)
    .execute(executor)
    .await
    .map_err(to_chat_error)?;
    Ok(())
}

#[async_trait]
impl ConversationStore for SqliteStore {
    /// Returns the direct conversation of the pair, creating it (with both
    /// users as members) if there is none. The flag is true when it was
    /// created by this call. Concurrent calls for one pair all return the
    /// same conversation.
    async fn create_direct(&self, new: NewDirectConversation) -> Result<(ConversationId, bool)> {
        let (low, high) = ordered_pair(new.user_a, new.user_b);
        // Under the write lock the pair cannot appear between the insert
        // and the select; the unique index on the pair is what refuses a
        // second conversation all the same.
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO conversations (conversation_id, kind, created_at, last_activity_at, \
                 direct_user_low, direct_user_high) \
             VALUES (?1, 'direct', ?2, ?2, ?3, ?4) \
             ON CONFLICT (direct_user_low, direct_user_high) WHERE kind = 'direct' DO NOTHING",
        )
        .bind(new.id.as_uuid())
        .bind(new.created_at.as_millis())
        .bind(low)
        .bind(high)
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        if inserted == 1 {
            for user in [low, high] {
                let member = NewMember {
                    user_id: UserId::from_uuid(user),
                    role: MemberRole::Member,
                };
                insert_member(&mut *tx, new.id, member, new.created_at, (0, 0)).await?;
            }
            tx.commit().await.map_err(to_chat_error)?;
            return Ok((new.id, true));
        }
        let existing: Uuid = sqlx::query_scalar(
            "SELECT conversation_id FROM conversations \
             WHERE kind = 'direct' AND direct_user_low = ?1 AND direct_user_high = ?2",
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
             WHERE kind = 'direct' AND direct_user_low = ?1 AND direct_user_high = ?2",
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
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO conversations \
                 (conversation_id, kind, name, creator_id, created_at, last_activity_at) \
             VALUES (?1, 'group', ?2, ?3, ?4, ?4)",
        )
        .bind(group.id.as_uuid())
        .bind(group.name.as_str())
        .bind(group.creator_id.as_uuid())
        .bind(group.created_at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        for member in &group.members {
            insert_member(&mut *tx, group.id, *member, group.created_at, (0, 0)).await?;
        }
        tx.commit().await.map_err(to_chat_error)
    }

    /// The user's membership in a conversation; `None` when either does
    /// not exist or the user is not a member.
    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        fetch_membership(&self.pool, conversation, user).await
    }

    /// All members with their profiles, longest-standing first (by
    /// `joined_at`, then user id).
    async fn members(&self, conversation: ConversationId) -> Result<Vec<MemberEntry>> {
        // Inactive users stay listed: a deactivated member is still one.
        let rows: Vec<MemberEntryRow> = sqlx::query_as(
            "SELECT m.user_id, m.role, m.joined_at, m.joined_seq, m.read_seq, \
                    m.read_message_count, m.read_at, m.delivered_seq, m.delivered_at, \
                    m.own_unread, m.muted, u.username, u.display_name, u.is_bot \
             FROM conversation_members m JOIN users u ON u.user_id = m.user_id \
             WHERE m.conversation_id = ?1 \
             ORDER BY m.joined_at, m.user_id",
        )
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

    /// Adds users who are not members yet, with `joined_at = at` and
    /// every cursor at the conversation's current `last_seq` (and
    /// `read_message_count` at its `message_count`). Returns the users
    /// actually added; existing members are left unchanged.
    async fn add_members(
        &self,
        conversation: ConversationId,
        members: Vec<NewMember>,
        at: Timestamp,
        max_members: u32,
    ) -> Result<Vec<UserId>> {
        // The write lock held from BEGIN keeps the count, the limit check
        // and the inserts together: no concurrent add can slip in between.
        let mut tx = self.begin_write().await?;
        let end_of_log: Option<(i64, i64)> = sqlx::query_as(
            "SELECT last_seq, message_count FROM conversations WHERE conversation_id = ?1",
        )
        .bind(conversation.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        let Some(end_of_log) = end_of_log else {
            tx.rollback().await.map_err(to_chat_error)?;
            return Err(ChatError::ConversationNotFound);
        };
        let current: HashSet<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM conversation_members WHERE conversation_id = ?1",
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
        for member in &fresh {
            insert_member(&mut *tx, conversation, *member, at, end_of_log).await?;
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
        let mut tx = self.begin_write().await?;
        let role: Option<String> = sqlx::query_scalar(
            "DELETE FROM conversation_members \
             WHERE conversation_id = ?1 AND user_id = ?2 \
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
                 WHERE conversation_id = ?1 AND user_id = ( \
                     SELECT user_id FROM conversation_members \
                     WHERE conversation_id = ?1 AND role <> 'owner' \
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
        let updated = sqlx::query(
            "UPDATE conversation_members SET role = ?3 \
             WHERE conversation_id = ?1 AND user_id = ?2",
        )
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(updated == 1)
    }

    /// The user's conversations (optionally of one kind), most recent
    /// activity first (`last_activity_at`, then id, both descending), each
    /// with its newest message and the user's `mention_count`.
    async fn overviews(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>> {
        let rows: Vec<OverviewRow> = sqlx::query_as(concat!(
            overview_select!(),
            "WHERE m.user_id = ?1 AND (?2 IS NULL OR c.kind = ?2) \
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
            "WHERE m.conversation_id = ?1 AND m.user_id = ?2"
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
        let updated = sqlx::query(
            "UPDATE conversation_members SET muted = ?3 \
             WHERE conversation_id = ?1 AND user_id = ?2",
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
    /// group: a direct conversation is left as it is (always `Everyone`).
    async fn set_posting(
        &self,
        conversation: ConversationId,
        posting: PostingPolicy,
    ) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE conversations SET posting = ?2 \
             WHERE conversation_id = ?1 AND kind = 'group'",
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
            parse_posting("moderators").map_err(|e| e.code()),
            Err("INTERNAL")
        );
        assert_eq!(parse_posting("admins").ok(), Some(PostingPolicy::Admins));
    }
}

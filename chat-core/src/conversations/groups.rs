//! Groups: creation, members and roles.

use std::collections::HashSet;

use super::ConversationService;
use crate::domain::GroupName;
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{ConversationId, UserId};
use crate::model::{
    Conversation, ConversationKind, MemberEntry, MemberRemoval, MemberRole, NewGroup, NewMember,
};

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's conversation.
    pub conversation: Conversation,
    /// Members, longest-standing first.
    pub members: Vec<MemberEntry>,
}

impl ConversationService {
    /// Creates a group owned by `creator` with the given other members
    /// (duplicates and the creator themself are ignored).
    ///
    /// # Errors
    /// `USER_NOT_FOUND` when a member is unknown or inactive; `GROUP_FULL`
    /// past the member limit.
    pub async fn create_group(
        &self,
        creator: UserId,
        name: GroupName,
        member_ids: Vec<UserId>,
    ) -> Result<GroupInfo> {
        let others = self.existing_users(member_ids, Some(creator)).await?;
        let max = self.config.max_group_members;
        if others.len() + 1 > max as usize {
            return Err(ChatError::GroupFull { max });
        }
        let members = std::iter::once(NewMember {
            user_id: creator,
            role: MemberRole::Owner,
        })
        .chain(others.into_iter().map(|user_id| NewMember {
            user_id,
            role: MemberRole::Member,
        }))
        .collect();
        let id = ConversationId::new();
        let group = NewGroup {
            id,
            name,
            creator_id: creator,
            created_at: self.deps.clock.now(),
            members,
        };
        self.deps.conversations.create_group(group).await?;
        self.group(creator, id).await
    }

    /// A group the caller is in, with its members.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`.
    pub async fn group(&self, user: UserId, group: ConversationId) -> Result<GroupInfo> {
        let me = self
            .require_member(user, group, Some(ConversationKind::Group))
            .await?;
        let members = self.deps.conversations.members(group).await?;
        Ok(GroupInfo {
            conversation: me.conversation,
            members,
        })
    }

    /// Adds users to a group; owners and admins only. Users already in the
    /// group are skipped. Returns the users added.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `PERMISSION_DENIED`, `USER_NOT_FOUND`,
    /// `GROUP_FULL` (adding no one), `INVALID_BODY` for an empty list.
    pub async fn add_members(
        &self,
        actor: UserId,
        group: ConversationId,
        user_ids: Vec<UserId>,
    ) -> Result<Vec<UserId>> {
        let me = self
            .require_member(actor, group, Some(ConversationKind::Group))
            .await?;
        if !me.member.role.manages_members() {
            return Err(ChatError::PermissionDenied(
                "only the owner and admins may add members",
            ));
        }
        if user_ids.is_empty() {
            return Err(ValidationError::new(
                "user_ids",
                "INVALID_BODY",
                "user_ids must not be empty",
            )
            .into());
        }
        let users = self.existing_users(user_ids, None).await?;
        let new = users
            .into_iter()
            .map(|user_id| NewMember {
                user_id,
                role: MemberRole::Member,
            })
            .collect();
        let now = self.deps.clock.now();
        let added = self
            .deps
            .conversations
            .add_members(group, new, now, self.config.max_group_members)
            .await;
        self.deps.members.changed(group).await;
        added
    }

    /// Removes `target` from a group. Anyone may remove themself (leave);
    /// the owner removes anyone else; admins remove plain members. When
    /// the owner leaves, the longest-standing admin (else member) becomes
    /// owner.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MEMBER_NOT_FOUND`, `PERMISSION_DENIED`.
    pub async fn remove_member(
        &self,
        actor: UserId,
        group: ConversationId,
        target: UserId,
    ) -> Result<MemberRemoval> {
        let me = self
            .require_member(actor, group, Some(ConversationKind::Group))
            .await?;
        if target != actor {
            let them = self
                .deps
                .conversations
                .membership(group, target)
                .await?
                .ok_or(ChatError::MemberNotFound)?;
            let allowed = match me.member.role {
                MemberRole::Owner => true,
                MemberRole::Admin => them.member.role == MemberRole::Member,
                MemberRole::Member => false,
            };
            if !allowed {
                return Err(ChatError::PermissionDenied(
                    "the owner removes members and admins; admins remove members",
                ));
            }
        }
        let removed = self.deps.conversations.remove_member(group, target).await;
        self.deps.members.changed(group).await;
        removed?.ok_or(ChatError::MemberNotFound)
    }

    /// Makes a member an admin or a plain member; the owner only.
    /// Ownership is not assigned this way: it passes when the owner leaves.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `PERMISSION_DENIED`, `MEMBER_NOT_FOUND`,
    /// `INVALID_ROLE`.
    pub async fn set_role(
        &self,
        actor: UserId,
        group: ConversationId,
        target: UserId,
        role: MemberRole,
    ) -> Result<()> {
        let me = self
            .require_member(actor, group, Some(ConversationKind::Group))
            .await?;
        if me.member.role != MemberRole::Owner {
            return Err(ChatError::PermissionDenied(
                "only the owner may change roles",
            ));
        }
        if role == MemberRole::Owner || target == actor {
            return Err(ValidationError::new(
                "role",
                "INVALID_ROLE",
                "the owner may make other members admin or member; ownership passes when the owner leaves",
            )
            .into());
        }
        if self
            .deps
            .conversations
            .set_member_role(group, target, role)
            .await?
        {
            // Roles decide who may post where only admins do.
            self.deps.members.changed(group).await;
            Ok(())
        } else {
            Err(ChatError::MemberNotFound)
        }
    }

    /// `ids` without duplicates and without `except`, checking that every
    /// one is an active user.
    async fn existing_users(
        &self,
        ids: Vec<UserId>,
        except: Option<UserId>,
    ) -> Result<Vec<UserId>> {
        let mut seen = HashSet::new();
        let ids: Vec<UserId> = ids
            .into_iter()
            .filter(|id| Some(*id) != except && seen.insert(*id))
            .collect();
        if ids.is_empty() {
            return Ok(ids);
        }
        let found = self.deps.users.user_summaries(&ids).await?;
        if found.len() != ids.len() {
            return Err(ChatError::UserNotFound);
        }
        Ok(ids)
    }
}

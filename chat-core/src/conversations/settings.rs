//! A member's settings of a conversation (muting) and a group's posting
//! policy.

use super::{ConversationService, GroupInfo};
use crate::error::{ChatError, Result};
use crate::ids::{ConversationId, UserId};
use crate::model::{ConversationKind, ConversationOverview, PostingPolicy};

impl ConversationService {
    /// Mutes (`muted = true`) or unmutes a conversation for the caller: it
    /// keeps counting unread messages, but notifies them of nothing, and
    /// the list marks it muted. Other members see nothing of it.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`.
    pub async fn set_muted(
        &self,
        user: UserId,
        conversation: ConversationId,
        muted: bool,
    ) -> Result<ConversationOverview> {
        if !self
            .deps
            .conversations
            .set_muted(conversation, user, muted)
            .await?
        {
            return Err(ChatError::ConversationNotFound);
        }
        self.conversation(user, conversation).await
    }

    /// Sets who may post in a group; its owner and admins only. Under
    /// [`PostingPolicy::Admins`] the other members read and react, and
    /// their sends answer `POSTING_RESTRICTED`.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `PERMISSION_DENIED`.
    pub async fn set_posting(
        &self,
        actor: UserId,
        group: ConversationId,
        posting: PostingPolicy,
    ) -> Result<GroupInfo> {
        let me = self
            .require_member(actor, group, Some(ConversationKind::Group))
            .await?;
        if !me.member.role.manages_members() {
            return Err(ChatError::PermissionDenied(
                "only the group's owner and admins may set who posts",
            ));
        }
        if me.conversation.posting != posting {
            if !self.deps.conversations.set_posting(group, posting).await? {
                return Err(ChatError::ConversationNotFound);
            }
            self.deps.members.changed(group).await;
        }
        self.group(actor, group).await
    }
}

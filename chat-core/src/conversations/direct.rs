//! Direct conversations and conversation lists.

use super::ConversationService;
use crate::domain::Username;
use crate::error::{ChatError, Result};
use crate::ids::{ConversationId, UserId};
use crate::model::{ConversationKind, ConversationOverview, NewDirectConversation};

impl ConversationService {
    /// The caller's direct conversation with the user named `username`
    /// (case-insensitive), created if missing. The flag is true when this
    /// call created it.
    ///
    /// # Errors
    /// `USER_NOT_FOUND` for an unknown or inactive user;
    /// `INVALID_RECIPIENT` for the caller themself; `USER_BLOCKED` /
    /// `RECIPIENT_UNAVAILABLE` across a block.
    pub async fn open_direct(
        &self,
        user: UserId,
        username: &str,
    ) -> Result<(ConversationOverview, bool)> {
        let key = Username::parse(username)
            .map_err(|_| ChatError::UserNotFound)?
            .key();
        let peer = match self.deps.users.credentials_by_username(&key).await? {
            Some(c) if c.user.is_active => c.user.id,
            _ => return Err(ChatError::UserNotFound),
        };
        if peer == user {
            return Err(ChatError::InvalidRecipient(
                "a direct conversation needs a user other than yourself",
            ));
        }
        self.deps.blocks.check_direct(user, peer).await?;
        let new = NewDirectConversation {
            id: ConversationId::new(),
            user_a: user,
            user_b: peer,
            created_at: self.deps.clock.now(),
        };
        let (id, created) = self.deps.conversations.create_direct(new).await?;
        let overview = self.conversation(user, id).await?;
        Ok((overview, created))
    }

    /// The caller's conversations (optionally only one kind), most recent
    /// activity first, each with its last message and unread count.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn conversations(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>> {
        self.deps.conversations.overviews(user, kind).await
    }

    /// One of the caller's conversations, as the list shows it.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`.
    pub async fn conversation(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> Result<ConversationOverview> {
        self.deps
            .conversations
            .overview(conversation, user)
            .await?
            .ok_or(ChatError::ConversationNotFound)
    }
}

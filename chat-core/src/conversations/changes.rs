//! Changing messages: edits, deletions and reactions.
//!
//! The service decides who may do what; the store applies the change as
//! the next entry of the conversation's log (one seq space with messages,
//! see `docs/architecture.md`, "The conversation log"), and the fan-out
//! sends it to every connection of every member, the actor's included, in
//! seq order with messages.

use std::sync::Arc;

use serde::Serialize;

use super::{ConversationService, mentions};
use crate::domain::{Emoji, MessageContent};
use crate::error::{ChatError, Result, ValidationError};
use crate::fanout::live_view;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::members::MemberSet;
use crate::message_hook::{Draft, DraftAction};
use crate::message_views::decorate;
use crate::model::{
    ChangeAction, ChangeOutcome, ConversationKind, Message, MessageChange, MessageView, NewChange,
};
use crate::rate_limit::RateDecision;

/// The result of a change: the log entry it made (none when it changed
/// nothing, such as a reaction that was already there) and the message as
/// it is now, seen by the actor.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedMessage {
    /// The message after the change, with its reactions.
    pub message: MessageView,
    /// The log entry, sent to every member as `message.changed`; absent
    /// when nothing changed.
    pub change: Option<MessageChange>,
}

impl ConversationService {
    /// Replaces the content of the caller's own message (within the edit
    /// window, when one is configured). Mentions are resolved again from
    /// the new text. The text of a message with attachments may become
    /// empty ([`MessageContent::parse_caption`]); of any other, not.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`, `MESSAGE_DELETED`,
    /// `PERMISSION_DENIED` (someone else's message), `EDIT_WINDOW_CLOSED`,
    /// `EMPTY_CONTENT` (no text left and no attachments), `RATE_LIMITED`,
    /// `MESSAGE_REFUSED` / `MODERATION_UNAVAILABLE` from the moderation
    /// hook, which may also rewrite the new text.
    pub async fn edit_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
        content: MessageContent,
    ) -> Result<ChangedMessage> {
        let (members, target) = self.changeable(user, conversation, message).await?;
        if target.sender_id != user {
            return Err(ChatError::PermissionDenied(
                "only the sender can edit a message",
            ));
        }
        if let Some(window) = self.config.edit_window
            && self.deps.clock.now().since(target.created_at) > window
        {
            return Err(ChatError::EditWindowClosed);
        }
        if content.is_empty() && target.attachments.is_empty() {
            return Err(ValidationError::new(
                "content",
                "EMPTY_CONTENT",
                "message content must not be empty",
            )
            .into());
        }
        let content = self
            .deps
            .hook
            .review(Draft {
                action: DraftAction::Edit {
                    message_id: message,
                },
                conversation_id: conversation,
                conversation_kind: members.kind,
                sender_id: user,
                content,
                message_type: target.message_type.clone(),
                reply_to: target.reply_to,
                attachments: target.attachments.iter().map(|a| a.attachment_id).collect(),
            })
            .await?
            .content;
        let mentions = self.mentions(conversation, content.as_str(), user).await?;
        let action = ChangeAction::Edit { content, mentions };
        self.apply(user, conversation, message, action, &members, false)
            .await
    }

    /// Deletes a message: the caller's own, or any message of a group the
    /// caller owns or administers. Its content, mentions and reactions are
    /// gone; a tombstone keeps its place in history.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`, `MESSAGE_DELETED`,
    /// `PERMISSION_DENIED`, `RATE_LIMITED`.
    pub async fn delete_message(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<ChangedMessage> {
        let (members, target) = self.changeable(user, conversation, message).await?;
        if target.sender_id != user {
            let me = self.require_member(user, conversation, None).await?;
            let moderates =
                me.conversation.kind == ConversationKind::Group && me.member.role.manages_members();
            if !moderates {
                return Err(ChatError::PermissionDenied(
                    "only the sender, or a group's owner or admins, can delete a message",
                ));
            }
        }
        self.apply(
            user,
            conversation,
            message,
            ChangeAction::Delete,
            &members,
            false,
        )
        .await
    }

    /// Deletes any message as a server operator (the admin API checked
    /// the role): no membership needed, no rate limit, and the members see
    /// a deletion by `operator`.
    ///
    /// # Errors
    /// `MESSAGE_NOT_FOUND` (also for an unknown conversation),
    /// `MESSAGE_DELETED`.
    pub(crate) async fn delete_message_as_operator(
        &self,
        operator: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<ChangedMessage> {
        let target = self
            .deps
            .messages
            .message(conversation, message)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        if target.is_deleted() {
            return Err(ChatError::MessageDeleted);
        }
        let members = self.deps.members.of(conversation).await?;
        self.apply(
            operator,
            conversation,
            message,
            ChangeAction::Delete,
            &members,
            true,
        )
        .await
    }

    /// Adds (`add`) or takes back the caller's reaction with `emoji` on a
    /// message of a conversation they belong to. Reacting twice with one
    /// emoji, or taking back a reaction one does not have, changes nothing.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`, `MESSAGE_DELETED`,
    /// `RATE_LIMITED`.
    pub async fn react(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
        emoji: Emoji,
        add: bool,
    ) -> Result<ChangedMessage> {
        let (members, _) = self.changeable(user, conversation, message).await?;
        let action = if add {
            ChangeAction::AddReaction(emoji)
        } else {
            ChangeAction::RemoveReaction(emoji)
        };
        self.apply(user, conversation, message, action, &members, false)
            .await
    }

    /// The conversation of a message the caller can see, for transports
    /// that name a message alone (the WebSocket's change frames).
    ///
    /// # Errors
    /// `MESSAGE_NOT_FOUND`, also for a message of a conversation the caller
    /// is not in (it does not exist for them).
    pub async fn conversation_of(
        &self,
        user: UserId,
        message: MessageId,
    ) -> Result<ConversationId> {
        let found = self.deps.messages.messages_by_ids(&[message]).await?;
        let conversation = found
            .first()
            .map(|m| m.conversation_id)
            .ok_or(ChatError::MessageNotFound)?;
        match self.deps.members.require(conversation, user, None).await {
            Ok(_) => Ok(conversation),
            Err(ChatError::ConversationNotFound) => Err(ChatError::MessageNotFound),
            Err(e) => Err(e),
        }
    }

    /// Checks what every change needs: the caller's rate budget (changes
    /// share the message limit), membership, and a message of that
    /// conversation that is not deleted.
    async fn changeable(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<(Arc<MemberSet>, Message)> {
        let d = &self.deps;
        let limit_key = format!("msg:{user}");
        if let RateDecision::Limited { retry_after } =
            d.limiter.hit(&limit_key, self.config.message_limit).await?
        {
            return Err(ChatError::RateLimited { retry_after });
        }
        let members = d.members.require(conversation, user, None).await?;
        let target = d
            .messages
            .message(conversation, message)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        if target.is_deleted() {
            return Err(ChatError::MessageDeleted);
        }
        Ok((members, target))
    }

    async fn apply(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
        action: ChangeAction,
        members: &MemberSet,
        by_operator: bool,
    ) -> Result<ChangedMessage> {
        let change = NewChange {
            conversation_id: conversation,
            message_id: message,
            actor_id: user,
            by_operator,
            action,
            at: self.deps.clock.now(),
        };
        let (change, message) = match self.deps.messages.apply_change(change).await? {
            ChangeOutcome::Applied { change, message } => {
                self.deps.fanout.change(&change, members).await;
                (Some(change), message)
            }
            ChangeOutcome::Unchanged(message) => (None, message),
            ChangeOutcome::NotMember => {
                self.deps.members.changed(conversation).await;
                return Err(ChatError::ConversationNotFound);
            }
            ChangeOutcome::MessageNotFound => return Err(ChatError::MessageNotFound),
            ChangeOutcome::MessageDeleted => return Err(ChatError::MessageDeleted),
        };
        let mut views = [live_view(message, members)];
        decorate(&*self.deps.messages, user, &mut views).await?;
        let [message] = views;
        Ok(ChangedMessage { message, change })
    }

    /// The members of `conversation` that `text` mentions (none when it
    /// has no `@`, without reading the member list).
    pub(super) async fn mentions(
        &self,
        conversation: ConversationId,
        text: &str,
        author: UserId,
    ) -> Result<Vec<UserId>> {
        if !mentions::may_mention(text) {
            return Ok(Vec::new());
        }
        let members = self.deps.conversations.members(conversation).await?;
        Ok(mentions::resolve(text, &members, author))
    }
}

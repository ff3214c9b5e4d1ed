//! Sending, history, unread messages, cursors and receipts.
//!
//! The order of work for a message is: validate (at the edge), authorize,
//! persist (the message gets its seq, and the store confirms membership in
//! the same transaction), fan out to every connection of every member (the
//! sender's other devices included) and queue it for members with none,
//! then answer the sender. Persisting first means a message is never shown
//! that history does not have; see `docs/architecture.md`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::page::{invalid_around, invalid_before, limit_or_default};
use super::{ConversationRef, ConversationService, PageRequest};
use crate::domain::{ClientMsgId, MessageContent, MessageType};
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::ConnectionId;
use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
use crate::log_throttle::{Throttle, WARN_INTERVAL, cause};
use crate::members::MemberSet;
use crate::message_hook::{Draft, DraftAction};
use crate::message_views::decorate;
use crate::model::{
    ConversationKind, DeliveryMove, InsertOutcome, MAX_ATTACHMENTS_PER_MESSAGE, Member, Membership,
    Message, MessageAttachment, MessageView, NewDirectConversation, NewMessage, Receipt,
    ReplyQuote,
};
use crate::protocol::{DeliveryReceipt, ReadReceipt};
use crate::rate_limit::RateDecision;
use crate::store::QueuedInsert;
use crate::time::Timestamp;

/// How many of the newest delivered messages a delivery receipt looks at
/// to find whom to tell: their senders get `message.delivered`.
const RECEIPT_SENDERS_WINDOW: u32 = 100;

/// A validated message to send.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Text; empty only when there are attachments.
    pub content: MessageContent,
    /// Type (`text` by default).
    pub message_type: MessageType,
    /// Idempotency key.
    pub client_msg_id: Option<ClientMsgId>,
    /// The message of the same conversation this one answers.
    pub reply_to: Option<MessageId>,
    /// The sender's uploads it sends, in order, each once, at most
    /// [`MAX_ATTACHMENTS_PER_MESSAGE`].
    pub attachments: Vec<AttachmentId>,
}

impl OutgoingMessage {
    /// Validates the parts of a message as a client sends them; the type
    /// defaults to `text`.
    ///
    /// # Errors
    /// `EMPTY_CONTENT`, `CONTENT_TOO_LONG`, `INVALID_CONTENT`,
    /// `INVALID_MESSAGE_TYPE`, `INVALID_CLIENT_MSG_ID`.
    pub fn parse(
        content: &str,
        message_type: Option<&str>,
        client_msg_id: Option<&str>,
    ) -> std::result::Result<Self, ValidationError> {
        Self::parse_with_attachments(content, message_type, client_msg_id, Vec::new())
    }

    /// As [`parse`](Self::parse), for a message that may send
    /// attachments: with any, the text may be blank.
    ///
    /// # Errors
    /// Those of [`parse`](Self::parse) (`EMPTY_CONTENT` only without
    /// attachments), `TOO_MANY_ATTACHMENTS` past
    /// [`MAX_ATTACHMENTS_PER_MESSAGE`], `DUPLICATE_ATTACHMENT` for an id
    /// named twice.
    pub fn parse_with_attachments(
        content: &str,
        message_type: Option<&str>,
        client_msg_id: Option<&str>,
        attachments: Vec<AttachmentId>,
    ) -> std::result::Result<Self, ValidationError> {
        if attachments.len() > MAX_ATTACHMENTS_PER_MESSAGE {
            return Err(ValidationError::new(
                "attachments",
                "TOO_MANY_ATTACHMENTS",
                "a message holds at most 10 attachments",
            ));
        }
        let distinct: HashSet<AttachmentId> = attachments.iter().copied().collect();
        if distinct.len() != attachments.len() {
            return Err(ValidationError::new(
                "attachments",
                "DUPLICATE_ATTACHMENT",
                "an attachment is named more than once",
            ));
        }
        let content = if attachments.is_empty() {
            MessageContent::parse(content)?
        } else {
            MessageContent::parse_caption(content)?
        };
        Ok(Self {
            content,
            message_type: message_type
                .map(MessageType::parse)
                .transpose()?
                .unwrap_or_default(),
            client_msg_id: client_msg_id.map(ClientMsgId::parse).transpose()?,
            reply_to: None,
            attachments,
        })
    }

    /// A `text` message without an idempotency key.
    pub fn text(content: MessageContent) -> Self {
        Self {
            content,
            message_type: MessageType::text(),
            client_msg_id: None,
            reply_to: None,
            attachments: Vec::new(),
        }
    }
}

/// A sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The stored message.
    pub message: Message,
    /// True when the `client_msg_id` had been used before and this is the
    /// original message, not a new one (whose text may differ from this
    /// send's).
    pub replayed: bool,
    /// True when the moderation hook rewrote the text: the stored text is
    /// not the one sent.
    pub rewritten: bool,
}

/// One page of history, newest first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryPage {
    /// The messages.
    pub messages: Vec<MessageView>,
    /// True when older messages exist beyond this page.
    pub has_more: bool,
    /// True when newer messages exist beyond this page (only a page
    /// `around` a message has any).
    pub has_newer: bool,
}

impl HistoryPage {
    fn empty() -> Self {
        Self {
            messages: Vec::new(),
            has_more: false,
            has_newer: false,
        }
    }
}

/// The caller's unread messages.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadMessages {
    /// The oldest unread messages, oldest first.
    pub messages: Vec<MessageView>,
    /// How many unread messages there are in all.
    pub total: u64,
}

/// The read cursor after a read.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReadState {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The read cursor.
    pub read_seq: u64,
    /// Messages by others after the cursor.
    pub unread_count: u64,
}

impl From<&Membership> for ReadState {
    fn from(m: &Membership) -> Self {
        Self {
            conversation_id: m.conversation.id,
            read_seq: m.member.read_seq,
            unread_count: m.unread_count(),
        }
    }
}

/// Who has a message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageReceipts {
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its seq.
    pub seq: u64,
    /// One entry per member other than the sender who was a member when it
    /// was sent.
    pub receipts: Vec<Receipt>,
}

/// A send whose message is queued for the store
/// ([`ConversationService::queue_send_from`]): its place in its
/// conversation is fixed; [`finish`](Self::finish) waits for the commit.
pub struct QueuedSend {
    conversation_id: ConversationId,
    step: SendStep,
}

/// Where a [`QueuedSend`] is.
enum SendStep {
    /// Its message is queued for the store.
    Queued {
        service: ConversationService,
        insert: QueuedInsert,
        members: Arc<MemberSet>,
        reply: Option<ReplyQuote>,
        origin: Option<ConnectionId>,
        /// Whether the moderation hook rewrote the text.
        rewritten: bool,
    },
    /// Answered without a write: a repeated `client_msg_id`.
    Replayed(Message),
}

impl std::fmt::Debug for QueuedSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedSend")
            .field("conversation_id", &self.conversation_id)
            .finish_non_exhaustive()
    }
}

impl QueuedSend {
    /// The conversation the message was queued in.
    pub fn conversation_id(&self) -> ConversationId {
        self.conversation_id
    }

    /// Waits for the message's batch to commit, then fans it out to every
    /// connection of every member (but the origin) and queues it for
    /// members with none. Messages of one conversation committed by this
    /// instance are published in seq order, whichever `finish` runs first.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND` when the store found the sender no longer
    /// a member; `ATTACHMENT_NOT_FOUND` when another message sent one of
    /// its attachments meanwhile; `STORE_UNAVAILABLE`; `INTERNAL`.
    pub async fn finish(self) -> Result<SentMessage> {
        let (service, insert, members, reply, origin, rewritten) = match self.step {
            SendStep::Replayed(message) => {
                return Ok(SentMessage {
                    message,
                    replayed: true,
                    rewritten: false,
                });
            }
            SendStep::Queued {
                service,
                insert,
                members,
                reply,
                origin,
                rewritten,
            } => (service, insert, members, reply, origin, rewritten),
        };
        let d = &service.deps;
        let inserted = insert.outcome().await?;
        match inserted.outcome {
            InsertOutcome::Created(message) => {
                service.metrics.message_accepted();
                service.recent.stored(&message);
                d.fanout
                    .message(&message, reply, &members, origin, inserted.turn)
                    .await;
                Ok(SentMessage {
                    message,
                    replayed: false,
                    rewritten,
                })
            }
            InsertOutcome::Existing(message) => Ok(SentMessage {
                message,
                replayed: true,
                rewritten: false,
            }),
            InsertOutcome::NotMember => {
                // The cached list named a member who has left.
                d.members.changed(self.conversation_id).await;
                Err(ChatError::ConversationNotFound)
            }
            // Sent in another message committed meanwhile.
            InsertOutcome::AttachmentNotFound => Err(ChatError::AttachmentNotFound),
        }
    }
}

impl ConversationService {
    /// Sends a message. A direct conversation is created on first use.
    /// Once stored, it is fanned out to every connection of every member
    /// and queued for members with none.
    ///
    /// # Errors
    /// `RATE_LIMITED` past the per-user message limit; `INVALID_RECIPIENT`
    /// for an unknown or inactive recipient or oneself;
    /// `CONVERSATION_NOT_FOUND` when the sender is not a member;
    /// `USER_BLOCKED` / `RECIPIENT_UNAVAILABLE` for a direct message across
    /// a block; `POSTING_RESTRICTED` in a group where only its owner and
    /// admins post; `MESSAGE_REFUSED` / `MODERATION_UNAVAILABLE` from the
    /// moderation hook ([`MessageHook`](crate::message_hook::MessageHook)),
    /// which may also have rewritten the text that is stored.
    pub async fn send(
        &self,
        sender: UserId,
        target: ConversationRef,
        message: OutgoingMessage,
    ) -> Result<SentMessage> {
        self.send_as(sender, target, message, None).await
    }

    /// [`send`](Self::send) from the live connection `origin`, which gets
    /// no `message.new` echo of its own message (its transport answers
    /// with `message.sent`).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_from(
        &self,
        sender: UserId,
        origin: ConnectionId,
        target: ConversationRef,
        message: OutgoingMessage,
    ) -> Result<SentMessage> {
        self.send_as(sender, target, message, Some(origin)).await
    }

    /// [`send_from`](Self::send_from) in two steps, for a connection with
    /// several sends under way: this one checks the send and queues its
    /// message for the store, and returns once it is queued; the
    /// [`QueuedSend`] then waits for the commit and fans the message out.
    /// Sends queued one after another (each awaited before the next is
    /// queued) are stored in that order in their conversation, however
    /// their `finish` calls overlap.
    ///
    /// # Errors
    /// As [`send`](Self::send), for what is checked before the message is
    /// queued.
    pub async fn queue_send_from(
        &self,
        sender: UserId,
        origin: ConnectionId,
        target: ConversationRef,
        message: OutgoingMessage,
    ) -> Result<QueuedSend> {
        self.queue_send(sender, target, message, Some(origin)).await
    }

    async fn send_as(
        &self,
        sender: UserId,
        target: ConversationRef,
        message: OutgoingMessage,
        origin: Option<ConnectionId>,
    ) -> Result<SentMessage> {
        self.queue_send(sender, target, message, origin)
            .await?
            .finish()
            .await
    }

    async fn queue_send(
        &self,
        sender: UserId,
        target: ConversationRef,
        message: OutgoingMessage,
        origin: Option<ConnectionId>,
    ) -> Result<QueuedSend> {
        let d = &self.deps;
        let limit_key = format!("msg:{sender}");
        if let RateDecision::Limited { retry_after } =
            d.limiter.hit(&limit_key, self.config.message_limit).await?
        {
            return Err(ChatError::RateLimited { retry_after });
        }
        let now = d.clock.now();
        let (conversation_id, members) = match target {
            ConversationRef::Direct(recipient) => {
                if recipient == sender {
                    return Err(ChatError::InvalidRecipient(
                        "a direct message needs a recipient other than the sender",
                    ));
                }
                d.blocks.check_direct(sender, recipient).await?;
                // Only the first message of a pair pays for the recipient
                // check and the get-or-create write; later ones are a read.
                let id = match d.members.direct_between(sender, recipient).await? {
                    Some(id) => id,
                    None => {
                        if d.users.user_summaries(&[recipient]).await?.is_empty() {
                            return Err(ChatError::InvalidRecipient("no such user"));
                        }
                        let new = NewDirectConversation {
                            id: ConversationId::new(),
                            user_a: sender,
                            user_b: recipient,
                            created_at: now,
                        };
                        let id = d.conversations.create_direct(new).await?.0;
                        d.members.remember_direct(id, sender, recipient);
                        id
                    }
                };
                (id, d.members.of(id).await?)
            }
            ConversationRef::Group(id) | ConversationRef::Id(id) => {
                // The cached member list routes the message; the store
                // confirms membership in the insert's transaction, and a
                // cached "not a member" is checked with the store first.
                let kind =
                    matches!(target, ConversationRef::Group(_)).then_some(ConversationKind::Group);
                let members = d.members.require(id, sender, kind).await?;
                if members.kind == ConversationKind::Direct
                    && let Some(peer) = members.others(sender).first()
                {
                    d.blocks.check_direct(sender, *peer).await?;
                }
                (id, members)
            }
        };
        if !members.may_post(sender) {
            return Err(ChatError::PostingRestricted);
        }
        let reply = match message.reply_to {
            Some(parent) => {
                let parent = d
                    .messages
                    .message(conversation_id, parent)
                    .await?
                    .ok_or(ChatError::MessageNotFound)?;
                if parent.is_deleted() {
                    return Err(ChatError::MessageDeleted);
                }
                Some(ReplyQuote::of(&parent))
            }
            None => None,
        };
        let attachments = self
            .sendable_attachments(sender, &message.attachments)
            .await?;
        // A send repeated with its key gets its first message back, as
        // the insert would answer, without asking the hook again: a second
        // opinion could refuse a message that is already stored.
        if d.hook.is_set()
            && let Some(key) = &message.client_msg_id
            && let Some(message) = d
                .messages
                .message_by_client_msg_id(conversation_id, sender, key)
                .await?
        {
            return Ok(QueuedSend {
                conversation_id,
                step: SendStep::Replayed(message),
            });
        }
        let reviewed = d
            .hook
            .review(Draft {
                action: DraftAction::Send,
                conversation_id,
                conversation_kind: members.kind,
                sender_id: sender,
                content: message.content,
                message_type: message.message_type.as_str().to_owned(),
                reply_to: message.reply_to,
                attachments: message.attachments,
            })
            .await?;
        let mentions = self
            .mentions(conversation_id, reviewed.content.as_str(), sender)
            .await?;
        let new = NewMessage {
            id: MessageId::new(),
            conversation_id,
            sender_id: sender,
            content: reviewed.content,
            message_type: message.message_type,
            client_msg_id: message.client_msg_id,
            created_at: now,
            reply_to: message.reply_to,
            mentions,
            attachments,
        };
        let insert = d.writes.queue_insert(new).await?;
        Ok(QueuedSend {
            conversation_id,
            step: SendStep::Queued {
                service: self.clone(),
                insert,
                members,
                reply,
                origin,
                rewritten: reviewed.rewritten,
            },
        })
    }

    /// What a message carries of the attachments `ids`, in that order:
    /// each must be an upload of `sender`'s. Whether one was sent already
    /// is for the store to say, in the insert's transaction: another send
    /// may take one meanwhile, and a retry of the message that sent it
    /// (same `client_msg_id`) must get that message back, not an error.
    ///
    /// # Errors
    /// `ATTACHMENT_NOT_FOUND` for any other.
    async fn sendable_attachments(
        &self,
        sender: UserId,
        ids: &[AttachmentId],
    ) -> Result<Vec<MessageAttachment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.deps.attachments.attachments(ids).await?;
        ids.iter()
            .map(|id| {
                found
                    .iter()
                    .find(|a| a.upload.id == *id)
                    .filter(|a| a.upload.uploader == sender)
                    .map(|a| MessageAttachment::from(&a.upload))
                    .ok_or(ChatError::AttachmentNotFound)
            })
            .collect()
    }

    /// A page of a conversation's history, newest first. The direct
    /// conversation with a user who was never written to is empty.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `USER_NOT_FOUND` (unknown peer),
    /// `INVALID_PAGINATION` for a `before` that is not in the conversation.
    pub async fn history(
        &self,
        user: UserId,
        target: ConversationRef,
        page: PageRequest,
    ) -> Result<HistoryPage> {
        let Some(me) = self.resolve(user, target).await? else {
            return Ok(HistoryPage::empty());
        };
        let conv = &me.conversation;
        if let Some(target) = page.around {
            return self.history_around(user, &me, target, page.limit).await;
        }
        let newest = match page.before {
            Some(id) => self
                .deps
                .messages
                .message(conv.id, id)
                .await?
                .ok_or_else(invalid_before)?
                .seq
                .saturating_sub(1),
            None => conv.last_seq,
        };
        if newest == 0 {
            return Ok(HistoryPage::empty());
        }
        let mut messages = self
            .deps
            .messages
            .messages_before(conv.id, newest, page.offset, page.limit + 1)
            .await?;
        let has_more = messages.len() > page.limit as usize;
        messages.truncate(page.limit as usize);
        Ok(HistoryPage {
            messages: self.views(user, &me, messages).await?,
            has_more,
            has_newer: false,
        })
    }

    /// A page of `limit` messages around `target`, newest first: the
    /// target and up to half the limit of older messages, the rest newer.
    async fn history_around(
        &self,
        user: UserId,
        me: &Membership,
        target: MessageId,
        limit: u32,
    ) -> Result<HistoryPage> {
        let conv = me.conversation.id;
        let d = &self.deps.messages;
        let target = d.message(conv, target).await?.ok_or_else(invalid_around)?;
        let older_wanted = limit.div_ceil(2);
        let newer_wanted = limit - older_wanted;
        let mut older = d
            .messages_before(conv, target.seq, 0, older_wanted + 1)
            .await?;
        let has_more = older.len() > older_wanted as usize;
        older.truncate(older_wanted as usize);
        let mut newer = d.messages_after(conv, target.seq, newer_wanted + 1).await?;
        let has_newer = newer.len() > newer_wanted as usize;
        newer.truncate(newer_wanted as usize);
        newer.reverse();
        newer.extend(older);
        Ok(HistoryPage {
            messages: self.views(user, me, newer).await?,
            has_more,
            has_newer,
        })
    }

    /// Messages as `me` sees them, with reply quotes and reactions.
    async fn views(
        &self,
        user: UserId,
        me: &Membership,
        messages: Vec<Message>,
    ) -> Result<Vec<MessageView>> {
        let peer = self.peer(me).await?;
        let kind = me.conversation.kind;
        let mut views: Vec<MessageView> = messages
            .into_iter()
            .map(|m| MessageView::for_reader(m, kind, &me.member, peer.as_ref()))
            .collect();
        decorate(&*self.deps.messages, user, &mut views).await?;
        Ok(views)
    }

    /// The caller's unread messages across all conversations, oldest
    /// first, at most `limit` (default 50, at most 100), and how many there
    /// are in all.
    ///
    /// # Errors
    /// `INVALID_PAGINATION` for a bad limit.
    pub async fn unread(&self, user: UserId, limit: Option<u32>) -> Result<UnreadMessages> {
        let limit = limit_or_default(limit)?;
        let overviews = self.deps.conversations.overviews(user, None).await?;
        let total = overviews.iter().map(|o| o.membership.unread_count()).sum();
        if total == 0 {
            return Ok(UnreadMessages {
                messages: Vec::new(),
                total,
            });
        }
        let by_id: HashMap<ConversationId, _> = overviews
            .iter()
            .map(|o| (o.membership.conversation.id, o))
            .collect();
        let mut messages: Vec<MessageView> = self
            .deps
            .messages
            .unread_messages(user, limit)
            .await?
            .into_iter()
            .filter_map(|m| {
                let o = by_id.get(&m.conversation_id)?;
                let kind = o.membership.conversation.kind;
                Some(MessageView::new(m, kind, Some(&o.membership.member)))
            })
            .collect();
        decorate(&*self.deps.messages, user, &mut messages).await?;
        Ok(UnreadMessages { messages, total })
    }

    /// Moves the caller's read cursor up to `up_to` (default: the newest
    /// message). It never moves backwards.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`.
    pub async fn mark_read(
        &self,
        user: UserId,
        conversation: ConversationId,
        up_to: Option<MessageId>,
    ) -> Result<ReadState> {
        self.require_member(user, conversation, None).await?;
        let seq = match up_to {
            Some(id) => self.message_seq(conversation, id).await?,
            None => u64::MAX,
        };
        let now = self.deps.clock.now();
        let after = self
            .deps
            .messages
            .advance_read(conversation, user, seq, now)
            .await?
            .ok_or(ChatError::ConversationNotFound)?;
        // A cursor that moved in this call carries this call's time.
        if after.member.read_at == Some(now) && after.member.read_seq > 0 {
            self.announce_read(&after, up_to, now).await;
        }
        Ok(ReadState::from(&after))
    }

    async fn announce_read(&self, after: &Membership, up_to: Option<MessageId>, now: Timestamp) {
        let conversation = after.conversation.id;
        let seq = after.member.read_seq;
        // With `up_to`, the cursor moved exactly onto that message; else
        // usually onto one stored lately, held.
        let held = || self.recent.at(conversation, seq).map(|r| r.id);
        let message_id = match up_to.or_else(held) {
            Some(id) => Some(id),
            None => match self
                .deps
                .messages
                .messages_before(conversation, seq, 0, 1)
                .await
            {
                Ok(m) => m.first().map(|m| m.id),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the message of a read receipt");
                    None
                }
            },
        };
        let (Some(message_id), Ok(members)) =
            (message_id, self.deps.members.of(conversation).await)
        else {
            return;
        };
        let reader = after.member.user_id;
        let receipt = ReadReceipt {
            conversation_id: conversation,
            user_id: reader,
            seq,
            message_id,
            read_at: now,
        };
        if self.receipts_live(&members) {
            self.deps
                .fanout
                .read(receipt, &members.others(reader))
                .await;
        }
    }

    /// Records that the caller's devices have everything up to `seq`.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`.
    pub async fn mark_delivered(
        &self,
        user: UserId,
        conversation: ConversationId,
        seq: u64,
    ) -> Result<Membership> {
        let now = self.deps.clock.now();
        let m = DeliveryMove {
            conversation,
            user,
            seq,
        };
        let after = self
            .deps
            .messages
            .advance_delivered(m.conversation, m.user, m.seq, now)
            .await?
            .ok_or(ChatError::ConversationNotFound)?;
        // A cursor that moved now records this time, or the later one of a
        // batch it shared (see `BatchedWrites::advance_delivered`).
        let moved = after.member.delivered_at.is_some_and(|t| t >= now);
        if let Err(e) = self
            .deps
            .queue
            .remove_through(user, conversation, after.member.delivered_seq)
            .await
        {
            static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
            if let Some(held_back) = THROTTLE.check() {
                tracing::warn!(error = %cause(&e), held_back, "could not clear acknowledged entries from the offline queue (the cursor moved; they expire by themselves)");
            }
        }
        if moved && after.member.delivered_seq > 0 {
            let at = after.member.delivered_at.unwrap_or(now);
            self.announce_delivered(&after, at).await;
        }
        Ok(after)
    }

    /// Stores a message (through the batching writers under the store).
    /// Whether members of a conversation with `members` see each other's
    /// receipts live (see [`ConversationConfig::receipts_max_group_members`]).
    fn receipts_live(&self, members: &MemberSet) -> bool {
        members.kind == ConversationKind::Direct
            || members.users.len() <= self.config.receipts_max_group_members as usize
    }

    /// `message.delivered` to the senders of the newest delivered messages.
    async fn announce_delivered(&self, after: &Membership, now: Timestamp) {
        let conversation = after.conversation.id;
        if after.conversation.kind == ConversationKind::Group {
            match self.deps.members.of(conversation).await {
                Ok(members) if self.receipts_live(&members) => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the members of a delivery receipt");
                    return;
                }
            }
        }
        let user = after.member.user_id;
        let seq = after.member.delivered_seq;
        // In a direct conversation the sender is the peer: the newest
        // message is all that is needed (for its id). In a group, the
        // senders of what this receipt newly covers.
        let window = match after.conversation.kind {
            ConversationKind::Direct => 1,
            ConversationKind::Group => match self.announced.advance(conversation, user, seq) {
                Some(before) if before >= seq => return,
                Some(before) => (seq - before).min(u64::from(RECEIPT_SENDERS_WINDOW)) as u32,
                None => RECEIPT_SENDERS_WINDOW,
            },
        };
        // A receipt covering messages stored lately needs no read.
        let (message_id, covered_senders) = match self.recent.last(conversation, seq, window) {
            Some(held) => held,
            None => match self
                .deps
                .messages
                .messages_before(conversation, seq, 0, window)
                .await
            {
                Ok(recent) => match recent.first() {
                    Some(newest) => (newest.id, recent.iter().map(|m| m.sender_id).collect()),
                    None => return,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the messages of a delivery receipt");
                    return;
                }
            },
        };
        let mut senders: Vec<UserId> = match after.conversation.kind {
            ConversationKind::Direct => match self.deps.members.of(conversation).await {
                Ok(members) => members.others(user),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the members of a delivery receipt");
                    return;
                }
            },
            ConversationKind::Group => covered_senders.into_iter().filter(|s| *s != user).collect(),
        };
        senders.sort_unstable();
        senders.dedup();
        let receipt = DeliveryReceipt {
            message_id,
            conversation_id: conversation,
            user_id: user,
            seq,
            delivered_at: now,
        };
        self.deps.fanout.delivered(receipt, &senders).await;
    }

    /// Who has a message delivered and read, with times.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`.
    pub async fn receipts(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<MessageReceipts> {
        self.require_member(user, conversation, None).await?;
        let message = self
            .deps
            .messages
            .message(conversation, message)
            .await?
            .ok_or(ChatError::MessageNotFound)?;
        let receipts = self
            .deps
            .conversations
            .members(conversation)
            .await?
            .iter()
            .filter(|e| e.member.user_id != message.sender_id && e.member.joined_seq < message.seq)
            .map(|e| Receipt::of(&e.member, message.seq))
            .collect();
        Ok(MessageReceipts {
            message_id: message.id,
            conversation_id: conversation,
            seq: message.seq,
            receipts,
        })
    }

    async fn message_seq(&self, conversation: ConversationId, id: MessageId) -> Result<u64> {
        self.deps
            .messages
            .message(conversation, id)
            .await?
            .map(|m| m.seq)
            .ok_or(ChatError::MessageNotFound)
    }

    /// The other member of a direct conversation.
    async fn peer(&self, me: &Membership) -> Result<Option<Member>> {
        if me.conversation.kind != ConversationKind::Direct {
            return Ok(None);
        }
        Ok(self
            .deps
            .conversations
            .members(me.conversation.id)
            .await?
            .into_iter()
            .map(|e| e.member)
            .find(|m| m.user_id != me.member.user_id))
    }
}

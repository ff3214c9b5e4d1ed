//! [`MessageBatch`]: the rules of storing one message, applied in memory
//! to a whole batch over the rows a store read for it at once, so a store
//! writes a batch of messages with a fixed number of statements.
//!
//! A store reads, inside its write transaction and with the rows locked
//! (or the database's write lock held), the conversations' `last_seq`, the
//! senders' member rows and the messages already stored under the batch's
//! idempotency keys; [`MessageBatch::plan`] then decides each message in
//! batch order exactly as a single insert would, and the store writes the
//! messages, the conversations' new seqs and the senders' cursors with one
//! statement each.

use std::collections::HashMap;

use crate::ids::{ConversationId, UserId};
use crate::model::{EntryKind, InsertOutcome, Message, NewMessage, SenderCursors};
use crate::time::Timestamp;

/// The state of a batch of new messages: what the store read, moved by the
/// messages planned so far.
#[derive(Debug, Default)]
pub struct MessageBatch {
    /// Each conversation's newest seq.
    last_seq: HashMap<ConversationId, u64>,
    /// The senders' member rows.
    senders: HashMap<(ConversationId, UserId), SenderCursors>,
    /// The messages stored under each idempotency key.
    used: HashMap<(ConversationId, UserId, String), Message>,
    /// Per conversation that got messages: how many, and the newest time.
    added: HashMap<ConversationId, (u64, Timestamp)>,
}

/// A conversation that got messages in a batch: what its row becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationGrowth {
    /// The conversation.
    pub conversation: ConversationId,
    /// Its new `last_seq`.
    pub last_seq: u64,
    /// Messages added (to `message_count`).
    pub added: u64,
    /// The newest of their times (`last_activity_at` becomes at least it).
    pub newest: Timestamp,
}

impl MessageBatch {
    /// The conversations of `batch`, sorted, each once (the order rows are
    /// locked in).
    pub fn conversations(batch: &[NewMessage]) -> Vec<ConversationId> {
        let mut ids: Vec<_> = batch.iter().map(|m| m.conversation_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The `(conversation, sender)` rows of `batch`, sorted, each once.
    pub fn senders(batch: &[NewMessage]) -> Vec<(ConversationId, UserId)> {
        let mut pairs: Vec<_> = batch
            .iter()
            .map(|m| (m.conversation_id, m.sender_id))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// The `(conversation, sender, key)` of each message of `batch` with an
    /// idempotency key.
    pub fn keys(batch: &[NewMessage]) -> Vec<(ConversationId, UserId, &str)> {
        batch
            .iter()
            .filter_map(|m| {
                let key = m.client_msg_id.as_ref()?;
                Some((m.conversation_id, m.sender_id, key.as_str()))
            })
            .collect()
    }

    /// Adds a conversation's `last_seq`, as read.
    pub fn add_conversation(&mut self, conversation: ConversationId, last_seq: u64) {
        self.last_seq.insert(conversation, last_seq);
    }

    /// Adds a sender's cursors, as read.
    pub fn add_sender(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        cursors: SenderCursors,
    ) {
        self.senders.insert((conversation, user), cursors);
    }

    /// Adds a message already stored under its idempotency key.
    pub fn add_used(&mut self, message: Message) {
        if let Some(key) = message.client_msg_id.clone() {
            let slot = (message.conversation_id, message.sender_id, key);
            self.used.insert(slot, message);
        }
    }

    /// Decides `new`, after the messages planned before it, as a single
    /// insert would: a sender who is not a member stores nothing; a key
    /// used before returns that message and consumes no seq; then
    /// `claim_attachments` takes its attachments (false refuses it, with
    /// nothing consumed); otherwise it gets the next seq and moves its
    /// sender's cursors.
    pub fn plan(
        &mut self,
        new: &NewMessage,
        claim_attachments: impl FnOnce(&NewMessage) -> bool,
    ) -> InsertOutcome {
        let conversation = new.conversation_id;
        let (Some(seq), Some(cursors)) = (
            self.last_seq.get_mut(&conversation),
            self.senders.get_mut(&(conversation, new.sender_id)),
        ) else {
            return InsertOutcome::NotMember;
        };
        let key = new.client_msg_id.as_ref().map(|k| k.as_str().to_owned());
        let slot = key.clone().map(|k| (conversation, new.sender_id, k));
        if let Some(original) = slot.as_ref().and_then(|slot| self.used.get(slot)) {
            return InsertOutcome::Existing(original.clone());
        }
        if !claim_attachments(new) {
            return InsertOutcome::AttachmentNotFound;
        }
        *seq += 1;
        cursors.after_own_entry(*seq, EntryKind::Message);
        let added = self
            .added
            .entry(conversation)
            .or_insert((0, new.created_at));
        added.0 += 1;
        added.1 = added.1.max(new.created_at);
        let message = Message {
            id: new.id,
            conversation_id: conversation,
            seq: *seq,
            sender_id: new.sender_id,
            content: new.content.as_str().to_owned(),
            message_type: new.message_type.as_str().to_owned(),
            client_msg_id: key.clone(),
            created_at: new.created_at,
            reply_to: new.reply_to,
            mentions: new.mentions.clone(),
            attachments: new.attachments.clone(),
            edited_at: None,
            deleted_at: None,
        };
        if let Some(slot) = slot {
            self.used.insert(slot, message.clone());
        }
        InsertOutcome::Created(message)
    }

    /// The conversations that got messages, and what their rows become.
    pub fn grown(&self) -> Vec<ConversationGrowth> {
        self.added
            .iter()
            .map(|(conversation, (added, newest))| ConversationGrowth {
                conversation: *conversation,
                last_seq: self.last_seq.get(conversation).copied().unwrap_or_default(),
                added: *added,
                newest: *newest,
            })
            .collect()
    }

    /// Every sender's cursors as the batch leaves them.
    pub fn sender_cursors(&self) -> Vec<(ConversationId, UserId, SenderCursors)> {
        self.senders
            .iter()
            .map(|((conversation, user), cursors)| (*conversation, *user, *cursors))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientMsgId, MessageContent, MessageType};
    use crate::ids::MessageId;

    fn new_message(conversation: ConversationId, sender: UserId, key: Option<&str>) -> NewMessage {
        NewMessage {
            id: MessageId::new(),
            conversation_id: conversation,
            sender_id: sender,
            content: MessageContent::parse("hi").expect("valid"),
            message_type: MessageType::text(),
            client_msg_id: key.map(|k| ClientMsgId::parse(k).expect("valid")),
            created_at: Timestamp::from_millis(7),
            reply_to: None,
            mentions: Vec::new(),
            attachments: Vec::new(),
        }
    }

    fn cursors(seq: u64) -> SenderCursors {
        SenderCursors {
            read_seq: seq,
            read_message_count: seq,
            delivered_seq: seq,
            own_unread: 0,
        }
    }

    #[test]
    fn messages_take_seqs_in_batch_order_and_a_repeated_key_consumes_none() {
        let (c, a, stranger) = (ConversationId::new(), UserId::new(), UserId::new());
        let mut batch = MessageBatch::default();
        batch.add_conversation(c, 4);
        batch.add_sender(c, a, cursors(4));
        let messages = [
            new_message(c, a, Some("k")),
            new_message(c, stranger, None),
            new_message(c, a, Some("k")),
            new_message(c, a, None),
        ];
        let outcomes: Vec<_> = messages.iter().map(|m| batch.plan(m, |_| true)).collect();
        let InsertOutcome::Created(first) = &outcomes[0] else {
            panic!("{:?}", outcomes[0]);
        };
        assert_eq!(first.seq, 5);
        assert_eq!(outcomes[1], InsertOutcome::NotMember);
        assert_eq!(outcomes[2], InsertOutcome::Existing(first.clone()));
        assert!(matches!(&outcomes[3], InsertOutcome::Created(m) if m.seq == 6));
        let grown = batch.grown();
        assert_eq!(grown.len(), 1);
        assert_eq!((grown[0].last_seq, grown[0].added), (6, 2));
        // The sender had read everything: their own messages are read too.
        assert_eq!(batch.sender_cursors()[0].2.read_seq, 6);
    }

    #[test]
    fn a_refused_attachment_consumes_no_seq() {
        let (c, a) = (ConversationId::new(), UserId::new());
        let mut batch = MessageBatch::default();
        batch.add_conversation(c, 0);
        batch.add_sender(c, a, cursors(0));
        let m = new_message(c, a, None);
        assert_eq!(batch.plan(&m, |_| false), InsertOutcome::AttachmentNotFound);
        assert!(batch.grown().is_empty());
        assert!(matches!(batch.plan(&m, |_| true), InsertOutcome::Created(m) if m.seq == 1));
    }

    #[test]
    fn a_key_stored_before_the_batch_returns_that_message() {
        let (c, a) = (ConversationId::new(), UserId::new());
        let mut batch = MessageBatch::default();
        batch.add_conversation(c, 1);
        batch.add_sender(c, a, cursors(1));
        // Stored by an earlier batch.
        let mut earlier = MessageBatch::default();
        earlier.add_conversation(c, 0);
        earlier.add_sender(c, a, cursors(0));
        let InsertOutcome::Created(before) = earlier.plan(&new_message(c, a, Some("k")), |_| true)
        else {
            panic!("created");
        };
        batch.add_used(before.clone());
        let again = new_message(c, a, Some("k"));
        assert_eq!(
            batch.plan(&again, |_| true),
            InsertOutcome::Existing(before)
        );
        assert!(batch.grown().is_empty());
    }
}

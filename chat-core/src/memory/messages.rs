//! [`MessageStore`] for [`MemoryStore`].

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::Result;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{Cursor, InsertOutcome, Membership, Message, NewMessage};
use crate::store::MessageStore;
use crate::time::Timestamp;

impl MemoryStore {
    fn advance(
        &self,
        conv: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
        cursor: Cursor,
    ) -> Option<Membership> {
        let mut st = self.state();
        let chat = &mut st.chat;
        let last_seq = chat.conversations.get(&conv)?.last_seq;
        let member = chat.members.get(&conv)?.get(&user)?;
        if let Some(plan) = member.plan_advance(cursor, seq, last_seq) {
            let own_newly_read = plan.newly_read.map_or(0, |(from, to)| {
                chat.messages.get(&conv).map_or(0, |msgs| {
                    msgs.iter()
                        .skip(from as usize)
                        .take((to - from) as usize)
                        .filter(|m| m.sender_id == user)
                        .count() as u64
                })
            });
            chat.members
                .get_mut(&conv)?
                .get_mut(&user)?
                .apply_advance(plan, own_newly_read, at);
        }
        chat.membership(conv, user)
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn insert_message(&self, new: NewMessage) -> Result<InsertOutcome> {
        let mut st = self.state();
        let chat = &mut st.chat;
        let conv = new.conversation_id;
        let is_member = chat
            .members
            .get(&conv)
            .is_some_and(|m| m.contains_key(&new.sender_id));
        let (Some(conversation), true) = (chat.conversations.get_mut(&conv), is_member) else {
            return Ok(InsertOutcome::NotMember);
        };
        let messages = chat.messages.entry(conv).or_default();
        let client_key = new
            .client_msg_id
            .as_ref()
            .map(|c| (conv, new.sender_id, c.as_str().to_owned()));
        if let Some(seq) = client_key.as_ref().and_then(|k| chat.client_ids.get(k))
            && let Some(original) = messages.get((*seq - 1) as usize)
        {
            return Ok(InsertOutcome::Existing(original.clone()));
        }
        conversation.last_seq += 1;
        let seq = conversation.last_seq;
        conversation.last_activity_at = conversation.last_activity_at.max(new.created_at);
        let message = Message {
            id: new.id,
            conversation_id: conv,
            seq,
            sender_id: new.sender_id,
            content: new.content.into_string(),
            message_type: new.message_type.as_str().to_owned(),
            client_msg_id: new.client_msg_id.map(|c| c.as_str().to_owned()),
            created_at: new.created_at,
        };
        messages.push(message.clone());
        chat.message_ids.insert(message.id, (conv, seq));
        if let Some(key) = client_key {
            chat.client_ids.insert(key, seq);
        }
        if let Some(sender) = chat
            .members
            .get_mut(&conv)
            .and_then(|m| m.get_mut(&new.sender_id))
        {
            sender.record_own_message(seq);
        }
        Ok(InsertOutcome::Created(message))
    }

    async fn message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>> {
        let st = self.state();
        Ok(st
            .chat
            .messages
            .get(&conversation)
            .and_then(|msgs| msgs.iter().find(|m| m.id == id))
            .cloned())
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        let st = self.state();
        let chat = &st.chat;
        Ok(ids
            .iter()
            .filter_map(|id| {
                let (conv, seq) = chat.message_ids.get(id)?;
                chat.messages.get(conv)?.get((*seq - 1) as usize).cloned()
            })
            .collect())
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let st = self.state();
        let Some(msgs) = st.chat.messages.get(&conversation) else {
            return Ok(Vec::new());
        };
        let end = (max_seq as usize).min(msgs.len());
        Ok(msgs[..end]
            .iter()
            .rev()
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>> {
        let st = self.state();
        let chat = &st.chat;
        let mut found: Vec<Message> = chat
            .by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|conv| {
                let read_seq = chat.members.get(conv)?.get(&user)?.read_seq;
                Some((chat.messages.get(conv)?, read_seq))
            })
            .flat_map(|(msgs, read_seq)| {
                msgs.iter()
                    .skip(read_seq as usize)
                    .filter(|m| m.sender_id != user)
                    .take(limit as usize)
            })
            .cloned()
            .collect();
        found.sort_by_key(|m| (m.created_at, m.id));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn advance_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        Ok(self.advance(conversation, user, seq, at, Cursor::Read))
    }

    async fn advance_delivered(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        Ok(self.advance(conversation, user, seq, at, Cursor::Delivered))
    }
}

//! [`MessageStore`] for [`MemoryStore`].

use async_trait::async_trait;

use super::MemoryStore;
use super::conversations::{ChatState, StoredChange};
use crate::domain::ClientMsgId;
use crate::error::Result;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ChangeAction, ChangeOutcome, Cursor, EntryKind, InsertOutcome, LogEntry, Membership, Message,
    MessageChange, NewChange, NewMessage, NewlyRead, Reaction, SearchHit, SearchQuery,
    mark_snippet, words_of,
};
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
            let mut newly_read = NewlyRead::default();
            if let (Some((from, to)), Some(msgs)) = (plan.newly_read, chat.messages.get(&conv)) {
                for m in msgs.iter().filter(|m| m.seq > from && m.seq <= to) {
                    newly_read.messages += 1;
                    newly_read.own += u64::from(m.sender_id == user);
                }
            }
            chat.members
                .get_mut(&conv)?
                .get_mut(&user)?
                .apply_advance(plan, newly_read, at);
        }
        chat.membership(conv, user)
    }
}

/// About how many characters of a message a search snippet keeps.
const SNIPPET_CHARS: usize = 120;

impl ChatState {
    /// Applies a change in one step under the store's lock (see
    /// [`MessageStore::apply_change`]).
    fn apply_change(&mut self, change: NewChange) -> ChangeOutcome {
        let conv = change.conversation_id;
        let actor = change.actor_id;
        let is_member = change.by_operator
            || self
                .members
                .get(&conv)
                .is_some_and(|m| m.contains_key(&actor));
        if !is_member || !self.conversations.contains_key(&conv) {
            return ChangeOutcome::NotMember;
        }
        if self.message_ids.get(&change.message_id).map(|(c, _)| *c) != Some(conv) {
            return ChangeOutcome::MessageNotFound;
        }
        let Some(message) = self.message_mut(change.message_id).cloned() else {
            return ChangeOutcome::MessageNotFound;
        };
        if message.is_deleted() {
            return ChangeOutcome::MessageDeleted;
        }
        let kind = change.action.kind();
        let at = change.at;
        let reactions = self.reactions.entry(message.id).or_default();
        let mine = |r: &Reaction, emoji: &str| r.user_id == actor && r.emoji == emoji;
        let emoji = match &change.action {
            ChangeAction::AddReaction(e) | ChangeAction::RemoveReaction(e) => {
                let held = reactions.iter().any(|r| mine(r, e.as_str()));
                let adding = matches!(change.action, ChangeAction::AddReaction(_));
                if held == adding {
                    return ChangeOutcome::Unchanged(message);
                }
                if adding {
                    reactions.push(Reaction {
                        message_id: message.id,
                        user_id: actor,
                        emoji: e.as_str().to_owned(),
                        created_at: at,
                    });
                } else {
                    reactions.retain(|r| !mine(r, e.as_str()));
                }
                Some(e.as_str().to_owned())
            }
            ChangeAction::Edit { .. } | ChangeAction::Delete => None,
        };
        if matches!(change.action, ChangeAction::Delete) {
            self.reactions.remove(&message.id);
        }
        let Some(stored) = self.message_mut(message.id) else {
            return ChangeOutcome::MessageNotFound;
        };
        match change.action {
            ChangeAction::Edit { content, mentions } => {
                stored.content = content.into_string();
                stored.mentions = mentions;
                stored.edited_at = Some(at);
            }
            ChangeAction::Delete => {
                stored.content.clear();
                stored.mentions.clear();
                stored.attachments.clear();
                stored.deleted_at = Some(at);
            }
            ChangeAction::AddReaction(_) | ChangeAction::RemoveReaction(_) => {}
        }
        let message = stored.clone();
        let Some(conversation) = self.conversations.get_mut(&conv) else {
            return ChangeOutcome::NotMember;
        };
        conversation.last_seq += 1;
        let seq = conversation.last_seq;
        let entry = StoredChange {
            seq,
            message_id: message.id,
            kind,
            actor,
            emoji,
            at,
        };
        if !change.by_operator
            && let Some(member) = self.members.get_mut(&conv).and_then(|m| m.get_mut(&actor))
        {
            member.record_own_entry(seq, EntryKind::Change);
        }
        let Some(change) = self.render(&entry) else {
            return ChangeOutcome::MessageNotFound;
        };
        self.changes.entry(conv).or_default().push(entry);
        ChangeOutcome::Applied { change, message }
    }

    /// A stored change as its log entry, with its message as it is now.
    fn render(&self, entry: &StoredChange) -> Option<MessageChange> {
        let (conv, seq) = self.message_ids.get(&entry.message_id)?;
        let message = self.message_at(*conv, *seq)?;
        let reaction = entry.emoji.as_ref().map(|emoji| {
            let count = self
                .reactions
                .get(&message.id)
                .map_or(0, |rs| rs.iter().filter(|r| &r.emoji == emoji).count());
            (emoji.clone(), count as u64)
        });
        Some(MessageChange::render(
            entry.seq,
            entry.kind,
            entry.actor,
            entry.at,
            message,
            reaction,
        ))
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn insert_message(&self, new: NewMessage) -> Result<InsertOutcome> {
        let mut guard = self.state();
        let st = &mut *guard;
        let chat = &mut st.chat;
        let conv = new.conversation_id;
        let is_member = chat
            .members
            .get(&conv)
            .is_some_and(|m| m.contains_key(&new.sender_id));
        if !is_member || !chat.conversations.contains_key(&conv) {
            return Ok(InsertOutcome::NotMember);
        }
        let client_key = new
            .client_msg_id
            .as_ref()
            .map(|c| (conv, new.sender_id, c.as_str().to_owned()));
        let messages = chat.messages.entry(conv).or_default();
        if let Some(seq) = client_key.as_ref().and_then(|k| chat.client_ids.get(k))
            && let Ok(i) = messages.binary_search_by_key(seq, |m| m.seq)
        {
            return Ok(InsertOutcome::Existing(messages[i].clone()));
        }
        if !st.attachments.sendable(new.sender_id, &new.attachments) {
            return Ok(InsertOutcome::AttachmentNotFound);
        }
        st.attachments.link(conv, new.id, &new.attachments);
        let chat = &mut st.chat;
        let Some(conversation) = chat.conversations.get_mut(&conv) else {
            return Ok(InsertOutcome::NotMember);
        };
        let messages = chat.messages.entry(conv).or_default();
        conversation.last_seq += 1;
        conversation.message_count += 1;
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
            reply_to: new.reply_to,
            mentions: new.mentions,
            attachments: new.attachments,
            edited_at: None,
            deleted_at: None,
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
            sender.record_own_entry(seq, EntryKind::Message);
        }
        Ok(InsertOutcome::Created(message))
    }

    async fn message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>> {
        let st = self.state();
        let chat = &st.chat;
        Ok(chat
            .message_ids
            .get(&id)
            .filter(|(conv, _)| *conv == conversation)
            .and_then(|(conv, seq)| chat.message_at(*conv, *seq))
            .cloned())
    }

    async fn message_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>> {
        let st = self.state();
        let chat = &st.chat;
        let key = (conversation, sender, client_msg_id.as_str().to_owned());
        Ok(chat
            .client_ids
            .get(&key)
            .and_then(|seq| chat.message_at(conversation, *seq))
            .cloned())
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        let st = self.state();
        let chat = &st.chat;
        Ok(ids
            .iter()
            .filter_map(|id| {
                let (conv, seq) = chat.message_ids.get(id)?;
                chat.message_at(*conv, *seq).cloned()
            })
            .collect())
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let st = self.state();
        let Some(msgs) = st.chat.messages.get(&conversation) else {
            return Ok(Vec::new());
        };
        let end = msgs.partition_point(|m| m.seq <= max_seq);
        Ok(msgs[..end]
            .iter()
            .rev()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let st = self.state();
        Ok(st
            .chat
            .messages
            .get(&conversation)
            .into_iter()
            .flatten()
            .filter(|m| m.seq > min_seq)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let st = self.state();
        let chat = &st.chat;
        let terms = query.terms.words();
        // Too common words are required but do not rank.
        let ranking = query.ranked_words();
        let mut hits: Vec<SearchHit> = chat
            .by_user
            .get(&query.user)
            .into_iter()
            .flatten()
            .filter(|c| query.scope.conversation().is_none_or(|only| only == **c))
            .filter_map(|c| {
                let joined = chat.members.get(c)?.get(&query.user)?.joined_seq;
                Some((chat.messages.get(c)?, joined))
            })
            .flat_map(|(msgs, joined)| msgs.iter().filter(move |m| m.seq > joined))
            .filter(|m| !m.is_deleted())
            .filter_map(|m| {
                let words: Vec<String> = words_of(&m.content).collect();
                let all = terms.iter().all(|t| words.contains(t));
                let occurrences = words.iter().filter(|w| ranking.contains(w)).count();
                all.then(|| SearchHit {
                    snippet: mark_snippet(&m.content, &query.terms, SNIPPET_CHARS),
                    // More of the words, in a shorter message, ranks higher.
                    rank: occurrences as f64 / (words.len() as f64).sqrt(),
                    message: m.clone(),
                })
            })
            .collect();
        if query.scope.is_ranked() {
            hits.sort_by(|a, b| {
                b.rank
                    .total_cmp(&a.rank)
                    .then(b.message.created_at.cmp(&a.message.created_at))
                    .then(b.message.id.cmp(&a.message.id))
            });
        } else {
            hits.sort_by_key(|hit| std::cmp::Reverse(hit.message.seq));
            hits.iter_mut().for_each(|hit| hit.rank = 0.0);
        }
        Ok(hits
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .collect())
    }

    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>> {
        let st = self.state();
        let live: Vec<Vec<String>> = st
            .chat
            .messages
            .values()
            .flatten()
            .filter(|m| !m.is_deleted())
            .map(|m| words_of(&m.content).collect())
            .collect();
        Ok(words
            .iter()
            .map(|word| {
                let holding = live.iter().filter(|held| held.contains(word)).count();
                (holding as u64).min(cap)
            })
            .collect())
    }

    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome> {
        let mut guard = self.state();
        let st = &mut *guard;
        let deleting = matches!(change.action, ChangeAction::Delete).then_some(change.message_id);
        let outcome = st.chat.apply_change(change);
        // A deleted message's files go with it (their bytes by the sweep).
        if let (Some(message), ChangeOutcome::Applied { .. }) = (deleting, &outcome) {
            st.attachments.remove_of_message(message);
        }
        Ok(outcome)
    }

    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        let st = self.state();
        let chat = &st.chat;
        let in_range = |seq: u64| seq >= from && seq <= to;
        let mut entries: Vec<LogEntry> = chat
            .messages
            .get(&conversation)
            .into_iter()
            .flatten()
            .filter(|m| in_range(m.seq))
            .cloned()
            .map(LogEntry::Message)
            .collect();
        entries.extend(
            chat.changes
                .get(&conversation)
                .into_iter()
                .flatten()
                .filter(|c| in_range(c.seq))
                .filter_map(|c| chat.render(c).map(LogEntry::Change)),
        );
        entries.sort_by_key(LogEntry::seq);
        Ok(entries)
    }

    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>> {
        let st = self.state();
        Ok(ids
            .iter()
            .filter_map(|id| st.chat.reactions.get(id))
            .flatten()
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
                    .filter(move |m| m.seq > read_seq && m.sender_id != user)
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

//! [`ConversationStore`] for [`MemoryStore`].

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;

use super::store::State;
use crate::error::{ChatError, Result};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ChangeKind, Conversation, ConversationKind, ConversationOverview, Member, MemberEntry,
    MemberRemoval, MemberRole, Membership, Message, NewDirectConversation, NewGroup, NewMember,
    PostingPolicy, Reaction,
};
use crate::store::ConversationStore;
use crate::time::Timestamp;

use super::MemoryStore;

/// Conversations, members and messages of a [`MemoryStore`].
#[derive(Debug, Default)]
pub(super) struct ChatState {
    pub(super) conversations: HashMap<ConversationId, Conversation>,
    pub(super) members: HashMap<ConversationId, HashMap<UserId, Member>>,
    /// Each user's conversations, for listing.
    pub(super) by_user: HashMap<UserId, HashSet<ConversationId>>,
    /// Direct conversations by (smaller, larger) user id.
    pub(super) direct_pairs: HashMap<(UserId, UserId), ConversationId>,
    /// Messages of each conversation, by seq (with gaps where changes are).
    pub(super) messages: HashMap<ConversationId, Vec<Message>>,
    /// Changes of each conversation, by seq.
    pub(super) changes: HashMap<ConversationId, Vec<StoredChange>>,
    /// Reactions of each message, oldest first.
    pub(super) reactions: HashMap<MessageId, Vec<Reaction>>,
    /// Seq of each (conversation, sender, client_msg_id).
    pub(super) client_ids: HashMap<(ConversationId, UserId, String), u64>,
    /// Conversation and seq of every message, by id.
    pub(super) message_ids: HashMap<MessageId, (ConversationId, u64)>,
}

/// A change as the log holds it (rendered when read).
#[derive(Debug, Clone)]
pub(super) struct StoredChange {
    pub(super) seq: u64,
    pub(super) message_id: MessageId,
    pub(super) kind: ChangeKind,
    pub(super) actor: UserId,
    pub(super) emoji: Option<String>,
    pub(super) at: Timestamp,
}

/// A member whose cursors start at the end of `conversation`'s log.
fn new_member(user_id: UserId, role: MemberRole, at: Timestamp, conv: &Conversation) -> Member {
    let seq = conv.last_seq;
    Member {
        user_id,
        role,
        joined_at: at,
        joined_seq: seq,
        read_seq: seq,
        read_message_count: conv.message_count,
        read_at: None,
        delivered_seq: seq,
        delivered_at: None,
        own_unread: 0,
        muted: false,
    }
}

fn ordered_pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

impl ChatState {
    /// The message with `seq` in `conv`.
    pub(super) fn message_at(&self, conv: ConversationId, seq: u64) -> Option<&Message> {
        let msgs = self.messages.get(&conv)?;
        msgs.binary_search_by_key(&seq, |m| m.seq)
            .ok()
            .map(|i| &msgs[i])
    }

    /// The message with `id`, mutable.
    pub(super) fn message_mut(&mut self, id: MessageId) -> Option<&mut Message> {
        let (conv, seq) = *self.message_ids.get(&id)?;
        let msgs = self.messages.get_mut(&conv)?;
        let i = msgs.binary_search_by_key(&seq, |m| m.seq).ok()?;
        msgs.get_mut(i)
    }

    /// A member's row, mutable.
    fn member_mut(&mut self, conv: ConversationId, user: UserId) -> Option<&mut Member> {
        self.members.get_mut(&conv)?.get_mut(&user)
    }

    pub(super) fn membership(&self, conv: ConversationId, user: UserId) -> Option<Membership> {
        Some(Membership {
            conversation: self.conversations.get(&conv)?.clone(),
            member: self.members.get(&conv)?.get(&user)?.clone(),
        })
    }

    fn create(&mut self, conversation: Conversation, members: Vec<Member>) {
        let id = conversation.id;
        for m in &members {
            self.by_user.entry(m.user_id).or_default().insert(id);
        }
        self.members
            .insert(id, members.into_iter().map(|m| (m.user_id, m)).collect());
        self.messages.insert(id, Vec::new());
        self.conversations.insert(id, conversation);
    }
}

impl State {
    fn member_entries(&self, conv: ConversationId) -> Vec<MemberEntry> {
        let mut entries: Vec<MemberEntry> = self
            .chat
            .members
            .get(&conv)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|member| {
                Some(MemberEntry {
                    profile: self.any_summary(member.user_id)?,
                    member: member.clone(),
                })
            })
            .collect();
        entries.sort_by_key(|e| (e.member.joined_at, e.member.user_id));
        entries
    }

    fn overview_of(&self, conv: ConversationId, user: UserId) -> Option<ConversationOverview> {
        let membership = self.chat.membership(conv, user)?;
        let peer = match membership.conversation.kind {
            ConversationKind::Direct => self
                .member_entries(conv)
                .into_iter()
                .find(|e| e.member.user_id != user),
            ConversationKind::Group => None,
        };
        let last_message = self.chat.messages.get(&conv)?.last().cloned();
        let read_seq = membership.member.read_seq;
        let mention_count = self
            .chat
            .messages
            .get(&conv)?
            .iter()
            .filter(|m| m.seq > read_seq && m.mentions.contains(&user))
            .count() as u64;
        Some(ConversationOverview {
            membership,
            peer,
            last_message,
            mention_count,
        })
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_direct(&self, new: NewDirectConversation) -> Result<(ConversationId, bool)> {
        let mut st = self.state();
        let pair = ordered_pair(new.user_a, new.user_b);
        if let Some(id) = st.chat.direct_pairs.get(&pair) {
            return Ok((*id, false));
        }
        let conversation = Conversation {
            id: new.id,
            kind: ConversationKind::Direct,
            name: None,
            creator_id: None,
            created_at: new.created_at,
            last_seq: 0,
            message_count: 0,
            last_activity_at: new.created_at,
            posting: PostingPolicy::Everyone,
        };
        let members = [pair.0, pair.1]
            .map(|u| new_member(u, MemberRole::Member, new.created_at, &conversation))
            .to_vec();
        st.chat.create(conversation, members);
        st.chat.direct_pairs.insert(pair, new.id);
        Ok((new.id, true))
    }

    async fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationId>> {
        Ok(self
            .state()
            .chat
            .direct_pairs
            .get(&ordered_pair(a, b))
            .copied())
    }

    async fn create_group(&self, group: NewGroup) -> Result<()> {
        let conversation = Conversation {
            id: group.id,
            kind: ConversationKind::Group,
            name: Some(group.name.as_str().to_owned()),
            creator_id: Some(group.creator_id),
            created_at: group.created_at,
            last_seq: 0,
            message_count: 0,
            last_activity_at: group.created_at,
            posting: PostingPolicy::Everyone,
        };
        let members = group
            .members
            .iter()
            .map(|m| new_member(m.user_id, m.role, group.created_at, &conversation))
            .collect();
        self.state().chat.create(conversation, members);
        Ok(())
    }

    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        Ok(self.state().chat.membership(conversation, user))
    }

    async fn members(&self, conversation: ConversationId) -> Result<Vec<MemberEntry>> {
        Ok(self.state().member_entries(conversation))
    }

    async fn add_members(
        &self,
        conversation: ConversationId,
        members: Vec<NewMember>,
        at: Timestamp,
        max_members: u32,
    ) -> Result<Vec<UserId>> {
        let mut st = self.state();
        let chat = &mut st.chat;
        let conv = chat
            .conversations
            .get(&conversation)
            .ok_or(ChatError::ConversationNotFound)?
            .clone();
        let current = chat.members.entry(conversation).or_default();
        let mut seen = HashSet::new();
        let fresh: Vec<NewMember> = members
            .into_iter()
            .filter(|m| !current.contains_key(&m.user_id) && seen.insert(m.user_id))
            .collect();
        if !fresh.is_empty() && current.len() + fresh.len() > max_members as usize {
            return Err(ChatError::GroupFull { max: max_members });
        }
        for m in &fresh {
            current.insert(m.user_id, new_member(m.user_id, m.role, at, &conv));
        }
        for m in &fresh {
            chat.by_user
                .entry(m.user_id)
                .or_default()
                .insert(conversation);
        }
        Ok(fresh.into_iter().map(|m| m.user_id).collect())
    }

    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<MemberRemoval>> {
        let mut st = self.state();
        let chat = &mut st.chat;
        let Some(members) = chat.members.get_mut(&conversation) else {
            return Ok(None);
        };
        let Some(removed) = members.remove(&user) else {
            return Ok(None);
        };
        if let Some(set) = chat.by_user.get_mut(&user) {
            set.remove(&conversation);
        }
        let mut new_owner = None;
        if removed.role == MemberRole::Owner {
            let successor = members
                .values_mut()
                .filter(|m| m.role != MemberRole::Owner)
                .min_by_key(|m| (m.role, m.joined_at, m.user_id));
            if let Some(m) = successor {
                m.role = MemberRole::Owner;
                new_owner = Some(m.user_id);
            }
        }
        Ok(Some(MemberRemoval {
            role: removed.role,
            new_owner,
        }))
    }

    async fn set_member_role(
        &self,
        conversation: ConversationId,
        user: UserId,
        role: MemberRole,
    ) -> Result<bool> {
        let mut st = self.state();
        Ok(st
            .chat
            .member_mut(conversation, user)
            .map(|member| member.role = role)
            .is_some())
    }

    async fn overviews(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>> {
        let st = self.state();
        let mut list: Vec<ConversationOverview> = st
            .chat
            .by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|conv| st.overview_of(*conv, user))
            .filter(|o| kind.is_none_or(|k| o.membership.conversation.kind == k))
            .collect();
        list.sort_by(|a, b| {
            let key = |o: &ConversationOverview| {
                (
                    o.membership.conversation.last_activity_at,
                    o.membership.conversation.id,
                )
            };
            key(b).cmp(&key(a))
        });
        Ok(list)
    }

    async fn overview(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<ConversationOverview>> {
        Ok(self.state().overview_of(conversation, user))
    }

    async fn set_muted(
        &self,
        conversation: ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool> {
        let mut st = self.state();
        Ok(st
            .chat
            .member_mut(conversation, user)
            .map(|member| member.muted = muted)
            .is_some())
    }

    async fn set_posting(
        &self,
        conversation: ConversationId,
        posting: PostingPolicy,
    ) -> Result<bool> {
        let mut st = self.state();
        match st.chat.conversations.get_mut(&conversation) {
            Some(c) if c.kind == ConversationKind::Group => {
                c.posting = posting;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

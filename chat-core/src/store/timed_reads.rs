//! [`TimedReads`]: the conversation and message stores with every read
//! timed into `chat_store_read_seconds` (writes are timed per batch by the
//! writer, into `chat_store_write_seconds`).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::domain::ClientMsgId;
use crate::error::Result;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::metrics::{Metrics, StoreRead};
use crate::model::{
    ChangeOutcome, ConversationKind, ConversationOverview, DeliveryMove, InsertOutcome, LogEntry,
    MemberEntry, MemberRemoval, MemberRole, Membership, Message, NewChange, NewDirectConversation,
    NewGroup, NewMember, NewMessage, PostingPolicy, Reaction, SearchHit, SearchQuery,
};
use crate::store::{ConversationStore, MessageStore};
use crate::time::Timestamp;

/// Wraps a store; reads are timed, everything else passes straight through.
pub(crate) struct TimedReads<S: ?Sized> {
    inner: Arc<S>,
    metrics: Metrics,
}

impl<S: ?Sized> TimedReads<S> {
    pub(crate) fn new(inner: Arc<S>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    async fn time<T>(&self, op: StoreRead, read: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = read.await;
        self.metrics.store_read(op, started.elapsed());
        out
    }
}

#[async_trait]
impl<S: ConversationStore + ?Sized> ConversationStore for TimedReads<S> {
    async fn create_direct(&self, new: NewDirectConversation) -> Result<(ConversationId, bool)> {
        self.inner.create_direct(new).await
    }

    async fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationId>> {
        self.time(StoreRead::DirectBetween, self.inner.direct_between(a, b))
            .await
    }

    async fn create_group(&self, group: NewGroup) -> Result<()> {
        self.inner.create_group(group).await
    }

    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        self.time(
            StoreRead::Membership,
            self.inner.membership(conversation, user),
        )
        .await
    }

    async fn members(&self, conversation: ConversationId) -> Result<Vec<MemberEntry>> {
        self.time(StoreRead::Members, self.inner.members(conversation))
            .await
    }

    async fn add_members(
        &self,
        conversation: ConversationId,
        members: Vec<NewMember>,
        at: Timestamp,
        max_members: u32,
    ) -> Result<Vec<UserId>> {
        self.inner
            .add_members(conversation, members, at, max_members)
            .await
    }

    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<MemberRemoval>> {
        self.inner.remove_member(conversation, user).await
    }

    async fn set_member_role(
        &self,
        conversation: ConversationId,
        user: UserId,
        role: MemberRole,
    ) -> Result<bool> {
        self.inner.set_member_role(conversation, user, role).await
    }

    async fn overviews(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>> {
        self.time(StoreRead::Overviews, self.inner.overviews(user, kind))
            .await
    }

    async fn overview(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<ConversationOverview>> {
        self.time(StoreRead::Overview, self.inner.overview(conversation, user))
            .await
    }

    async fn set_muted(
        &self,
        conversation: ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool> {
        self.inner.set_muted(conversation, user, muted).await
    }

    async fn set_posting(
        &self,
        conversation: ConversationId,
        posting: PostingPolicy,
    ) -> Result<bool> {
        self.inner.set_posting(conversation, posting).await
    }
}

#[async_trait]
impl<S: MessageStore + ?Sized> MessageStore for TimedReads<S> {
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome> {
        self.inner.insert_message(message).await
    }

    fn write_concurrency(&self) -> usize {
        self.inner.write_concurrency()
    }

    async fn message(
        &self,
        conversation: ConversationId,
        id: MessageId,
    ) -> Result<Option<Message>> {
        self.time(StoreRead::Message, self.inner.message(conversation, id))
            .await
    }

    async fn message_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>> {
        self.time(
            StoreRead::Message,
            self.inner
                .message_by_client_msg_id(conversation, sender, client_msg_id),
        )
        .await
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        self.time(StoreRead::MessagesByIds, self.inner.messages_by_ids(ids))
            .await
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.time(
            StoreRead::MessagesBefore,
            self.inner
                .messages_before(conversation, max_seq, skip, limit),
        )
        .await
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.time(
            StoreRead::MessagesAfter,
            self.inner.messages_after(conversation, min_seq, limit),
        )
        .await
    }

    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.time(StoreRead::Search, self.inner.search_messages(query))
            .await
    }

    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>> {
        self.time(
            StoreRead::SearchWordCounts,
            self.inner.search_word_counts(words, cap),
        )
        .await
    }

    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome> {
        self.inner.apply_change(change).await
    }

    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        self.time(
            StoreRead::LogBetween,
            self.inner.log_between(conversation, from, to),
        )
        .await
    }

    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>> {
        self.time(StoreRead::Reactions, self.inner.reactions(ids))
            .await
    }

    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>> {
        self.time(
            StoreRead::UnreadMessages,
            self.inner.unread_messages(user, limit),
        )
        .await
    }

    async fn advance_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        self.inner.advance_read(conversation, user, seq, at).await
    }

    async fn advance_delivered(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        self.inner
            .advance_delivered(conversation, user, seq, at)
            .await
    }

    async fn write_batch(
        &self,
        messages: Vec<NewMessage>,
        moves: Vec<DeliveryMove>,
        at: Timestamp,
    ) -> Result<(Vec<InsertOutcome>, Vec<Option<Membership>>)> {
        self.inner.write_batch(messages, moves, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[tokio::test]
    async fn reads_are_timed_by_method_and_writes_pass_through() {
        let metrics = Metrics::new();
        let store = TimedReads::new(Arc::new(MemoryStore::new()), metrics.clone());
        let nobody = UserId::new();
        assert!(
            store
                .overviews(nobody, None)
                .await
                .expect("read")
                .is_empty()
        );
        assert!(
            store
                .overviews(nobody, None)
                .await
                .expect("read")
                .is_empty()
        );
        assert!(
            store
                .messages_before(ConversationId::new(), 10, 0, 5)
                .await
                .expect("read")
                .is_empty()
        );
        let text = metrics.render();
        let count = |op: &str| {
            let series = format!("chat_store_read_seconds_count{{op=\"{op}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(series.as_str()))
                .unwrap_or_else(|| panic!("no {series} in\n{text}"))
                .to_owned()
        };
        assert_eq!(count("overviews"), "2");
        assert_eq!(count("messages_before"), "1");
        assert_eq!(count("membership"), "0");
        assert_eq!(
            store.write_concurrency(),
            MemoryStore::new().write_concurrency()
        );
    }
}

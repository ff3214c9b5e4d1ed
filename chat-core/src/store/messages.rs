use async_trait::async_trait;

use crate::domain::ClientMsgId;
use crate::error::Result;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ChangeOutcome, DeliveryMove, InsertOutcome, LogEntry, Membership, Message, NewChange,
    NewMessage, Reaction, SearchHit, SearchQuery,
};
use crate::time::Timestamp;

/// Each conversation's log (messages, and changes to them: edits,
/// deletions, reactions) and the members' read and delivery cursors.
///
/// Messages and changes share one gap-free seq per conversation (see
/// `docs/architecture.md`, "The conversation log").
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a message with the conversation's next seq, atomically: the
    /// seq is `last_seq + 1`, `last_seq`, `message_count` and
    /// `last_activity_at` move with it, and concurrent inserts and changes
    /// (from any number of instances) get distinct, gap-free seqs in
    /// commit order. Its `reply_to` and `mentions` are stored as given (the
    /// service checked them).
    ///
    /// In the same transaction the sender's cursors move as
    /// [`SenderCursors::after_own_message`](crate::model::SenderCursors::after_own_message)
    /// says (a member who has read everything has read what they write;
    /// otherwise it is counted in their `own_unread`). Backends apply that
    /// function rather than restating the rule.
    ///
    /// A `client_msg_id` the sender already used in this conversation
    /// returns [`InsertOutcome::Existing`] with the original, enforced by a
    /// unique constraint.
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome>;

    /// How many batches ([`write_batch`](Self::write_batch)) the backend can usefully run at once, each on its own connection
    /// (default 1: a single writer, as SQLite has). Callers run batches of
    /// different conversations in parallel up to this number, and one
    /// conversation's batches one after another.
    fn write_concurrency(&self) -> usize {
        1
    }

    /// A message of a conversation by id.
    async fn message(&self, conversation: ConversationId, id: MessageId)
    -> Result<Option<Message>>;

    /// The message `sender` sent to `conversation` with the idempotency
    /// key `client_msg_id`, if any (a send that is repeated finds its
    /// first message before it is checked again).
    async fn message_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>>;

    /// The messages with these ids (callers pass at most 100), in any
    /// order, whatever their conversations; unknown ids are skipped.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>>;

    /// Up to `limit` messages with `seq <= max_seq`, newest first, after
    /// skipping the `skip` newest of them. Changes are not messages: this
    /// reads messages only (tombstones included).
    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// Up to `limit` messages with `seq > min_seq`, oldest first (the
    /// newer half of a page around a message).
    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// Full-text search: the messages of the searcher's conversations (or
    /// of the one given) sent since they joined each (`seq >
    /// joined_seq`), not deleted, holding every word of the query as a
    /// whole word, case-insensitively, in the order of the query's `scope`
    /// (best rank first, then newest first; or newest first); `offset` and
    /// `limit` page through that order. A ranked scope ranks by the words
    /// not in `unranked_words` (by every word should they all be there).
    /// Edits and deletions are reflected at once.
    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>>;

    /// How many messages (of every conversation, not deleted) hold each
    /// of `words` (lowercase whole words, as [`SearchTerms`] gives them),
    /// in the order given, each counted up to `cap`. A store may stop
    /// counting at `cap`, and on a large table may estimate from the
    /// statistics it keeps instead (PostgreSQL does), so the figures are
    /// for choosing how to search, never for showing; a word a store's
    /// statistics do not list counts as 0.
    ///
    /// [`SearchTerms`]: crate::model::SearchTerms
    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>>;

    /// Applies a change to a message, atomically and in order with
    /// messages: under the conversation's lock it checks that the actor is
    /// a member and the message is in the conversation and not deleted,
    /// applies the change, takes the next seq (`last_seq` moves,
    /// `message_count` does not), records the log entry and moves the
    /// actor's cursors as
    /// [`SenderCursors::after_own_entry`](crate::model::SenderCursors::after_own_entry)
    /// says for a change.
    ///
    /// An edit replaces content, mentions and `edited_at`; a deletion
    /// empties the content, drops mentions and reactions and sets
    /// `deleted_at`. Adding a reaction the actor already has, or removing
    /// one they do not have, is [`ChangeOutcome::Unchanged`] and takes no
    /// seq.
    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome>;

    /// The log entries of a conversation with seqs `from..=to`, oldest
    /// first: messages as they are now, and changes rendered with their
    /// message's current state by
    /// [`MessageChange::render`](crate::model::MessageChange::render).
    /// Callers keep the range to a page (at most 100 seqs).
    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>>;

    /// The reactions on these messages (callers pass at most 100 ids), in
    /// any order.
    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>>;

    /// Up to `limit` of the user's unread messages across all their
    /// conversations (after their read cursor, sent by others, deleted
    /// ones included), oldest first (by `created_at`, then id).
    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>>;

    /// Moves the user's read cursor forward to `seq` (capped at the
    /// conversation's `last_seq`), setting `read_at`, and the delivery
    /// cursor with it when it was behind. Never moves a cursor backwards.
    /// `read_message_count` grows by the messages in the range read (and
    /// `own_unread` shrinks by the user's own among them), as
    /// [`Member::apply_advance`](crate::model::Member::apply_advance) does.
    /// `None` when the user is not a member.
    async fn advance_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>>;

    /// Moves the user's delivery cursor forward to `seq` (capped at
    /// `last_seq`), setting `delivered_at`. Never moves it backwards.
    /// `None` when the user is not a member.
    async fn advance_delivered(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>>;

    /// Stores `messages` as [`insert_message`](Self::insert_message)
    /// would one by one, in order, then moves each delivery cursor in
    /// `moves` as [`advance_delivered`](Self::advance_delivered) would, and
    /// returns both sets of results in input order. A backend with
    /// transactions does it all in one (one commit, one disk flush); an
    /// error then writes nothing. Messages of one conversation keep their
    /// order in the batch.
    ///
    /// The default runs the operations one at a time.
    async fn write_batch(
        &self,
        messages: Vec<NewMessage>,
        moves: Vec<DeliveryMove>,
        at: Timestamp,
    ) -> Result<(Vec<InsertOutcome>, Vec<Option<Membership>>)> {
        let mut inserted = Vec::with_capacity(messages.len());
        for message in messages {
            inserted.push(self.insert_message(message).await?);
        }
        let mut moved = Vec::with_capacity(moves.len());
        for m in moves {
            moved.push(
                self.advance_delivered(m.conversation, m.user, m.seq, at)
                    .await?,
            );
        }
        Ok((inserted, moved))
    }
}

//! A custom store: a decorator that counts every call the engine makes to
//! the store, around the embedded SQLite store. It is how a new backend is
//! written: implement the store traits (`UserStore`, `SessionStore`,
//! `PasswordResetStore`, `PushStore`, `WebhookStore`, `ConversationStore`,
//! `MessageStore`, `ModerationStore`, `StoreHealth`; together they make a `Store`), hand it to
//! `ChatEngine::builder().store(..)`, and prove it with the conformance
//! suite, which runs here as this example's tests:
//!
//! ```sh
//! cargo run -p examples --example custom_store     # prints the calls a short session makes
//! cargo test -p examples --example custom_store    # the conformance suite on the decorator
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chat_core::domain::ClientMsgId;
use chat_core::error::Result;
use chat_core::ids::{
    AttachmentId, ConversationId, DeadLetterId, MessageId, PushSubscriptionId, RefreshTokenId,
    ReportId, SessionId, UserId, WebhookId,
};
use chat_core::model::*;
use chat_core::store::{
    AttachmentStore, ConversationStore, MessageStore, ModerationStore, PasswordResetStore,
    PushStore, SessionStore, StoreHealth, UserStore, WebhookStore,
};
use chat_core::{
    ChatEngine, ConversationRef, Email, OutgoingMessage, Password, Signup, Timestamp, Username,
};
use chat_store_sqlite::SqliteStore;

/// Wraps a store and counts calls by method name.
pub struct Counted<S> {
    inner: S,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl<S> Counted<S> {
    /// Counts the calls made to `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    fn count(&self, method: &'static str) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        *calls.entry(method).or_default() += 1;
    }

    /// Calls so far, by method.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

// Every method forwards to the wrapped store after counting. Methods with a
// default in the trait (`write_concurrency`, `write_batch`) are forwarded
// too: the wrapped store's own versions are faster than the defaults.

#[async_trait]
impl<S: UserStore> UserStore for Counted<S> {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.count("create_user");
        self.inner.create_user(user).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.count("user_by_id");
        self.inner.user_by_id(id).await
    }

    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<UserCredentials>> {
        self.count("credentials_by_username");
        self.inner.credentials_by_username(username_key).await
    }

    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<UserCredentials>> {
        self.count("credentials_by_email");
        self.inner.credentials_by_email(email_key).await
    }

    async fn credentials_by_id(&self, id: UserId) -> Result<Option<UserCredentials>> {
        self.count("credentials_by_id");
        self.inner.credentials_by_id(id).await
    }

    async fn update_profile(&self, id: UserId, update: ProfileUpdate) -> Result<User> {
        self.count("update_profile");
        self.inner.update_profile(id, update).await
    }

    async fn set_password_hash(&self, id: UserId, password_hash: String) -> Result<()> {
        self.count("set_password_hash");
        self.inner.set_password_hash(id, password_hash).await
    }

    async fn set_active(&self, id: UserId, active: bool) -> Result<()> {
        self.count("set_active");
        self.inner.set_active(id, active).await
    }

    async fn search_users(&self, prefix_key: &str, limit: u32) -> Result<Vec<UserSummary>> {
        self.count("search_users");
        self.inner.search_users(prefix_key, limit).await
    }

    async fn list_users(&self, query: UserListQuery) -> Result<Vec<User>> {
        self.count("list_users");
        self.inner.list_users(query).await
    }

    async fn user_summaries(&self, ids: &[UserId]) -> Result<Vec<UserSummary>> {
        self.count("user_summaries");
        self.inner.user_summaries(ids).await
    }

    async fn touch_last_seen(&self, id: UserId, at: Timestamp) -> Result<()> {
        self.count("touch_last_seen");
        self.inner.touch_last_seen(id, at).await
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for Counted<S> {
    async fn create_session(&self, session: NewSession, token: NewRefreshToken) -> Result<()> {
        self.count("create_session");
        self.inner.create_session(session, token).await
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>> {
        self.count("session");
        self.inner.session(id).await
    }

    async fn refresh_token_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        self.count("refresh_token_by_hash");
        self.inner.refresh_token_by_hash(token_hash).await
    }

    async fn rotate_refresh_token(
        &self,
        old: RefreshTokenId,
        at: Timestamp,
        new: NewRefreshToken,
    ) -> Result<bool> {
        self.count("rotate_refresh_token");
        self.inner.rotate_refresh_token(old, at, new).await
    }

    async fn add_refresh_token(&self, token: NewRefreshToken) -> Result<bool> {
        self.count("add_refresh_token");
        self.inner.add_refresh_token(token).await
    }

    async fn revoke_session(&self, id: SessionId, at: Timestamp) -> Result<bool> {
        self.count("revoke_session");
        self.inner.revoke_session(id, at).await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
        at: Timestamp,
    ) -> Result<Vec<SessionId>> {
        self.count("revoke_user_sessions");
        self.inner.revoke_user_sessions(user_id, except, at).await
    }

    async fn sessions_revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>> {
        self.count("sessions_revoked_since");
        self.inner.sessions_revoked_since(since).await
    }
}

#[async_trait]
impl<S: PasswordResetStore> PasswordResetStore for Counted<S> {
    async fn create_password_reset(&self, reset: NewPasswordReset) -> Result<()> {
        self.count("create_password_reset");
        self.inner.create_password_reset(reset).await
    }

    async fn consume_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<ResetConsumption> {
        self.count("consume_password_reset");
        self.inner.consume_password_reset(token_hash, now).await
    }
}

#[async_trait]
impl<S: PushStore> PushStore for Counted<S> {
    async fn save_push_subscription(&self, sub: NewPushSubscription) -> Result<PushSubscription> {
        self.count("save_push_subscription");
        self.inner.save_push_subscription(sub).await
    }

    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>> {
        self.count("push_subscriptions");
        self.inner.push_subscriptions(user).await
    }

    async fn set_push_level(
        &self,
        user: UserId,
        id: PushSubscriptionId,
        level: PushLevel,
    ) -> Result<Option<PushSubscription>> {
        self.count("set_push_level");
        self.inner.set_push_level(user, id, level).await
    }

    async fn delete_push_subscription(
        &self,
        id: PushSubscriptionId,
        owner: Option<UserId>,
    ) -> Result<bool> {
        self.count("delete_push_subscription");
        self.inner.delete_push_subscription(id, owner).await
    }
}

#[async_trait]
impl<S: WebhookStore> WebhookStore for Counted<S> {
    async fn create_webhook(&self, hook: NewWebhook) -> Result<()> {
        self.count("create_webhook");
        self.inner.create_webhook(hook).await
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.count("webhooks");
        self.inner.webhooks().await
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        self.count("delete_webhook");
        self.inner.delete_webhook(id).await
    }

    async fn webhook_cursor(
        &self,
        id: WebhookId,
        conversation: ConversationId,
    ) -> Result<Option<u64>> {
        self.count("webhook_cursor");
        self.inner.webhook_cursor(id, conversation).await
    }

    async fn advance_webhook_cursors(&self, moves: &[WebhookCursorMove]) -> Result<()> {
        self.count("advance_webhook_cursors");
        self.inner.advance_webhook_cursors(moves).await
    }

    async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()> {
        self.count("add_dead_letter");
        self.inner.add_dead_letter(letter).await
    }

    async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>> {
        self.count("dead_letters");
        self.inner.dead_letters(id, limit).await
    }

    async fn dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<Option<DeadLetter>> {
        self.count("dead_letter");
        self.inner.dead_letter(id, letter).await
    }

    async fn delete_dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<bool> {
        self.count("delete_dead_letter");
        self.inner.delete_dead_letter(id, letter).await
    }
}

#[async_trait]
impl<S: ConversationStore> ConversationStore for Counted<S> {
    async fn create_direct(&self, new: NewDirectConversation) -> Result<(ConversationId, bool)> {
        self.count("create_direct");
        self.inner.create_direct(new).await
    }

    async fn direct_between(&self, a: UserId, b: UserId) -> Result<Option<ConversationId>> {
        self.count("direct_between");
        self.inner.direct_between(a, b).await
    }

    async fn create_group(&self, group: NewGroup) -> Result<()> {
        self.count("create_group");
        self.inner.create_group(group).await
    }

    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        self.count("membership");
        self.inner.membership(conversation, user).await
    }

    async fn members(&self, conversation: ConversationId) -> Result<Vec<MemberEntry>> {
        self.count("members");
        self.inner.members(conversation).await
    }

    async fn add_members(
        &self,
        conversation: ConversationId,
        members: Vec<NewMember>,
        at: Timestamp,
        max_members: u32,
    ) -> Result<Vec<UserId>> {
        self.count("add_members");
        self.inner
            .add_members(conversation, members, at, max_members)
            .await
    }

    async fn remove_member(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<MemberRemoval>> {
        self.count("remove_member");
        self.inner.remove_member(conversation, user).await
    }

    async fn set_member_role(
        &self,
        conversation: ConversationId,
        user: UserId,
        role: MemberRole,
    ) -> Result<bool> {
        self.count("set_member_role");
        self.inner.set_member_role(conversation, user, role).await
    }

    async fn overviews(
        &self,
        user: UserId,
        kind: Option<ConversationKind>,
    ) -> Result<Vec<ConversationOverview>> {
        self.count("overviews");
        self.inner.overviews(user, kind).await
    }

    async fn overview(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<ConversationOverview>> {
        self.count("overview");
        self.inner.overview(conversation, user).await
    }

    async fn set_muted(
        &self,
        conversation: ConversationId,
        user: UserId,
        muted: bool,
    ) -> Result<bool> {
        self.count("set_muted");
        self.inner.set_muted(conversation, user, muted).await
    }

    async fn set_posting(
        &self,
        conversation: ConversationId,
        posting: PostingPolicy,
    ) -> Result<bool> {
        self.count("set_posting");
        self.inner.set_posting(conversation, posting).await
    }
}

#[async_trait]
impl<S: MessageStore> MessageStore for Counted<S> {
    async fn insert_message(&self, message: NewMessage) -> Result<InsertOutcome> {
        self.count("insert_message");
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
        self.count("message");
        self.inner.message(conversation, id).await
    }

    async fn message_by_client_msg_id(
        &self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> Result<Option<Message>> {
        self.count("message_by_client_msg_id");
        self.inner
            .message_by_client_msg_id(conversation, sender, client_msg_id)
            .await
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        self.count("messages_by_ids");
        self.inner.messages_by_ids(ids).await
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        max_seq: u64,
        skip: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.count("messages_before");
        self.inner
            .messages_before(conversation, max_seq, skip, limit)
            .await
    }

    async fn messages_after(
        &self,
        conversation: ConversationId,
        min_seq: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.count("messages_after");
        self.inner
            .messages_after(conversation, min_seq, limit)
            .await
    }

    async fn search_messages(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        self.count("search_messages");
        self.inner.search_messages(query).await
    }

    async fn search_word_counts(&self, words: &[String], cap: u64) -> Result<Vec<u64>> {
        self.count("search_word_counts");
        self.inner.search_word_counts(words, cap).await
    }

    async fn apply_change(&self, change: NewChange) -> Result<ChangeOutcome> {
        self.count("apply_change");
        self.inner.apply_change(change).await
    }

    async fn log_between(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        self.count("log_between");
        self.inner.log_between(conversation, from, to).await
    }

    async fn reactions(&self, ids: &[MessageId]) -> Result<Vec<Reaction>> {
        self.count("reactions");
        self.inner.reactions(ids).await
    }

    async fn unread_messages(&self, user: UserId, limit: u32) -> Result<Vec<Message>> {
        self.count("unread_messages");
        self.inner.unread_messages(user, limit).await
    }

    async fn advance_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        self.count("advance_read");
        self.inner.advance_read(conversation, user, seq, at).await
    }

    async fn advance_delivered(
        &self,
        conversation: ConversationId,
        user: UserId,
        seq: u64,
        at: Timestamp,
    ) -> Result<Option<Membership>> {
        self.count("advance_delivered");
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
        self.count("write_batch");
        self.inner.write_batch(messages, moves, at).await
    }
}

#[async_trait]
impl<S: AttachmentStore> AttachmentStore for Counted<S> {
    async fn create_attachment(&self, new: NewAttachment) -> Result<()> {
        self.count("create_attachment");
        self.inner.create_attachment(new).await
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<Attachment>> {
        self.count("attachment");
        self.inner.attachment(id).await
    }

    async fn unsent_attachments(&self, before: Timestamp, limit: u32) -> Result<Vec<Attachment>> {
        self.count("unsent_attachments");
        self.inner.unsent_attachments(before, limit).await
    }

    async fn delete_unsent_attachment(&self, id: AttachmentId) -> Result<bool> {
        self.count("delete_unsent_attachment");
        self.inner.delete_unsent_attachment(id).await
    }

    async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>> {
        self.count("attachments");
        self.inner.attachments(ids).await
    }

    async fn blob_deletions(&self, limit: u32) -> Result<Vec<AttachmentId>> {
        self.count("blob_deletions");
        self.inner.blob_deletions(limit).await
    }

    async fn forget_blob_deletions(&self, ids: &[AttachmentId]) -> Result<()> {
        self.count("forget_blob_deletions");
        self.inner.forget_blob_deletions(ids).await
    }
}

#[async_trait]
impl<S: ModerationStore> ModerationStore for Counted<S> {
    async fn block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool> {
        self.count("block");
        self.inner.block(blocker, blocked, at).await
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        self.count("unblock");
        self.inner.unblock(blocker, blocked).await
    }

    async fn blocked_users(&self, blocker: UserId) -> Result<Vec<BlockedUser>> {
        self.count("blocked_users");
        self.inner.blocked_users(blocker).await
    }

    async fn blockers_of(&self, user: UserId) -> Result<Vec<UserId>> {
        self.count("blockers_of");
        self.inner.blockers_of(user).await
    }

    async fn create_report(&self, report: NewReport) -> Result<ReportOutcome> {
        self.count("create_report");
        self.inner.create_report(report).await
    }

    async fn reports(
        &self,
        status: Option<ReportStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Report>> {
        self.count("reports");
        self.inner.reports(status, limit, offset).await
    }

    async fn resolve_report(
        &self,
        id: ReportId,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Report>> {
        self.count("resolve_report");
        self.inner.resolve_report(id, by, at).await
    }
}

#[async_trait]
impl<S: StoreHealth> StoreHealth for Counted<S> {
    async fn ping(&self) -> Result<()> {
        self.count("ping");
        self.inner.ping().await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("chat-custom-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sqlite =
        SqliteStore::connect(&format!("sqlite://{}", dir.join("chat.db").display())).await?;
    let store = Arc::new(Counted::new(sqlite));
    let engine = ChatEngine::builder().store(store.clone()).build()?;

    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let signup = Signup {
            username: Username::parse(name)?,
            email: Email::parse(&format!("{name}@example.com"))?,
            password: Password::parse("s3cret!pass")?,
            display_name: None,
        };
        users.push(engine.auth().signup(signup, None).await?.user_id);
    }
    for i in 1..=3 {
        let message = OutgoingMessage::parse(&format!("message {i}"), None, None)?;
        engine
            .conversations()
            .send(users[0], ConversationRef::Direct(users[1]), message)
            .await?;
    }
    let list = engine.conversations().conversations(users[1], None).await?;
    let unread: u64 = list.iter().map(|c| c.membership.unread_count()).sum();
    println!("bob has {} conversation(s), {unread} unread", list.len());

    println!("\nstore calls for 2 signups, 3 messages and 1 conversation list:");
    for (method, n) in store.calls() {
        println!("  {method:<28} {n}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The conformance suite every backend runs, on the decorator around an
/// in-memory SQLite store.
#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use chat_core::testkit::Plain;
    use chat_store_sqlite::SqliteStore;

    use super::Counted;

    chat_core::store_conformance_tests!(async {
        let sqlite = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("open in-memory store");
        Some(Plain(Arc::new(Counted::new(sqlite))))
    });
}

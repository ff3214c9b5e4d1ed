//! The conformance suite against SQLite, one fresh database file per case,
//! plus checks that only a file-backed store can fail: durability across a
//! reopen, the journal mode, and upgrading a database an older build made.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::domain::Emoji;
use chat_core::model::{ChangeAction, ChangeOutcome, LogEntry, NewChange};
use chat_core::store::{ConversationStore, MessageStore, Store, UserStore};
use chat_core::testkit::{TestStore, fixtures};
use chat_core::{ConversationId, MessageId, UserId};
use chat_store_sqlite::SqliteStore;
use common::{database_at_migration, insert_user, url};
use tempfile::TempDir;

/// A store on a file in its own temporary directory.
struct SqliteTestStore {
    store: Arc<SqliteStore>,
    /// Deleted when the case passes; kept (and its path printed) when it
    /// fails, so the database can be inspected.
    dir: Option<TempDir>,
}

impl SqliteTestStore {
    async fn new() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let store = SqliteStore::connect(&url(&dir.path().join("chat.db")))
            .await
            .expect("open SQLite store");
        Self {
            store: Arc::new(store),
            dir: Some(dir),
        }
    }
}

impl Drop for SqliteTestStore {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "keeping the failed case's database in {}",
                dir.keep().display()
            );
        }
    }
}

#[async_trait]
impl TestStore for SqliteTestStore {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn teardown(&self) {
        self.store.pool().close().await;
    }
}

chat_core::store_conformance_tests!(async { Some(SqliteTestStore::new().await) });

/// The same suite on `sqlite::memory:`, which runs on a single connection.
mod in_memory {
    use std::sync::Arc;

    use chat_core::testkit::Plain;
    use chat_store_sqlite::SqliteStore;

    chat_core::store_conformance_tests!(async {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("open in-memory store");
        Some(Plain(Arc::new(store)))
    });
}

#[tokio::test]
async fn committed_data_survives_closing_and_reopening_the_file() {
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("chat.db");
    let store = SqliteStore::connect(&url(&file)).await.expect("open");
    let user = fixtures::create_user(&store, "alice").await;
    store.pool().close().await;

    let reopened = SqliteStore::connect(&url(&file)).await.expect("reopen");
    let found = reopened.user_by_id(user.id).await.expect("read");
    assert_eq!(found, Some(user));
    reopened.pool().close().await;
}

#[tokio::test]
async fn the_journal_is_write_ahead_and_commits_are_fully_synced() {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::connect(&url(&dir.path().join("chat.db")))
        .await
        .expect("open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    // 2 is FULL.
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .expect("synchronous");
    assert_eq!(synchronous, 2);
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .expect("foreign_keys");
    assert_eq!(foreign_keys, 1);
    store.pool().close().await;
}

#[tokio::test]
async fn missing_directories_are_created() {
    let dir = TempDir::new().expect("temp dir");
    let file: PathBuf = dir.path().join("nested/deeper/chat.db");
    let store = SqliteStore::connect(&url(&file)).await.expect("open");
    assert!(file.exists());
    store.pool().close().await;
}

#[tokio::test]
async fn an_in_memory_store_keeps_its_data_between_calls() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let user = fixtures::create_user(&store, "bob").await;
    assert_eq!(store.user_by_id(user.id).await.expect("read"), Some(user));
}

/// A database made before the conversation log (migrations 0001 and 0002
/// only) upgrades in place: every entry it holds is a message, so the
/// message counts start at the seqs and unread counts stay what they were;
/// its messages read back without mentions, and it takes changes.
#[tokio::test]
async fn a_database_from_before_the_log_upgrades_with_its_counts() {
    let old = database_at_migration(2).await;
    let pool = &old.pool;

    // Alice sent seqs 1 and 2 and has read them; bob sent 3 and has read 1.
    let (alice, bob) = (UserId::new(), UserId::new());
    let conversation = ConversationId::new();
    let messages = [MessageId::new(), MessageId::new(), MessageId::new()];
    for (user, name) in [(alice, "alice"), (bob, "bob")] {
        insert_user(pool, user, name).await;
    }
    let (low, high) = (alice.min(bob), alice.max(bob));
    sqlx::query(
        "INSERT INTO conversations (conversation_id, kind, created_at, last_seq, \
             last_activity_at, direct_user_low, direct_user_high) \
         VALUES (?1, 'direct', 0, 3, 3000, ?2, ?3)",
    )
    .bind(conversation.as_uuid())
    .bind(low.as_uuid())
    .bind(high.as_uuid())
    .execute(pool)
    .await
    .expect("conversation");
    for (user, read_seq, own_unread) in [(alice, 2, 0), (bob, 1, 1)] {
        sqlx::query(
            "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
                 joined_seq, read_seq, delivered_seq, own_unread) \
             VALUES (?1, ?2, 'member', 0, 0, ?3, 3, ?4)",
        )
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .bind(read_seq)
        .bind(own_unread)
        .execute(pool)
        .await
        .expect("member");
    }
    for (seq, (id, sender)) in (1_i64..).zip(messages.iter().zip([alice, alice, bob])) {
        sqlx::query(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at) VALUES (?1, ?2, ?3, ?4, 'hello', 'text', ?5)",
        )
        .bind(id.as_uuid())
        .bind(conversation.as_uuid())
        .bind(seq)
        .bind(sender.as_uuid())
        .bind(seq * 1000)
        .execute(pool)
        .await
        .expect("message");
    }
    pool.close().await;

    let store = SqliteStore::connect(&old.url).await.expect("upgrade");
    let membership = |user| {
        let store = store.clone();
        async move {
            store
                .membership(conversation, user)
                .await
                .expect("membership")
                .expect("member")
        }
    };
    let a = membership(alice).await;
    assert_eq!(
        (a.conversation.last_seq, a.conversation.message_count),
        (3, 3)
    );
    assert_eq!((a.member.read_message_count, a.unread_count()), (2, 1));
    let b = membership(bob).await;
    assert_eq!((b.member.read_message_count, b.unread_count()), (1, 1));
    let history = store
        .messages_before(conversation, u64::MAX, 0, 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|m| m.mentions.is_empty()
        && m.reply_to.is_none()
        && m.edited_at.is_none()
        && m.deleted_at.is_none()));

    let reacted = store
        .apply_change(NewChange {
            conversation_id: conversation,
            message_id: messages[0],
            actor_id: bob,
            by_operator: false,
            action: ChangeAction::AddReaction(Emoji::parse("👍").expect("emoji")),
            at: fixtures::at(10),
        })
        .await
        .expect("change");
    let ChangeOutcome::Applied { change, .. } = reacted else {
        panic!("not applied: {reacted:?}");
    };
    assert_eq!((change.seq, change.count), (4, Some(1)));
    let log = store.log_between(conversation, 1, 4).await.expect("log");
    assert!(matches!(log.last(), Some(LogEntry::Change(c)) if c.seq == 4));
    let overview = store
        .overview(conversation, bob)
        .await
        .expect("overview")
        .expect("member");
    assert_eq!(overview.last_message.map(|m| m.id), Some(messages[2]));
    assert_eq!(overview.mention_count, 0);
    assert_eq!(overview.membership.unread_count(), 1);
    store.pool().close().await;
}

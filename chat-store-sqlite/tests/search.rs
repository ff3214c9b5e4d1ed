//! The full-text index of migration 0004 beyond the conformance suite:
//! the SQLite build it needs, upgrading a database that holds messages,
//! the index staying consistent through edits, deletions and a deleted
//! conversation, the seq limit of its rowids, and words of scripts with
//! combining marks.

mod common;

use chat_core::domain::MessageContent;
use chat_core::model::ChangeAction;
use chat_core::testkit::fixtures::{create_direct, create_user, send};
use chat_core::testkit::search::{change, ids, search};
use chat_core::{ConversationId, MessageId, UserId};
use chat_store_sqlite::SqliteStore;
use common::{database_at_migration, insert_user};
use sqlx::SqlitePool;

/// FTS5's own check of the index against its structure.
async fn assert_index_is_consistent(pool: &SqlitePool) {
    sqlx::query("INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 0)")
        .execute(pool)
        .await
        .expect("integrity-check");
}

/// How many entries the index holds.
async fn entries(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM message_search")
        .fetch_one(pool)
        .await
        .expect("count entries")
}

/// The bundled SQLite has FTS5 and is recent enough for
/// `contentless_delete` (3.43).
#[tokio::test]
async fn the_bundled_sqlite_has_fts5_with_contentless_delete() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let (fts5, version): (i64, String) =
        sqlx::query_as("SELECT sqlite_compileoption_used('ENABLE_FTS5'), sqlite_version()")
            .fetch_one(store.pool())
            .await
            .expect("compile options");
    assert_eq!(fts5, 1);
    let parts: Vec<u32> = version
        .split('.')
        .map(|p| p.parse().expect("number"))
        .collect();
    assert!(parts[..2] >= [3, 43][..], "SQLite {version}");
}

/// Edits and deletions keep one entry per live message, and FTS5 finds
/// its index consistent.
#[tokio::test]
async fn edits_and_deletions_leave_one_entry_per_live_message() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let kept = send(&store, d, a, "lunch at noon").await;
    let edited = send(&store, d, b, "dinner at eight").await;
    let deleted = send(&store, d, a, "breakfast at nine").await;
    let edit = ChangeAction::Edit {
        content: MessageContent::parse("dinner at seven").expect("content"),
        mentions: Vec::new(),
    };
    change(&store, d, edited.id, b, edit).await;
    change(&store, d, deleted.id, a, ChangeAction::Delete).await;
    assert_eq!(entries(store.pool()).await, 2);
    assert_index_is_consistent(store.pool()).await;
    let mut found = ids(&search(&store, a, "at", None, 0, 10).await);
    found.sort();
    let mut want = vec![kept.id, edited.id];
    want.sort();
    assert_eq!(found, want);
    assert!(search(&store, a, "eight", None, 0, 10).await.is_empty());
    assert!(search(&store, a, "nine", None, 0, 10).await.is_empty());
}

/// Deleting a conversation (which nothing does yet; its messages go with
/// it by cascade) removes their entries and its search key: SQLite runs
/// the cascade's triggers before the conversation's own.
#[tokio::test]
async fn a_deleted_conversation_leaves_nothing_in_the_index() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let c = create_user(&store, "carol").await.id;
    let gone = create_direct(&store, a, b).await;
    let stays = create_direct(&store, a, c).await;
    send(&store, gone, a, "lunch at noon").await;
    send(&store, gone, b, "lunch it is").await;
    let kept = send(&store, stays, c, "lunch tomorrow").await;
    assert_eq!(entries(store.pool()).await, 3);
    sqlx::query("DELETE FROM conversations WHERE conversation_id = ?1")
        .bind(gone.as_uuid())
        .execute(store.pool())
        .await
        .expect("delete conversation");
    assert_eq!(entries(store.pool()).await, 1);
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_search_conversations")
        .fetch_one(store.pool())
        .await
        .expect("keys");
    assert_eq!(keys, 1);
    assert_index_is_consistent(store.pool()).await;
    assert_eq!(
        ids(&search(&store, a, "lunch", None, 0, 10).await),
        vec![kept.id]
    );
}

/// A seq past 2^32 - 1 would run into the next conversation's rowids:
/// the message is refused instead.
#[tokio::test]
async fn a_seq_past_the_rowid_range_is_refused() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let insert = |seq: i64| {
        sqlx::query(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at) VALUES (?1, ?2, ?3, ?4, 'lunch', 'text', 0)",
        )
        .bind(MessageId::new().as_uuid())
        .bind(d.as_uuid())
        .bind(seq)
        .bind(a.as_uuid())
        .execute(store.pool())
    };
    insert(4_294_967_295)
        .await
        .expect("the last seq of the range");
    let refused = insert(4_294_967_296).await.expect_err("past the range");
    assert!(
        refused.to_string().contains("message_search: seq"),
        "{refused}"
    );
    assert_eq!(search(&store, b, "lunch", None, 0, 10).await.len(), 1);
}

/// Words whose vowel signs or tone marks are combining marks are found
/// whole, like any other (the tokenizer splits them at the marks; the
/// query is split the same way).
#[tokio::test]
async fn words_with_combining_marks_are_found() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let hindi = send(&store, d, a, "मुझे हिन्दी पसंद है").await;
    let thai = send(&store, d, a, "ไม่เป็นไร ครับ").await;
    let accented = send(&store, d, a, "Un café, s'il vous plaît").await;
    assert_eq!(
        ids(&search(&store, b, "हिन्दी", None, 0, 10).await),
        vec![hindi.id]
    );
    assert_eq!(
        ids(&search(&store, b, "ไม่เป็นไร", None, 0, 10).await),
        vec![thai.id]
    );
    assert_eq!(
        ids(&search(&store, b, "CAFÉ", None, 0, 10).await),
        vec![accented.id]
    );
    assert!(
        search(&store, b, "cafe", None, 0, 10).await.is_empty(),
        "accents count"
    );
}

/// A database made before search (migrations 0001 to 0003) upgrades in
/// place: its messages are indexed, but deleted ones, and new messages
/// in its conversations are indexed as they come.
#[tokio::test]
async fn a_database_from_before_search_is_indexed_on_upgrade() {
    let old = database_at_migration(3).await;
    let pool = &old.pool;

    let (alice, bob) = (UserId::new(), UserId::new());
    for (user, name) in [(alice, "alice"), (bob, "bob")] {
        insert_user(pool, user, name).await;
    }
    let conversation = ConversationId::new();
    let (low, high) = (alice.min(bob), alice.max(bob));
    sqlx::query(
        "INSERT INTO conversations (conversation_id, kind, created_at, last_seq, message_count, \
             last_activity_at, direct_user_low, direct_user_high) \
         VALUES (?1, 'direct', 0, 3, 3, 3000, ?2, ?3)",
    )
    .bind(conversation.as_uuid())
    .bind(low.as_uuid())
    .bind(high.as_uuid())
    .execute(pool)
    .await
    .expect("conversation");
    for user in [alice, bob] {
        sqlx::query(
            "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
                 joined_seq, read_seq, delivered_seq) VALUES (?1, ?2, 'member', 0, 0, 0, 0)",
        )
        .bind(conversation.as_uuid())
        .bind(user.as_uuid())
        .execute(pool)
        .await
        .expect("member");
    }
    let messages = [MessageId::new(), MessageId::new(), MessageId::new()];
    let contents = [
        ("lunch at noon", None),
        ("", Some(2500_i64)),
        ("Lunch? Sure", None),
    ];
    for (seq, (id, (content, deleted_at))) in (1_i64..).zip(messages.iter().zip(contents)) {
        sqlx::query(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, 'text', ?6, ?7)",
        )
        .bind(id.as_uuid())
        .bind(conversation.as_uuid())
        .bind(seq)
        .bind(alice.as_uuid())
        .bind(content)
        .bind(seq * 1000)
        .bind(deleted_at)
        .execute(pool)
        .await
        .expect("message");
    }
    pool.close().await;

    let store = SqliteStore::connect(&old.url).await.expect("upgrade");
    assert_eq!(entries(store.pool()).await, 2, "not the deleted message");
    assert_index_is_consistent(store.pool()).await;
    let found = search(&store, bob, "lunch", None, 0, 10).await;
    let mut got = ids(&found);
    got.sort();
    let mut want = vec![messages[0], messages[2]];
    want.sort();
    assert_eq!(got, want);
    let new = send(&store, conversation, bob, "lunch again").await;
    assert_eq!(new.seq, 4);
    assert!(ids(&search(&store, alice, "again", None, 0, 10).await).contains(&new.id));
    store.pool().close().await;
}

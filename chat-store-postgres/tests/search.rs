//! Full-text search on PostgreSQL, beyond the conformance suite: words
//! that PostgreSQL's parser would read as part of one token, case folding
//! beyond ASCII, words it cannot index, snippets, and a database written
//! before search existed, upgraded by migration 0004; word counts from
//! statistics.

use chat_core::model::{MARK_END, MARK_START, SearchHit};
use chat_core::store::{MessageStore as _, Store};
use chat_core::testkit::fixtures::{create_direct, create_user, send};
use chat_core::testkit::{self, search::ids};
use chat_core::{ConversationId, MessageId, UserId};
use chat_store_postgres::{PgStore, PgTestDatabase};
use sqlx::Executor as _;
use uuid::Uuid;

/// The searcher's first page for `q` across their conversations.
async fn search(store: &dyn Store, user: UserId, q: &str) -> Vec<SearchHit> {
    testkit::search::search(store, user, q, None, 0, 10).await
}

fn marked(word: &str) -> String {
    format!("{MARK_START}{word}{MARK_END}")
}

/// Host names, addresses, numbers, versions, paths and hyphenated words
/// hold their words, as `SearchTerms` splits them; the snippet marks them
/// even where `ts_headline` sees one token.
#[tokio::test]
async fn words_joined_by_punctuation_are_found_one_by_one() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let site = send(&store, d, a, "see example.com or mail bob@example.org").await;
    let pi = send(&store, d, a, "pi is 3.14, release v1.2 is out").await;
    let url = send(&store, d, a, "https://docs.rs/sqlx/latest/index.html").await;
    let hyphen = send(&store, d, a, "lunch-time snake_case don't").await;
    let emoji = send(&store, d, a, "party🎉tonight").await;
    for (q, want) in [
        ("example", site.id),
        ("bob", site.id),
        ("org", site.id),
        ("3", pi.id),
        ("14", pi.id),
        ("v1 2", pi.id),
        ("docs sqlx html", url.id),
        ("time lunch", hyphen.id),
        ("snake case", hyphen.id),
        ("don t", hyphen.id),
        ("party tonight", emoji.id),
    ] {
        let hits = search(&store, b, q).await;
        assert_eq!(ids(&hits), vec![want], "{q}");
        let first = q.split(' ').next().expect("a word");
        assert!(
            hits[0].snippet.contains(&marked(first)),
            "{q}: {:?}",
            hits[0].snippet
        );
    }
    assert!(
        search(&store, b, "exam").await.is_empty(),
        "whole words only"
    );
    db.teardown().await;
}

/// Letters beyond ASCII are words and fold case (in a database whose
/// LC_CTYPE knows them, as every UTF-8 locale does; the plain `C` locale
/// folds ASCII only, see migration 0004).
#[tokio::test]
async fn letters_beyond_ascii_fold_case() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let folds: bool = sqlx::query_scalar("SELECT lower('ÜΣ') = 'üσ'")
        .fetch_one(store.pool())
        .await
        .expect("lower");
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let m = send(&store, d, a, "ÜBER Café — naïve «résumé» 東京").await;
    for q in ["café", "résumé", "naïve", "東京", "über"] {
        if q == "über" && !folds {
            eprintln!("note: this database's LC_CTYPE does not fold Ü; skipping that case");
            continue;
        }
        assert_eq!(ids(&search(&store, b, q).await), vec![m.id], "{q}");
    }
    db.teardown().await;
}

/// A word PostgreSQL's parser does not read as exactly one word (here a
/// character Rust counts as a digit and PostgreSQL does not) makes the
/// search find nothing, rather than match on the other words alone.
#[tokio::test]
async fn a_word_the_index_cannot_hold_finds_nothing() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    send(&store, d, a, "lunch for ½ of us").await;
    assert_eq!(search(&store, b, "lunch").await.len(), 1);
    assert!(search(&store, b, "½ lunch").await.is_empty());
    db.teardown().await;
}

/// A long message's snippet is a fragment around the match, with `…`
/// where it cuts words off.
#[tokio::test]
async fn long_messages_give_a_fragment_around_the_match() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let filler = |n: usize| vec!["filler"; n].join(" ");
    let text = format!("{} the needle is here {}!", filler(100), filler(100));
    send(&store, d, a, &text).await;
    let hit = &search(&store, b, "needle").await[0];
    assert!(hit.snippet.starts_with('…'), "{:?}", hit.snippet);
    assert!(hit.snippet.ends_with('…'), "{:?}", hit.snippet);
    assert!(hit.snippet.contains(&marked("needle")));
    assert!(hit.snippet.chars().count() < 200, "{:?}", hit.snippet);
    db.teardown().await;
}

/// Writes, with SQL alone (the store of an older schema cannot), alice,
/// bob and their direct conversation with `last_seq` messages counted and
/// read by alice, then the statements `messages_sql(alice, direct)` gives;
/// returns bob.
async fn seed_direct(
    db: &PgTestDatabase,
    last_seq: u32,
    messages_sql: impl FnOnce(Uuid, Uuid) -> String,
) -> Uuid {
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let direct = ConversationId::new().as_uuid();
    let (low, high) = if alice < bob {
        (alice, bob)
    } else {
        (bob, alice)
    };
    let seed = format!(
        "INSERT INTO users (user_id, username, username_key, email, email_key, password_hash, \
             created_at) VALUES \
             ('{alice}', 'alice', 'alice', 'a@example.com', 'a@example.com', 'x', now()), \
             ('{bob}', 'bob', 'bob', 'b@example.com', 'b@example.com', 'x', now()); \
         INSERT INTO conversations (conversation_id, kind, created_at, last_seq, \
             message_count, last_activity_at, direct_user_low, direct_user_high) \
             VALUES ('{direct}', 'direct', now(), {last_seq}, {last_seq}, now(), '{low}', '{high}'); \
         INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
             joined_seq, read_seq, delivered_seq) VALUES \
             ('{direct}', '{alice}', 'member', now(), 0, {last_seq}, {last_seq}), \
             ('{direct}', '{bob}', 'member', now(), 0, 0, 0); {}",
        messages_sql(alice, direct)
    );
    db.store()
        .pool()
        .execute(seed.as_str())
        .await
        .expect("seed");
    bob
}

/// A database migrated to 0003 and written to, then upgraded: the
/// generated column is computed for the rows already there, so old
/// messages are found, and tombstones are not.
#[tokio::test]
async fn upgrading_makes_earlier_messages_searchable() {
    let Some(db) = PgTestDatabase::at_migration(3).await else {
        return;
    };
    let (kept, deleted) = (Uuid::now_v7(), Uuid::now_v7());
    let bob = seed_direct(&db, 2, |alice, direct| {
        format!(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at, deleted_at) VALUES \
                 ('{kept}', '{direct}', 1, '{alice}', 'Lunch at noon?', 'text', now(), NULL), \
                 ('{deleted}', '{direct}', 2, '{alice}', '', 'text', now(), now());"
        )
    })
    .await;
    let store = PgStore::from_pool(db.store().pool().clone())
        .await
        .expect("upgrade");
    let hits = search(&store, UserId::from_uuid(bob), "lunch").await;
    assert_eq!(ids(&hits), vec![MessageId::from_uuid(kept)]);
    assert_eq!(
        hits[0].snippet,
        format!("{}{}", marked("Lunch"), " at noon?")
    );
    store.close().await;
    db.teardown().await;
}

/// Migration 0011: the search index merges its pending list 128 kB at a
/// time (a long merge held up the insert batch that triggered it), and
/// the entries pending when it runs are merged then and stay searchable.
#[tokio::test]
async fn upgrading_merges_the_pending_search_entries_and_keeps_the_list_small() {
    let Some(db) = PgTestDatabase::at_migration(10).await else {
        return;
    };
    // Enough messages to fill pages of the pending list (PostgreSQL's
    // default limit, 4 MB, is far off).
    let bob = seed_direct(&db, 500, |alice, direct| {
        format!(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at) \
                 SELECT gen_random_uuid(), '{direct}', n, '{alice}', \
                     'note ' || n || ' about lunch word' || n, 'text', now() \
                 FROM generate_series(1, 500) AS n;"
        )
    })
    .await;
    let store = PgStore::from_pool(db.store().pool().clone())
        .await
        .expect("upgrade");
    let options: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(reloptions) FROM pg_class WHERE relname = 'messages_search'",
    )
    .fetch_all(store.pool())
    .await
    .expect("reloptions");
    assert_eq!(options, vec!["gin_pending_list_limit=128".to_owned()]);
    let left: i64 = sqlx::query_scalar("SELECT gin_clean_pending_list('messages_search')")
        .fetch_one(store.pool())
        .await
        .expect("pending pages");
    assert_eq!(left, 0, "the upgrade merged what was pending");
    let hits = search(&store, UserId::from_uuid(bob), "word321").await;
    assert_eq!(hits.len(), 1);
    store.close().await;
    db.teardown().await;
}

/// On a table of 100,000 messages or more, word counts come from
/// `ANALYZE`'s statistics of the search vectors, close to the truth, and
/// are still capped; a word the statistics do not list counts 0.
#[tokio::test]
async fn word_counts_of_a_large_table_come_from_its_statistics() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let d = create_direct(&store, a, b).await;
    let first = send(&store, d, a, "hello").await;
    // 120,000 more messages of the same conversation, written in SQL: a
    // third hold "common", every tenth "sometimes", one "once".
    sqlx::query(
        "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
             message_type, created_at) \
         SELECT gen_random_uuid(), m.conversation_id, m.seq + g, m.sender_id, \
                CASE WHEN g % 3 = 0 THEN 'a common word' ELSE 'filler ' || g END \
                || CASE WHEN g % 10 = 0 THEN ' sometimes' ELSE '' END \
                || CASE WHEN g = 77 THEN ' once' ELSE '' END, \
                m.message_type, m.created_at \
         FROM messages m, generate_series(1, 120000) g WHERE m.message_id = $1",
    )
    .bind(first.id.as_uuid())
    .execute(store.pool())
    .await
    .expect("fill");
    store
        .pool()
        .execute("ANALYZE messages")
        .await
        .expect("analyze");
    let words: Vec<String> = ["common", "sometimes", "once", "absent"]
        .iter()
        .map(|w| (*w).to_owned())
        .collect();
    let counts = store
        .search_word_counts(&words, 1_000_000)
        .await
        .expect("counts");
    // The statistics sample 30,000 rows: within 10 % of the truth.
    let near = |count: u64, truth: u64| count.abs_diff(truth) * 10 <= truth;
    assert!(near(counts[0], 40_000), "{counts:?}");
    assert!(near(counts[1], 12_000), "{counts:?}");
    assert_eq!(counts[2..], [0, 0], "not listed: 0 ({counts:?})");
    let capped = store
        .search_word_counts(&words[..1], 1_000)
        .await
        .expect("counts");
    assert_eq!(capped, [1_000]);
    db.teardown().await;
}

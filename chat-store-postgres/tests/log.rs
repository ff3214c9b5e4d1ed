//! The conversation log on PostgreSQL, beyond the conformance suite:
//! replies and mentions through the batch path, and a database written
//! before changes existed, upgraded by migration 0003.

use chat_core::domain::Emoji;
use chat_core::model::{ChangeAction, ChangeOutcome, InsertOutcome, Message, NewChange};
use chat_core::store::{ConversationStore as _, MessageStore as _};
use chat_core::testkit::fixtures::{at, create_group, create_user, new_message};
use chat_core::{ConversationId, UserId};
use chat_store_postgres::{PgStore, PgTestDatabase};
use sqlx::Executor as _;
use uuid::Uuid;

fn created(outcome: InsertOutcome) -> Message {
    match outcome {
        InsertOutcome::Created(m) => m,
        other => panic!("not created: {other:?}"),
    }
}

/// A batch stores replies and mentions as single inserts do, mention rows
/// included (the mention count reads them), and counts its messages.
#[tokio::test]
async fn batches_store_replies_and_mentions_as_single_inserts_do() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let c = create_user(&store, "carol").await.id;
    let g = create_group(&store, "Batch", a, &[b, c]).await;
    let first = new_message(g, a, "first", at(1));
    let mut reply = new_message(g, c, "@bob @alice re", at(2));
    reply.reply_to = Some(first.id);
    reply.mentions = vec![b, a];
    let mut again = new_message(g, a, "@bob", at(3));
    again.mentions = vec![b];
    let (outcomes, _) = store
        .write_batch(vec![first.clone(), reply, again], Vec::new(), at(3))
        .await
        .expect("batch");
    let batch: Vec<Message> = outcomes.into_iter().map(created).collect();
    assert_eq!(
        batch[1].reply_to,
        Some(first.id),
        "a reply to a message of the same batch"
    );
    assert_eq!(batch[1].mentions, vec![b, a], "mentions keep their order");
    for m in &batch {
        let stored = store.message(g, m.id).await.expect("read").expect("stored");
        assert_eq!(&stored, m);
    }

    let mut single = new_message(g, b, "@carol", at(4));
    single.mentions = vec![c];
    let single = created(store.insert_message(single).await.expect("insert"));
    assert_eq!(single.mentions, vec![c]);

    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_mentions")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(rows, 4, "one row per mention, none for messages without");
    let overview = |user: UserId| {
        let store = store.clone();
        async move {
            store
                .overview(g, user)
                .await
                .expect("overview")
                .expect("member")
        }
    };
    let bob = overview(b).await;
    assert_eq!(bob.mention_count, 2);
    assert_eq!(bob.membership.conversation.message_count, 4);
    assert_eq!(bob.last_message.map(|m| m.id), Some(single.id));
    let alice = overview(a).await;
    assert_eq!(
        alice.mention_count, 1,
        "carol's reply, after alice's read cursor"
    );
    assert_eq!(
        (
            alice.membership.member.read_message_count,
            alice.membership.member.own_unread
        ),
        (1, 1),
        "alice read her first message; her second came after carol's"
    );
    assert_eq!(alice.membership.unread_count(), 2);
    assert_eq!(overview(c).await.mention_count, 1);
    db.teardown().await;
}

/// The newest message of an overview is a message even when changes
/// follow it in the log.
#[tokio::test]
async fn the_last_message_of_an_overview_is_not_a_change() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let a = create_user(&store, "alice").await.id;
    let b = create_user(&store, "bob").await.id;
    let g = create_group(&store, "Last", a, &[b]).await;
    let m = created(
        store
            .insert_message(new_message(g, a, "hello", at(1)))
            .await
            .expect("insert"),
    );
    let outcome = store
        .apply_change(NewChange {
            conversation_id: g,
            message_id: m.id,
            actor_id: b,
            by_operator: false,
            action: ChangeAction::AddReaction(Emoji::parse("👍").expect("emoji")),
            at: at(2),
        })
        .await
        .expect("change");
    assert!(matches!(outcome, ChangeOutcome::Applied { .. }));
    let listed = store.overviews(b, None).await.expect("overviews");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].membership.conversation.last_seq, 2);
    assert_eq!(listed[0].last_message, Some(m));
    db.teardown().await;
}

/// A database migrated to 0002 and written to, then upgraded: every entry
/// it had is a message, so `message_count = last_seq` and
/// `read_message_count = read_seq`, and unread counts stay what they were.
#[tokio::test]
async fn upgrading_counts_every_earlier_entry_as_a_message() {
    let Some(db) = PgTestDatabase::at_migration(2).await else {
        return;
    };
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let direct = ConversationId::new().as_uuid();
    let (low, high) = if alice < bob {
        (alice, bob)
    } else {
        (bob, alice)
    };
    // Three messages, alice's first and third; bob has read the first
    // (nothing of his own after it), alice everything.
    let seed = format!(
        "INSERT INTO users (user_id, username, username_key, email, email_key, password_hash, \
             created_at) VALUES \
             ('{alice}', 'alice', 'alice', 'a@example.com', 'a@example.com', 'x', now()), \
             ('{bob}', 'bob', 'bob', 'b@example.com', 'b@example.com', 'x', now()); \
         INSERT INTO conversations (conversation_id, kind, created_at, last_seq, \
             last_activity_at, direct_user_low, direct_user_high) \
             VALUES ('{direct}', 'direct', now(), 3, now(), '{low}', '{high}'); \
         INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
             joined_seq, read_seq, delivered_seq, own_unread) VALUES \
             ('{direct}', '{alice}', 'member', now(), 0, 3, 3, 0), \
             ('{direct}', '{bob}', 'member', now(), 0, 1, 3, 0); \
         INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
             message_type, created_at) VALUES \
             (gen_random_uuid(), '{direct}', 1, '{alice}', 'one', 'text', now()), \
             (gen_random_uuid(), '{direct}', 2, '{bob}', 'two', 'text', now()), \
             (gen_random_uuid(), '{direct}', 3, '{alice}', 'three', 'text', now());"
    );
    db.store()
        .pool()
        .execute(seed.as_str())
        .await
        .expect("seed");
    let store = PgStore::from_pool(db.store().pool().clone())
        .await
        .expect("upgrade");
    let conv = ConversationId::from_uuid(direct);
    let membership = |user: Uuid| {
        let store = store.clone();
        async move {
            store
                .membership(conv, UserId::from_uuid(user))
                .await
                .expect("membership")
                .expect("member")
        }
    };
    let bob_now = membership(bob).await;
    assert_eq!(bob_now.conversation.message_count, 3);
    assert_eq!(bob_now.member.read_message_count, 1);
    assert_eq!(bob_now.unread_count(), 2);
    assert_eq!(membership(alice).await.unread_count(), 0);
    let read = store
        .advance_read(conv, UserId::from_uuid(bob), 3, at(10))
        .await
        .expect("read")
        .expect("member");
    assert_eq!(
        (read.member.read_message_count, read.unread_count()),
        (3, 0)
    );
    store.close().await;
    db.teardown().await;
}

//! Measures the conversation costs `docs/benchmarks.md` reports, on a real
//! PostgreSQL, through `ConversationService` (what one REST request does,
//! minus HTTP):
//!
//! - a 50-message history page from a conversation of 1,000,000 messages
//!   (newest, by `before` cursor in the middle, and at offset 900,000);
//! - the conversation list of a user in 1,000 conversations;
//! - unread counts and the unread list, in a conversation of 1,000,000
//!   messages against one of 10, to show the cost does not grow with history;
//! - single-message sends, one sender after another and 16 at once.
//!
//! It creates a throwaway database on the server at `DATABASE_URL` (an
//! admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and drops
//! it at the end.
//!
//! Run in release mode:
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release -p chat-store-postgres --example conversation_costs`

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::conversations::ConversationConfig;
use chat_core::model::{ConversationKind, NewDirectConversation};
use chat_core::rate_limit::RateLimit;
use chat_core::testkit::fixtures;
use chat_core::{
    ChatEngine, ConversationId, ConversationRef, MessageContent, OutgoingMessage, PageRequest,
    Store,
};
use chat_store_postgres::PgTestDatabase;

const BIG: i64 = 1_000_000;
const CONVERSATIONS: usize = 1_000;

/// Median and 99th percentile of `runs` timed calls of `f`, in ms.
async fn time<F, Fut, T>(runs: usize, mut f: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut v: Vec<Duration> = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f(i).await);
        v.push(t.elapsed());
    }
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (ms(v[v.len() / 2]), ms(v[v.len() * 99 / 100]))
}

fn report(label: &str, (median, p99): (f64, f64)) {
    println!("{label:<62} median {median:>8.3} ms   p99 {p99:>8.3} ms");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = PgTestDatabase::create()
        .await
        .ok_or("set DATABASE_URL to a PostgreSQL admin URL")?;
    let pg = db.store().clone();
    let store: Arc<dyn Store> = Arc::new(pg.clone());
    let engine = ChatEngine::builder()
        .store(store.clone())
        .conversation_config(ConversationConfig {
            message_limit: RateLimit::new(u32::MAX, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()?;
    let svc = engine.conversations();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("machine: {cores} cores; PostgreSQL at DATABASE_URL; release build");

    // --- Seed: one conversation of 1,000,000 messages, written in SQL.
    let alice = fixtures::create_user(&*store, "alice").await.id;
    let bob = fixtures::create_user(&*store, "bob").await.id;
    let big = fixtures::create_direct(&*store, alice, bob).await;
    let t = Instant::now();
    sqlx::query(
        "INSERT INTO messages \
             (message_id, conversation_id, seq, sender_id, content, message_type, created_at) \
         SELECT gen_random_uuid(), $1, g, CASE WHEN g % 2 = 0 THEN $2 ELSE $3 END, \
                'message number ' || g, 'text', now() - interval '1 day' + g * interval '1 ms' \
         FROM generate_series(1, $4::bigint) AS g",
    )
    .bind(big.as_uuid())
    .bind(alice.as_uuid())
    .bind(bob.as_uuid())
    .bind(BIG)
    .execute(pg.pool())
    .await?;
    // Consistent cursors: alice has read everything; bob has read nothing,
    // and half the messages (the odd seqs) are his own.
    sqlx::query(
        "UPDATE conversations SET last_seq = $2, message_count = $2, last_activity_at = now() \
         WHERE conversation_id = $1",
    )
    .bind(big.as_uuid())
    .bind(BIG)
    .execute(pg.pool())
    .await?;
    sqlx::query(
        "UPDATE conversation_members SET read_seq = $2, read_message_count = $2, \
             delivered_seq = $2 \
         WHERE conversation_id = $1 AND user_id = $3",
    )
    .bind(big.as_uuid())
    .bind(BIG)
    .bind(alice.as_uuid())
    .execute(pg.pool())
    .await?;
    sqlx::query(
        "UPDATE conversation_members SET own_unread = $2 \
         WHERE conversation_id = $1 AND user_id = $3",
    )
    .bind(big.as_uuid())
    .bind(BIG / 2)
    .bind(bob.as_uuid())
    .execute(pg.pool())
    .await?;
    println!(
        "seeded {BIG} messages in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // --- Seed: a user in 1,000 direct conversations, one message each.
    let t = Instant::now();
    let busy = fixtures::create_user(&*store, "busy").await.id;
    let mut small = ConversationId::new();
    let mut small_peer = busy;
    for i in 0..CONVERSATIONS {
        let peer = fixtures::create_user(&*store, &format!("peer{i}")).await.id;
        let (conv, _) = store
            .create_direct(NewDirectConversation {
                id: ConversationId::new(),
                user_a: busy,
                user_b: peer,
                created_at: fixtures::t0(),
            })
            .await?;
        fixtures::send(&*store, conv, peer, &format!("hello from peer {i}")).await;
        small = conv;
        small_peer = peer;
    }
    for i in 0..9 {
        fixtures::send(&*store, small, small_peer, &format!("more {i}")).await;
    }
    sqlx::query("ANALYZE").execute(pg.pool()).await?;
    println!(
        "seeded {CONVERSATIONS} conversations in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // --- History pages.
    let latest = PageRequest::latest();
    let page = svc.history(alice, ConversationRef::Id(big), latest).await?;
    assert_eq!(page.messages.len(), 50);
    let middle = svc
        .history(
            alice,
            ConversationRef::Id(big),
            PageRequest::new(Some(1), Some(BIG as u64 / 2), None)?,
        )
        .await?
        .messages[0]
        .message
        .id;
    report(
        "history page of 50, newest, 1M-message conversation",
        time(500, |_| {
            svc.history(alice, ConversationRef::Id(big), latest)
        })
        .await,
    );
    report(
        "history page of 50, before= a message in the middle",
        time(500, |_| {
            svc.history(
                alice,
                ConversationRef::Id(big),
                PageRequest::new(None, None, Some(middle)).expect("page"),
            )
        })
        .await,
    );
    report(
        "history page of 50, offset=900000",
        time(500, |_| {
            svc.history(
                alice,
                ConversationRef::Id(big),
                PageRequest::new(None, Some(900_000), None).expect("page"),
            )
        })
        .await,
    );

    // --- Conversation list.
    let list = svc.conversations(busy, None).await?;
    assert_eq!(list.len(), CONVERSATIONS);
    report(
        "conversation list, user in 1,000 conversations",
        time(200, |_| svc.conversations(busy, None)).await,
    );
    report(
        "groups/my style list (kind filter), same user",
        time(200, |_| {
            svc.conversations(busy, Some(ConversationKind::Group))
        })
        .await,
    );

    // --- Unread counts: 1M history against 10.
    let bob_big = svc.conversation(bob, big).await?;
    println!(
        "bob's unread count in the big conversation: {}",
        bob_big.membership.unread_count()
    );
    report(
        "unread count (one conversation), 1,000,000 messages",
        time(500, |_| svc.conversation(bob, big)).await,
    );
    report(
        "unread count (one conversation), 10 messages",
        time(500, |_| svc.conversation(busy, small)).await,
    );
    report(
        "GET /messages/unread (50), 500,000 unread in one conversation",
        time(200, |_| svc.unread(bob, None)).await,
    );
    report(
        "GET /messages/unread (50), 1,009 unread over 1,000 conversations",
        time(200, |_| svc.unread(busy, None)).await,
    );

    // --- Sends.
    let text =
        || OutgoingMessage::text(MessageContent::parse("a benchmark message").expect("valid"));
    let n = 2_000;
    let t = Instant::now();
    for _ in 0..n {
        svc.send(alice, ConversationRef::Id(big), text()).await?;
    }
    let sequential = n as f64 / t.elapsed().as_secs_f64();
    let senders = 16;
    let mut pairs = Vec::new();
    for i in 0..senders {
        let a = fixtures::create_user(&*store, &format!("sender{i}"))
            .await
            .id;
        let b = fixtures::create_user(&*store, &format!("receiver{i}"))
            .await
            .id;
        pairs.push((a, b));
    }
    let t = Instant::now();
    let tasks: Vec<_> = pairs
        .into_iter()
        .map(|(a, b)| {
            let svc = svc.clone();
            tokio::spawn(async move {
                for _ in 0..n / senders {
                    svc.send(a, ConversationRef::Direct(b), text())
                        .await
                        .expect("send");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let concurrent = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "sends (service): {sequential:.0}/s one after another; {concurrent:.0}/s with {senders} senders"
    );

    db.teardown().await;
    Ok(())
}

//! Several writers (`PgStore::with_writers`): messages of many
//! conversations written in parallel batches keep every guarantee: each
//! conversation's seqs have no gaps, and each sender's messages are in
//! the order sent.

use std::sync::Arc;

use chat_core::testkit::fixtures::create_user;
use chat_core::{
    ChatEngine, ConversationConfig, ConversationRef, OutgoingMessage, PageRequest, RateLimit,
    UserId,
};
use chat_store_postgres::PgTestDatabase;

const PAIRS: usize = 6;
const PER_SENDER: usize = 40;

async fn user(engine: &ChatEngine, name: &str) -> UserId {
    create_user(engine.store().as_ref(), name).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_writers_keep_seqs_gap_free_and_each_senders_order() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let engine = ChatEngine::builder()
        .store(Arc::new(db.store().clone().with_writers(4)))
        .conversation_config(ConversationConfig {
            message_limit: RateLimit::new(100_000, std::time::Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()
        .expect("engine");
    let mut pairs = Vec::new();
    for p in 0..PAIRS {
        pairs.push((
            user(&engine, &format!("alice{p}")).await,
            user(&engine, &format!("bob{p}")).await,
        ));
    }
    let mut tasks = Vec::new();
    for &(a, b) in &pairs {
        for (from, to) in [(a, b), (b, a)] {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_SENDER {
                    let m = OutgoingMessage::parse(&format!("{i}"), None, None).expect("valid");
                    engine
                        .conversations()
                        .send(from, ConversationRef::Direct(to), m)
                        .await
                        .expect("send");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("sender");
    }
    for &(a, b) in &pairs {
        let mut seqs = Vec::new();
        let mut last_of = std::collections::HashMap::new();
        let mut before = None;
        loop {
            let page = engine
                .conversations()
                .history(
                    a,
                    ConversationRef::Direct(b),
                    PageRequest {
                        limit: 100,
                        before,
                        offset: 0,
                        around: None,
                    },
                )
                .await
                .expect("history");
            for v in &page.messages {
                let m = &v.message;
                seqs.push(m.seq);
                let i: usize = m.content.as_str().parse().expect("index");
                // Newest first: each sender's indexes must fall.
                if let Some(prev) = last_of.insert(m.sender_id, i) {
                    assert!(i < prev, "sender order broken at seq {}", m.seq);
                }
            }
            if !page.has_more {
                break;
            }
            before = page.messages.last().map(|v| v.message.id);
        }
        seqs.sort_unstable();
        let expected: Vec<u64> = (1..=(2 * PER_SENDER) as u64).collect();
        assert_eq!(seqs, expected, "gap-free seqs");
    }
    db.teardown().await;
}

/// The writers have their own connections: a batch of messages commits
/// while every connection of the shared pool is taken (by slow reads, say),
/// instead of queueing behind them until the acquire timeout.
#[tokio::test]
async fn batches_commit_while_the_shared_pool_is_exhausted() {
    use chat_core::model::{DeliveryMove, InsertOutcome};
    use chat_core::store::MessageStore as _;
    use chat_core::testkit::fixtures::{create_direct, new_message, t0};
    use chat_store_postgres::{PgPoolConfig, PgStore};

    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let config = PgPoolConfig {
        min_connections: 0,
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(3),
    };
    let store = PgStore::connect(db.url(), config).await.expect("store");
    let alice = create_user(&store, "alice").await.id;
    let bob = create_user(&store, "bob").await.id;
    let conversation = create_direct(&store, alice, bob).await;

    let held = store
        .pool()
        .acquire()
        .await
        .expect("the only shared connection");
    let message = new_message(conversation, alice, "while the pool is busy", t0());
    let delivered = DeliveryMove {
        conversation,
        user: bob,
        seq: 1,
    };
    let (inserted, moved) = store
        .write_batch(vec![message], vec![delivered], t0())
        .await
        .expect("the batch does not wait for the shared pool");
    assert!(matches!(inserted[..], [InsertOutcome::Created(ref m)] if m.seq == 1));
    let after = moved[0].as_ref().expect("bob is a member");
    assert_eq!(after.member.delivered_seq, 1);
    drop(held);
    store.close().await;
    db.teardown().await;
}

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

//! Messages of one conversation reach connections in seq order however
//! many are sent at once: the writers commit them in batches, each send
//! publishes from its own task, and those tasks may run in any order, so
//! the engine publishes each message only after the earlier ones
//! (`store/publish_turns.rs`). A connection that got them out of order
//! would have to read the missing ones back from the store (a gap fill).

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryEventBus;
use chat_core::protocol::ServerFrame;
use chat_core::realtime::{EventKind, LocalHub};
use chat_core::testkit::fixtures::create_user;
use chat_core::{
    ChatEngine, ConversationConfig, ConversationRef, GroupName, OutgoingMessage, RateLimit,
    SessionId, UserId,
};

const SENDERS: usize = 8;
const PER_SENDER: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_reach_a_member_in_seq_order() {
    let total = SENDERS * PER_SENDER;
    let hub = Arc::new(LocalHub::with_capacity(2 * total));
    let engine = ChatEngine::builder()
        .bus(Arc::new(MemoryEventBus::with_hub(hub)))
        .conversation_config(ConversationConfig {
            message_limit: RateLimit::new(10_000, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()
        .expect("engine");
    let store = engine.store().clone();
    let reader = create_user(store.as_ref(), "reader").await.id;
    let mut senders: Vec<UserId> = Vec::new();
    for i in 0..SENDERS {
        senders.push(create_user(store.as_ref(), &format!("sender{i}")).await.id);
    }
    let group = engine
        .conversations()
        .create_group(
            reader,
            GroupName::parse("busy").expect("name"),
            senders.clone(),
        )
        .await
        .expect("group")
        .conversation
        .id;
    let (mut device, _catch_up) = engine
        .delivery()
        .connect(reader, SessionId::new())
        .await
        .expect("connect");

    // Every send starts at once, on four threads: batches commit many
    // messages together, and their fan-outs race.
    let sends: Vec<_> = (0..total)
        .map(|i| {
            let engine = engine.clone();
            let sender = senders[i % SENDERS];
            tokio::spawn(async move {
                let m = OutgoingMessage::parse(&format!("m{i}"), None, None).expect("valid");
                engine
                    .conversations()
                    .send(sender, ConversationRef::Group(group), m)
                    .await
                    .expect("send")
            })
        })
        .collect();
    for send in sends {
        send.await.expect("task");
    }

    let mut seqs = Vec::new();
    while seqs.len() < total {
        let event = tokio::time::timeout(Duration::from_secs(10), device.subscription.recv())
            .await
            .expect("every message arrives")
            .expect("open");
        if let EventKind::Frame(f) = event.kind()
            && let ServerFrame::GroupMessageNew(v) =
                serde_json::from_slice::<ServerFrame>(&f.json).expect("frame")
        {
            seqs.push(v.message.seq);
        }
    }
    let expected: Vec<u64> = (1..=total as u64).collect();
    let out_of_order = seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
    assert_eq!(
        out_of_order, 0,
        "published out of seq order {out_of_order} times: {seqs:?}"
    );
    assert_eq!(seqs, expected);
}

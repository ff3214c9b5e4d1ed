//! Group delivery receipts: who gets them, and what a storm of them costs.
//!
//! Receipts never cost a connection its life: in a big group every
//! member's acknowledgement makes a `message.delivered` for the sender,
//! more than a sender's connection may hold. Those are dropped once its
//! queue is half full (the store keeps the cursors they report); messages
//! still get through, and the connection is not marked overflowed.

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryEventBus;
use chat_core::protocol::ServerFrame;
use chat_core::realtime::{EventKind, LocalHub};
use chat_core::testkit::fixtures::create_user;
use chat_core::{
    AckTarget, ChatEngine, ConversationConfig, ConversationRef, GroupName, MessageContent,
    OutgoingMessage, RateLimit, SessionId, UserId,
};

/// The sender's queue: room for the messages, not for every receipt.
const QUEUE: usize = 64;
const MESSAGES: u64 = 20;
const MEMBERS: usize = 4;

async fn user(engine: &ChatEngine, name: &str) -> UserId {
    create_user(engine.store().as_ref(), name).await.id
}

#[tokio::test]
async fn a_receipt_storm_is_dropped_not_fatal_and_messages_still_arrive() {
    let hub = Arc::new(LocalHub::with_capacity(QUEUE));
    let engine = ChatEngine::builder()
        .bus(Arc::new(MemoryEventBus::with_hub(hub)))
        .conversation_config(ConversationConfig {
            message_limit: RateLimit::new(1_000, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()
        .expect("engine");
    let alice = user(&engine, "alice").await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        members.push(user(&engine, &format!("member{i}")).await);
    }
    let group = engine
        .conversations()
        .create_group(
            alice,
            GroupName::parse("big").expect("name"),
            members.clone(),
        )
        .await
        .expect("group")
        .conversation
        .id;
    // Alice's device connects and then reads nothing.
    let (mut device, _catch_up) = engine
        .delivery()
        .connect(alice, SessionId::new())
        .await
        .expect("connect");
    let send = |text: String| {
        let engine = engine.clone();
        async move {
            let m = OutgoingMessage::parse(&text, None, None).expect("valid");
            engine
                .conversations()
                .send(alice, ConversationRef::Group(group), m)
                .await
                .expect("send")
        }
    };
    for i in 0..MESSAGES {
        send(format!("m{i}")).await;
    }
    // Every member acknowledges each message on its own: MESSAGES receipts
    // each, MEMBERS * MESSAGES in all, past what the queue holds.
    for seq in 1..=MESSAGES {
        for m in &members {
            engine
                .delivery()
                .ack(
                    *m,
                    AckTarget::Through {
                        conversation: group,
                        seq,
                    },
                )
                .await
                .expect("ack");
        }
    }
    assert!(MEMBERS as u64 * MESSAGES + MESSAGES > QUEUE as u64);
    let last = send("after the storm".to_owned()).await;
    assert!(
        !device.subscription.has_overflowed(),
        "receipts must not overflow the sender's connection"
    );

    let (mut messages, mut receipts) = (Vec::new(), 0);
    while let Some(event) = device.subscription.try_recv() {
        if let EventKind::Frame(f) = event.kind() {
            match serde_json::from_slice::<ServerFrame>(&f.json).expect("frame") {
                ServerFrame::GroupMessageNew(v) => messages.push(v.message.seq),
                ServerFrame::Delivered(_) => receipts += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let all: Vec<u64> = (1..=MESSAGES + 1).collect();
    assert_eq!(messages, all, "every message, in order");
    assert_eq!(messages.last(), Some(&last.message.seq));
    assert!(receipts > 0, "receipts flow while there is room");
    assert!(
        receipts < MEMBERS as u64 * MESSAGES,
        "the rest were dropped ({receipts})"
    );
    // What the dropped receipts reported is in the store.
    let info = engine
        .conversations()
        .group(alice, group)
        .await
        .expect("group");
    for entry in info.members.iter().filter(|e| e.member.user_id != alice) {
        assert_eq!(entry.member.delivered_seq, MESSAGES);
    }
}

/// Alice's group with Bob and Carol; Alice and Bob have a device each.
struct Trio {
    alice: UserId,
    bob: UserId,
    carol: UserId,
    group: chat_core::ConversationId,
    alice_device: chat_core::Connection,
    bob_device: chat_core::Connection,
}

async fn trio(engine: &ChatEngine) -> Trio {
    let alice = user(engine, "alice").await;
    let bob = user(engine, "bob").await;
    let carol = user(engine, "carol").await;
    let group = engine
        .conversations()
        .create_group(
            alice,
            GroupName::parse("g").expect("name"),
            vec![bob, carol],
        )
        .await
        .expect("group")
        .conversation
        .id;
    let connect = |u: UserId| async move {
        let (device, _) = engine
            .delivery()
            .connect(u, SessionId::new())
            .await
            .expect("connect");
        device
    };
    Trio {
        alice,
        bob,
        carol,
        group,
        alice_device: connect(alice).await,
        bob_device: connect(bob).await,
    }
}

#[tokio::test]
async fn a_group_receipt_goes_to_the_senders_of_what_it_newly_covers() {
    let engine = ChatEngine::builder().build().expect("engine");
    let Trio {
        alice,
        bob,
        carol,
        group,
        mut alice_device,
        mut bob_device,
    } = trio(&engine).await;
    let send = |from: UserId, text: &'static str| {
        let engine = engine.clone();
        async move {
            let m = OutgoingMessage::parse(text, None, None).expect("valid");
            engine
                .conversations()
                .send(from, ConversationRef::Group(group), m)
                .await
                .expect("send");
        }
    };
    let ack = |seq: u64| {
        let engine = engine.clone();
        async move {
            engine
                .delivery()
                .ack(
                    carol,
                    AckTarget::Through {
                        conversation: group,
                        seq,
                    },
                )
                .await
                .expect("ack");
        }
    };
    send(alice, "one").await;
    send(bob, "two").await;
    ack(2).await;
    assert_eq!(receipts(&mut alice_device), vec![("delivered", carol, 2)]);
    assert_eq!(receipts(&mut bob_device), vec![("delivered", carol, 2)]);

    // Only alice's message is new to carol's next acknowledgement: bob
    // already knows carol has his.
    send(alice, "three").await;
    ack(3).await;
    assert_eq!(receipts(&mut alice_device), vec![("delivered", carol, 3)]);
    assert_eq!(receipts(&mut bob_device), vec![]);
}

/// The receipt frames waiting on a connection, as (kind, member, seq);
/// other frames are skipped.
fn receipts(device: &mut chat_core::Connection) -> Vec<(&'static str, UserId, u64)> {
    receipt_frames(device)
        .into_iter()
        .map(|r| (r.kind, r.user, r.seq))
        .collect()
}

/// A receipt frame, as much as the tests check.
struct Seen {
    kind: &'static str,
    user: UserId,
    seq: u64,
    message: chat_core::MessageId,
}

/// The receipt frames waiting on a connection; other frames are skipped.
fn receipt_frames(device: &mut chat_core::Connection) -> Vec<Seen> {
    let mut out = Vec::new();
    while let Some(event) = device.subscription.try_recv() {
        if let EventKind::Frame(f) = event.kind() {
            match serde_json::from_slice::<ServerFrame>(&f.json) {
                Ok(ServerFrame::Delivered(r)) => out.push(Seen {
                    kind: "delivered",
                    user: r.user_id,
                    seq: r.seq,
                    message: r.message_id,
                }),
                Ok(ServerFrame::Read(r)) => out.push(Seen {
                    kind: "read",
                    user: r.user_id,
                    seq: r.seq,
                    message: r.message_id,
                }),
                _ => {}
            }
        }
    }
    out
}

#[tokio::test]
async fn past_the_configured_size_a_group_has_no_live_receipts_from_others() {
    let engine = ChatEngine::builder()
        .conversation_config(ConversationConfig {
            receipts_max_group_members: 2,
            ..ConversationConfig::default()
        })
        .build()
        .expect("engine");
    let Trio {
        alice,
        carol,
        group,
        mut alice_device,
        mut bob_device,
        ..
    } = trio(&engine).await;
    let m = OutgoingMessage::parse("hello", None, None).expect("valid");
    engine
        .conversations()
        .send(alice, ConversationRef::Group(group), m)
        .await
        .expect("send");
    engine
        .delivery()
        .ack(
            carol,
            AckTarget::Through {
                conversation: group,
                seq: 1,
            },
        )
        .await
        .expect("ack");
    engine
        .conversations()
        .mark_read(carol, group, None)
        .await
        .expect("read");

    assert_eq!(
        receipts(&mut alice_device),
        vec![],
        "three members are past two"
    );
    assert_eq!(
        receipts(&mut bob_device),
        vec![],
        "nor does any other member"
    );
    // The cursors are stored all the same.
    let info = engine
        .conversations()
        .group(alice, group)
        .await
        .expect("group");
    let c = info
        .members
        .iter()
        .find(|e| e.member.user_id == carol)
        .expect("carol");
    assert_eq!((c.member.delivered_seq, c.member.read_seq), (1, 1));
}

/// How many times the engine read `messages_before` from the store.
fn messages_before_reads(engine: &ChatEngine) -> u64 {
    let text = engine.metrics().render();
    let line = text
        .lines()
        .find(|l| l.starts_with("chat_store_read_seconds_count{op=\"messages_before\"}"))
        .expect("the read is counted");
    line.rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[tokio::test]
async fn receipts_for_messages_stored_lately_name_them_without_reading_them_back() {
    let engine = ChatEngine::builder().build().expect("engine");
    let alice = user(&engine, "alice").await;
    let bob = user(&engine, "bob").await;
    let (mut alice_device, _) = engine
        .delivery()
        .connect(alice, SessionId::new())
        .await
        .expect("connect");
    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        let m = OutgoingMessage::parse(text, None, None).expect("valid");
        let s = engine
            .conversations()
            .send(alice, ConversationRef::Direct(bob), m)
            .await
            .expect("send");
        sent.push(s.message);
    }
    let conversation = sent[0].conversation_id;
    let frames = |device: &mut chat_core::Connection| {
        receipt_frames(device)
            .into_iter()
            .map(|r| (r.kind, r.message, r.seq))
            .collect::<Vec<_>>()
    };
    let reads_before = messages_before_reads(&engine);

    // Held, the newest or not: receipts name them with no read (a
    // receiver past saturation acknowledges behind the newest).
    let through = |seq| AckTarget::Through { conversation, seq };
    engine.delivery().ack(bob, through(1)).await.expect("ack");
    engine.delivery().ack(bob, through(2)).await.expect("ack");
    engine
        .conversations()
        .mark_read(bob, conversation, None)
        .await
        .expect("read");
    assert_eq!(
        frames(&mut alice_device),
        vec![
            ("delivered", sent[0].id, 1),
            ("delivered", sent[1].id, 2),
            ("read", sent[2].id, 3)
        ]
    );
    assert_eq!(messages_before_reads(&engine), reads_before);

    // A seq that is a change, not a message: the store says which message
    // the cursor now covers.
    let edit = MessageContent::parse("one, edited").expect("content");
    engine
        .conversations()
        .edit_message(alice, conversation, sent[0].id, edit)
        .await
        .expect("edit");
    engine.delivery().ack(bob, through(4)).await.expect("ack");
    assert_eq!(
        frames(&mut alice_device),
        vec![("delivered", sent[2].id, 4)]
    );
    assert_eq!(messages_before_reads(&engine), reads_before + 1);
}

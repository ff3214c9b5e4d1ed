//! Live and offline delivery, receipts, typing and sync over `/ws`.

use std::time::Duration;

use chat_core::{ConversationConfig, RateLimit, UserId};
use serde_json::{Value, json};

use crate::helpers::{Tokens, spawn_app, spawn_app_with_conversations};

const QUIET: Duration = Duration::from_millis(300);

fn send(to: &Tokens, content: &str, client_msg_id: &str) -> Value {
    json!({
        "type": "message.send",
        "recipient_id": to.user_id,
        "content": content,
        "client_msg_id": client_msg_id,
    })
}

fn user_id(t: &Tokens) -> UserId {
    t.user_id.parse().expect("user id")
}

#[tokio::test]
async fn two_users_chat_live_and_the_sender_gets_message_sent() {
    let app = spawn_app().await;
    let (alice, bob, mut a, mut b) = app.connected_pair().await;

    a.send(send(&bob, "Hello World", "c-1")).await;
    let sent = a.next_of("message.sent").await;
    assert_eq!(sent["client_msg_id"], "c-1");
    assert_eq!(sent["seq"], 1);
    let new = b.next_of("message.new").await;
    assert_eq!(new["message_id"], sent["message_id"]);
    assert_eq!(new["conversation_id"], sent["conversation_id"]);
    assert_eq!(new["seq"], 1);
    assert_eq!(new["sender_id"], alice.user_id.as_str());
    assert_eq!(new["recipient_id"], bob.user_id.as_str());
    assert_eq!(new["content"], "Hello World");
    assert_eq!(new["message_type"], "text");

    b.send(send(&alice, "Hi Alice", "c-2")).await;
    let reply = a.next_of("message.new").await;
    assert_eq!(reply["content"], "Hi Alice");
    assert_eq!(reply["seq"], 2);
    a.expect_silence(QUIET, &["presence"]).await;
}

#[tokio::test]
async fn every_device_gets_each_event_once_and_the_sending_device_gets_no_echo() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut phone = app.ws(&alice.access).await;
    let mut laptop = app.ws(&alice.access).await;
    let mut bobs = Vec::new();
    for _ in 0..3 {
        bobs.push(app.ws(&bob.access).await);
    }

    phone.send(send(&bob, "one", "m1")).await;
    phone.next_of("message.sent").await;
    phone.send(send(&bob, "two", "m2")).await;
    phone.next_of("message.sent").await;

    for b in &mut bobs {
        assert_eq!(b.next_of("message.new").await["content"], "one");
        assert_eq!(b.next_of("message.new").await["content"], "two");
        b.expect_silence(QUIET, &["presence"]).await;
    }
    assert_eq!(laptop.next_of("message.new").await["content"], "one");
    assert_eq!(laptop.next_of("message.new").await["content"], "two");
    phone.expect_silence(QUIET, &["presence"]).await;
}

#[tokio::test]
async fn group_messages_reach_every_member() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "team", &[&bob, &carol]).await;
    let mut a = app.ws(&alice.access).await;
    let mut b = app.ws(&bob.access).await;
    let mut c = app.ws(&carol.access).await;

    a.send(json!({"type": "message.group.send", "group_id": group, "content": "Hello everyone"}))
        .await;
    let sent = a.next_of("message.sent").await;
    for ws in [&mut b, &mut c] {
        let m = ws.next_of("message.group.new").await;
        assert_eq!(m["group_id"], group.as_str());
        assert_eq!(m["conversation_id"], group.as_str());
        assert_eq!(m["message_id"], sent["message_id"]);
        assert_eq!(m["content"], "Hello everyone");
    }
}

#[tokio::test]
async fn an_offline_user_gets_everything_in_order_in_batches_and_nothing_twice() {
    let app = spawn_app_with_conversations(ConversationConfig {
        message_limit: RateLimit::new(1_000, Duration::from_secs(60)),
        ..ConversationConfig::default()
    })
    .await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for i in 1..=150 {
        app.send_direct(&alice, &bob, &format!("m{i}")).await;
    }
    let queued = app
        .engine
        .realtime()
        .queue
        .len(user_id(&bob))
        .await
        .expect("len");
    assert_eq!(queued, 150, "each message waits in bob's queue");

    let mut b = app.ws(&bob.access).await;
    let first = b.next_of("messages.offline").await;
    let second = b.next_of("messages.offline").await;
    let batches = [first, second];
    let messages: Vec<&Value> = batches
        .iter()
        .flat_map(|b| b["messages"].as_array().expect("messages"))
        .collect();
    assert_eq!(batches[0]["messages"].as_array().map(Vec::len), Some(100));
    assert_eq!(messages.len(), 150);
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m["seq"], i as u64 + 1);
        assert_eq!(m["content"], format!("m{}", i + 1));
        assert_eq!(m["type"], "direct");
    }
    let conversation = messages[0]["conversation_id"].clone();
    b.send(json!({"type": "messages.ack", "conversation_id": conversation, "seq": 150}))
        .await;
    // Acks are written beside the session: wait for this one to land.
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = app
            .engine
            .realtime()
            .queue
            .len(user_id(&bob))
            .await
            .expect("len");
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "acked entries leave the queue");
    b.close().await;

    let mut again = app.ws(&bob.access).await;
    again.expect_silence(QUIET, &["presence"]).await;
}

#[tokio::test]
async fn a_wiped_queue_still_catches_up_from_the_store() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for i in 1..=3 {
        app.send_direct(&alice, &bob, &format!("m{i}")).await;
    }
    app.engine
        .realtime()
        .queue
        .clear(user_id(&bob))
        .await
        .expect("clear");

    let mut b = app.ws(&bob.access).await;
    let batch = b.next_of("messages.offline").await;
    let contents: Vec<&str> = batch["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().expect("content"))
        .collect();
    assert_eq!(contents, ["m1", "m2", "m3"]);
}

#[tokio::test]
async fn typing_reaches_the_other_member_and_is_not_stored() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let sent = app.send_direct(&alice, &bob, "hi").await;
    let mut a = app.ws(&alice.access).await;
    let mut b = app.ws(&bob.access).await;

    a.send(json!({"type": "typing", "recipient_id": bob.user_id, "is_typing": true}))
        .await;
    let t = b.next_of("typing").await;
    assert_eq!(t["user_id"], alice.user_id.as_str());
    assert_eq!(t["conversation_id"], sent["conversation_id"]);
    assert_eq!(t["is_typing"], true);
    a.send(
        json!({"type": "typing", "conversation_id": sent["conversation_id"], "is_typing": false}),
    )
    .await;
    assert_eq!(b.next_of("typing").await["is_typing"], false);
    a.expect_silence(QUIET, &["presence", "messages.offline"])
        .await;

    let (_, history) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    assert_eq!(
        history["messages"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
}

#[tokio::test]
async fn delivery_and_read_receipts_reach_the_sender() {
    let app = spawn_app().await;
    let (alice, bob, mut a, mut b) = app.connected_pair().await;

    a.send(send(&bob, "hi", "c1")).await;
    let sent = a.next_of("message.sent").await;
    let new = b.next_of("message.new").await;
    b.send(json!({"type": "messages.ack", "message_ids": [new["message_id"]]}))
        .await;
    let delivered = a.next_of("message.delivered").await;
    assert_eq!(delivered["message_id"], sent["message_id"]);
    assert_eq!(delivered["user_id"], bob.user_id.as_str());
    assert_eq!(delivered["conversation_id"], sent["conversation_id"]);
    assert!(delivered["delivered_at"].is_string());

    b.send(json!({"type": "message.read", "message_id": new["message_id"]}))
        .await;
    let read = a.next_of("message.read").await;
    assert_eq!(read["message_id"], sent["message_id"]);
    assert_eq!(read["user_id"], bob.user_id.as_str());
    assert_eq!(read["seq"], 1);
    assert!(read["read_at"].is_string());

    let (_, history) = app
        .get_as(
            &alice.access,
            &format!("/api/v1/messages/conversation/{}", bob.user_id),
        )
        .await;
    let m = &history["messages"][0];
    assert!(
        m["delivered_at"].is_string() && m["read_at"].is_string(),
        "{m}"
    );
}

#[tokio::test]
async fn a_resend_with_the_same_client_msg_id_returns_the_original_once() {
    let app = spawn_app().await;
    let (_alice, bob, mut a, mut b) = app.connected_pair().await;

    a.send(send(&bob, "once", "same-key")).await;
    let first = a.next_of("message.sent").await;
    a.send(send(&bob, "once", "same-key")).await;
    let second = a.next_of("message.sent").await;
    assert_eq!(first["message_id"], second["message_id"]);
    assert_eq!(second["seq"], 1);

    b.next_of("message.new").await;
    b.expect_silence(QUIET, &["presence"]).await;
}

#[tokio::test]
async fn sync_returns_what_a_device_missed_after_a_seq() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut conversation = Value::Null;
    for i in 1..=5 {
        conversation =
            app.send_direct(&alice, &bob, &format!("m{i}")).await["conversation_id"].clone();
    }
    let mut b = app.ws(&bob.access).await;
    b.send(json!({"type": "sync", "conversation_id": conversation, "after_seq": 2, "limit": 2}))
        .await;
    let r = b.next_of("messages.sync").await;
    let seqs: Vec<u64> = r["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, [3, 4]);
    assert_eq!(r["has_more"], true);

    let carol = app.signup("carol").await;
    let mut c = app.ws(&carol.access).await;
    c.send(json!({"type": "sync", "conversation_id": conversation, "after_seq": 0}))
        .await;
    assert_eq!(c.next_of("error").await["code"], "CONVERSATION_NOT_FOUND");
}

#[tokio::test]
async fn rest_sends_are_delivered_live_too() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut b = app.ws(&bob.access).await;
    app.send_direct(&alice, &bob, "over REST").await;
    assert_eq!(b.next_of("message.new").await["content"], "over REST");
}

#[tokio::test]
async fn messages_sent_just_before_the_client_closes_are_stored_in_order() {
    let app = spawn_app_with_conversations(ConversationConfig {
        message_limit: RateLimit::new(1_000, Duration::from_secs(60)),
        ..ConversationConfig::default()
    })
    .await;
    let (alice, bob, mut ws, _bob_ws) = app.connected_pair().await;

    // The server reads on while a send is stored: the close arrives while
    // most of these still wait their turn.
    for i in 0..20 {
        ws.send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": format!("m{i}"), "client_msg_id": format!("c{i}")}))
            .await;
    }
    ws.close().await;

    let expected: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let path = format!("/api/v1/messages/conversation/{}?limit=100", bob.user_id);
    for _ in 0..100 {
        let (_, history) = app.get_as(&alice.access, &path).await;
        let mut contents: Vec<String> = history["messages"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|m| m["content"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        contents.reverse();
        if contents.len() == expected.len() {
            assert_eq!(contents, expected);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the sends read before the close were not all stored");
}

//! What one client, or one user, can make a server hold: a socket that
//! stops reading is closed after the write timeout, a user holds a
//! bounded number of sockets, `sync` and `typing` frames have a budget,
//! and a `sync` answer or catch-up batch has a bounded size.

use std::time::Duration;

use chat_core::protocol::MAX_BATCH_BYTES;
use chat_core::{ConversationConfig, ConversationRef, OutgoingMessage, RateLimit, UserId};
use chat_server::{HttpSettings, WsSettings};
use serde_json::{Value, json};

use crate::helpers::{Tokens, spawn_app_custom};
use crate::ws_client::Ws;

/// Enough 10 KB messages to fill loopback socket buffers (4 MiB at most
/// on the sending side) twice over.
const MESSAGES: usize = 1_000;

/// A server whose users may send as fast as the test wants.
async fn unlimited_app(ws: WsSettings) -> crate::helpers::TestApp {
    let http = HttpSettings {
        ws,
        ..HttpSettings::default()
    };
    spawn_app_custom(http, |b| {
        b.conversation_config(ConversationConfig {
            message_limit: RateLimit::new(1_000_000, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
    })
    .await
}

fn id(tokens: &Tokens) -> UserId {
    tokens.user_id.parse().expect("user id")
}

/// Waits until `user` has no connection left on the server.
async fn wait_disconnected(app: &crate::helpers::TestApp, user: UserId, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if !app.engine.realtime().bus.is_connected_here(user) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

// Two threads: the server, the test's sender and Carol's reader all run
// on this runtime, and Carol must keep up while Alice sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    // Arrange: bob's socket has a tiny receive window and is never read.
    let app = unlimited_app(WsSettings {
        write_timeout: Duration::from_millis(500),
        ..WsSettings::default()
    })
    .await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "g", &[&bob, &carol]).await;
    let group: chat_core::ConversationId = group.parse().expect("id");
    let silent = Ws::connect_with_small_window(&app.base, &bob.access).await;
    let mut fast = app.ws(&carol.access).await;
    let reader = tokio::spawn(async move { fast.count_of("message.group.new", MESSAGES).await });
    assert!(app.engine.realtime().bus.is_connected_here(id(&bob)));

    // Act: far more than the kernel's buffers hold.
    let content = "y".repeat(10_000);
    for _ in 0..MESSAGES {
        let m = OutgoingMessage::parse(&content, None, None).expect("valid");
        app.engine
            .conversations()
            .send(id(&alice), ConversationRef::Group(group), m)
            .await
            .expect("send");
        // Paced so a reader that keeps reading keeps up.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // Assert: the server let go of bob's socket (its write waited past the
    // timeout); without a write timeout it would wait forever.
    assert!(
        wait_disconnected(&app, id(&bob), Duration::from_secs(20)).await,
        "the non-reading socket is still held"
    );
    assert_eq!(
        reader.await.expect("reader"),
        MESSAGES,
        "Carol got everything"
    );
    drop(silent);
}

#[tokio::test]
async fn a_user_holds_at_most_the_cap_of_sockets_and_a_closed_one_frees_its_place() {
    let app = unlimited_app(WsSettings {
        max_sockets_per_user: 2,
        ..WsSettings::default()
    })
    .await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let first = app.ws(&alice.access).await;
    let _second = app.ws(&alice.access).await;

    // The refusal's body is checked in ws_upgrade.rs; here real sockets
    // hold the seats, and closing one frees its place.
    assert_eq!(app.ws_refusal(&alice.access).await, 429);
    let _bobs = app.ws(&bob.access).await;

    first.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(format!(
            "{}/ws?token={}",
            app.base.replacen("http", "ws", 1),
            alice.access
        ))
        .await
        {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the closed socket's place was not freed: {e}"),
        }
    }
}

/// Sends `frame` `n` times, then returns the answers that are errors.
async fn error_codes(ws: &mut Ws, frame: &Value, n: usize) -> Vec<String> {
    for _ in 0..n {
        ws.send(frame.clone()).await;
    }
    ws.send(json!({"type": "ping"})).await;
    let mut codes = Vec::new();
    loop {
        let answer = ws.next().await;
        match answer["type"].as_str() {
            Some("pong") => return codes,
            Some("error") => codes.push(answer["code"].as_str().unwrap_or_default().to_owned()),
            _ => {}
        }
    }
}

#[tokio::test]
async fn sync_and_typing_frames_past_their_budget_are_answered_rate_limited() {
    let app = unlimited_app(WsSettings {
        sync_rate: chat_server::limits::FrameRate::new(5, 0.001),
        typing_rate: chat_server::limits::FrameRate::new(3, 0.001),
        ..WsSettings::default()
    })
    .await;
    let (alice, bob, mut ws, _bob_ws) = app.connected_pair().await;
    let sent = app.send_direct(&alice, &bob, "hi").await;
    let conversation = sent["conversation_id"].as_str().expect("conversation");

    let sync = json!({"type": "sync", "conversation_id": conversation, "after_seq": 0});
    let codes = error_codes(&mut ws, &sync, 8).await;
    assert_eq!(
        codes,
        vec!["RATE_LIMITED"; 3],
        "5 syncs answered, 3 refused"
    );

    let typing = json!({"type": "typing", "conversation_id": conversation, "is_typing": true});
    let codes = error_codes(&mut ws, &typing, 5).await;
    assert_eq!(
        codes,
        vec!["RATE_LIMITED"; 2],
        "3 typings relayed, 2 refused"
    );
}

#[tokio::test]
async fn a_sync_answer_and_a_catch_up_batch_hold_at_most_64_kib_of_content() {
    let app = unlimited_app(WsSettings::default()).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    // 60 messages of 20,000 bytes: 1.2 MB, in one `sync` before the bound (64 KiB).
    let content = "é".repeat(10_000);
    let mut conversation = String::new();
    for _ in 0..60 {
        let sent = app.send_direct(&alice, &bob, &content).await;
        conversation = sent["conversation_id"].as_str().expect("id").to_owned();
    }
    let per_batch = MAX_BATCH_BYTES / content.len();

    let mut ws = app.ws(&bob.access).await;
    let mut caught_up = 0;
    while caught_up < 60 {
        let batch = ws.next_of("messages.offline").await;
        let n = batch["messages"].as_array().expect("messages").len();
        assert!(n <= per_batch, "a catch-up batch of {n} messages");
        caught_up += n;
    }
    assert_eq!(caught_up, 60);

    ws.send(json!({"type": "sync", "conversation_id": conversation, "after_seq": 0, "limit": 100}))
        .await;
    let answer = ws.next_of("messages.sync").await;
    let messages = answer["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), per_batch);
    assert_eq!(answer["has_more"], true);
    let last = messages.last().expect("one")["seq"].as_u64().expect("seq");
    ws.send(
        json!({"type": "sync", "conversation_id": conversation, "after_seq": last, "limit": 100}),
    )
    .await;
    let next = ws.next_of("messages.sync").await;
    assert_eq!(
        next["messages"][0]["seq"],
        last + 1,
        "the next page goes on"
    );
}

//! Bad frames, rate limits and slow consumers over `/ws`.

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryEventBus;
use chat_core::realtime::LocalHub;
use chat_core::{ConversationConfig, ConversationRef, OutgoingMessage, RateLimit};
use chat_server::HttpSettings;
use chat_server::state::WsSettings;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_custom};
use crate::ws_client::Ws;

#[tokio::test]
async fn malformed_unknown_and_invalid_frames_get_errors_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut ws = app.ws(&alice.access).await;

    ws.send_text("{not json").await;
    assert_eq!(ws.next().await["code"], "INVALID_JSON");
    ws.send(json!({"type": "launch"})).await;
    assert_eq!(ws.next().await["code"], "UNKNOWN_TYPE");
    ws.send(json!({"type": "message.send", "recipient_id": "nope", "content": "x", "client_msg_id": "k1"}))
        .await;
    let e = ws.next().await;
    assert_eq!(e["code"], "INVALID_MESSAGE");
    assert_eq!(e["client_msg_id"], "k1");

    let long = "x".repeat(10_001);
    ws.send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": long, "client_msg_id": "k2"}))
        .await;
    let e = ws.next().await;
    assert_eq!(e["code"], "CONTENT_TOO_LONG");
    assert_eq!(e["client_msg_id"], "k2");
    assert_eq!(e["field"], "content");

    ws.send(
        json!({"type": "message.send", "recipient_id": chat_core::UserId::new(), "content": "hi"}),
    )
    .await;
    let e = ws.next().await;
    assert_eq!(e["code"], "INVALID_RECIPIENT");
    // Frames name the field at fault as the REST API does.
    assert_eq!(e["field"], "recipient_id", "{e}");
    ws.send(json!({"type": "message.group.send", "group_id": chat_core::ConversationId::new(), "content": "hi"}))
        .await;
    assert_eq!(ws.next().await["code"], "CONVERSATION_NOT_FOUND");

    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await["type"], "pong");
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mut ws = app.ws(&alice.access).await;
    ws.send_text(&format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(70_000)
    ))
    .await;
    assert_eq!(ws.close_code().await, 1009);
}

/// A server allowing 5 messages a minute, closing a socket after
/// `flood_limit` refused sends in a row.
async fn flood_app(flood_limit: u32) -> crate::helpers::TestApp {
    let http = HttpSettings {
        ws: WsSettings {
            flood_limit,
            ..WsSettings::default()
        },
        ..HttpSettings::default()
    };
    spawn_app_custom(http, |b| {
        b.conversation_config(ConversationConfig {
            message_limit: RateLimit::new(5, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
    })
    .await
}

#[tokio::test]
async fn the_rate_limit_answers_rate_limited_and_a_flood_is_closed_with_1008() {
    let app = flood_app(3).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut ws = app.ws(&alice.access).await;
    let frame = |i: u32| json!({"type": "message.send", "recipient_id": bob.user_id, "content": "x", "client_msg_id": format!("k{i}")});

    for i in 0..5 {
        ws.send(frame(i)).await;
        assert_eq!(
            ws.next_of("message.sent").await["client_msg_id"],
            format!("k{i}")
        );
    }
    ws.send(frame(5)).await;
    let e = ws.next().await;
    assert_eq!(e["code"], "RATE_LIMITED");
    assert_eq!(e["client_msg_id"], "k5");
    assert!(e["retry_after"].as_u64().is_some_and(|s| s >= 1), "{e}");
    for i in 6..8 {
        ws.send(frame(i)).await;
        assert_eq!(ws.next().await["code"], "RATE_LIMITED");
    }
    ws.send(frame(8)).await;
    assert_eq!(ws.close_code().await, 1008);
}

#[tokio::test]
async fn a_client_still_sending_when_the_server_closes_gets_the_close_code() {
    // Arrange: 5 sends allowed, then 200 refusals before the flood closes.
    let app = flood_app(200).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut ws = Ws::connect_with_small_window(&app.base, &alice.access).await;

    // Act: 300 sends in one go, reading nothing meanwhile: the answers
    // fill the small window, so the close frame waits in the server's
    // send buffer while the last sends are still unread on its side.
    for i in 0..300 {
        ws.send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": "x", "client_msg_id": format!("k{i}")}))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert: a server that dropped the connection at once would reset
    // it, and the reset throws away the close frame before it is sent.
    assert_eq!(ws.close_code().await, 1008);
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_the_socket_with_1007() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mut ws = app.ws(&alice.access).await;
    let invalid = vec![b'{', 0xff, 0xfe, b'}'];
    let frame = Frame::message(invalid, OpCode::Data(Data::Text), true);
    ws.send_message(Message::Frame(frame)).await;
    assert_eq!(ws.close_code().await, 1007);
}

/// Enough 10 KB messages to fill loopback socket buffers several times.
const MESSAGES: usize = 1_500;

#[tokio::test]
async fn a_slow_consumer_is_cut_off_with_1013_while_others_keep_receiving() {
    let hub = Arc::new(LocalHub::with_capacity(32));
    let app = spawn_app_custom(HttpSettings::default(), |b| {
        b.bus(Arc::new(MemoryEventBus::with_hub(hub)))
            .conversation_config(ConversationConfig {
                message_limit: RateLimit::new(100_000, Duration::from_secs(60)),
                ..ConversationConfig::default()
            })
    })
    .await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "g", &[&bob, &carol]).await;
    let group: chat_core::ConversationId = group.parse().expect("id");
    let alice_id = alice.user_id.parse().expect("id");

    let mut slow = app.ws(&bob.access).await;
    let mut fast = app.ws(&carol.access).await;
    let reader = tokio::spawn(async move { fast.count_of("message.group.new", MESSAGES).await });
    // Big messages fill the slow reader's socket buffers, then its queue.
    let content = "y".repeat(10_000);
    for _ in 0..MESSAGES {
        // Paced so a reader that keeps reading keeps up.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let m = OutgoingMessage::parse(&content, None, None).expect("valid");
        app.engine
            .conversations()
            .send(alice_id, ConversationRef::Group(group), m)
            .await
            .expect("send");
    }
    assert_eq!(
        reader.await.expect("reader"),
        MESSAGES,
        "the fast reader got everything"
    );
    assert_eq!(slow.close_code().await, 1013);
}

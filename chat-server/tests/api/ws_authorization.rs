//! Every WebSocket message type that touches a conversation, tried by a
//! member who was removed and by a stranger: each is refused with an error
//! frame, and nothing reaches the members.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app;
use crate::ws_client::Ws;

/// The frames an outsider might try on conversation `group` with message
/// `message` (seq 1), each with the error codes that may answer it.
fn attempts(group: &str, message: &str) -> Vec<(Value, &'static [&'static str])> {
    const NOT_FOUND: &[&str] = &["CONVERSATION_NOT_FOUND"];
    const NO_MESSAGE: &[&str] = &["MESSAGE_NOT_FOUND", "CONVERSATION_NOT_FOUND"];
    vec![
        (
            json!({"type": "message.group.send", "group_id": group, "content": "let me in", "client_msg_id": "x-1"}),
            NOT_FOUND,
        ),
        (
            json!({"type": "message.read", "message_id": message}),
            NO_MESSAGE,
        ),
        (
            json!({"type": "message.read", "conversation_id": group}),
            NOT_FOUND,
        ),
        (
            json!({"type": "messages.ack", "message_ids": [message]}),
            NO_MESSAGE,
        ),
        (
            json!({"type": "messages.ack", "conversation_id": group, "seq": 1}),
            NOT_FOUND,
        ),
        (
            json!({"type": "sync", "conversation_id": group, "after_seq": 0}),
            NOT_FOUND,
        ),
        (
            json!({"type": "typing", "group_id": group, "is_typing": true}),
            NOT_FOUND,
        ),
        (
            json!({"type": "typing", "conversation_id": group, "is_typing": true}),
            NOT_FOUND,
        ),
    ]
}

#[tokio::test]
async fn removed_members_and_strangers_are_refused_every_conversation_frame() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let dave = app.signup("dave").await;
    let group = app.create_group(&alice, "team", &[&bob, &carol]).await;
    let first = app.send_group(&alice, &group, "before the removal").await;
    let message = first["message_id"].as_str().expect("message_id").to_owned();
    let (status, body) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/groups/{group}/members/{}", carol.user_id),
            &alice.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    for outsider in [&carol, &dave] {
        let mut ws = Ws::connect(&app.base, &outsider.access).await;
        for (frame, codes) in attempts(&group, &message) {
            ws.send(frame.clone()).await;
            let error = ws.next_of("error").await;
            let code = error["code"].as_str().unwrap_or_default();
            assert!(codes.contains(&code), "{frame} got {error}");
            if frame["client_msg_id"].is_string() {
                assert_eq!(error["client_msg_id"], frame["client_msg_id"]);
            }
        }
    }
    // None of it reached the members: no message, receipt or typing (their
    // catch-up of the first message is all they get).
    alice_ws
        .expect_silence(Duration::from_millis(300), &["messages.offline"])
        .await;
    bob_ws
        .expect_silence(Duration::from_millis(300), &["messages.offline"])
        .await;
    // And nothing was stored.
    let (status, history) = app
        .get(
            &format!("/api/v1/groups/{group}/messages"),
            Some(&alice.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
}

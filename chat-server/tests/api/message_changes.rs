//! Edits, deletions, reactions, replies and mentions over REST and real
//! WebSockets, on one instance and across two.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cluster::{Cluster, ClusterSettings};
use crate::helpers::{TestApp, Tokens, assert_error, spawn_app};

/// `/api/v1/conversations/{id}/messages/{mid}`.
fn message_path(conversation: &str, message: &Value) -> String {
    let mid = message["message_id"].as_str().expect("message_id");
    format!("/api/v1/conversations/{conversation}/messages/{mid}")
}

/// The reaction path of `emoji`, percent-encoded as a browser would.
fn reaction_path(conversation: &str, message: &Value, emoji: &str) -> String {
    let encoded: String = emoji
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~:+".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!(
        "{}/reactions/{encoded}",
        message_path(conversation, message)
    )
}

async fn history(app: &TestApp, who: &Tokens, conversation: &str) -> Vec<Value> {
    let (status, page) = app
        .get_as(
            &who.access,
            &format!("/api/v1/conversations/{conversation}/messages"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"].as_array().expect("messages").clone()
}

async fn summary(app: &TestApp, who: &Tokens, conversation: &str) -> Value {
    let (status, body) = app
        .get_as(
            &who.access,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Alice's group with Bob and Carol, and its id.
async fn team(app: &TestApp) -> (Tokens, Tokens, Tokens, String) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "team", &[&bob, &carol]).await;
    (alice, bob, carol, group)
}

#[tokio::test]
async fn edits_deletions_and_reactions_over_rest_with_clear_errors() {
    let app = spawn_app().await;
    let (alice, bob, carol, group) = team(&app).await;
    let stranger = app.signup("stranger").await;
    let m = app.send_group(&alice, &group, "helo @bob").await;
    let path = message_path(&group, &m);

    let refused = app
        .call(
            Method::PATCH,
            &path,
            &bob.access,
            Some(json!({"content": "mine now"})),
        )
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let blank = app
        .call(
            Method::PATCH,
            &path,
            &alice.access,
            Some(json!({"content": "  "})),
        )
        .await;
    assert_error(&blank, StatusCode::UNPROCESSABLE_ENTITY, "EMPTY_CONTENT");
    let too_long = "x".repeat(10_001);
    let long = app
        .call(
            Method::PATCH,
            &path,
            &alice.access,
            Some(json!({"content": too_long})),
        )
        .await;
    assert_error(&long, StatusCode::UNPROCESSABLE_ENTITY, "CONTENT_TOO_LONG");
    let outsider = app
        .call(
            Method::PATCH,
            &path,
            &stranger.access,
            Some(json!({"content": "hi"})),
        )
        .await;
    assert_error(&outsider, StatusCode::NOT_FOUND, "CONVERSATION_NOT_FOUND");
    assert_eq!(
        history(&app, &bob, &group).await[0]["content"],
        "helo @bob",
        "nothing changed"
    );

    let (status, edited) = app
        .call(
            Method::PATCH,
            &path,
            &alice.access,
            Some(json!({"content": "hello @carol"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["message"]["content"], "hello @carol");
    assert!(edited["message"]["edited_at"].is_string());
    assert_eq!(edited["change"]["change"], "edited");
    assert_eq!(edited["change"]["seq"], 2);
    assert_eq!(edited["message"]["mentions"], json!([carol.user_id]));
    assert_eq!(summary(&app, &bob, &group).await["mention_count"], 0);
    assert_eq!(summary(&app, &carol, &group).await["mention_count"], 1);

    let bad = app
        .call(
            Method::PUT,
            &reaction_path(&group, &m, "notanemoji"),
            &bob.access,
            None,
        )
        .await;
    assert_error(&bad, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_EMOJI");
    let (status, liked) = app
        .call(
            Method::PUT,
            &reaction_path(&group, &m, "👍"),
            &bob.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{liked}");
    assert_eq!(liked["change"]["count"], 1);
    assert_eq!(
        liked["message"]["reactions"],
        json!([{"emoji": "👍", "count": 1, "me": true}])
    );
    let (status, again) = app
        .call(
            Method::PUT,
            &reaction_path(&group, &m, ":+1:"),
            &bob.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["change"],
        Value::Null,
        "the short name is the same reaction"
    );
    app.call(
        Method::PUT,
        &reaction_path(&group, &m, "thumbsup"),
        &carol.access,
        None,
    )
    .await;
    let seen_by_alice = &history(&app, &alice, &group).await[0];
    assert_eq!(
        seen_by_alice["reactions"],
        json!([{"emoji": "👍", "count": 2, "me": false}])
    );
    let (status, taken_back) = app
        .call(
            Method::DELETE,
            &reaction_path(&group, &m, "👍"),
            &carol.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(taken_back["change"]["change"], "reaction_removed");
    assert_eq!(taken_back["change"]["count"], 1);

    let not_admin = app.call(Method::DELETE, &path, &carol.access, None).await;
    assert_error(&not_admin, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let (status, deleted) = app.call(Method::DELETE, &path, &alice.access, None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["message"]["content"], "");
    assert!(deleted["message"]["deleted_at"].is_string());
    assert_eq!(deleted["message"]["reactions"], json!([]));
    for (method, path, body) in [
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"content": "back"})),
        ),
        (Method::DELETE, path.clone(), None),
        (Method::PUT, reaction_path(&group, &m, "🎉"), None),
    ] {
        let got = app.call(method, &path, &alice.access, body).await;
        assert_error(&got, StatusCode::CONFLICT, "MESSAGE_DELETED");
    }
    let unknown = format!("/api/v1/conversations/{group}/messages/{}", uuid_v7());
    let missing = app
        .call(Method::DELETE, &unknown, &alice.access, None)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND");
    let page = history(&app, &bob, &group).await;
    assert_eq!(page.len(), 1, "the tombstone keeps its place");
    assert_eq!(page[0]["content"], "");
    let bob_summary = summary(&app, &bob, &group).await;
    assert_eq!(bob_summary["unread_count"], 1, "changes are never unread");
    assert_eq!(bob_summary["mention_count"], 0);

    // A member who left is a stranger to the group's messages.
    let kept = app.send_group(&carol, &group, "carol's").await;
    let leave = format!("/api/v1/groups/{group}/members/{}", carol.user_id);
    let (status, _) = app.call(Method::DELETE, &leave, &carol.access, None).await;
    assert!(status.is_success(), "carol leaves: {status}");
    let kept_path = message_path(&group, &kept);
    for (method, path, body) in [
        (
            Method::PATCH,
            kept_path.clone(),
            Some(json!({"content": "after leaving"})),
        ),
        (Method::DELETE, kept_path.clone(), None),
        (Method::PUT, reaction_path(&group, &kept, "👍"), None),
    ] {
        let got = app.call(method, &path, &carol.access, body).await;
        assert_error(&got, StatusCode::NOT_FOUND, "CONVERSATION_NOT_FOUND");
    }
    assert_eq!(history(&app, &alice, &group).await[0]["content"], "carol's");
}

fn uuid_v7() -> String {
    chat_core::MessageId::new().to_string()
}

#[tokio::test]
async fn replies_quote_their_parent_and_must_stay_in_the_conversation() {
    let app = spawn_app().await;
    let (alice, bob, _carol, group) = team(&app).await;
    let other = app.create_group(&alice, "other", &[&bob]).await;
    let parent = app.send_group(&alice, &group, "lunch at noon?").await;
    let elsewhere = app.send_group(&alice, &other, "elsewhere").await;
    let path = format!("/api/v1/conversations/{group}/messages");
    let (status, sent) = app
        .post_as(
            &bob.access,
            &path,
            json!({"content": "yes", "reply_to": parent["message_id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let page = history(&app, &alice, &group).await;
    assert_eq!(page[0]["reply_to"], parent["message_id"]);
    assert_eq!(
        page[0]["reply"],
        json!({"message_id": parent["message_id"], "sender_id": alice.user_id, "excerpt": "lunch at noon?", "deleted": false})
    );
    let wrong = app
        .post_as(
            &bob.access,
            &path,
            json!({"content": "no", "reply_to": elsewhere["message_id"]}),
        )
        .await;
    assert_error(&wrong, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND");
    let group_path = format!("/api/v1/groups/{group}/messages");
    let (status, _) = app
        .post_as(
            &bob.access,
            &group_path,
            json!({"content": "via groups", "reply_to": parent["message_id"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "every send endpoint takes reply_to"
    );
    app.call(
        Method::DELETE,
        &message_path(&group, &parent),
        &alice.access,
        None,
    )
    .await;
    let page = history(&app, &alice, &group).await;
    assert_eq!(page[1]["reply"]["deleted"], true);
    assert_eq!(page[1]["reply"]["excerpt"], "");
    let late = app
        .post_as(
            &bob.access,
            &path,
            json!({"content": "late", "reply_to": parent["message_id"]}),
        )
        .await;
    assert_error(&late, StatusCode::CONFLICT, "MESSAGE_DELETED");
}

#[tokio::test]
async fn changes_reach_every_socket_in_order_and_a_returning_device_catches_up() {
    let app = spawn_app().await;
    let (alice, bob, carol, group) = team(&app).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let m = app.send_group(&alice, &group, "vote").await;
    let mid = m["message_id"].clone();
    assert_eq!(bob_ws.next_of("message.group.new").await["seq"], 1);

    bob_ws
        .send(json!({"type": "reaction.add", "message_id": mid, "emoji": "🎉"}))
        .await;
    for ws in [&mut bob_ws, &mut alice_ws] {
        let change = ws.next_of("message.changed").await;
        assert_eq!(change["change"], "reaction_added");
        assert_eq!(
            (change["seq"].as_u64(), change["count"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(change["actor_id"], bob.user_id);
    }
    bob_ws
        .send(json!({"type": "message.edit", "message_id": mid, "content": "hacked", "request_id": "r-1"}))
        .await;
    let refused = bob_ws.next_of("error").await;
    assert_eq!(refused["code"], "PERMISSION_DENIED");
    assert_eq!(refused["request_id"], "r-1");
    bob_ws
        .send(json!({"type": "reaction.add", "message_id": mid, "emoji": "nope", "request_id": "r-2"}))
        .await;
    let refused = bob_ws.next_of("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["request_id"].as_str()),
        (Some("INVALID_EMOJI"), Some("r-2"))
    );
    // A stranger cannot tell the message exists, let alone change it.
    let stranger = app.signup("stranger").await;
    let mut stranger_ws = app.ws(&stranger.access).await;
    for frame in [
        json!({"type": "reaction.add", "message_id": mid, "emoji": "👍", "request_id": "s-1"}),
        json!({"type": "message.delete", "message_id": mid, "request_id": "s-2"}),
        json!({"type": "message.edit", "message_id": mid, "content": "x", "request_id": "s-3"}),
    ] {
        stranger_ws.send(frame).await;
        assert_eq!(
            stranger_ws.next_of("error").await["code"],
            "MESSAGE_NOT_FOUND"
        );
    }
    stranger_ws.close().await;
    alice_ws
        .send(json!({"type": "message.group.send", "group_id": group, "content": "@carol see above", "reply_to": mid, "client_msg_id": "c-1"}))
        .await;
    alice_ws.next_of("message.sent").await;
    let reply = bob_ws.next_of("message.group.new").await;
    assert_eq!(reply["seq"], 3);
    assert_eq!(reply["reply"]["excerpt"], "vote");
    assert_eq!(reply["mentions"], json!([carol.user_id]));
    alice_ws
        .send(json!({"type": "message.edit", "message_id": mid, "content": "vote now"}))
        .await;
    let edited = bob_ws.next_of("message.changed").await;
    assert_eq!(
        (edited["seq"].as_u64(), edited["content"].as_str()),
        (Some(4), Some("vote now"))
    );

    // Carol was away for all of it: her catch-up has the messages as they
    // are now and the changes in seq order.
    let mut carol_ws = app.ws(&carol.access).await;
    let batch = carol_ws.next_of("messages.offline").await;
    let messages = batch["messages"].as_array().expect("messages");
    let seqs: Vec<u64> = messages.iter().filter_map(|m| m["seq"].as_u64()).collect();
    assert_eq!(seqs, vec![1, 3]);
    assert_eq!(messages[0]["content"], "vote now");
    assert_eq!(
        messages[0]["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": false}])
    );
    let changes: Vec<(u64, String)> = batch["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["seq"].as_u64().unwrap_or(0),
                c["change"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![(2, "reaction_added".to_owned()), (4, "edited".to_owned())]
    );
    carol_ws
        .send(json!({"type": "sync", "conversation_id": group, "after_seq": 1}))
        .await;
    let sync = carol_ws.next_of("messages.sync").await;
    assert_eq!(sync["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(sync["changes"].as_array().map(Vec::len), Some(2));
    assert_eq!(summary(&app, &carol, &group).await["mention_count"], 1);
    for ws in [alice_ws, bob_ws, carol_ws] {
        ws.close().await;
    }
}

#[tokio::test]
async fn changes_cross_instances_in_order_with_messages() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    let group = a.create_group(&alice, "two", &[&bob]).await;
    let mut bob_ws = b.ws(&bob.access).await;
    let m = a.send_group(&alice, &group, "first").await;
    assert_eq!(bob_ws.next_of("message.group.new").await["seq"], 1);
    let (status, _) = a
        .call(
            Method::PUT,
            &reaction_path(&group, &m, "👍"),
            &alice.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    a.send_group(&alice, &group, "second").await;
    let (status, _) = a
        .call(
            Method::PATCH,
            &message_path(&group, &m),
            &alice.access,
            Some(json!({"content": "first!"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = bob_ws.next().await;
        if let Some(kind @ ("message.changed" | "message.group.new")) = frame["type"].as_str() {
            seen.push((frame["seq"].as_u64().unwrap_or(0), kind.to_owned()));
        }
    }
    assert_eq!(
        seen,
        vec![
            (2, "message.changed".to_owned()),
            (3, "message.group.new".to_owned()),
            (4, "message.changed".to_owned()),
        ]
    );
    // On the other instance the history shows the change too.
    let page = history(b, &bob, &group).await;
    assert_eq!(page[1]["content"], "first!");
    assert_eq!(page[1]["reactions"][0]["count"], 1);
    bob_ws.close().await;
    c.teardown().await;
}

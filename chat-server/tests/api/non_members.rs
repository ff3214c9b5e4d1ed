//! A stranger, a removed member (or nobody at all) tries every
//! conversation endpoint and learns nothing: 404 `CONVERSATION_NOT_FOUND` exactly as for a
//! conversation that does not exist, and 401 without a token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app};

/// Every conversation-scoped request, for conversation `c`, message `m`
/// and member `u`.
fn requests(c: &str, m: &str, u: &str) -> Vec<(Method, String, Option<Value>)> {
    let content = Some(json!({"content": "let me in"}));
    vec![
        (Method::GET, format!("/api/v1/conversations/{c}"), None),
        (
            Method::POST,
            format!("/api/v1/conversations/{c}/read"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{c}/messages"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{c}/messages"),
            content.clone(),
        ),
        (
            Method::GET,
            format!("/api/v1/conversations/{c}/messages/{m}/receipts"),
            None,
        ),
        (Method::GET, format!("/api/v1/groups/{c}"), None),
        (Method::GET, format!("/api/v1/groups/{c}/messages"), None),
        (
            Method::POST,
            format!("/api/v1/groups/{c}/messages"),
            content,
        ),
        (
            Method::POST,
            format!("/api/v1/groups/{c}/members"),
            Some(json!({"user_ids": [u]})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/groups/{c}/members/{u}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/groups/{c}/members/{u}"),
            Some(json!({"role": "admin"})),
        ),
    ]
}

async fn assert_all_hidden(app: &TestApp, token: &str, c: &str, m: &str, u: &str) {
    for (method, path, body) in requests(c, m, u) {
        let got = app.call(method.clone(), &path, token, body).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{method} {path}: {}", got.1);
        assert_eq!(
            got.1["error"]["code"], "CONVERSATION_NOT_FOUND",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_stranger_sees_nothing_of_others_conversations() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let eve = app.signup("eve").await;
    let direct = app.send_direct(&alice, &bob, "private").await;
    let group = app.create_group(&alice, "Secret", &[&bob]).await;
    let in_group = app.send_group(&bob, &group, "also private").await;

    let d = direct["conversation_id"].as_str().expect("id");
    let dm = direct["message_id"].as_str().expect("id");
    assert_all_hidden(&app, &eve.access, d, dm, &bob.user_id).await;
    let gm = in_group["message_id"].as_str().expect("id");
    assert_all_hidden(&app, &eve.access, &group, gm, &bob.user_id).await;
    // Exactly as for conversations that do not exist.
    let nothing = uuid::Uuid::now_v7().to_string();
    assert_all_hidden(&app, &eve.access, &nothing, &nothing, &bob.user_id).await;

    // Her lists are empty, and the by-user history shows only her
    // own (empty) conversation with alice.
    let (_, list) = app.get_as(&eve.access, "/api/v1/conversations").await;
    assert_eq!(list["conversations"], json!([]));
    let (_, groups) = app.get_as(&eve.access, "/api/v1/groups/my").await;
    assert_eq!(groups["groups"], json!([]));
    let (_, unread) = app.get_as(&eve.access, "/api/v1/messages/unread").await;
    assert_eq!(unread, json!({"messages": [], "total": 0}));
    let (_, history) = app
        .get_as(
            &eve.access,
            &format!("/api/v1/messages/conversation/{}", bob.user_id),
        )
        .await;
    assert_eq!(history["messages"], json!([]));

    // Nothing she tried was stored or changed.
    let (_, page) = app
        .get_as(&alice.access, &format!("/api/v1/groups/{group}/messages"))
        .await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1));
    let (_, g) = app
        .get_as(&alice.access, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(g["members"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_removed_member_is_a_stranger_to_the_group_at_once() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "Team", &[&bob, &carol]).await;
    let before = app.send_group(&bob, &group, "before she left").await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/groups/{group}/members/{}", carol.user_id),
            &alice.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Even the message she could read while a member is out of reach now.
    let m = before["message_id"].as_str().expect("id");
    assert_all_hidden(&app, &carol.access, &group, m, &bob.user_id).await;
    let (_, groups) = app.get_as(&carol.access, "/api/v1/groups/my").await;
    assert_eq!(groups["groups"], json!([]));
    // Nothing she tried reached the group.
    let (_, page) = app
        .get_as(&alice.access, &format!("/api/v1/groups/{group}/messages"))
        .await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn group_endpoints_do_not_serve_direct_conversations() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let direct = app.send_direct(&alice, &bob, "hi").await;
    let d = direct["conversation_id"].as_str().expect("id");
    for path in [
        format!("/api/v1/groups/{d}"),
        format!("/api/v1/groups/{d}/messages"),
    ] {
        assert_error(
            &app.get_as(&alice.access, &path).await,
            StatusCode::NOT_FOUND,
            "CONVERSATION_NOT_FOUND",
        );
    }
    assert_error(
        &app.post_as(
            &alice.access,
            &format!("/api/v1/groups/{d}/messages"),
            json!({"content": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "CONVERSATION_NOT_FOUND",
    );
}

#[tokio::test]
async fn every_conversation_endpoint_needs_a_token() {
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7().to_string();
    let mut all = requests(&id, &id, &id);
    all.extend([
        (
            Method::POST,
            "/api/v1/messages/send".to_owned(),
            Some(json!({"recipient_id": id, "content": "x"})),
        ),
        (
            Method::GET,
            format!("/api/v1/messages/conversation/{id}"),
            None,
        ),
        (Method::GET, "/api/v1/messages/unread".to_owned(), None),
        (
            Method::POST,
            "/api/v1/groups".to_owned(),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, "/api/v1/groups/my".to_owned(), None),
        (Method::GET, "/api/v1/conversations".to_owned(), None),
        (
            Method::POST,
            "/api/v1/conversations/direct/alice".to_owned(),
            None,
        ),
    ]);
    for (method, path, body) in all {
        let mut req = app.http.request(method.clone(), app.url(&path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let got = crate::helpers::read(req.send().await.expect("request")).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    }
}

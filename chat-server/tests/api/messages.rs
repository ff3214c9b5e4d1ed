//! The direct-message endpoints: send, history, unread.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

fn seqs(page: &Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect()
}

#[tokio::test]
async fn a_first_message_creates_the_conversation_and_seqs_count_up() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;

    let first = app.send_direct(&alice, &bob, "hi bob").await;
    assert_eq!(first["seq"], 1);
    let created_at = first["created_at"].as_str().expect("created_at");
    assert_eq!(
        created_at.len(),
        "2026-01-08T10:30:00.123Z".len(),
        "{created_at}"
    );
    assert!(created_at.ends_with('Z'));
    let conversation = first["conversation_id"].as_str().expect("conversation_id");

    let second = app.send_direct(&alice, &bob, "are you there?").await;
    let reply = app.send_direct(&bob, &alice, "yes").await;
    assert_eq!(
        (second["seq"].as_u64(), reply["seq"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(second["conversation_id"], conversation);
    assert_eq!(reply["conversation_id"], conversation);
    assert_ne!(first["message_id"], second["message_id"]);
}

#[tokio::test]
async fn history_by_user_id_shows_recipient_and_receipts() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let sent = app.send_direct(&alice, &bob, "hello").await;
    app.send_direct(&bob, &alice, "hey").await;

    let path = format!("/api/v1/messages/conversation/{}", bob.user_id);
    let (status, page) = app.get_as(&alice.access, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["has_more"], false);
    assert_eq!(seqs(&page), [2, 1], "newest first");
    let mine = &page["messages"][1];
    assert_eq!(mine["message_id"], sent["message_id"]);
    assert_eq!(mine["conversation_id"], sent["conversation_id"]);
    assert_eq!(mine["sender_id"], alice.user_id);
    assert_eq!(mine["recipient_id"], bob.user_id);
    assert_eq!(mine["content"], "hello");
    assert_eq!(mine["message_type"], "text");
    assert_eq!(mine["created_at"], sent["created_at"]);
    assert_eq!(mine["delivered_at"], Value::Null);
    assert_eq!(mine["read_at"], Value::Null);
    assert!(mine.get("group_id").is_none());
    assert_eq!(page["messages"][0]["recipient_id"], alice.user_id);

    let conversation = sent["conversation_id"].as_str().expect("id");
    let (status, _) = app
        .post_as(
            &bob.access,
            &format!("/api/v1/conversations/{conversation}/read"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = app.get_as(&alice.access, &path).await;
    let mine = &page["messages"][1];
    assert!(mine["read_at"].is_string(), "{mine}");
    assert_eq!(mine["delivered_at"], mine["read_at"], "reading delivers");
}

#[tokio::test]
async fn history_pages_by_limit_offset_and_before() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut ids = Vec::new();
    for i in 1..=7 {
        let m = app.send_direct(&alice, &bob, &format!("m{i}")).await;
        ids.push(m["message_id"].as_str().expect("id").to_owned());
    }
    let base = format!("/api/v1/messages/conversation/{}", bob.user_id);
    let page = |q: String| {
        let path = format!("{base}?{q}");
        let app = &app;
        let token = alice.access.clone();
        async move { app.get_as(&token, &path).await }
    };

    let (_, p) = page("limit=3".into()).await;
    assert_eq!(
        (seqs(&p), p["has_more"].clone()),
        (vec![7, 6, 5], json!(true))
    );
    let (_, p) = page("limit=3&offset=3".into()).await;
    assert_eq!(
        (seqs(&p), p["has_more"].clone()),
        (vec![4, 3, 2], json!(true))
    );
    let (_, p) = page("limit=3&offset=6".into()).await;
    assert_eq!((seqs(&p), p["has_more"].clone()), (vec![1], json!(false)));
    let (_, p) = page("offset=100".into()).await;
    assert_eq!(seqs(&p), Vec::<u64>::new());
    let (_, p) = page(format!("before={}", ids[4])).await;
    assert_eq!(
        (seqs(&p), p["has_more"].clone()),
        (vec![4, 3, 2, 1], json!(false))
    );
    let (_, p) = page(format!("before={}&limit=2", ids[4])).await;
    assert_eq!((seqs(&p), p["has_more"].clone()), (vec![4, 3], json!(true)));
    let (_, p) = page(format!("before={}&offset=1&limit=2", ids[4])).await;
    assert_eq!(seqs(&p), [3, 2]);

    // A `before` cursor stays put while new messages arrive.
    app.send_direct(&bob, &alice, "new").await;
    let (_, p) = page(format!("before={}&limit=2", ids[4])).await;
    assert_eq!(seqs(&p), [4, 3]);

    for (q, code) in [
        ("limit=0", "INVALID_PAGINATION"),
        ("limit=101", "INVALID_PAGINATION"),
        ("limit=99999999999", "INVALID_QUERY"),
        ("limit=abc", "INVALID_QUERY"),
        ("limit=-1", "INVALID_QUERY"),
        ("offset=-5", "INVALID_QUERY"),
        ("offset=1.5", "INVALID_QUERY"),
        ("before=not-a-uuid", "INVALID_QUERY"),
    ] {
        assert_error(&page(q.into()).await, StatusCode::BAD_REQUEST, code);
    }
    let carol = app.signup("carol").await;
    let elsewhere = app.send_direct(&alice, &carol, "other").await;
    let foreign = elsewhere["message_id"].as_str().expect("id");
    let got = page(format!("before={foreign}")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_PAGINATION");
    assert_eq!(got.1["error"]["field"], "before");
}

#[tokio::test]
async fn history_with_someone_never_written_is_empty_and_unknown_users_are_404() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let (status, page) = app
        .get_as(
            &alice.access,
            &format!("/api/v1/messages/conversation/{}", bob.user_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page,
        json!({"messages": [], "has_more": false, "has_newer": false})
    );
    assert_error(
        &app.get_as(
            &alice.access,
            &format!("/api/v1/messages/conversation/{}", uuid::Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
}

#[tokio::test]
async fn bad_messages_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let send = |body: Value| {
        let app = &app;
        let token = alice.access.clone();
        async move { app.post_as(&token, "/api/v1/messages/send", body).await }
    };
    let to = bob.user_id.clone();
    let cases = [
        (
            json!({"recipient_id": to, "content": "  \n "}),
            "EMPTY_CONTENT",
            "content",
        ),
        (
            // Content may be left out only beside attachments.
            json!({"recipient_id": to}),
            "EMPTY_CONTENT",
            "content",
        ),
        (
            json!({"recipient_id": to, "attachments": vec![uuid::Uuid::now_v7(); 2]}),
            "DUPLICATE_ATTACHMENT",
            "attachments",
        ),
        (
            json!({"recipient_id": to, "attachments": (0..11).map(|_| uuid::Uuid::now_v7()).collect::<Vec<_>>()}),
            "TOO_MANY_ATTACHMENTS",
            "attachments",
        ),
        (
            json!({"recipient_id": to, "content": "x".repeat(10_001)}),
            "CONTENT_TOO_LONG",
            "content",
        ),
        (
            json!({"recipient_id": to, "content": "nul\u{0}byte"}),
            // Refused at the edge, as any text with NUL is (docs/api.md).
            "INVALID_TEXT",
            "content",
        ),
        (
            json!({"recipient_id": to, "content": "ok", "message_type": "no spaces"}),
            "INVALID_MESSAGE_TYPE",
            "message_type",
        ),
        (
            json!({"recipient_id": to, "content": "ok", "message_type": "x".repeat(21)}),
            "INVALID_MESSAGE_TYPE",
            "message_type",
        ),
        (
            json!({"recipient_id": to, "content": "ok", "client_msg_id": ""}),
            "INVALID_CLIENT_MSG_ID",
            "client_msg_id",
        ),
        (
            json!({"recipient_id": uuid::Uuid::now_v7(), "content": "ok"}),
            "INVALID_RECIPIENT",
            "recipient_id",
        ),
        (
            json!({"recipient_id": alice.user_id, "content": "me"}),
            "INVALID_RECIPIENT",
            "recipient_id",
        ),
    ];
    for (body, code, field) in cases {
        let got = send(body).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(got.1["error"]["field"], field, "{}", got.1);
    }
    for body in [
        json!({"recipient_id": "bob", "content": "ok"}),
        json!({"recipient_id": to, "content": "ok", "attachments": ["not-an-id"]}),
        json!({"content": "ok"}),
        json!({"recipient_id": to, "content": 5}),
    ] {
        assert_error(
            &send(body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
        );
    }
    let (status, page) = app
        .get_as(
            &alice.access,
            &format!("/api/v1/messages/conversation/{}", bob.user_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["messages"], json!([]), "nothing was stored");
    let ten_thousand = "é".repeat(10_000);
    let ok = app.send_direct(&alice, &bob, &ten_thousand).await;
    assert_eq!(ok["seq"], 1);
}

#[tokio::test]
async fn content_is_stored_and_returned_verbatim() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let tricky = [
        "<script>alert('x')</script>",
        "'); DROP TABLE messages; --",
        "  leading and trailing  ",
        "line one\nline\ttwo",
        "emoji 🎉 and ünïcödé and 漢字",
        "%_\\ like wildcards",
    ];
    for t in tricky {
        app.send_direct(&alice, &bob, t).await;
    }
    let (_, page) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    let mut got: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().expect("content"))
        .collect();
    got.reverse();
    assert_eq!(got, tricky);
}

#[tokio::test]
async fn a_repeated_client_msg_id_returns_the_original() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let body = json!({"recipient_id": bob.user_id, "content": "once", "client_msg_id": "c-42"});
    let (status, first) = app
        .post_as(&alice.access, "/api/v1/messages/send", body.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["client_msg_id"], "c-42");
    let (status, again) = app
        .post_as(&alice.access, "/api/v1/messages/send", body)
        .await;
    assert_eq!(status, StatusCode::OK, "a replay is not a creation");
    // The replay also says what was stored, which the client's second
    // text need not be.
    assert_eq!(again["content"], "once", "{again}");
    let mut without_content = again.clone();
    without_content
        .as_object_mut()
        .expect("an object")
        .remove("content");
    assert_eq!(without_content, first);
    let (_, page) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    assert_eq!(seqs(&page), [1]);
    assert_eq!(page["messages"][0]["client_msg_id"], "c-42");
}

#[tokio::test]
async fn unread_lists_others_messages_oldest_first_until_read() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&carol, "Team", &[&bob]).await;

    let d1 = app.send_direct(&alice, &bob, "d1").await;
    let g1 = app.send_group(&carol, &group, "g1").await;
    app.send_direct(&bob, &alice, "own reply").await;
    let d2 = app.send_direct(&alice, &bob, "d2").await;

    let (status, unread) = app.get_as(&bob.access, "/api/v1/messages/unread").await;
    assert_eq!(status, StatusCode::OK, "{unread}");
    assert_eq!(unread["total"], 3);
    let ids: Vec<&Value> = unread["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["message_id"])
        .collect();
    assert_eq!(
        ids,
        [&d1["message_id"], &g1["message_id"], &d2["message_id"]]
    );
    assert_eq!(unread["messages"][0]["recipient_id"], bob.user_id);
    assert_eq!(unread["messages"][1]["group_id"], group);

    let (_, one) = app
        .get_as(&bob.access, "/api/v1/messages/unread?limit=1")
        .await;
    assert_eq!(one["total"], 3);
    assert_eq!(one["messages"].as_array().map(Vec::len), Some(1));
    assert_error(
        &app.get_as(&bob.access, "/api/v1/messages/unread?limit=500")
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAGINATION",
    );

    let direct = d1["conversation_id"].as_str().expect("id");
    app.post_as(
        &bob.access,
        &format!("/api/v1/conversations/{direct}/read"),
        json!({}),
    )
    .await;
    let (_, unread) = app.get_as(&bob.access, "/api/v1/messages/unread").await;
    assert_eq!(unread["total"], 1);
    assert_eq!(unread["messages"][0]["message_id"], g1["message_id"]);
    let (_, none) = app.get_as(&alice.access, "/api/v1/messages/unread").await;
    assert_eq!(
        none["total"], 1,
        "bob's reply is alice's only unread message"
    );
}

#[tokio::test]
async fn sending_is_rate_limited_per_user() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for i in 0..100 {
        app.send_direct(&alice, &bob, &format!("{i}")).await;
    }
    let got = app
        .post_as(
            &alice.access,
            "/api/v1/messages/send",
            json!({"recipient_id": bob.user_id, "content": "one too many"}),
        )
        .await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    app.send_direct(&bob, &alice, "bob has his own budget")
        .await;
    app.advance(std::time::Duration::from_secs(61));
    app.send_direct(&alice, &bob, "a new minute").await;
}

//! The conversation endpoints: list, open direct, read, receipts.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn opening_a_direct_conversation_is_idempotent() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("Bob").await;
    let (status, created) = app
        .post_as(&alice.access, "/api/v1/conversations/direct/bob", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["kind"], "direct");
    assert_eq!(created["peer"]["user_id"], bob.user_id);
    assert_eq!(created["peer"]["username"], "Bob");
    assert_eq!(created["name"], Value::Null);
    assert_eq!(created["unread_count"], 0);
    assert_eq!(created["last_message"], Value::Null);

    let (status, again) = app
        .post_as(&bob.access, "/api/v1/conversations/direct/ALICE", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["conversation_id"], created["conversation_id"]);
    let sent = app.send_direct(&alice, &bob, "same conversation").await;
    assert_eq!(sent["conversation_id"], created["conversation_id"]);

    assert_error(
        &app.post_as(
            &alice.access,
            "/api/v1/conversations/direct/nobody",
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    assert_error(
        &app.post_as(
            &alice.access,
            "/api/v1/conversations/direct/alice",
            json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_RECIPIENT",
    );
}

#[tokio::test]
async fn the_list_puts_recent_activity_first() {
    let app = spawn_app().await;
    let me = app.signup("myself").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    app.send_direct(&bob, &me, "hi").await;
    let team = app.create_group(&carol, "Team", &[&me]).await;
    app.send_group(&carol, &team, "standup").await;
    app.send_group(&carol, &team, "now").await;
    app.post_as(&me.access, "/api/v1/conversations/direct/carol", json!({}))
        .await;

    let (status, list) = app.get_as(&me.access, "/api/v1/conversations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list["conversations"].as_array().expect("list").clone();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["peer"]["username"], "carol", "just opened");
    assert_eq!(list[1]["conversation_id"], team);
    assert_eq!(list[1]["kind"], "group");
    assert_eq!(list[1]["name"], "Team");
    assert_eq!(list[1]["peer"], Value::Null);
    assert_eq!(list[1]["unread_count"], 2);
    assert_eq!(list[1]["last_message"]["content"], "now");
    assert_eq!(list[2]["peer"]["username"], "bob");
    assert_eq!(list[2]["unread_count"], 1);
    assert_eq!(list[2]["last_message"]["recipient_id"], me.user_id);

    let (_, groups) = app
        .get_as(&me.access, "/api/v1/conversations?kind=group")
        .await;
    assert_eq!(groups["conversations"].as_array().map(Vec::len), Some(1));
    assert_error(
        &app.get_as(&me.access, "/api/v1/conversations?kind=channel")
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );

    let (status, one) = app
        .get_as(&me.access, &format!("/api/v1/conversations/{team}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, list[1]);
}

#[tokio::test]
async fn reading_moves_the_cursor_forward_only() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut sent = Vec::new();
    for i in 1..=4 {
        sent.push(app.send_direct(&alice, &bob, &format!("m{i}")).await);
    }
    let conv = sent[0]["conversation_id"].as_str().expect("id").to_owned();
    let read_path = format!("/api/v1/conversations/{conv}/read");

    let (status, state) = app
        .post_as(
            &bob.access,
            &read_path,
            json!({"message_id": sent[1]["message_id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state,
        json!({"conversation_id": conv, "read_seq": 2, "unread_count": 2})
    );

    let (_, state) = app
        .post_as(
            &bob.access,
            &read_path,
            json!({"message_id": sent[0]["message_id"]}),
        )
        .await;
    assert_eq!(state["read_seq"], 2, "never backwards");

    // No body at all reads everything.
    let r = app
        .http
        .post(app.url(&read_path))
        .bearer_auth(&bob.access)
        .send()
        .await
        .expect("request");
    let (status, state) = crate::helpers::read(r).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        (state["read_seq"].as_u64(), state["unread_count"].as_u64()),
        (Some(4), Some(0))
    );

    let (_, list) = app.get_as(&bob.access, "/api/v1/conversations").await;
    assert_eq!(list["conversations"][0]["read_seq"], 4);
    assert_eq!(list["conversations"][0]["unread_count"], 0);

    assert_error(
        &app.post_as(
            &bob.access,
            &read_path,
            json!({"message_id": uuid::Uuid::now_v7()}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    );
    assert_error(
        &app.post_as(&bob.access, &read_path, json!({"message_id": 7}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );
}

#[tokio::test]
async fn conversation_endpoints_send_and_page_history() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let (_, conv) = app
        .post_as(&alice.access, "/api/v1/conversations/direct/bob", json!({}))
        .await;
    let id = conv["conversation_id"].as_str().expect("id");
    let path = format!("/api/v1/conversations/{id}/messages");
    for i in 1..=3 {
        let (status, sent) = app
            .post_as(&bob.access, &path, json!({"content": format!("c{i}")}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        assert_eq!(sent["seq"], i);
    }
    let (status, page) = app.get_as(&alice.access, &format!("{path}?limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["has_more"], true);
    assert_eq!(page["messages"][0]["content"], "c3");
    assert_eq!(page["messages"][0]["recipient_id"], alice.user_id);
    let before = page["messages"][1]["message_id"].as_str().expect("id");
    let (_, older) = app
        .get_as(&alice.access, &format!("{path}?before={before}"))
        .await;
    assert_eq!(older["messages"][0]["content"], "c1");
    assert_eq!(older["has_more"], false);
}

#[tokio::test]
async fn receipts_come_from_each_members_cursors() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let ann = app.signup("ann").await;
    let ben = app.signup("ben").await;
    let group = app.create_group(&owner, "Team", &[&ann, &ben]).await;
    let first = app.send_group(&owner, &group, "first").await;
    let second = app.send_group(&owner, &group, "second").await;
    app.post_as(
        &ann.access,
        &format!("/api/v1/conversations/{group}/read"),
        json!({"message_id": first["message_id"]}),
    )
    .await;
    let latecomer = app.signup("late").await;
    app.post_as(
        &owner.access,
        &format!("/api/v1/groups/{group}/members"),
        json!({"user_ids": [latecomer.user_id]}),
    )
    .await;

    let receipts_of = |m: &Value| {
        format!(
            "/api/v1/conversations/{group}/messages/{}/receipts",
            m["message_id"].as_str().expect("id")
        )
    };
    let (status, r) = app.get_as(&ben.access, &receipts_of(&first)).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["message_id"], first["message_id"]);
    assert_eq!(r["seq"], 1);
    let list = r["receipts"].as_array().expect("receipts");
    assert_eq!(
        list.len(),
        2,
        "the sender and later members are not listed: {r}"
    );
    let of = |user: &str| {
        list.iter()
            .find(|x| x["user_id"] == user)
            .cloned()
            .expect("listed")
    };
    assert!(of(&ann.user_id)["read_at"].is_string());
    assert!(of(&ann.user_id)["delivered_at"].is_string());
    assert_eq!(of(&ben.user_id)["read_at"], Value::Null);
    assert_eq!(of(&ben.user_id)["delivered_at"], Value::Null);

    let (_, r) = app.get_as(&owner.access, &receipts_of(&second)).await;
    let ann_second = r["receipts"]
        .as_array()
        .expect("receipts")
        .iter()
        .find(|x| x["user_id"] == ann.user_id)
        .cloned()
        .expect("listed");
    assert_eq!(
        ann_second["read_at"],
        Value::Null,
        "ann read only the first"
    );

    assert_error(
        &app.get_as(
            &owner.access,
            &format!(
                "/api/v1/conversations/{group}/messages/{}/receipts",
                uuid::Uuid::now_v7()
            ),
        )
        .await,
        StatusCode::NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    );
}

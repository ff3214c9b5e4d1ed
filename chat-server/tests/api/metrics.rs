//! `GET /metrics`: the documented series, moving with real traffic.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn scrape(app: &TestApp) -> String {
    let r = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.expect("body")
}

/// The value of one series (a line `name value`).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn the_series_follow_connections_messages_and_errors() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "chat_connections"), 0.0);
    assert_eq!(value(&before, "chat_messages_accepted_total"), 0.0);
    // The hub's counters are there too (docs/operations.md).
    assert_eq!(value(&before, "chat_events_dropped_total"), 0.0);
    assert_eq!(value(&before, "chat_connection_overflows_total"), 0.0);

    let (alice, bob, _alice_ws, mut bob_ws) = app.connected_pair().await;
    let during = scrape(&app).await;
    assert_eq!(value(&during, "chat_connections"), 2.0);

    app.send_direct(&alice, &bob, "counted").await;
    bob_ws.next_of("message.new").await;
    // The same client_msg_id twice stores (and counts) one message.
    for _ in 0..2 {
        app.post_as(
            &alice.access,
            "/api/v1/messages/send",
            json!({"recipient_id": bob.user_id, "content": "once", "client_msg_id": "m-1"}),
        )
        .await;
    }
    bob_ws.next_of("message.new").await;
    let (status, _) = app.login("alice", "wrong password 1!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    bob_ws
        .send(json!({"type": "message.send", "content": "no recipient"}))
        .await;
    bob_ws.next_of("error").await;

    let after = scrape(&app).await;
    assert_eq!(value(&after, "chat_messages_accepted_total"), 2.0);
    // Bob's device and Alice's (a REST send reaches all the sender's devices).
    assert_eq!(value(&after, "chat_messages_delivered_total"), 4.0);
    assert_eq!(
        value(&after, "chat_errors_total{code=\"INVALID_CREDENTIALS\"}"),
        1.0
    );
    assert_eq!(
        value(&after, "chat_errors_total{code=\"INVALID_MESSAGE\"}"),
        1.0
    );
    assert_eq!(value(&after, "chat_fanout_seconds_count"), 2.0);
    assert!(value(&after, "chat_store_write_seconds_count") >= 2.0);
    assert!(value(&after, "chat_write_batch_size_count") >= 2.0);
    assert_eq!(value(&after, "chat_write_queue_length"), 0.0);
    assert_eq!(value(&after, "chat_rate_limited_total"), 0.0);
}

#[tokio::test]
async fn offline_queues_catch_up_backlogs_and_store_reads_are_measured() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for i in 0..3 {
        app.send_direct(&alice, &bob, &format!("while away {i}"))
            .await;
    }
    let (status, _) = app
        .get_as(
            &alice.access,
            &format!("/api/v1/messages/conversation/{}", bob.user_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let away = scrape(&app).await;
    // Bob was offline: each message joined his queue (Alice, connected
    // nowhere, is offline too but is the sender).
    assert_eq!(value(&away, "chat_offline_queued_total"), 3.0);
    assert_eq!(value(&away, "chat_catch_up_backlog_messages_count"), 0.0);
    assert!(
        value(
            &away,
            "chat_store_read_seconds_count{op=\"messages_before\"}"
        ) >= 1.0
    );
    assert!(value(&away, "chat_store_read_seconds_count{op=\"membership\"}") >= 1.0);

    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.next_of("messages.offline").await;
    let back = scrape(&app).await;
    assert_eq!(value(&back, "chat_catch_up_backlog_messages_count"), 1.0);
    assert_eq!(value(&back, "chat_catch_up_backlog_messages_sum"), 3.0);
    assert_eq!(
        value(&back, "chat_catch_up_backlog_messages_bucket{le=\"1\"}"),
        0.0
    );
    assert_eq!(
        value(&back, "chat_catch_up_backlog_messages_bucket{le=\"10\"}"),
        1.0
    );
    assert!(value(&back, "chat_store_read_seconds_count{op=\"overviews\"}") >= 1.0);
}

//! PostgreSQL goes away while clients send, on a server of the test's own:
//! clear errors (503 `STORE_UNAVAILABLE`, error frames with the
//! `client_msg_id`), nothing half-written, and recovery on its own.

use std::time::Duration;

use chat_store_postgres::ThrowawayPostgres;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{direct, ws_at};
use crate::helpers::Tokens;
use crate::process::{FAST, ServerProcess};

async fn rest_send(
    base: &str,
    from: &Tokens,
    to: &Tokens,
    content: &str,
    id: &str,
) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/messages/send"))
        .bearer_auth(&from.access)
        .json(&json!({"recipient_id": to.user_id, "content": content, "client_msg_id": id}))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("an answer, not a hang");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The binary on `pg`, waiting at most `acquire_ms` for a connection.
async fn server_on(pg: &ThrowawayPostgres, acquire_ms: &str) -> ServerProcess {
    let url = pg.url();
    let mut env = FAST.to_vec();
    env.extend([
        ("CHAT_DATABASE_URL", url.as_str()),
        ("CHAT_DB_MIN_CONNECTIONS", "0"),
        ("CHAT_DB_MAX_CONNECTIONS", "4"),
        ("CHAT_DB_ACQUIRE_TIMEOUT_MS", acquire_ms),
    ]);
    ServerProcess::spawn(&env).await
}

#[tokio::test]
async fn a_database_outage_gives_clear_errors_and_the_server_recovers() {
    let Some(pg) = ThrowawayPostgres::start().await else {
        return;
    };
    // Fail fast while the database is away (the default waits 5 s, as
    // long as the test client waits for a frame).
    let server = server_on(&pg, "1000").await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let mut alice_ws = ws_at(&server.base, &alice).await;
    let mut bob_ws = ws_at(&server.base, &bob).await;
    alice_ws.send(direct(&bob, "before", "w-1")).await;
    alice_ws.next_of("message.sent").await;
    bob_ws.next_of("message.new").await;

    pg.stop().await;

    let (status, body) = rest_send(&server.base, &alice, &bob, "during, over REST", "r-1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE");
    alice_ws
        .send(direct(&bob, "during, over the socket", "w-2"))
        .await;
    let error = alice_ws.next_of("error").await;
    assert_eq!(error["code"], "STORE_UNAVAILABLE");
    assert_eq!(error["client_msg_id"], "w-2");
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    pg.restart().await;

    // The server finds the database again by itself.
    let mut recovered = false;
    for _ in 0..100 {
        let (status, _) = rest_send(&server.base, &alice, &bob, "during, over REST", "r-1").await;
        if status == StatusCode::CREATED {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "sends succeed again once the database is back");
    assert_eq!(
        reqwest::get(format!("{}/readyz", server.base))
            .await
            .expect("readyz")
            .status(),
        StatusCode::OK
    );
    // The refused socket send, retried with its client_msg_id, goes through.
    alice_ws
        .send(direct(&bob, "during, over the socket", "w-2"))
        .await;
    let sent = alice_ws.next_of("message.sent").await;
    assert_eq!(sent["client_msg_id"], "w-2");

    // Nothing half-written: each message once, in order.
    let history = server
        .get_json(
            &format!("/api/v1/messages/conversation/{}?limit=100", bob.user_id),
            &alice,
        )
        .await;
    let mut contents: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    contents.reverse();
    assert_eq!(
        contents,
        ["before", "during, over REST", "during, over the socket"]
    );
    let seqs: Vec<u64> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [3, 2, 1], "no seq was spent on a failed write");
}

#[tokio::test]
async fn during_an_outage_every_socket_send_is_answered_within_the_acquire_timeout() {
    let Some(pg) = ThrowawayPostgres::start().await else {
        return;
    };
    let server = server_on(&pg, "3000").await;
    let bob = server.signup("bob").await;
    let mut senders = Vec::new();
    for i in 0..4 {
        let user = server.signup(&format!("sender{i}")).await;
        let mut ws = ws_at(&server.base, &user).await;
        ws.send(direct(&bob, "before", &format!("s{i}-0"))).await;
        ws.next_of("message.sent").await;
        senders.push(ws);
    }

    pg.stop().await;

    // Each socket sends 8 messages in one go, then a ping.
    let started = tokio::time::Instant::now();
    for (i, ws) in senders.iter_mut().enumerate() {
        for k in 1..=8 {
            ws.send(direct(&bob, "during", &format!("s{i}-{k}"))).await;
        }
        ws.send(json!({"type": "ping"})).await;
    }
    // Each socket is read at once, beside the others.
    let readers = senders.into_iter().map(|mut ws| async move {
        let mut pong = None;
        let mut answered = 0;
        while answered < 8 || pong.is_none() {
            let frame = ws.next().await;
            match frame["type"].as_str() {
                Some("pong") => pong = Some(started.elapsed()),
                Some("error") => {
                    assert_eq!(frame["code"], "STORE_UNAVAILABLE", "{frame}");
                    answered += 1;
                }
                other => panic!("unexpected {other:?}: {frame}"),
            }
        }
        (pong.expect("pong"), started.elapsed())
    });
    for (pong, all) in futures::future::join_all(readers).await {
        // Sends waiting for the store do not stop the socket from reading:
        // the ping is answered before the first send could fail.
        assert!(pong < Duration::from_millis(2_500), "pong after {pong:?}");
        // One after another, 8 sends would take 8 acquire timeouts (24 s).
        assert!(all < Duration::from_secs(9), "answered after {all:?}");
    }
}

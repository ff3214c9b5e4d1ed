//! The real binary stopped while a client sends. SIGTERM: sockets close
//! with 1001, writes in flight finish, the process exits in bounded time.
//! SIGKILL: nothing finishes. Either way, after a restart every message
//! answered with 201 is in history once, and resending it with its
//! `client_msg_id` returns the original.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::cluster::ws_at;
use crate::helpers::Tokens;
use crate::process::{FAST, ServerProcess};

/// Message number `i` from `from` to `to`: content `m{i}`, client_msg_id
/// `c{i}`.
async fn send_numbered(
    http: &reqwest::Client,
    base: &str,
    from: &Tokens,
    to: &str,
    i: usize,
) -> reqwest::Result<reqwest::Response> {
    http.post(format!("{base}/api/v1/messages/send"))
        .bearer_auth(&from.access)
        .json(&json!({"recipient_id": to, "content": format!("m{i}"), "client_msg_id": format!("c{i}")}))
        .send()
        .await
}

/// Sends numbered messages until the server stops answering; returns the
/// ids of those it acknowledged with 201.
async fn send_until_refused(
    http: reqwest::Client,
    base: String,
    from: Tokens,
    to: String,
) -> Vec<String> {
    let mut acked = Vec::new();
    for i in 0.. {
        let answer = send_numbered(&http, &base, &from, &to, i).await;
        let Ok(answer) = answer else { break };
        if answer.status() != StatusCode::CREATED {
            break;
        }
        let body: Value = answer.json().await.expect("json");
        acked.push(body["message_id"].as_str().expect("message_id").to_owned());
    }
    acked
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_finishes_writes_and_exits() {
    let (mut server, alice, bob, sender) = under_load().await;
    let mut bob_ws = ws_at(&server.base, &bob).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.signal("TERM");

    assert_eq!(
        bob_ws.close_code().await,
        1001,
        "sockets close with 1001 (going away)"
    );
    let status = server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the process exits within 15 s of SIGTERM");
    assert!(status.success(), "exit status {status}");
    let acked = sender.await.expect("sender");
    assert!(
        !acked.is_empty(),
        "some messages were acknowledged before the stop"
    );

    all_survived_once(&mut server, &alice, &bob, &acked).await;
}

/// A server with Alice and Bob, and Alice sending numbered messages to Bob
/// until the server stops answering (the task returns what was acked).
async fn under_load() -> (ServerProcess, Tokens, Tokens, JoinHandle<Vec<String>>) {
    let server = ServerProcess::spawn(FAST).await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let sender = tokio::spawn(send_until_refused(
        reqwest::Client::new(),
        server.base.clone(),
        alice.clone(),
        bob.user_id.clone(),
    ));
    (server, alice, bob, sender)
}

/// Restarts the server and checks that every acknowledged message is in
/// history exactly once; returns the stored ids.
async fn all_survived_once(
    server: &mut ServerProcess,
    alice: &Tokens,
    bob: &Tokens,
    acked: &[String],
) -> Vec<String> {
    server.start().await;
    let stored = stored_ids(server, alice, bob).await;
    let unique: HashSet<_> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "no message is stored twice");
    for id in acked {
        assert!(
            unique.contains(id),
            "acknowledged message {id} is missing after the restart"
        );
    }
    stored
}

/// The ids of every message of the conversation, newest first.
async fn stored_ids(server: &ServerProcess, alice: &Tokens, bob: &Tokens) -> Vec<String> {
    let mut stored = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut url = format!("/api/v1/messages/conversation/{}?limit=100", bob.user_id);
        if let Some(b) = &before {
            url.push_str(&format!("&before={b}"));
        }
        let page = server.get_json(&url, alice).await;
        let messages = page["messages"].as_array().expect("messages").clone();
        stored.extend(
            messages
                .iter()
                .map(|m| m["message_id"].as_str().unwrap_or_default().to_owned()),
        );
        if page["has_more"] != true || messages.is_empty() {
            break;
        }
        before = messages
            .last()
            .and_then(|m| m["message_id"].as_str())
            .map(str::to_owned);
    }
    stored
}

#[tokio::test]
async fn sigkill_under_load_loses_nothing_acknowledged_and_resends_get_the_original() {
    let (mut server, alice, bob, sender) = under_load().await;
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill();
    let acked = sender.await.expect("sender");
    assert!(
        !acked.is_empty(),
        "some messages were acknowledged before the kill"
    );

    all_survived_once(&mut server, &alice, &bob, &acked).await;

    // Resending an acknowledged message returns the original, stores nothing.
    let resend = |i: usize| {
        let (http, base, alice, to) = (
            http.clone(),
            server.base.clone(),
            alice.clone(),
            bob.user_id.clone(),
        );
        async move {
            let r = send_numbered(&http, &base, &alice, &to, i)
                .await
                .expect("send");
            let status = r.status();
            let body: Value = r.json().await.expect("json");
            (
                status,
                body["message_id"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    for i in [0, acked.len() / 2, acked.len() - 1] {
        let (status, id) = resend(i).await;
        assert_eq!(status, StatusCode::OK, "a resend of c{i} is a replay");
        assert_eq!(id, acked[i], "a resend of c{i} returns the original");
    }
    // The send in flight at the kill: stored at most once, whatever happened.
    let (first, id) = resend(acked.len()).await;
    assert!(
        first == StatusCode::CREATED || first == StatusCode::OK,
        "{first}"
    );
    let (again, same) = resend(acked.len()).await;
    assert_eq!((again, same.as_str()), (StatusCode::OK, id.as_str()));
    let after = stored_ids(&server, &alice, &bob).await;
    assert_eq!(after.iter().filter(|s| **s == id).count(), 1);
    assert_eq!(
        after.len(),
        acked.len() + 1,
        "only the in-flight message was added"
    );
}

//! Passwords, tokens and message contents never reach the logs: the real binary, logging
//! everything at `trace`, goes through a full session (signup, login,
//! refresh, a WebSocket opened with its token in the URL and renewed in
//! band, a password change, logout, a failed login), then its output is
//! searched for every secret it was given or gave out.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{password_of, tokens};
use crate::process::{FAST, ServerProcess};
use crate::ws_client::Ws;

#[tokio::test]
async fn no_password_or_token_of_a_full_session_is_logged() {
    let mut server = ServerProcess::spawn(&[FAST, &[("CHAT_LOG", "trace")]].concat()).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut req = http.post(url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.expect("send");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut secrets: Vec<String> = Vec::new();

    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    secrets.extend([password_of("alice"), password_of("bob")]);
    secrets.extend([
        alice.access.clone(),
        alice.refresh.clone(),
        bob.access.clone(),
    ]);

    let (status, body) = post(
        "/api/v1/auth/login",
        None,
        json!({"username": "alice@example.com", "password": password_of("alice")}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let login = tokens(&body);
    secrets.extend([login.access.clone(), login.refresh.clone()]);

    let (status, body) = post(
        "/api/v1/auth/session/refresh",
        None,
        json!({"refresh_token": login.refresh}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let fresh = tokens(&body);
    secrets.extend([fresh.access.clone(), fresh.refresh.clone()]);

    let mut ws = Ws::connect(&server.base, &alice.access).await;
    ws.send(json!({"type": "auth", "token": fresh.access}))
        .await;
    ws.send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": "a private note 4711-xyz"}))
        .await;
    ws.next_of("message.sent").await;
    // What people write is private too.
    secrets.push("a private note 4711-xyz".to_owned());
    ws.close().await;

    let new_password = "a brand new secret 7!".to_owned();
    let r = http
        .put(url("/api/v1/users/me"))
        .bearer_auth(&fresh.access)
        .json(&json!({"current_password": password_of("alice"), "new_password": new_password}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    secrets.push(new_password);

    let (status, _) = post(
        "/api/v1/auth/logout",
        None,
        json!({"refresh_token": fresh.refresh}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let wrong = "not-her-password-9!".to_owned();
    let (status, _) = post(
        "/api/v1/auth/login",
        None,
        json!({"username": "alice", "password": wrong}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    secrets.push(wrong);
    // An access token sent to a route that refuses it.
    let (status, _) = post("/api/v1/auth/logout", Some(&bob.access), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    server.signal("TERM");
    server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the server stops");
    let log = server.log();
    // The log did record the session (so the search below means something).
    for expected in ["/api/v1/auth/login", "/ws", "/api/v1/users/me"] {
        assert!(log.contains(expected), "no {expected} in the log:\n{log}");
    }
    for secret in &secrets {
        // Whole, and the signature part of a token on its own.
        let tail = secret.rsplit('.').next().unwrap_or(secret);
        if let Some(line) = log.lines().find(|l| l.contains(secret.as_str())) {
            panic!("a secret is in the log: {secret}\nin: {line}");
        }
        assert!(
            tail.len() < 16 || !log.contains(tail),
            "part of a secret is in the log: {tail}"
        );
    }
}

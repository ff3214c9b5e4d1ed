//! The moderation hook over HTTP: a local endpoint that checks the
//! signature and allows, rewrites or refuses by what a message says;
//! sends and edits over REST and WebSocket pass it; a hook that hangs,
//! errs or answers nonsense lets messages through or refuses them as the
//! server is set.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chat_core::HookConfig;
use chat_core::message_hook::OnHookFailure;
use chat_core::webhooks::signature;
use chat_server::HttpSettings;
use chat_server::config::Config;
use chat_server::message_hook::HttpMessageHook;
use clap::Parser;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app_custom};

const SECRET: &str = "a-hook-secret-of-some-length";

/// What the endpoint was asked, with the `Chat-Event` header.
type Asked = Arc<Mutex<Vec<(String, Value)>>>;

/// Starts the endpoint; returns its URL and what it is asked.
async fn start_hook() -> (String, Asked) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/check", listener.local_addr().expect("addr"));
    let asked = Asked::default();
    let app = Router::new()
        .route("/check", post(check))
        .with_state(asked.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, asked)
}

/// Refuses unsigned requests; then answers by the text: "spam" refused,
/// "darn" rewritten, "slow" after 5 s, "broken" with a 500, "garbage"
/// with a body no hook should send; anything else allowed (204).
async fn check(State(asked): State<Asked>, headers: HeaderMap, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signed = headers
        .get("chat-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !signature::verify(SECRET, signed, &body, now, 300) {
        return AxumStatus::UNAUTHORIZED.into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return AxumStatus::BAD_REQUEST.into_response();
    };
    let event = headers
        .get("chat-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = request["content"].as_str().unwrap_or_default().to_owned();
    asked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((event, request));
    let answer = |v: Value| axum::Json(v).into_response();
    if text.contains("spam") {
        answer(json!({"action": "refuse", "reason": "no spam here\u{7}", "score": 0.97}))
    } else if text.contains("darn") {
        answer(json!({"action": "rewrite", "content": text.replace("darn", "****")}))
    } else if text.contains("slow") {
        tokio::time::sleep(Duration::from_secs(5)).await;
        AxumStatus::NO_CONTENT.into_response()
    } else if text.contains("broken") {
        AxumStatus::INTERNAL_SERVER_ERROR.into_response()
    } else if text.contains("garbage") {
        "yes, fine".into_response()
    } else {
        AxumStatus::NO_CONTENT.into_response()
    }
}

/// A server whose messages pass the endpoint at `url`.
async fn app_with_hook(url: &str, on_failure: OnHookFailure) -> TestApp {
    let hook = HttpMessageHook::new(
        url.parse().expect("url"),
        Some(SECRET.to_owned()),
        Duration::from_secs(5),
    )
    .expect("hook");
    spawn_app_custom(HttpSettings::default(), |b| {
        b.message_hook(Arc::new(hook)).hook_config(HookConfig {
            timeout: Duration::from_millis(300),
            on_failure,
        })
    })
    .await
}

fn asked(a: &Asked) -> Vec<(String, Value)> {
    std::mem::take(&mut *a.lock().unwrap_or_else(|e| e.into_inner()))
}

#[tokio::test]
async fn sends_and_edits_over_rest_pass_the_hook() {
    let (url, hook) = start_hook().await;
    let app = app_with_hook(&url, OnHookFailure::Open).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;

    let hello = app.send_direct(&alice, &bob, "hello bob").await;
    let requests = asked(&hook);
    assert_eq!(requests.len(), 1);
    let (event, request) = &requests[0];
    assert_eq!(event, "message.send");
    assert_eq!(request["event"], "message.send");
    assert_eq!(request["conversation_type"], "direct");
    assert_eq!(request["conversation_id"], hello["conversation_id"]);
    assert_eq!(request["sender_id"], alice.user_id.as_str());
    assert_eq!(request["content"], "hello bob");
    assert_eq!(request["message_type"], "text");
    assert!(request.get("message_id").is_none(), "{request}");

    let rewritten = app.send_direct(&alice, &bob, "darn it").await;
    assert_eq!(rewritten["content"], "**** it", "{rewritten}");

    let refused = app
        .post_as(
            &alice.access,
            "/api/v1/messages/send",
            json!({"recipient_id": bob.user_id, "content": "buy spam now"}),
        )
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "MESSAGE_REFUSED");
    assert_eq!(
        refused.1["error"]["message"], "no spam here",
        "the hook's reason, without its control character"
    );

    let conversation = hello["conversation_id"].as_str().expect("id");
    let path = format!(
        "/api/v1/conversations/{conversation}/messages/{}",
        hello["message_id"].as_str().expect("id")
    );
    let edit = |content: &'static str| {
        app.call(
            Method::PATCH,
            &path,
            &alice.access,
            Some(json!({"content": content})),
        )
    };
    assert_error(
        &edit("spam after all").await,
        StatusCode::FORBIDDEN,
        "MESSAGE_REFUSED",
    );
    let (status, edited) = edit("darn, hello").await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["message"]["content"], "****, hello", "{edited}");
    let edits: Vec<_> = asked(&hook)
        .into_iter()
        .filter(|(event, _)| event == "message.edit")
        .collect();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[1].1["message_id"], hello["message_id"]);

    let (status, history) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        texts,
        vec!["**** it", "****, hello"],
        "newest first; nothing refused"
    );

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for line in [
        "chat_message_hook_total{outcome=\"allow\"} 1",
        "chat_message_hook_total{outcome=\"rewrite\"} 2",
        "chat_message_hook_total{outcome=\"refuse\"} 2",
        "chat_message_hook_total{outcome=\"error\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_websocket_sender_sees_the_stored_text_or_the_refusal() {
    let (url, _hook) = start_hook().await;
    let app = app_with_hook(&url, OnHookFailure::Open).await;
    let (alice, bob, mut alice_ws, mut bob_ws) = app.connected_pair().await;

    alice_ws
        .send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": "plain", "client_msg_id": "c-1"}))
        .await;
    let sent = alice_ws.next_of("message.sent").await;
    assert!(sent.get("content").is_none(), "as typed: no content {sent}");
    assert_eq!(bob_ws.next_of("message.new").await["content"], "plain");

    alice_ws
        .send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": "darn ws", "client_msg_id": "c-2"}))
        .await;
    let sent = alice_ws.next_of("message.sent").await;
    assert_eq!(sent["content"], "**** ws", "{sent}");
    assert_eq!(bob_ws.next_of("message.new").await["content"], "**** ws");

    alice_ws
        .send(json!({"type": "message.send", "recipient_id": bob.user_id, "content": "spam ws", "client_msg_id": "c-3"}))
        .await;
    let refused = alice_ws.next_of("error").await;
    assert_eq!(refused["code"], "MESSAGE_REFUSED", "{refused}");
    assert_eq!(refused["client_msg_id"], "c-3");
    assert_eq!(refused["message"], "no spam here");
    bob_ws
        .expect_silence(Duration::from_millis(300), &["presence", "typing"])
        .await;
    let _ = alice;
}

#[tokio::test]
async fn a_failing_hook_lets_messages_through_when_open() {
    let (url, hook) = start_hook().await;
    let app = app_with_hook(&url, OnHookFailure::Open).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let texts = ["slow reply", "broken hook", "garbage answer"];
    for text in texts {
        let sent = app.send_direct(&alice, &bob, text).await;
        assert!(sent.get("content").is_none(), "stored as sent: {sent}");
    }
    assert_eq!(asked(&hook).len(), 3, "each was asked");
    let (_, history) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    let stored: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .rev()
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(stored, texts);
}

#[tokio::test]
async fn a_failing_hook_refuses_messages_when_closed() {
    let (url, _hook) = start_hook().await;
    let app = app_with_hook(&url, OnHookFailure::Closed).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for text in ["slow reply", "broken hook", "garbage answer"] {
        let refused = app
            .post_as(
                &alice.access,
                "/api/v1/messages/send",
                json!({"recipient_id": bob.user_id, "content": text}),
            )
            .await;
        assert_error(
            &refused,
            StatusCode::SERVICE_UNAVAILABLE,
            "MODERATION_UNAVAILABLE",
        );
    }
    let (_, history) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    assert_eq!(
        history["messages"],
        json!([]),
        "nothing unchecked is stored"
    );
    app.send_direct(&alice, &bob, "fine").await;
}

#[tokio::test]
async fn the_server_reads_the_hook_from_its_configuration() {
    for bad in [
        "ftp://127.0.0.1/check",
        "not a url",
        "http://user:pass@127.0.0.1/check",
    ] {
        assert!(
            Config::try_parse_from(["chat-server", "--message-hook-url", bad]).is_err(),
            "{bad}"
        );
    }
    let none = Config::try_parse_from(["chat-server"]).expect("defaults");
    assert!(
        chat_server::bootstrap::message_hook(&none)
            .expect("ok")
            .is_none()
    );
    assert_eq!(none.hook_config().on_failure, OnHookFailure::Open);

    let (url, hook) = start_hook().await;
    let config = Config::try_parse_from([
        "chat-server",
        "--message-hook-url",
        &url,
        "--message-hook-secret",
        SECRET,
        "--message-hook-timeout-ms",
        "250",
        "--message-hook-on-failure",
        "closed",
    ])
    .expect("parse");
    let settings = config.hook_config();
    assert_eq!(settings.timeout, Duration::from_millis(250));
    assert_eq!(settings.on_failure, OnHookFailure::Closed);
    let built = chat_server::bootstrap::message_hook(&config)
        .expect("ok")
        .expect("a hook");
    let app = spawn_app_custom(HttpSettings::default(), |b| {
        b.message_hook(Arc::new(built)).hook_config(settings)
    })
    .await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let sent = app.send_direct(&alice, &bob, "darn config").await;
    assert_eq!(
        sent["content"], "**** config",
        "signed with the configured secret"
    );
    assert_eq!(asked(&hook).len(), 1);
}

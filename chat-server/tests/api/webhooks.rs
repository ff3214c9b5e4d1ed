//! Outgoing webhooks over real sockets: operators register them through
//! the admin API; a local receiver gets every event it asked for, signed
//! and in order; a failing receiver gets retries, then dead letters it can
//! have replayed; URLs at private addresses are refused.

use std::sync::Arc;
use std::time::Duration;

use chat_core::{AdminConfig, Username, WebhookConfig};
use chat_server::HttpSettings;
use chat_server::background::{BackgroundRuntime, OnBackground};
use chat_server::outbound::{AddressPolicy, OutboundClient};
use chat_server::webhook_sender::HttpWebhookSender;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, Tokens, assert_error, spawn_app_custom};
use crate::webhook_receiver::WebhookReceiver;

/// Long enough for any delivery of these tests.
const WAIT: Duration = Duration::from_secs(10);

/// A sender for tests: loopback allowed (the local receiver), a short
/// timeout, posting from a background thread as the server's does.
pub(crate) fn test_webhook_sender() -> OnBackground<HttpWebhookSender> {
    let client = OutboundClient::new(
        AddressPolicy::new(vec!["127.0.0.1/32".parse().expect("net")]),
        Duration::from_secs(2),
    )
    .expect("client");
    OnBackground::new(
        HttpWebhookSender::new(client),
        BackgroundRuntime::start("test-webhooks").expect("background thread"),
    )
}

/// Webhook settings for tests: frequent rounds, quick retries.
pub(crate) fn test_webhook_config() -> WebhookConfig {
    WebhookConfig {
        poll: Duration::from_millis(20),
        settle: Duration::ZERO,
        retry_delays: vec![Duration::from_millis(20), Duration::from_millis(20)],
        ..WebhookConfig::default()
    }
}

/// A server where `root` is an operator, posting webhooks for real.
async fn app() -> TestApp {
    spawn_app_custom(HttpSettings::default(), |b| {
        b.admin_config(AdminConfig {
            usernames: vec![Username::parse("root").expect("username")],
        })
        .webhook_sender(Arc::new(test_webhook_sender()))
        .webhook_config(test_webhook_config())
    })
    .await
}

const HOOKS: &str = "/api/v1/admin/webhooks";

async fn register(app: &TestApp, admin: &Tokens, body: Value) -> (StatusCode, Value) {
    app.post_as(&admin.access, HOOKS, body).await
}

#[tokio::test]
async fn a_receiver_gets_the_events_it_asked_for_signed_and_in_order() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let group = app.create_group(&alice, "team", &[&bob]).await;
    let receiver = WebhookReceiver::start().await;

    let (status, hook) = register(
        &app,
        &root,
        json!({"url": receiver.url, "events": ["message.created", "message.edited"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().expect("a generated secret");
    assert!(secret.len() >= 43);
    receiver.expect_secret(secret);
    let (_, list) = app.get_as(&root.access, HOOKS).await;
    assert_eq!(list["webhooks"][0]["webhook_id"], hook["webhook_id"]);
    assert!(list["webhooks"][0].get("secret").is_none(), "shown once");

    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(app.send_group(&alice, &group, &format!("m{i}")).await);
    }
    let first = sent[0]["message_id"].as_str().expect("id");
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{group}/messages/{first}"),
            &alice.access,
            Some(json!({"content": "m0, edited"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Not asked for: a reaction.
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/conversations/{group}/messages/{first}/reactions/%F0%9F%91%8D"),
            &bob.access,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.send_group(&bob, &group, "last").await;

    let got = receiver.wait_for(7, WAIT).await;
    let events: Vec<&str> = got.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "message.created",
            "message.created",
            "message.created",
            "message.created",
            "message.created",
            "message.edited",
            "message.created"
        ]
    );
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r.body["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|p| p[0] < p[1]),
        "in seq order: {seqs:?}"
    );
    for r in &got {
        assert_eq!(r.body["id"], r.delivery.as_str());
        assert_eq!(r.body["conversation_id"], group.as_str());
    }
    assert_eq!(
        got[0].body["data"]["message"]["content"], "m0, edited",
        "as it is now"
    );
    assert_eq!(got[5].body["data"]["change"]["content"], "m0, edited");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 7, "each once");

    // Deleted: nothing more.
    let path = format!("{HOOKS}/{}", hook["webhook_id"].as_str().expect("id"));
    let (status, _) = app.call(Method::DELETE, &path, &root.access, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.send_group(&alice, &group, "after").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 7);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_then_dead_letters_it_can_replay() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let receiver = WebhookReceiver::start().await;
    let (status, hook) = register(
        &app,
        &root,
        json!({"url": receiver.url, "events": ["message.created"], "secret": "sixteen-chars-at-least"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    receiver.expect_secret("sixteen-chars-at-least");
    let id = hook["webhook_id"].as_str().expect("id").to_owned();
    let letters_path = format!("{HOOKS}/{id}/dead-letters");

    receiver.fail_with(Some(503));
    app.send_direct(&alice, &bob, "while it is down").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let letters = loop {
        let (_, letters) = app.get_as(&root.access, &letters_path).await;
        if letters["dead_letters"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            break letters;
        }
        assert!(tokio::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let letter = &letters["dead_letters"][0];
    assert_eq!(letter["attempts"], 3, "one attempt and two retries");
    assert_eq!(receiver.attempts(), 3);
    assert!(
        letter["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{letter}"
    );

    // Back up: the next message goes through, and the letter replays.
    receiver.fail_with(None);
    app.send_direct(&alice, &bob, "back").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got[0].body["data"]["message"]["content"], "back");
    let replay = format!(
        "{letters_path}/{}/replay",
        letter["dead_letter_id"].as_str().expect("id")
    );
    let (status, answer) = app.call(Method::POST, &replay, &root.access, None).await;
    assert_eq!(
        (status, &answer["delivered"]),
        (StatusCode::OK, &json!(true))
    );
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].body["data"]["message"]["content"],
        "while it is down"
    );
    let (_, letters) = app.get_as(&root.access, &letters_path).await;
    assert_eq!(letters["dead_letters"], json!([]));
    let got = app.call(Method::POST, &replay, &root.access, None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "DEAD_LETTER_NOT_FOUND");
}

#[tokio::test]
async fn registrations_are_for_operators_and_public_urls_only() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let receiver = WebhookReceiver::start().await;
    let good = json!({"url": receiver.url, "events": ["message.created"]});
    let got = register(&app, &alice, good.clone()).await;
    assert_error(&got, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let got = app.get_as(&alice.access, HOOKS).await;
    assert_error(&got, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    for (body, code) in [
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["message.created"]}),
            "URL_NOT_ALLOWED",
        ),
        (
            json!({"url": "https://10.1.2.3/hook", "events": ["message.created"]}),
            "URL_NOT_ALLOWED",
        ),
        (
            json!({"url": "http://8.8.8.8/hook", "events": ["message.created"]}),
            "INVALID_URL",
        ),
        (json!({"url": receiver.url, "events": []}), "INVALID_EVENTS"),
        (
            json!({"url": receiver.url, "events": ["message.created"], "secret": "short"}),
            "WEAK_SECRET",
        ),
        (
            json!({"url": receiver.url, "events": ["message.*"]}),
            "INVALID_BODY",
        ),
    ] {
        let got = register(&app, &root, body.clone()).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let unknown = format!("{HOOKS}/{}", uuid::Uuid::now_v7());
    let got = app.call(Method::DELETE, &unknown, &root.access, None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND");
    let (_, list) = app.get_as(&root.access, HOOKS).await;
    assert_eq!(list["webhooks"], json!([]), "nothing was registered");
}

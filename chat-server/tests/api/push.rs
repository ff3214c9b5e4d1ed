//! Web Push over real sockets: devices register through the REST API,
//! the server's notifier encrypts, signs and posts each notification to a
//! local push service that checks and decrypts it as a browser's push
//! service and device would; bad subscriptions, gone devices and a push
//! service that hangs.

use std::sync::Arc;
use std::time::Duration;

use chat_core::PushConfig;
use chat_server::HttpSettings;
use chat_server::background::{BackgroundRuntime, OnBackground};
use chat_server::outbound::{AddressPolicy, OutboundClient};
use chat_server::push::{VapidKey, WebPusher};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, spawn_app_custom};
use crate::push_service::{Answer, LocalPushService};

/// Long enough for any push of these tests to arrive.
const WAIT: Duration = Duration::from_secs(10);

/// A pusher for tests: loopback allowed (the local push service), quick
/// retries, a short timeout, sending from a background thread as the
/// server's does.
pub(crate) fn test_pusher(key: &VapidKey) -> OnBackground<WebPusher> {
    let client = OutboundClient::new(
        AddressPolicy::new(vec!["127.0.0.1/32".parse().expect("net")]),
        Duration::from_millis(500),
    )
    .expect("client");
    OnBackground::new(
        WebPusher::new(key.clone(), "mailto:test@example.com".to_owned(), client),
        BackgroundRuntime::start("test-push").expect("background thread"),
    )
}

/// Push settings for tests: no settling (the test clock does not move),
/// frequent rounds, quick retries.
pub(crate) fn test_push_config() -> PushConfig {
    PushConfig {
        settle: Duration::ZERO,
        poll: Duration::from_millis(20),
        retry_delays: vec![Duration::from_millis(20), Duration::from_millis(20)],
        ..PushConfig::default()
    }
}

async fn app_with_push() -> (TestApp, LocalPushService) {
    app_settling(Duration::ZERO).await
}

/// A server whose notifier waits `settle` (on the test clock, which only
/// [`TestApp::advance`] moves) before it handles a burst.
async fn app_settling(settle: Duration) -> (TestApp, LocalPushService) {
    let key = VapidKey::generate();
    let service = LocalPushService::start(key.public_key()).await;
    let pusher = Arc::new(test_pusher(&key));
    let config = PushConfig {
        settle,
        ..test_push_config()
    };
    let app = spawn_app_custom(HttpSettings::default(), |b| {
        b.pusher(pusher).push_config(config)
    })
    .await;
    (app, service)
}

async fn register(app: &TestApp, token: &str, subscription: Value) -> (StatusCode, Value) {
    app.post_as(token, "/api/v1/push/subscriptions", subscription)
        .await
}

#[tokio::test]
async fn an_offline_user_gets_an_encrypted_signed_notification() {
    let (app, service) = app_with_push().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;

    let (status, config) = app.get("/api/v1/push/config", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        config["vapid_public_key"]
            .as_str()
            .is_some_and(|k| k.len() == 87)
    );

    let (status, sub) = register(&app, &bob.access, service.new_device("phone")).await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["level"], "all");
    assert_eq!(sub["endpoint"], service.endpoint("phone"));
    assert!(sub.get("keys").is_none(), "keys are not shown again");
    let (_, list) = app.get_as(&bob.access, "/api/v1/push/subscriptions").await;
    assert_eq!(list["subscriptions"][0]["id"], sub["id"]);

    let sent = app.send_direct(&alice, &bob, "lunch at noon?").await;
    let received = service.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1, "one push");
    let push = &received[0];
    let n = &push.notification;
    assert_eq!(push.device, "phone");
    assert_eq!(
        (n.title.as_str(), n.body.as_str()),
        ("alice", "lunch at noon?")
    );
    assert_eq!(
        n.message_id.to_string(),
        sent["message_id"].as_str().expect("id")
    );
    assert_eq!((n.count, n.badge), (1, 1));
    assert_eq!(push.urgency.as_deref(), Some("high"), "a direct message");
    assert_eq!(push.ttl.as_deref(), Some("86400"));
    let conversation = n.conversation_id.as_uuid().simple().to_string();
    assert_eq!(push.topic.as_deref(), Some(conversation.as_str()));

    // Alice is the sender: nothing for her, and nothing more for bob.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(service.received().len(), 1);
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_clear_errors() {
    let (app, service) = app_with_push().await;
    let bob = app.signup("bob").await;
    let mut device = service.new_device("phone");
    for (endpoint, code) in [
        ("https://169.254.169.254/latest", "URL_NOT_ALLOWED"),
        ("https://10.0.0.1/push", "URL_NOT_ALLOWED"),
        ("https://[::1]/push", "URL_NOT_ALLOWED"),
        ("https://127.0.0.2/push", "URL_NOT_ALLOWED"),
        ("http://8.8.8.8/push", "INVALID_PUSH_SUBSCRIPTION"),
        ("ftp://8.8.8.8/push", "INVALID_PUSH_SUBSCRIPTION"),
        ("https://user:pw@8.8.8.8/push", "INVALID_PUSH_SUBSCRIPTION"),
    ] {
        device["endpoint"] = json!(endpoint);
        let got = register(&app, &bob.access, device.clone()).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(got.1["error"]["field"], "endpoint", "{endpoint}");
    }
    let good = service.new_device("laptop");
    let mut bad = good.clone();
    bad["keys"]["p256dh"] = json!("AAAA");
    let got = register(&app, &bob.access, bad).await;
    assert_error(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_PUSH_SUBSCRIPTION",
    );
    assert_eq!(got.1["error"]["field"], "keys.p256dh");
    let mut bad = good.clone();
    // 65 bytes starting with 4, but not a point of the curve.
    bad["keys"]["p256dh"] = json!(format!("B{}", "A".repeat(86)));
    let got = register(&app, &bob.access, bad).await;
    assert_error(
        &got,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_PUSH_SUBSCRIPTION",
    );
    let mut bad = good.clone();
    bad["level"] = json!("loud");
    let got = register(&app, &bob.access, bad).await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_BODY");
    let got = app.post("/api/v1/push/subscriptions", good.clone()).await;
    assert_eq!(got.0, StatusCode::UNAUTHORIZED);

    let (_, list) = app.get_as(&bob.access, "/api/v1/push/subscriptions").await;
    assert_eq!(list["subscriptions"], json!([]), "nothing was stored");

    // The good one, then its level and its removal.
    let (status, sub) = register(&app, &bob.access, good).await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!(
        "/api/v1/push/subscriptions/{}",
        sub["id"].as_str().expect("id")
    );
    let (status, changed) = app
        .call(
            Method::PATCH,
            &path,
            &bob.access,
            Some(json!({"level": "mentions"})),
        )
        .await;
    assert_eq!(
        (status, &changed["level"]),
        (StatusCode::OK, &json!("mentions"))
    );
    let alice = app.signup("alice").await;
    let got = app.call(Method::DELETE, &path, &alice.access, None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "PUSH_SUBSCRIPTION_NOT_FOUND");
    let (status, _) = app.call(Method::DELETE, &path, &bob.access, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = app.call(Method::DELETE, &path, &bob.access, None).await;
    assert_error(&got, StatusCode::NOT_FOUND, "PUSH_SUBSCRIPTION_NOT_FOUND");
}

#[tokio::test]
async fn a_gone_device_is_dropped_and_a_hanging_push_service_slows_no_message() {
    let (app, service) = app_settling(Duration::from_secs(1)).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    for (user, device) in [(&bob, "old-phone"), (&carol, "stuck"), (&carol, "tablet")] {
        let (status, body) = register(&app, &user.access, service.new_device(device)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    service.answer("old-phone", Answer::Status(410));
    service.answer("stuck", Answer::Hang);

    app.send_direct(&alice, &bob, "are you there?").await;
    app.advance(Duration::from_secs(2));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, list) = app.get_as(&bob.access, "/api/v1/push/subscriptions").await;
        if list["subscriptions"] == json!([]) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still there: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(service.attempts("old-phone"), 1, "gone is not retried");

    // Carol's first device hangs: every attempt times out. Messages keep
    // flowing meanwhile, and her other device still gets its push once the
    // stuck one has had its retries.
    for i in 0..5 {
        app.send_direct(&alice, &carol, &format!("message {i}"))
            .await;
    }
    app.advance(Duration::from_secs(2));
    let received = service.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].device, "tablet");
    assert_eq!(
        received[0].notification.count, 5,
        "one notification for the burst"
    );
    assert_eq!(service.attempts("stuck"), 3, "one attempt and two retries");
    let metrics = app.engine.render_metrics();
    assert!(
        metrics.contains("chat_push_notifications_total{outcome=\"retry\"} 3"),
        "{metrics}"
    );
}

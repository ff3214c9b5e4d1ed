//! Webhooks across two instances over one PostgreSQL database and one
//! Redis: messages of one conversation taken by both instances reach the
//! receiver once each and in seq order, whichever instance delivers them,
//! and a webhook registered on one instance hears the other's messages.

use std::sync::Arc;
use std::time::Duration;

use chat_core::model::WebhookEvent;
use chat_core::webhooks::WebhookRequest;

use crate::cluster::{Cluster, ClusterSettings};
use crate::webhook_receiver::WebhookReceiver;
use crate::webhooks::{test_webhook_config, test_webhook_sender};

#[tokio::test]
async fn each_event_reaches_the_receiver_once_and_in_order_across_instances() {
    let settings = ClusterSettings {
        webhooks: Some((Arc::new(test_webhook_sender()), test_webhook_config())),
        ..ClusterSettings::default()
    };
    let Some(c) = Cluster::start(2, settings).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = b.signup("bob").await;
    let group = a.create_group(&alice, "team", &[&bob]).await;
    let receiver = WebhookReceiver::start().await;
    // Registered through A: B hears of it from A's notice.
    let hook = a
        .engine
        .webhooks()
        .register(
            None,
            WebhookRequest {
                url: receiver.url.clone(),
                events: vec![WebhookEvent::MessageCreated],
                conversation_id: None,
                secret: Some("cluster-secret-of-length".into()),
            },
        )
        .await
        .expect("register");
    receiver.expect_secret(&hook.secret);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let n = 20;
    for i in 0..n {
        let (node, who) = if i % 2 == 0 { (a, &alice) } else { (b, &bob) };
        node.send_group(who, &group, &format!("m{i}")).await;
    }
    let got = receiver.wait_for(n, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if receiver.received().len() > got.len() {
        receiver.received()
    } else {
        got
    };
    let texts: Vec<&str> = got
        .iter()
        .map(|r| {
            r.body["data"]["message"]["content"]
                .as_str()
                .expect("content")
        })
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected, "each once, in order");
    c.teardown().await;
}

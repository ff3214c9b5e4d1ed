//! Push notifications across two instances over one PostgreSQL database
//! and one Redis: every instance runs a notifier over the shared offline
//! queue, and each notification still reaches its device exactly once,
//! whichever instance took the message and whichever registered the
//! device.

use std::sync::Arc;
use std::time::Duration;

use chat_core::PushConfig;
use chat_server::push::VapidKey;
use reqwest::StatusCode;

use crate::cluster::{Cluster, ClusterSettings};
use crate::push::{test_push_config, test_pusher};
use crate::push_service::LocalPushService;

#[tokio::test]
async fn each_notification_reaches_its_device_once_across_instances() {
    // Every instance signs with the same key, as CHAT_VAPID_PRIVATE_KEY
    // makes them in production.
    let key = VapidKey::generate();
    let service = LocalPushService::start(key.public_key()).await;
    let settings = ClusterSettings {
        push: Some((
            Arc::new(test_pusher(&key)),
            PushConfig {
                // Real time: the Redis queue keeps its own.
                settle: Duration::from_secs(1),
                ..test_push_config()
            },
        )),
        ..ClusterSettings::default()
    };
    let Some(c) = Cluster::start(2, settings).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let mut members = Vec::new();
    for i in 0..8 {
        let node = if i % 2 == 0 { a } else { b };
        let user = node.signup(&format!("member{i}")).await;
        let (status, body) = node
            .post_as(
                &user.access,
                "/api/v1/push/subscriptions",
                service.new_device(&format!("device{i}")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        members.push(user);
    }
    let refs: Vec<_> = members.iter().collect();
    let group = a.create_group(&alice, "everyone", &refs).await;
    for (i, text) in ["one", "two", "three"].into_iter().enumerate() {
        let node = if i % 2 == 0 { a } else { b };
        node.send_group(&alice, &group, text).await;
    }

    let received = service
        .wait_for(members.len(), Duration::from_secs(15))
        .await;
    // A moment more: a second instance's duplicate would come now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let received = service.received().len().max(received.len());
    let all = service.received();
    assert_eq!(received, members.len(), "{all:#?}");
    let mut devices: Vec<&str> = all.iter().map(|r| r.device.as_str()).collect();
    devices.sort_unstable();
    devices.dedup();
    assert_eq!(devices.len(), members.len(), "each device once");
    for r in &all {
        assert_eq!(r.notification.title, "everyone");
        assert_eq!(r.notification.body, "alice: three");
        assert_eq!(r.notification.count, 3, "the burst in one notification");
    }
    c.teardown().await;
}

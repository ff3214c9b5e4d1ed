//! A Redis Cluster restarted under two instances: sharded subscriptions
//! come back by themselves and events cross instances again.

use std::time::Duration;

use bytes::Bytes;
use chat_core::realtime::{Event, EventKind, Frame, FrameClass};
use chat_core::{ConnectionId, UserId};
use chat_queue_redis::testkit::ThrowawayCluster;
use chat_queue_redis::{RedisBackend, RedisConfig};

fn frame(n: u32) -> Event {
    Event::frame(Frame {
        json: Bytes::from(format!(r#"{{"n":{n}}}"#)),
        class: FrameClass::Durable,
        message: None,
        origin: None,
    })
}

#[tokio::test]
async fn events_cross_instances_again_after_the_cluster_restarts() {
    let Some(mut cluster) = ThrowawayCluster::start().await else {
        return;
    };
    let connect = |id: &str| {
        let config = RedisConfig::new(cluster.urls())
            .with_instance_id(id)
            .for_cluster();
        async move { RedisBackend::connect(config).await.expect("connect") }
    };
    let a = connect("a").await;
    let b = connect("b").await;
    let user = UserId::new();
    let mut sub = a
        .bus()
        .subscribe(user, ConnectionId::new())
        .await
        .expect("subscribe");
    b.bus().publish(&[user], frame(1)).await.expect("publish");
    let first = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("arrives")
        .expect("open");
    assert!(matches!(first.kind(), EventKind::Frame(_)));

    cluster.restart().await;
    // Both instances notice, resubscribe and resync: the connection is told
    // to check for gaps, then live events flow again.
    let mut delivered = false;
    for n in 2..100 {
        let _ = b.bus().publish(&[user], frame(n)).await;
        if let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await
            && let EventKind::Frame(f) = event.kind()
            && f.json.starts_with(b"{\"n\":")
        {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "no event crossed instances after the restart");
    assert!(a.health().available && b.health().available);
}

//! Presence when an instance dies without saying goodbye: its connections
//! expire with their deadlines, or are cleared at once when an instance
//! with the same id starts again.

use std::time::Duration;

use chat_core::realtime::Presence;
use chat_core::{ConnectionId, Timestamp, UserId};
use chat_queue_redis::RedisBackend;
use chat_queue_redis::testkit::RedisTestPrefix;

async fn online(presence: &dyn Presence, user: UserId) -> bool {
    presence.statuses(&[user]).await.expect("statuses")[0].online
}

#[tokio::test]
async fn a_dead_instances_connections_expire_while_a_live_one_keeps_the_user_online() {
    let Some(prefix) = RedisTestPrefix::create().await else {
        return;
    };
    let short = |id: &str| {
        let mut config = prefix.config(id);
        config.presence_ttl = Duration::from_secs(1);
        config
    };
    let dying = RedisBackend::connect(short("dying"))
        .await
        .expect("connect");
    let living = RedisBackend::connect(short("living"))
        .await
        .expect("connect");
    let (alice, bob) = (UserId::new(), UserId::new());
    let now = Timestamp::now();
    dying
        .presence()
        .connect(alice, ConnectionId::new(), now)
        .await
        .expect("connect");
    dying
        .presence()
        .connect(bob, ConnectionId::new(), now)
        .await
        .expect("connect");
    let bobs_phone = ConnectionId::new();
    living
        .presence()
        .connect(bob, bobs_phone, now)
        .await
        .expect("connect");
    drop(dying); // no disconnects: the process died

    // Bob's live connection keeps him online by heartbeats; Alice's only
    // connection was on the dead instance and lapses with its deadline.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        living
            .presence()
            .heartbeat(bob, bobs_phone, Timestamp::now())
            .await
            .expect("heartbeat");
    }
    assert!(!online(&*living.presence(), alice).await, "Alice expired");
    assert!(
        online(&*living.presence(), bob).await,
        "Bob is still online"
    );
    // When his live connection closes, the dead one does not hold him.
    let last = living
        .presence()
        .disconnect(bob, bobs_phone, Timestamp::now())
        .await
        .expect("disconnect");
    assert!(last, "the dead instance's connection no longer counts");
    prefix.teardown().await;
}

#[tokio::test]
async fn a_restarted_instance_clears_what_it_left_behind() {
    let Some(prefix) = RedisTestPrefix::create().await else {
        return;
    };
    let first_run = prefix.backend("node-a").await;
    let user = UserId::new();
    first_run
        .presence()
        .connect(user, ConnectionId::new(), Timestamp::now())
        .await
        .expect("connect");
    drop(first_run); // killed

    let observer = prefix.backend("observer").await;
    assert!(
        online(&*observer.presence(), user).await,
        "stale until cleared"
    );
    let _second_run = prefix.backend("node-a").await;
    assert!(
        !online(&*observer.presence(), user).await,
        "the restart cleared the connection at once"
    );
    prefix.teardown().await;
}

//! Faults of a multi-instance deployment: Redis stopped or flushed during
//! traffic (a throwaway redis-server, so the shared one is untouched), and
//! an instance killed with SIGKILL (a real `chat-server` process).

use std::time::Duration;

use chat_queue_redis::testkit::ThrowawayRedis;
use reqwest::StatusCode;
use serde_json::json;

use crate::cluster::{Cluster, ClusterSettings, direct, ws_at};
use crate::helpers::TestApp;
use crate::process::ServerProcess;
use crate::ws_client::Ws;

/// Waits until `/readyz` says `status`.
async fn wait_ready(node: &TestApp, status: &str) {
    for _ in 0..100 {
        let (_, body) = node.get("/readyz", None).await;
        if body["status"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never said {status}");
}

/// Two instances on a private redis-server that the test may stop, restart
/// or flush.
async fn on_throwaway_redis(settings: ClusterSettings) -> Option<(ThrowawayRedis, Cluster)> {
    let redis = ThrowawayRedis::start().await?;
    let cluster = Cluster::start_on(2, &redis.url(), settings).await?;
    Some((redis, cluster))
}

fn fast_pings() -> ClusterSettings {
    let mut settings = ClusterSettings::default();
    settings.http.ws.ping_interval = Duration::from_secs(1);
    settings
}

#[tokio::test]
async fn instances_keep_serving_while_redis_is_down_and_resync_when_it_returns() {
    let Some((mut redis, c)) = on_throwaway_redis(ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    let carol = a.signup("carol").await;
    a.send_direct(&alice, &bob, "hello bob").await;
    a.send_direct(&alice, &carol, "hello carol").await;
    let mut alice_ws = a.ws(&alice.access).await;
    let mut carol_ws = a.ws(&carol.access).await;
    let mut bob_ws = b.ws(&bob.access).await;
    assert_eq!(Ws::contents(&mut carol_ws, 1).await, ["hello carol"]);
    assert_eq!(Ws::contents(&mut bob_ws, 1).await, ["hello bob"]);

    redis.stop();
    wait_ready(a, "degraded").await;
    wait_ready(b, "degraded").await;
    let (_, ready) = a.get("/readyz", None).await;
    assert_eq!(ready["redis"], "unreachable");

    // Same instance: live as ever.
    alice_ws.send(direct(&carol, "still here", "d1")).await;
    alice_ws.next_of("message.sent").await;
    assert_eq!(Ws::contents(&mut carol_ws, 1).await, ["still here"]);
    // Across instances: stored and acknowledged, not yet delivered.
    alice_ws
        .send(direct(&bob, "while redis is down", "d2"))
        .await;
    let sent = alice_ws.next_of("message.sent").await;
    assert_eq!(sent["seq"], 2);
    // REST keeps working too (the rate limit falls back to this instance).
    let (status, body) = b
        .post_as(
            &bob.access,
            "/api/v1/messages/send",
            json!({"recipient_id": carol.user_id, "content": "from b"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    redis.restart().await;
    wait_ready(a, "ready").await;
    wait_ready(b, "ready").await;
    // The resync brings Bob what could not cross, without reconnecting
    // (his own REST send reached his socket on B live), and Carol what B
    // stored for her.
    let mut got = Ws::contents(&mut bob_ws, 2).await;
    got.sort();
    assert_eq!(got, ["from b", "while redis is down"]);
    assert_eq!(Ws::contents(&mut carol_ws, 1).await, ["from b"]);
    // And live delivery crosses again.
    alice_ws.send(direct(&bob, "back to normal", "d3")).await;
    assert_eq!(Ws::contents(&mut bob_ws, 1).await, ["back to normal"]);
    bob_ws
        .expect_silence(Duration::from_millis(300), &["presence"])
        .await;
    c.teardown().await;
}

#[tokio::test]
async fn a_logout_while_redis_is_down_holds_on_the_other_instance_too() {
    // Default pings (30 s): the sockets below are checked by their sends
    // and by the resync, not by the periodic check.
    let Some((mut redis, c)) = on_throwaway_redis(ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    // Two sockets of the session, opened on B before the outage: one that
    // sends, one that only listens.
    let mut sender = b.ws(&alice.access).await;
    let mut listener = b.ws(&alice.access).await;

    redis.stop();
    wait_ready(a, "degraded").await;
    wait_ready(b, "degraded").await;
    let (status, body) = a
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": alice.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // B never heard of the logout, but asks the store while cut off.
    let (status, body) = b.get("/api/v1/auth/me", Some(&alice.access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "SESSION_REVOKED");
    assert_eq!(b.ws_refusal(&alice.access).await, 401);
    sender.send(direct(&bob, "after logout", "x1")).await;
    assert_eq!(sender.close_code().await, 4001);

    // When Redis returns, every socket checks its session again.
    redis.restart().await;
    wait_ready(b, "ready").await;
    assert_eq!(listener.close_code().await, 4001);
    let (status, _) = b.get("/api/v1/auth/me", Some(&alice.access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing was sent in the revoked session's name.
    let (_, history) = a
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    assert!(!history.to_string().contains("after logout"), "{history}");
    c.teardown().await;
}

#[tokio::test]
async fn a_flushed_redis_loses_nothing() {
    let Some((redis, c)) = on_throwaway_redis(fast_pings()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    let mut alice_ws = a.ws(&alice.access).await;
    for i in 0..3 {
        alice_ws
            .send(direct(&bob, &format!("m{i}"), &format!("c{i}")))
            .await;
        alice_ws.next_of("message.sent").await;
    }
    let mut conn = redis_client(&redis.url()).await;
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut conn)
        .await
        .expect("flush");

    // The queue is gone; the delivery cursors are not.
    let mut bob_ws = b.ws(&bob.access).await;
    assert_eq!(Ws::contents(&mut bob_ws, 3).await, ["m0", "m1", "m2"]);
    // Alice's presence comes back with her next heartbeat.
    let mut online = false;
    for _ in 0..50 {
        let (_, profile) = b
            .get_as(&bob.access, &format!("/api/v1/users/{}", alice.user_id))
            .await;
        if profile["online"] == true {
            online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(online, "Alice is online again after the flush");
    c.teardown().await;
}

async fn redis_client(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

async fn spawn_process(db_url: &str, redis_url: &str, prefix: &str, id: &str) -> ServerProcess {
    ServerProcess::spawn(&[
        ("CHAT_DATABASE_URL", db_url),
        ("CHAT_DB_MIN_CONNECTIONS", "0"),
        ("CHAT_DB_MAX_CONNECTIONS", "5"),
        ("CHAT_REDIS_URL", redis_url),
        ("CHAT_REDIS_PREFIX", prefix),
        ("CHAT_INSTANCE_ID", id),
    ])
    .await
}

#[tokio::test]
async fn users_of_a_killed_instance_reconnect_to_another_and_miss_nothing() {
    let Some(c) = Cluster::start(1, ClusterSettings::default()).await else {
        return;
    };
    let (redis_url, prefix) = c.redis().expect("shared redis");
    let mut b = spawn_process(c.db.url(), redis_url, prefix, "node-b").await;
    let a = &c.nodes[0];
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    let mut alice_ws = a.ws(&alice.access).await;
    let mut bob_on_b = ws_at(&b.base, &bob).await;

    alice_ws.send(direct(&bob, "before", "k0")).await;
    alice_ws.next_of("message.sent").await;
    let before = bob_on_b.next_of("message.new").await;
    bob_on_b
        .send(json!({"type": "messages.ack", "message_ids": [before["message_id"]]}))
        .await;
    alice_ws.next_of("message.delivered").await;

    b.kill();
    for i in 1..=3 {
        alice_ws
            .send(direct(&bob, &format!("after {i}"), &format!("k{i}")))
            .await;
        alice_ws.next_of("message.sent").await;
    }
    drop(bob_on_b);

    // Bob's client reconnects, to the surviving instance.
    let mut bob_on_a = a.ws(&bob.access).await;
    assert_eq!(
        Ws::contents(&mut bob_on_a, 3).await,
        ["after 1", "after 2", "after 3"]
    );
    bob_on_a
        .expect_silence(Duration::from_millis(300), &["presence"])
        .await;
    c.teardown().await;
}

/// Alice (instance A) sends steadily to Bob (instance B) while Redis stops
/// and comes back: every message she got `message.sent` for reaches Bob's
/// open socket exactly once, in seq order, without a reconnect.
#[tokio::test]
async fn every_acknowledged_message_arrives_once_in_order_when_redis_fails_during_traffic() {
    let Some((mut redis, c)) = on_throwaway_redis(ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    let mut alice_ws = a.ws(&alice.access).await;
    let mut bob_ws = b.ws(&bob.access).await;

    const TOTAL: u64 = 60;
    for i in 0..TOTAL {
        alice_ws
            .send(direct(&bob, &format!("m{i}"), &format!("t{i}")))
            .await;
        let sent = alice_ws.next_of("message.sent").await;
        assert_eq!(sent["seq"], i + 1);
        match i {
            15 => redis.stop(),
            35 => redis.restart().await,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_ready(b, "ready").await;

    let mut last = 0;
    while last < TOTAL {
        let frame = bob_ws.next().await;
        let seqs: Vec<u64> = match frame["type"].as_str() {
            Some("message.new") => vec![frame["seq"].as_u64().expect("seq")],
            Some("messages.offline") => frame["messages"]
                .as_array()
                .expect("messages")
                .iter()
                .map(|m| m["seq"].as_u64().expect("seq"))
                .collect(),
            _ => Vec::new(),
        };
        for seq in seqs {
            assert_eq!(seq, last + 1, "each message once, in order");
            last = seq;
        }
    }
    bob_ws
        .expect_silence(Duration::from_millis(300), &["presence"])
        .await;
    c.teardown().await;
}

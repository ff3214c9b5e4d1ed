//! Several server instances over one PostgreSQL database and one Redis
//! prefix, each with its own engine, pool and Redis link (as separate
//! processes would have): the harness, and the behaviours that must cross
//! instances.

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryMailer;
use chat_core::store::BlobStore;
use chat_core::{
    ChatEngine, ConversationConfig, ManualClock, PushConfig, Pusher, RateLimit, Timestamp,
    WebhookConfig, WebhookSender,
};
use chat_queue_redis::testkit::RedisTestPrefix;
use chat_queue_redis::{RedisBackend, RedisConfig};
use chat_server::{AppState, HttpSettings, Instance};
use chat_store_postgres::{PgPoolConfig, PgStore, PgTestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, Tokens, assert_error, password_of, serve_state, test_auth_config};
use crate::ws_client::Ws;

/// The JWT secret every instance shares.
pub(crate) const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";
const QUIET: Duration = Duration::from_millis(300);

/// N instances sharing one database and one Redis prefix.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<TestApp>,
    pub(crate) db: PgTestDatabase,
    prefix: Option<RedisTestPrefix>,
}

/// How the instances are set up.
#[derive(Clone, Default)]
pub(crate) struct ClusterSettings {
    pub(crate) conversations: ConversationConfig,
    pub(crate) http: HttpSettings,
    /// The blob store every instance shares (default: one in memory
    /// each).
    pub(crate) blobs: Option<Arc<dyn BlobStore>>,
    /// What sends push notifications, and how (default: each instance
    /// keeps its pushes in memory).
    pub(crate) push: Option<(Arc<dyn Pusher>, PushConfig)>,
    /// What posts webhook deliveries, and how (default: each instance
    /// keeps them in memory).
    pub(crate) webhooks: Option<(Arc<dyn WebhookSender>, WebhookConfig)>,
}

impl Cluster {
    /// `n` instances on the shared Redis under a fresh prefix, or `None`
    /// when PostgreSQL or Redis is unavailable (a panic in CI).
    pub(crate) async fn start(n: usize, settings: ClusterSettings) -> Option<Self> {
        let db = PgTestDatabase::create().await?;
        let prefix = RedisTestPrefix::create().await?;
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let config = prefix.config(&format!("node{i}"));
            nodes.push(start_node(db.url(), config, &settings).await);
        }
        Some(Self {
            nodes,
            db,
            prefix: Some(prefix),
        })
    }

    /// `n` instances on the Redis at `redis_url` (a throwaway server).
    pub(crate) async fn start_on(
        n: usize,
        redis_url: &str,
        settings: ClusterSettings,
    ) -> Option<Self> {
        let db = PgTestDatabase::create().await?;
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let config = RedisConfig::new(redis_url).with_instance_id(format!("node{i}"));
            nodes.push(start_node(db.url(), config, &settings).await);
        }
        Some(Self {
            nodes,
            db,
            prefix: None,
        })
    }

    /// The Redis URL and key prefix the instances share (when started on
    /// the shared Redis).
    pub(crate) fn redis(&self) -> Option<(&str, &str)> {
        self.prefix
            .as_ref()
            .map(|p| (p.url.as_str(), p.prefix.as_str()))
    }

    pub(crate) async fn teardown(self) {
        let Self { nodes, db, prefix } = self;
        drop(nodes);
        // Closing sockets record `last_seen` in Redis from the servers'
        // own tasks: let them finish before the prefix is deleted.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(prefix) = prefix {
            prefix.teardown().await;
        }
        db.teardown().await;
    }
}

/// One instance: its own pool, Redis link, clock and mailer.
pub(crate) async fn start_node(
    db_url: &str,
    redis: RedisConfig,
    settings: &ClusterSettings,
) -> TestApp {
    let pool = PgPoolConfig {
        min_connections: 0,
        max_connections: 5,
        acquire_timeout: Duration::from_secs(30),
    };
    let store = PgStore::connect(db_url, pool).await.expect("store");
    let mailer = Arc::new(MemoryMailer::new());
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let id = redis.instance_id.clone();
    let backend = RedisBackend::connect_with_clock(redis, clock.clone())
        .await
        .expect("redis");
    let mut builder = ChatEngine::builder();
    if let Some(blobs) = &settings.blobs {
        builder = builder.blobs(blobs.clone());
    }
    if let Some((pusher, config)) = &settings.push {
        builder = builder.pusher(pusher.clone()).push_config(config.clone());
    }
    if let Some((sender, config)) = &settings.webhooks {
        builder = builder
            .webhook_sender(sender.clone())
            .webhook_config(config.clone());
    }
    let engine = builder
        .auth_config(test_auth_config())
        .conversation_config(settings.conversations.clone())
        .store(Arc::new(store))
        .bus(backend.bus())
        .queue(backend.queue())
        .presence(backend.presence())
        .due_work(backend.due_work())
        .rate_limiter(backend.rate_limiter())
        .mailer(mailer.clone())
        .clock(clock.clone())
        .jwt_secret(SECRET.to_vec())
        .build()
        .expect("engine");
    let state = AppState::with_settings(engine, settings.http.clone()).with_instance(Instance {
        id,
        redis: Some(backend),
    });
    serve_state(state, mailer, clock).await
}

pub(crate) fn direct(to: &Tokens, content: &str, client_msg_id: &str) -> Value {
    json!({
        "type": "message.send",
        "recipient_id": to.user_id,
        "content": content,
        "client_msg_id": client_msg_id,
    })
}

#[tokio::test]
async fn a_direct_message_crosses_instances_with_receipts_and_typing() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = b.signup("bob").await;
    let mut alice_ws = a.ws(&alice.access).await;
    let mut bob_ws = b.ws(&bob.access).await;

    alice_ws.send(direct(&bob, "across", "c1")).await;
    let sent = alice_ws.next_of("message.sent").await;
    let new = bob_ws.next_of("message.new").await;
    assert_eq!(new["message_id"], sent["message_id"]);
    assert_eq!(new["content"], "across");

    bob_ws
        .send(json!({"type": "messages.ack", "message_ids": [sent["message_id"]]}))
        .await;
    let delivered = alice_ws.next_of("message.delivered").await;
    assert_eq!(delivered["user_id"], bob.user_id.as_str());

    bob_ws
        .send(json!({"type": "message.read", "message_id": sent["message_id"]}))
        .await;
    let read = alice_ws.next_of("message.read").await;
    assert_eq!(read["user_id"], bob.user_id.as_str());

    bob_ws
        .send(json!({"type": "typing", "recipient_id": alice.user_id, "is_typing": true}))
        .await;
    let typing = alice_ws.next_of("typing").await;
    assert_eq!(typing["user_id"], bob.user_id.as_str());
    assert_eq!(typing["is_typing"], true);

    bob_ws.send(direct(&alice, "back", "c2")).await;
    assert_eq!(alice_ws.next_of("message.new").await["content"], "back");
    c.teardown().await;
}

#[tokio::test]
async fn devices_on_two_instances_get_each_event_once() {
    let Some(c) = Cluster::start(3, ClusterSettings::default()).await else {
        return;
    };
    let alice = c.nodes[0].signup("alice").await;
    let bob = c.nodes[0].signup("bob").await;
    let mut phone = c.nodes[0].ws(&alice.access).await;
    let mut laptop = c.nodes[1].ws(&alice.access).await;
    let mut bob_a = c.nodes[0].ws(&bob.access).await;
    let mut bob_b = c.nodes[1].ws(&bob.access).await;
    let mut bob_c = c.nodes[2].ws(&bob.access).await;

    for i in 0..3 {
        phone
            .send(direct(&bob, &format!("m{i}"), &format!("c{i}")))
            .await;
        phone.next_of("message.sent").await;
    }
    for ws in [&mut bob_a, &mut bob_b, &mut bob_c, &mut laptop] {
        for i in 0..3 {
            let new = ws.next_of("message.new").await;
            assert_eq!(new["content"], format!("m{i}"));
            assert_eq!(new["seq"], i + 1);
        }
        ws.expect_silence(QUIET, &["presence"]).await;
    }
    phone.expect_silence(QUIET, &["presence"]).await;
    c.teardown().await;
}

/// Three members on three instances send at once; every member's device
/// gets every message once, in seq order.
#[tokio::test]
async fn concurrent_group_senders_on_three_instances_keep_seq_order() {
    let Some(c) = Cluster::start(3, ClusterSettings::default()).await else {
        return;
    };
    let names = ["ann", "ben", "cat"];
    let mut users = Vec::new();
    for n in names {
        users.push(c.nodes[0].signup(n).await);
    }
    let group = c.nodes[0]
        .create_group(&users[0], "three", &[&users[1], &users[2]])
        .await;
    let mut sockets = Vec::new();
    for (i, u) in users.iter().enumerate() {
        sockets.push(c.nodes[i].ws(&u.access).await);
    }
    const EACH: usize = 30;
    // Every member sends EACH messages as fast as it can.
    for round in 0..EACH {
        for (i, ws) in sockets.iter_mut().enumerate() {
            ws.send(json!({
                "type": "message.group.send",
                "group_id": group,
                "content": format!("{i}-{round}"),
                "client_msg_id": format!("{i}-{round}"),
            }))
            .await;
        }
    }
    let total = (EACH * names.len()) as u64;
    for (i, ws) in sockets.iter_mut().enumerate() {
        let mut last_seq = 0;
        let mut sent_by_me = 0;
        let mut seen = std::collections::HashSet::new();
        while seen.len() + sent_by_me < total as usize {
            let frame = ws.next().await;
            match frame["type"].as_str() {
                Some("message.group.new") => {
                    let seq = frame["seq"].as_u64().expect("seq");
                    assert!(seq > last_seq, "member {i}: seq {seq} after {last_seq}");
                    last_seq = seq;
                    assert!(seen.insert(seq), "member {i}: seq {seq} twice");
                }
                Some("message.sent") => sent_by_me += 1,
                Some("error") => panic!("member {i}: {frame}"),
                _ => {}
            }
        }
        assert_eq!(sent_by_me, EACH, "member {i}: every send acknowledged");
    }
    c.teardown().await;
}

#[tokio::test]
async fn presence_and_the_offline_queue_cross_instances() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    a.send_direct(&alice, &bob, "hello").await;
    let mut alice_ws = a.ws(&alice.access).await;

    let bob_ws = b.ws(&bob.access).await;
    let online = alice_ws.next_of("presence").await;
    assert_eq!(online["user_id"], bob.user_id.as_str());
    assert_eq!(online["online"], true);
    let (_, profile) = a
        .get_as(&alice.access, &format!("/api/v1/users/{}", bob.user_id))
        .await;
    assert_eq!(profile["online"], true, "{profile}");
    bob_ws.close().await;
    let offline = alice_ws.next_of("presence").await;
    assert_eq!(offline["online"], false);
    assert!(offline["last_seen"].is_string(), "{offline}");

    // Bob is offline everywhere: messages sent on A wait in his queue...
    let mut last_sent = Value::Null;
    for i in 0..3 {
        alice_ws
            .send(direct(&bob, &format!("while away {i}"), &format!("w{i}")))
            .await;
        last_sent = alice_ws.next_of("message.sent").await;
    }
    let queue = a.engine.realtime().queue.clone();
    let bob_id = bob.user_id.parse().expect("id");
    // "hello" was queued too: Bob's first connection never acknowledged it.
    assert_eq!(queue.len(bob_id).await.expect("len"), 4);

    // ...and reach him when he connects to B, which clears the queue.
    let mut bob_ws = b.ws(&bob.access).await;
    assert_eq!(
        Ws::contents(&mut bob_ws, 4).await,
        ["hello", "while away 0", "while away 1", "while away 2"]
    );
    bob_ws
        .send(json!({"type": "messages.ack", "conversation_id": last_sent["conversation_id"], "seq": last_sent["seq"]}))
        .await;
    alice_ws.next_of("message.delivered").await;
    assert_eq!(b.engine.realtime().queue.len(bob_id).await.expect("len"), 0);
    c.teardown().await;
}

#[tokio::test]
async fn the_message_rate_limit_holds_across_instances() {
    let settings = ClusterSettings {
        conversations: ConversationConfig {
            message_limit: RateLimit::new(3, Duration::from_secs(60)),
            ..ConversationConfig::default()
        },
        ..ClusterSettings::default()
    };
    let Some(c) = Cluster::start(2, settings).await else {
        return;
    };
    let alice = c.nodes[0].signup("alice").await;
    let bob = c.nodes[0].signup("bob").await;
    c.nodes[0].send_direct(&alice, &bob, "1").await;
    c.nodes[1].send_direct(&alice, &bob, "2").await;
    c.nodes[0].send_direct(&alice, &bob, "3").await;
    let refused = c.nodes[1]
        .post_as(
            &alice.access,
            "/api/v1/messages/send",
            json!({"recipient_id": bob.user_id, "content": "4"}),
        )
        .await;
    assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    c.teardown().await;
}

#[tokio::test]
async fn the_failed_login_limit_holds_across_instances() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    c.nodes[0].signup("alice").await;
    // Five failures (the default limit) spread over both instances...
    for i in 0..5 {
        let (status, _) = c.nodes[i % 2].login("alice", "wrong password 1!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // ...and the next attempt is refused on either, the right password too.
    for node in &c.nodes {
        assert_error(
            &node.login("alice", &password_of("alice")).await,
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
        );
    }
    c.teardown().await;
}

#[tokio::test]
async fn the_reset_email_limit_keeps_no_address_in_redis() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let Some((url, prefix)) = c.redis() else {
        panic!("the cluster shares a Redis");
    };
    c.nodes[0].signup("alice").await;
    let (status, _) = c.nodes[1]
        .post(
            "/api/v1/auth/forgot-password",
            json!({"email": "alice@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The limit is counted in the background: wait for the reset email.
    for _ in 0..100 {
        if !c.nodes[1].mailer.outbox().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.nodes[1].mailer.outbox().len(), 1);
    let mut conn = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert!(keys.iter().any(|k| k.contains("reset-email")), "{keys:?}");
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("alice") || k.contains("example.com")),
        "{keys:?}"
    );
    c.teardown().await;
}

#[tokio::test]
async fn logout_on_one_instance_stops_the_session_on_every_instance() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let mut on_b = b.ws(&alice.access).await;
    let (status, _) = b.get_as(&alice.access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = a
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": alice.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(on_b.close_code().await, 4001);
    // The revocation reached B's own set: the token is refused there.
    assert_error(
        &b.get_as(&alice.access, "/api/v1/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(b.ws_refusal(&alice.access).await, 401);
    c.teardown().await;
}

/// B caches the group's members while Carol sends there; after A removes
/// Bob, Carol's next message on B must not reach him.
#[tokio::test]
async fn a_member_removed_on_one_instance_stops_receiving_on_another() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let ann = a.signup("ann").await;
    let bob = a.signup("bob").await;
    let carol = a.signup("carol").await;
    let group = a.create_group(&ann, "team", &[&bob, &carol]).await;
    let mut bob_ws = b.ws(&bob.access).await;
    b.send_group(&carol, &group, "before").await;
    assert_eq!(
        bob_ws.next_of("message.group.new").await["content"],
        "before"
    );

    let (status, body) = a
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/groups/{group}/members/{}", bob.user_id),
            &ann.access,
            None,
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    // Notices travel asynchronously: give B a moment to hear this one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.send_group(&carol, &group, "after").await;
    bob_ws
        .expect_silence(QUIET, &["presence", "message.read"])
        .await;
    c.teardown().await;
}

#[tokio::test]
async fn readyz_names_the_instance_and_reports_redis() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    for (i, node) in c.nodes.iter().enumerate() {
        let (status, body) = node.get("/readyz", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["instance_id"], format!("node{i}"));
        assert_eq!(body["redis"], "ok");
        assert_eq!(body["store"], "ok");
    }
    c.teardown().await;
}

/// Opens a socket on the server at `base` (an instance run as a process).
pub(crate) async fn ws_at(base: &str, tokens: &Tokens) -> Ws {
    Ws::connect(base, &tokens.access).await
}

//! Push notifications through the engine: subscriptions and their checks,
//! and the notifier reading the offline queue (one notification per
//! conversation and burst, mute and "mentions only", online users, gone
//! and failing push services, one sender among instances).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::memory::{
    MemoryDueWork, MemoryOfflineQueue, MemoryPresence, MemoryPusher, MemoryStore,
};
use chat_core::model::{ConversationKind, PushLevel, PushNotification};
use chat_core::push::{PushOutcome, SubscribeRequest};
use chat_core::testkit::fixtures::{create_session, create_user};
use chat_core::{
    ChatEngine, ChatError, ConversationId, ConversationRef, GroupName, ManualClock, MessageContent,
    OutgoingMessage, PushConfig, Timestamp, UserId,
};

struct World {
    engine: ChatEngine,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    pusher: Arc<MemoryPusher>,
    alice: UserId,
    bob: UserId,
    group: ConversationId,
}

fn config() -> PushConfig {
    PushConfig {
        retry_delays: vec![Duration::from_millis(1), Duration::from_millis(1)],
        ..PushConfig::default()
    }
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_767_868_200_000)));
    let pusher = Arc::new(MemoryPusher::new());
    let engine = ChatEngine::builder()
        .store(store.clone())
        .clock(clock.clone())
        .pusher(pusher.clone())
        .push_config(config())
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let carol = create_user(store.as_ref(), "carol").await.id;
    let group = engine
        .conversations()
        .create_group(
            alice,
            GroupName::parse("team").expect("name"),
            vec![bob, carol],
        )
        .await
        .expect("group")
        .conversation
        .id;
    World {
        engine,
        store,
        clock,
        pusher,
        alice,
        bob,
        group,
    }
}

/// A well-formed subscription of a made-up device at `endpoint`.
fn device(endpoint: &str, level: PushLevel) -> SubscribeRequest {
    let mut key = [7u8; 65];
    key[0] = 4;
    SubscribeRequest {
        endpoint: endpoint.to_owned(),
        p256dh: URL_SAFE_NO_PAD.encode(key),
        auth: URL_SAFE_NO_PAD.encode([9u8; 16]),
        level,
    }
}

impl World {
    async fn send(&self, from: UserId, to: ConversationRef, text: &str) {
        self.engine
            .conversations()
            .send(
                from,
                to,
                OutgoingMessage::text(MessageContent::parse(text).expect("content")),
            )
            .await
            .expect("send");
    }

    /// Lets the burst settle, runs one round and takes what was pushed.
    async fn round(&self) -> Vec<(String, PushNotification)> {
        self.clock.advance(Duration::from_secs(2));
        self.engine.push().notify_due().await.expect("notify");
        let mut pushed = self.pusher.take();
        pushed.sort_by(|a, b| (&a.0, a.1.seq).cmp(&(&b.0, b.1.seq)));
        pushed
    }
}

#[tokio::test]
async fn a_burst_makes_one_notification_per_conversation_and_device() {
    let w = world().await;
    let push = w.engine.push();
    push.subscribe(w.bob, device("https://push.example/all", PushLevel::All))
        .await
        .expect("subscribe");
    push.subscribe(
        w.bob,
        device("https://push.example/mentions", PushLevel::Mentions),
    )
    .await
    .expect("subscribe");
    for text in ["one", "two", "three"] {
        w.send(w.alice, ConversationRef::Group(w.group), text).await;
    }
    w.send(w.alice, ConversationRef::Direct(w.bob), "psst")
        .await;

    // Nothing before the burst settles.
    assert_eq!(push.notify_due().await.expect("notify"), 0);
    assert!(w.pusher.take().is_empty());

    let pushed = w.round().await;
    let summary: Vec<(&str, ConversationKind, u32)> = pushed
        .iter()
        .map(|(e, n)| (e.as_str(), n.conversation_kind, n.count))
        .collect();
    assert_eq!(
        summary,
        [
            ("https://push.example/all", ConversationKind::Direct, 1),
            ("https://push.example/all", ConversationKind::Group, 3),
            ("https://push.example/mentions", ConversationKind::Direct, 1),
        ],
        "the mentions-only device hears of the direct message only"
    );
    let group = &pushed[1].1;
    assert_eq!(
        (group.title.as_str(), group.body.as_str()),
        ("team", "alice: three")
    );
    assert_eq!(group.badge, 4, "every unread message");
    assert!(!group.mentioned);
    let direct = &pushed[0].1;
    assert_eq!(
        (direct.title.as_str(), direct.body.as_str()),
        ("alice", "psst")
    );

    // Handled: the next round has nothing, though nothing was read.
    assert!(w.round().await.is_empty());
    w.send(w.alice, ConversationRef::Group(w.group), "four")
        .await;
    let pushed = w.round().await;
    assert_eq!(pushed.len(), 1, "one new message, one device");
    assert_eq!((pushed[0].1.count, pushed[0].1.badge), (1, 5));
}

#[tokio::test]
async fn muted_conversations_notify_nothing_and_mentions_reach_mentions_only_devices() {
    let w = world().await;
    let push = w.engine.push();
    push.subscribe(
        w.bob,
        device("https://push.example/mentions", PushLevel::Mentions),
    )
    .await
    .expect("subscribe");
    w.engine
        .conversations()
        .set_muted(w.bob, w.group, true)
        .await
        .expect("mute");
    w.send(w.alice, ConversationRef::Group(w.group), "@bob look")
        .await;
    assert!(w.round().await.is_empty(), "muted");

    w.engine
        .conversations()
        .set_muted(w.bob, w.group, false)
        .await
        .expect("unmute");
    w.send(w.alice, ConversationRef::Group(w.group), "no mention")
        .await;
    assert!(w.round().await.is_empty(), "not a mention");
    w.send(w.alice, ConversationRef::Group(w.group), "@bob now")
        .await;
    let pushed = w.round().await;
    assert_eq!(pushed.len(), 1);
    assert!(pushed[0].1.mentioned);
    assert_eq!(pushed[0].1.body, "alice: @bob now");
}

#[tokio::test]
async fn a_user_who_comes_online_before_the_push_gets_none() {
    let w = world().await;
    let push = w.engine.push();
    push.subscribe(w.bob, device("https://push.example/all", PushLevel::All))
        .await
        .expect("subscribe");
    w.send(w.alice, ConversationRef::Direct(w.bob), "hi").await;
    let session = create_session(w.store.as_ref(), w.bob, "bob-session").await;
    let (connection, _catch_up) = w
        .engine
        .delivery()
        .connect(w.bob, session)
        .await
        .expect("connect");
    assert!(w.round().await.is_empty(), "bob is looking");
    w.engine.delivery().disconnect(connection).await;
    w.send(w.alice, ConversationRef::Direct(w.bob), "still there?")
        .await;
    let pushed = w.round().await;
    assert_eq!(pushed.len(), 1);
    assert_eq!(
        (pushed[0].1.count, pushed[0].1.body.as_str()),
        (1, "still there?"),
        "only what came while bob was away"
    );
}

#[tokio::test]
async fn gone_subscriptions_are_deleted_and_failing_pushes_are_retried_then_dropped() {
    let w = world().await;
    let push = w.engine.push();
    let gone = push
        .subscribe(w.bob, device("https://push.example/gone", PushLevel::All))
        .await
        .expect("subscribe");
    push.subscribe(w.bob, device("https://push.example/down", PushLevel::All))
        .await
        .expect("subscribe");
    push.subscribe(w.bob, device("https://push.example/fine", PushLevel::All))
        .await
        .expect("subscribe");
    w.pusher
        .answer("https://push.example/gone", PushOutcome::Gone);
    w.pusher.answer(
        "https://push.example/down",
        PushOutcome::Retry {
            after: None,
            reason: "503".into(),
        },
    );
    w.send(w.alice, ConversationRef::Direct(w.bob), "hi").await;
    w.send(w.alice, ConversationRef::Group(w.group), "all")
        .await;
    let pushed = w.round().await;
    assert!(
        pushed.iter().all(|(e, _)| e == "https://push.example/fine") && pushed.len() == 2,
        "{pushed:?}"
    );
    let left: Vec<_> = push
        .subscriptions(w.bob)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.endpoint)
        .collect();
    assert_eq!(
        left,
        ["https://push.example/down", "https://push.example/fine"]
    );
    assert!(
        !left.contains(&gone.endpoint),
        "the gone device got one attempt and was deleted"
    );
    let metrics = w.engine.render_metrics();
    // Two notifications to the failing device, three attempts each.
    for line in [
        "chat_push_notifications_total{outcome=\"retry\"} 6",
        "chat_push_notifications_total{outcome=\"gone\"} 1",
        "chat_push_notifications_total{outcome=\"delivered\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn subscriptions_are_checked_counted_and_owned() {
    let w = world().await;
    let push = w.engine.push();
    fn code<T>(r: Result<T, ChatError>) -> Option<(&'static str, Option<&'static str>)> {
        r.err().map(|e| (e.code(), e.field()))
    }
    let mut bad = device("ftp://push.example/x", PushLevel::All);
    assert_eq!(
        code(push.subscribe(w.bob, bad.clone()).await),
        Some(("INVALID_PUSH_SUBSCRIPTION", Some("endpoint")))
    );
    bad.endpoint = "https://push.example/x".into();
    bad.p256dh = URL_SAFE_NO_PAD.encode([4u8; 33]);
    assert_eq!(
        code(push.subscribe(w.bob, bad.clone()).await),
        Some(("INVALID_PUSH_SUBSCRIPTION", Some("keys.p256dh")))
    );
    bad = device("https://push.example/x", PushLevel::All);
    bad.auth = "not base64!".into();
    assert_eq!(
        code(push.subscribe(w.bob, bad).await),
        Some(("INVALID_PUSH_SUBSCRIPTION", Some("keys.auth")))
    );

    let max = chat_core::model::MAX_PUSH_SUBSCRIPTIONS_PER_USER;
    let mut first = None;
    for i in 0..max {
        let sub = push
            .subscribe(
                w.bob,
                device(&format!("https://push.example/{i}"), PushLevel::All),
            )
            .await
            .expect("subscribe");
        first.get_or_insert(sub);
    }
    assert_eq!(
        code(
            push.subscribe(
                w.bob,
                device("https://push.example/one-more", PushLevel::All)
            )
            .await
        ),
        Some(("TOO_MANY_PUSH_SUBSCRIPTIONS", None))
    );
    let first = first.expect("one");
    let renewed = push
        .subscribe(w.bob, device(&first.endpoint, PushLevel::Mentions))
        .await
        .expect("renewing a device is not one more");
    assert_eq!((renewed.id, renewed.level), (first.id, PushLevel::Mentions));

    assert_eq!(
        code(push.unsubscribe(w.alice, first.id).await),
        Some(("PUSH_SUBSCRIPTION_NOT_FOUND", None)),
        "not alice's"
    );
    assert_eq!(
        code(push.set_level(w.alice, first.id, PushLevel::All).await),
        Some(("PUSH_SUBSCRIPTION_NOT_FOUND", None))
    );
    let changed = push
        .set_level(w.bob, first.id, PushLevel::All)
        .await
        .expect("level");
    assert_eq!(changed.level, PushLevel::All);
    push.unsubscribe(w.bob, first.id)
        .await
        .expect("unsubscribe");
    assert_eq!(
        push.subscriptions(w.bob).await.expect("list").len(),
        max - 1
    );
}

#[tokio::test]
async fn two_instances_sharing_the_queue_push_each_notification_once() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_767_868_200_000)));
    let queue = Arc::new(MemoryOfflineQueue::with_clock(clock.clone()));
    let presence = Arc::new(MemoryPresence::new());
    let due = Arc::new(MemoryDueWork::with_clock(clock.clone()));
    let pusher = Arc::new(MemoryPusher::new());
    let instance = || {
        ChatEngine::builder()
            .store(store.clone())
            .clock(clock.clone())
            .queue(queue.clone())
            .presence(presence.clone())
            .due_work(due.clone())
            .pusher(pusher.clone())
            .push_config(config())
            .build()
            .expect("engine")
    };
    let (one, two) = (instance(), instance());
    let alice = create_user(store.as_ref(), "alice").await.id;
    let users: Vec<UserId> = {
        let mut users = Vec::new();
        for i in 0..20 {
            users.push(create_user(store.as_ref(), &format!("user{i}")).await.id);
        }
        users
    };
    for (i, user) in users.iter().enumerate() {
        let instance = if i % 2 == 0 { &one } else { &two };
        instance
            .push()
            .subscribe(
                *user,
                device(&format!("https://push.example/{i}"), PushLevel::All),
            )
            .await
            .expect("subscribe");
    }
    let group = one
        .conversations()
        .create_group(alice, GroupName::parse("all").expect("name"), users.clone())
        .await
        .expect("group")
        .conversation
        .id;
    one.conversations()
        .send(
            alice,
            ConversationRef::Group(group),
            OutgoingMessage::text(MessageContent::parse("hello all").expect("content")),
        )
        .await
        .expect("send");
    clock.advance(Duration::from_secs(2));
    let (a, b) = tokio::join!(one.push().notify_due(), two.push().notify_due());
    let claimed = a.expect("one") + b.expect("two");
    assert_eq!(claimed, users.len(), "every member claimed once in all");
    let mut endpoints: Vec<String> = pusher.take().into_iter().map(|(e, _)| e).collect();
    endpoints.sort();
    let mut expected: Vec<String> = (0..users.len())
        .map(|i| format!("https://push.example/{i}"))
        .collect();
    expected.sort();
    assert_eq!(endpoints, expected, "each device once");
}

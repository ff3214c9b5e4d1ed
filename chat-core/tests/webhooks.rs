//! Outgoing webhooks through the engine: registration checks, signed
//! deliveries of the events each webhook wants in seq order, retries and
//! dead letters, replays, and one delivery per event among instances.

use std::sync::Arc;
use std::time::Duration;

use chat_core::Clock as _;
use chat_core::memory::{MemoryDueWork, MemoryStore, MemoryWebhookSender};
use chat_core::model::WebhookEvent;
use chat_core::realtime::DueWork;
use chat_core::testkit::fixtures::create_user;
use chat_core::webhooks::{DeliveryOutcome, WebhookRequest, signature};
use chat_core::{
    ChatEngine, ChatError, ConversationConfig, ConversationId, ConversationRef, Emoji, GroupName,
    ManualClock, MessageContent, OutgoingMessage, RateLimit, Timestamp, UserId, WebhookConfig,
};
use serde_json::Value;

struct World {
    engine: ChatEngine,
    clock: Arc<ManualClock>,
    sender: Arc<MemoryWebhookSender>,
    alice: UserId,
    group: ConversationId,
}

fn config() -> WebhookConfig {
    WebhookConfig {
        settle: Duration::ZERO,
        retry_delays: vec![Duration::from_millis(1), Duration::from_millis(1)],
        ..WebhookConfig::default()
    }
}

async fn world() -> World {
    world_with(config(), None).await
}

/// A world with webhook settings of its own and, when given, due work
/// other than the engine's default (which runs on the test's clock).
async fn world_with(config: WebhookConfig, due: Option<Arc<dyn DueWork>>) -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_767_868_200_000)));
    let sender = Arc::new(MemoryWebhookSender::new());
    let mut builder = ChatEngine::builder();
    if let Some(due) = due {
        builder = builder.due_work(due);
    }
    let engine = builder
        .store(store.clone())
        .clock(clock.clone())
        .webhook_sender(sender.clone())
        .webhook_config(config)
        // Tests send bursts of a few hundred messages.
        .conversation_config(ConversationConfig {
            message_limit: RateLimit::new(1_000, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let group = engine
        .conversations()
        .create_group(alice, GroupName::parse("team").expect("name"), vec![bob])
        .await
        .expect("group")
        .conversation
        .id;
    World {
        engine,
        clock,
        sender,
        alice,
        group,
    }
}

fn request(url: &str, events: &[WebhookEvent]) -> WebhookRequest {
    WebhookRequest {
        url: url.to_owned(),
        events: events.to_vec(),
        conversation_id: None,
        secret: Some("a-secret-of-enough-length".to_owned()),
    }
}

impl World {
    async fn send(&self, text: &str) -> chat_core::MessageId {
        self.engine
            .conversations()
            .send(
                self.alice,
                ConversationRef::Group(self.group),
                OutgoingMessage::text(MessageContent::parse(text).expect("content")),
            )
            .await
            .expect("send")
            .message
            .id
    }

    /// Runs dispatcher rounds until one claims nothing; returns the bodies
    /// delivered, by URL, in order.
    async fn deliveries(&self) -> Vec<(String, Value)> {
        while self.engine.webhooks().deliver_due().await.expect("deliver") > 0 {}
        self.sender
            .take()
            .into_iter()
            .map(|(url, d)| {
                let now = (self.clock.now().as_millis() / 1000) as u64;
                assert!(
                    signature::verify("a-secret-of-enough-length", &d.signature, &d.body, now, 300),
                    "signed"
                );
                let body: Value = serde_json::from_slice(&d.body).expect("json");
                assert_eq!(body["event"], d.event);
                assert_eq!(body["id"], d.id);
                (url, body)
            })
            .collect()
    }
}

#[tokio::test]
async fn each_webhook_gets_the_events_it_wants_signed_and_in_order() {
    let w = world().await;
    let hooks = w.engine.webhooks();
    let before = w.send("before any webhook").await;
    w.clock.advance(Duration::from_secs(1));
    let all = hooks
        .register(
            None,
            request("https://hooks.example/all", &WebhookEvent::ALL),
        )
        .await
        .expect("register");
    let mut only_new = request("https://hooks.example/new", &[WebhookEvent::MessageCreated]);
    only_new.conversation_id = Some(w.group);
    hooks.register(None, only_new).await.expect("register");

    let first = w.send("one").await;
    w.send("two").await;
    w.engine
        .conversations()
        .edit_message(
            w.alice,
            w.group,
            first,
            MessageContent::parse("one, edited").expect("content"),
        )
        .await
        .expect("edit");
    w.engine
        .conversations()
        .react(
            w.alice,
            w.group,
            first,
            Emoji::parse("👍").expect("emoji"),
            true,
        )
        .await
        .expect("react");
    let _ = before;

    let got = w.deliveries().await;
    let of = |url: &str| -> Vec<(String, u64)> {
        got.iter()
            .filter(|(u, _)| u == url)
            .map(|(_, b)| {
                (
                    b["event"].as_str().expect("event").to_owned(),
                    b["seq"].as_u64().expect("seq"),
                )
            })
            .collect()
    };
    let everything = of("https://hooks.example/all");
    assert_eq!(
        everything
            .iter()
            .map(|(e, _)| e.as_str())
            .collect::<Vec<_>>(),
        [
            "message.created",
            "message.created",
            "message.edited",
            "reaction.added"
        ],
        "not the message from before it existed"
    );
    let seqs: Vec<u64> = everything.iter().map(|(_, s)| *s).collect();
    assert!(
        seqs.windows(2).all(|p| p[0] < p[1]),
        "in seq order: {seqs:?}"
    );
    assert_eq!(
        of("https://hooks.example/new")
            .iter()
            .map(|(e, _)| e.as_str())
            .collect::<Vec<_>>(),
        ["message.created", "message.created"]
    );
    let created = got
        .iter()
        .find(|(u, b)| u == "https://hooks.example/all" && b["event"] == "message.created")
        .expect("one");
    assert_eq!(
        created.1["data"]["message"]["message_id"],
        first.to_string()
    );
    assert_eq!(created.1["webhook_id"], all.id.to_string());
    assert_eq!(
        created.1["id"],
        format!("{}:{}", w.group, created.1["seq"]),
        "the delivery id is the entry's place in the log"
    );

    // Delivered once: nothing more on the next rounds.
    assert!(w.deliveries().await.is_empty());
}

/// The first delivery in a conversation starts at the webhook's first
/// entry however many came before the dispatcher got to it (more than a
/// page of the log), and never reaches back past the webhook's creation.
#[tokio::test]
async fn a_first_delivery_after_a_burst_starts_at_the_webhooks_first_entry() {
    let w = world().await;
    for i in 0..150 {
        w.send(&format!("old {i}")).await;
    }
    w.clock.advance(Duration::from_secs(1));
    w.engine
        .webhooks()
        .register(
            None,
            request("https://hooks.example/new", &[WebhookEvent::MessageCreated]),
        )
        .await
        .expect("register");
    for i in 0..250 {
        w.send(&format!("new {i}")).await;
    }
    let texts: Vec<String> = w
        .deliveries()
        .await
        .into_iter()
        .map(|(_, body)| {
            body["data"]["message"]["content"]
                .as_str()
                .expect("content")
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..250).map(|i| format!("new {i}")).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn failing_receivers_get_retries_then_dead_letters_that_replay() {
    let w = world().await;
    let hooks = w.engine.webhooks();
    let down = hooks
        .register(
            None,
            request(
                "https://hooks.example/down",
                &[WebhookEvent::MessageCreated],
            ),
        )
        .await
        .expect("register");
    let refusing = hooks
        .register(
            None,
            request(
                "https://hooks.example/refuses",
                &[WebhookEvent::MessageCreated],
            ),
        )
        .await
        .expect("register");
    w.sender.answer(
        "https://hooks.example/down",
        DeliveryOutcome::Retry {
            after: None,
            reason: "503 Service Unavailable".into(),
        },
    );
    w.sender.answer(
        "https://hooks.example/refuses",
        DeliveryOutcome::Failed {
            reason: "400 Bad Request".into(),
        },
    );
    w.send("lost?").await;
    w.send("not lost").await;
    assert!(w.deliveries().await.is_empty());
    assert_eq!(
        w.sender.attempts("https://hooks.example/down"),
        6,
        "3 attempts each"
    );
    assert_eq!(
        w.sender.attempts("https://hooks.example/refuses"),
        2,
        "no retries"
    );
    let letters = hooks.dead_letters(down.id, 10).await.expect("letters");
    assert_eq!(letters.len(), 2);
    assert_eq!(
        (letters[0].attempts, letters[0].last_error.as_str()),
        (3, "503 Service Unavailable")
    );
    assert!(letters[0].seq < letters[1].seq);
    assert_eq!(
        hooks
            .dead_letters(refusing.id, 10)
            .await
            .expect("letters")
            .len(),
        2
    );

    // The receiver is back: a replay delivers the same body and clears the
    // letter.
    w.sender
        .answer("https://hooks.example/down", DeliveryOutcome::Delivered);
    let outcome = hooks.replay(down.id, letters[0].id).await.expect("replay");
    assert_eq!(outcome, DeliveryOutcome::Delivered);
    let replayed = w.sender.take();
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].1.body, letters[0].body.as_bytes());
    assert_eq!(
        hooks
            .dead_letters(down.id, 10)
            .await
            .expect("letters")
            .len(),
        1
    );
    assert!(matches!(
        hooks.replay(down.id, letters[0].id).await,
        Err(ChatError::DeadLetterNotFound)
    ));
    hooks.delete(down.id).await.expect("delete");
    assert!(matches!(
        hooks.dead_letters(down.id, 10).await,
        Err(ChatError::WebhookNotFound)
    ));
}

/// A receiver that keeps asking for retries holds up neither another
/// webhook of the same entries (even entries that come while it waits)
/// nor other conversations, and however long
/// its retries take, its conversation is not taken over meanwhile (the
/// dispatcher renews its claim), so no entry goes out twice.
#[tokio::test]
async fn a_receiver_being_retried_holds_up_nobody_else() {
    let lease = Duration::from_millis(1_500);
    let w = world_with(
        WebhookConfig {
            settle: Duration::ZERO,
            lease,
            poll: Duration::from_millis(20),
            retry_delays: vec![Duration::from_secs(30)],
            ..WebhookConfig::default()
        },
        // Leases on the real clock, which the renewals follow.
        Some(Arc::new(MemoryDueWork::new())),
    )
    .await;
    let hooks = w.engine.webhooks();
    for url in ["https://hooks.example/slow", "https://hooks.example/fast"] {
        hooks
            .register(None, request(url, &[WebhookEvent::MessageCreated]))
            .await
            .expect("register");
    }
    w.sender.answer(
        "https://hooks.example/slow",
        DeliveryOutcome::Retry {
            after: None,
            reason: "503 Service Unavailable".into(),
        },
    );
    let bob = create_user(w.engine.store().as_ref(), "bob2").await.id;
    let other = w
        .engine
        .conversations()
        .create_group(w.alice, GroupName::parse("other").expect("name"), vec![bob])
        .await
        .expect("group")
        .conversation
        .id;
    let dispatcher = hooks.spawn_dispatcher();

    w.send("first").await;
    // The slow receiver's first attempt, then a 30 s wait before its retry.
    wait_for("the slow receiver's first attempt", || {
        w.sender.attempts("https://hooks.example/slow") == 1
    })
    .await;
    w.engine
        .conversations()
        .send(
            w.alice,
            ConversationRef::Group(other),
            OutgoingMessage::text(MessageContent::parse("elsewhere").expect("content")),
        )
        .await
        .expect("send");
    // A later entry of the conversation the slow receiver is stuck on.
    w.send("second").await;
    let mut fast = Vec::new();
    wait_for("the fast receiver's deliveries", || {
        fast.extend(w.sender.take());
        fast.len() == 3
    })
    .await;
    let mut got: Vec<(String, String)> = fast
        .iter()
        .map(|(url, d)| {
            assert_eq!(url, "https://hooks.example/fast");
            let body: Value = serde_json::from_slice(&d.body).expect("json");
            (
                body["conversation_id"].as_str().expect("id").to_owned(),
                body["data"]["message"]["content"]
                    .as_str()
                    .expect("content")
                    .to_owned(),
            )
        })
        .collect();
    // In order within the stuck conversation.
    let in_group: Vec<&str> = got
        .iter()
        .filter(|(c, _)| *c == w.group.to_string())
        .map(|(_, content)| content.as_str())
        .collect();
    assert_eq!(in_group, ["first", "second"]);
    got.sort();
    let mut expected = vec![
        (w.group.to_string(), "first".to_owned()),
        (w.group.to_string(), "second".to_owned()),
        (other.to_string(), "elsewhere".to_owned()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    // The slow receiver got one attempt in each conversation (its second
    // entry in the group waits behind the first). Three leases later,
    // nobody took either over to post an entry again.
    tokio::time::sleep(lease * 3).await;
    assert_eq!(w.sender.attempts("https://hooks.example/slow"), 2);
    assert!(w.sender.take().is_empty());
    dispatcher.abort();
}

/// Polls `done` every 10 ms for up to 10 s.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn registrations_are_checked() {
    let w = world().await;
    let hooks = w.engine.webhooks();
    let code = |r: Result<chat_core::model::Webhook, ChatError>| r.err().map(|e| e.code());
    assert_eq!(
        code(
            hooks
                .register(None, request("ftp://x", &[WebhookEvent::MessageCreated]))
                .await
        ),
        Some("INVALID_URL")
    );
    assert_eq!(
        code(
            hooks
                .register(None, request("https://x.example", &[]))
                .await
        ),
        Some("INVALID_EVENTS")
    );
    assert_eq!(
        code(
            hooks
                .register(
                    None,
                    request(
                        "https://x.example",
                        &[WebhookEvent::MessageCreated, WebhookEvent::MessageCreated]
                    )
                )
                .await
        ),
        Some("INVALID_EVENTS")
    );
    let mut weak = request("https://x.example", &[WebhookEvent::MessageCreated]);
    weak.secret = Some("short".into());
    assert_eq!(code(hooks.register(None, weak).await), Some("WEAK_SECRET"));
    let mut elsewhere = request("https://x.example", &[WebhookEvent::MessageCreated]);
    elsewhere.conversation_id = Some(ConversationId::new());
    assert_eq!(
        code(hooks.register(None, elsewhere).await),
        Some("CONVERSATION_NOT_FOUND")
    );
    let mut generated = request("https://x.example", &[WebhookEvent::MessageCreated]);
    generated.secret = None;
    let hook = hooks.register(None, generated).await.expect("register");
    assert!(hook.secret.len() >= 43, "a generated secret");
    assert!(matches!(
        hooks.delete(chat_core::ids::WebhookId::new()).await,
        Err(ChatError::WebhookNotFound)
    ));
}

#[tokio::test]
async fn two_instances_deliver_each_event_once_and_in_order() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_767_868_200_000)));
    let due = Arc::new(MemoryDueWork::with_clock(clock.clone()));
    let sender = Arc::new(MemoryWebhookSender::new());
    let instance = || {
        ChatEngine::builder()
            .store(store.clone())
            .clock(clock.clone())
            .due_work(due.clone())
            .webhook_sender(sender.clone())
            .webhook_config(config())
            .build()
            .expect("engine")
    };
    let (one, two) = (instance(), instance());
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    one.webhooks()
        .register(
            None,
            request("https://hooks.example/all", &[WebhookEvent::MessageCreated]),
        )
        .await
        .expect("register");
    let mut groups = Vec::new();
    for i in 0..6 {
        let g = one
            .conversations()
            .create_group(
                alice,
                GroupName::parse(&format!("g{i}")).expect("name"),
                vec![bob],
            )
            .await
            .expect("group")
            .conversation
            .id;
        groups.push(g);
    }
    for round in 0..5 {
        for (i, g) in groups.iter().enumerate() {
            let instance = if (i + round) % 2 == 0 { &one } else { &two };
            instance
                .conversations()
                .send(
                    alice,
                    ConversationRef::Group(*g),
                    OutgoingMessage::text(
                        MessageContent::parse(&format!("m{round}")).expect("content"),
                    ),
                )
                .await
                .expect("send");
        }
        // Both dispatchers at once, between the sends.
        let (a, b) = tokio::join!(one.webhooks().deliver_due(), two.webhooks().deliver_due());
        a.expect("one");
        b.expect("two");
    }
    while one.webhooks().deliver_due().await.expect("deliver") > 0 {}
    let bodies: Vec<Value> = sender
        .take()
        .into_iter()
        .map(|(_, d)| serde_json::from_slice(&d.body).expect("json"))
        .collect();
    assert_eq!(bodies.len(), groups.len() * 5, "each message once");
    for g in &groups {
        let texts: Vec<&str> = bodies
            .iter()
            .filter(|b| b["conversation_id"] == g.to_string())
            .map(|b| b["data"]["message"]["content"].as_str().expect("content"))
            .collect();
        assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"], "in order in {g}");
    }
}

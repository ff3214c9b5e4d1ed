//! Edits, deletions, reactions, replies and mentions through the engine:
//! who may do what, what members see live, and what a device that was
//! away gets from its catch-up and `sync`.

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryStore;
use chat_core::model::ChangeKind;
use chat_core::protocol::ServerFrame;
use chat_core::realtime::EventKind;
use chat_core::testkit::fixtures::create_user;
use chat_core::{
    ChatEngine, ChatError, ConversationConfig, ConversationId, ConversationRef, Emoji, GroupName,
    ManualClock, MessageContent, MessageId, OutgoingMessage, PageRequest, SessionId, Timestamp,
    UserId,
};

struct World {
    engine: ChatEngine,
    clock: Arc<ManualClock>,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    group: ConversationId,
}

async fn world(config: ConversationConfig) -> World {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_767_868_200_000)));
    let engine = ChatEngine::builder()
        .store(store.clone())
        .clock(clock.clone())
        .conversation_config(config)
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
        clock,
        alice,
        bob,
        carol,
        group,
    }
}

fn content(text: &str) -> MessageContent {
    MessageContent::parse(text).expect("content")
}

fn emoji(e: &str) -> Emoji {
    Emoji::parse(e).expect("emoji")
}

impl World {
    async fn send(&self, from: UserId, text: &str, reply_to: Option<MessageId>) -> MessageId {
        let mut message = OutgoingMessage::text(content(text));
        message.reply_to = reply_to;
        self.engine
            .conversations()
            .send(from, ConversationRef::Group(self.group), message)
            .await
            .expect("send")
            .message
            .id
    }

    async fn mention_count(&self, user: UserId) -> u64 {
        self.engine
            .conversations()
            .conversation(user, self.group)
            .await
            .expect("overview")
            .mention_count
    }
}

#[tokio::test]
async fn only_the_sender_edits_and_the_edit_window_closes() {
    let config = ConversationConfig {
        edit_window: Some(Duration::from_secs(600)),
        ..ConversationConfig::default()
    };
    let w = world(config).await;
    let c = w.engine.conversations();
    let m = w.send(w.alice, "helo", None).await;
    let err = c
        .edit_message(w.bob, w.group, m, content("hijacked"))
        .await
        .expect_err("bob cannot edit alice's message");
    assert_eq!(err.code(), "PERMISSION_DENIED");
    let edited = c
        .edit_message(w.alice, w.group, m, content("hello"))
        .await
        .expect("edit");
    assert_eq!(edited.message.message.content, "hello");
    assert!(edited.message.message.edited_at.is_some());
    let change = edited.change.expect("an entry");
    assert_eq!((change.change, change.seq), (ChangeKind::Edited, 2));
    w.clock.advance(Duration::from_secs(601));
    let err = c
        .edit_message(w.alice, w.group, m, content("too late"))
        .await
        .expect_err("window closed");
    assert!(matches!(err, ChatError::EditWindowClosed));
    let err = c
        .edit_message(w.alice, w.group, MessageId::new(), content("x"))
        .await
        .expect_err("unknown message");
    assert_eq!(err.code(), "MESSAGE_NOT_FOUND");
}

#[tokio::test]
async fn senders_and_group_admins_delete_and_a_tombstone_stays() {
    let w = world(ConversationConfig::default()).await;
    let c = w.engine.conversations();
    let by_bob = w.send(w.bob, "bob's", None).await;
    let by_carol = w.send(w.carol, "carol's", None).await;
    let err = c
        .delete_message(w.carol, w.group, by_bob)
        .await
        .expect_err("a plain member cannot delete others' messages");
    assert_eq!(err.code(), "PERMISSION_DENIED");
    c.delete_message(w.bob, w.group, by_bob)
        .await
        .expect("own message");
    c.delete_message(w.alice, w.group, by_carol)
        .await
        .expect("the owner moderates");
    let err = c
        .delete_message(w.bob, w.group, by_bob)
        .await
        .expect_err("deleted twice");
    assert!(matches!(err, ChatError::MessageDeleted));
    let err = c
        .react(w.alice, w.group, by_bob, emoji("👍"), true)
        .await
        .expect_err("no reactions on a tombstone");
    assert!(matches!(err, ChatError::MessageDeleted));
    let history = c
        .history(
            w.alice,
            ConversationRef::Group(w.group),
            PageRequest::latest(),
        )
        .await
        .expect("history");
    assert_eq!(history.messages.len(), 2, "tombstones keep their place");
    for v in &history.messages {
        assert_eq!(v.message.content, "");
        assert!(v.message.deleted_at.is_some());
    }
    let unread = c
        .conversation(w.carol, w.group)
        .await
        .expect("overview")
        .membership
        .unread_count();
    assert_eq!(unread, 1, "bob's message: the changes are not unread");
}

#[tokio::test]
async fn reactions_are_counted_per_reader_and_once_per_member() {
    let w = world(ConversationConfig::default()).await;
    let c = w.engine.conversations();
    let m = w.send(w.alice, "lunch?", None).await;
    let first = c
        .react(w.bob, w.group, m, emoji(":+1:"), true)
        .await
        .expect("react");
    assert_eq!(first.change.as_ref().and_then(|c| c.count), Some(1));
    let again = c
        .react(w.bob, w.group, m, emoji("👍"), true)
        .await
        .expect("react again");
    assert_eq!(again.change, None, "nothing changed");
    c.react(w.carol, w.group, m, emoji("👍"), true)
        .await
        .expect("react");
    let page = |user| c.history(user, ConversationRef::Group(w.group), PageRequest::latest());
    let for_bob = page(w.bob).await.expect("history");
    let reactions = &for_bob.messages[0].reactions;
    assert_eq!(reactions.len(), 1);
    assert_eq!(
        (
            reactions[0].emoji.as_str(),
            reactions[0].count,
            reactions[0].me
        ),
        ("👍", 2, true)
    );
    let for_alice = page(w.alice).await.expect("history");
    assert!(!for_alice.messages[0].reactions[0].me);
    let removed = c
        .react(w.bob, w.group, m, emoji("👍"), false)
        .await
        .expect("take back");
    assert_eq!(removed.change.as_ref().and_then(|c| c.count), Some(1));
    assert!(!removed.message.reactions[0].me);
}

#[tokio::test]
async fn replies_quote_their_parent_and_mentions_name_members() {
    let w = world(ConversationConfig::default()).await;
    let c = w.engine.conversations();
    let parent = w.send(w.alice, "who is in?", None).await;
    let reply = w
        .send(
            w.bob,
            "@Alice me, and @carol too. @nobody? @bob",
            Some(parent),
        )
        .await;
    let history = c
        .history(
            w.carol,
            ConversationRef::Group(w.group),
            PageRequest::latest(),
        )
        .await
        .expect("history");
    let view = &history.messages[0];
    assert_eq!(view.message.id, reply);
    assert_eq!(
        view.message.mentions,
        vec![w.alice, w.carol],
        "members only, never oneself"
    );
    let quote = view.reply.as_ref().expect("a quote");
    assert_eq!((quote.message_id, quote.sender_id), (parent, w.alice));
    assert_eq!(quote.excerpt, "who is in?");
    assert_eq!(w.mention_count(w.alice).await, 1);
    assert_eq!(w.mention_count(w.carol).await, 1);
    assert_eq!(w.mention_count(w.bob).await, 0);

    c.delete_message(w.alice, w.group, parent)
        .await
        .expect("delete parent");
    let history = c
        .history(
            w.carol,
            ConversationRef::Group(w.group),
            PageRequest::latest(),
        )
        .await
        .expect("history");
    let quote = history.messages[0].reply.as_ref().expect("still a quote");
    assert!(quote.deleted);
    assert_eq!(quote.excerpt, "");
    let err = c
        .send(
            w.carol,
            ConversationRef::Group(w.group),
            OutgoingMessage {
                reply_to: Some(parent),
                ..OutgoingMessage::text(content("late reply"))
            },
        )
        .await
        .expect_err("no replies to a deleted message");
    assert!(matches!(err, ChatError::MessageDeleted));

    c.edit_message(w.bob, w.group, reply, content("me only"))
        .await
        .expect("edit");
    assert_eq!(
        w.mention_count(w.carol).await,
        0,
        "the edit took the mention out"
    );
    c.mark_read(w.alice, w.group, None).await.expect("read");
    assert_eq!(w.mention_count(w.alice).await, 0);
}

#[tokio::test]
async fn a_device_that_was_away_gets_changes_in_its_catch_up_and_sync() {
    let w = world(ConversationConfig::default()).await;
    let c = w.engine.conversations();
    let d = w.engine.delivery();
    let m = w.send(w.alice, "first", None).await;
    // Bob's device has everything so far.
    d.ack(
        w.bob,
        chat_core::AckTarget::Through {
            conversation: w.group,
            seq: 1,
        },
    )
    .await
    .expect("ack");
    c.edit_message(w.alice, w.group, m, content("first, edited"))
        .await
        .expect("edit");
    c.react(w.carol, w.group, m, emoji("🎉"), true)
        .await
        .expect("react");
    w.send(w.carol, "second", None).await;

    let (connection, mut catch_up) = d.connect(w.bob, SessionId::new()).await.expect("connect");
    let batch = d
        .next_offline_batch(&mut catch_up)
        .await
        .expect("batch")
        .expect("something to send");
    assert_eq!(batch.messages.len(), 1);
    assert_eq!(batch.messages[0].message.message.content, "second");
    let kinds: Vec<(u64, ChangeKind)> = batch.changes.iter().map(|c| (c.seq, c.change)).collect();
    assert_eq!(
        kinds,
        vec![(2, ChangeKind::Edited), (3, ChangeKind::ReactionAdded)]
    );
    assert_eq!(batch.changes[0].content.as_deref(), Some("first, edited"));
    assert_eq!(batch.changes[1].count, Some(1));
    assert!(
        d.next_offline_batch(&mut catch_up)
            .await
            .expect("done")
            .is_none()
    );

    let sync = d.sync(w.bob, w.group, 1, None).await.expect("sync");
    assert_eq!(sync.messages.len(), 1);
    assert_eq!(sync.changes.len(), 2);
    assert!(!sync.has_more);
    let earlier = d.sync(w.bob, w.group, 0, Some(2)).await.expect("sync");
    assert_eq!(earlier.messages[0].message.content, "first, edited");
    assert_eq!(
        earlier.messages[0].reactions.len(),
        1,
        "messages come with their reactions"
    );
    assert_eq!(earlier.changes.len(), 1);
    assert!(earlier.has_more);

    // Live: the change reaches every member's connection, the actor's too.
    let mut subscription = connection.subscription;
    c.react(w.bob, w.group, m, emoji("🎉"), true)
        .await
        .expect("react");
    let event = tokio::time::timeout(Duration::from_secs(5), subscription.recv())
        .await
        .expect("in time")
        .expect("an event");
    let EventKind::Frame(frame) = event.kind() else {
        panic!("a frame");
    };
    let parsed: ServerFrame = serde_json::from_slice(&frame.json).expect("json");
    let ServerFrame::MessageChanged(change) = parsed else {
        panic!("message.changed, got {parsed:?}");
    };
    assert_eq!(
        (change.actor_id, change.count, change.seq),
        (w.bob, Some(2), 5)
    );
    assert_eq!(frame.message, Some((w.group, 5)), "ordered with messages");
}

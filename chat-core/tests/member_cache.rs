//! The member cache routes messages; it never decides who may send.
//!
//! Two engines share one store but not a bus, as two instances do while
//! their link is down: a membership change on one is never announced to
//! the other, whose cached member lists go stale. The store still decides.

use std::sync::Arc;

use chat_core::memory::MemoryStore;
use chat_core::testkit::fixtures::create_user;
use chat_core::{
    ChatEngine, ChatError, ConversationId, ConversationRef, GroupName, MessageContent,
    OutgoingMessage, SessionId, TypingTarget, UserId,
};

fn instance(store: &Arc<MemoryStore>) -> ChatEngine {
    ChatEngine::builder()
        .store(store.clone())
        .build()
        .expect("engine")
}

fn text(content: &str) -> OutgoingMessage {
    OutgoingMessage::text(MessageContent::parse(content).expect("content"))
}

async fn send(engine: &ChatEngine, from: UserId, group: ConversationId, content: &str) {
    engine
        .conversations()
        .send(from, ConversationRef::Group(group), text(content))
        .await
        .expect("send");
}

/// Alice's group with Bob, known to both instances' caches.
async fn group_on_two_instances() -> (ChatEngine, ChatEngine, ConversationId, [UserId; 3]) {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (instance(&store), instance(&store));
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let carol = create_user(store.as_ref(), "carol").await.id;
    let group = a
        .conversations()
        .create_group(alice, GroupName::parse("team").expect("name"), vec![bob])
        .await
        .expect("group")
        .conversation
        .id;
    // Both instances route a message of the group, so both cache its
    // members as {alice, bob}.
    send(&a, alice, group, "on a").await;
    send(&b, bob, group, "on b").await;
    (a, b, group, [alice, bob, carol])
}

#[tokio::test]
async fn a_member_added_elsewhere_can_send_and_type_at_once() {
    let (a, b, group, [alice, _bob, carol]) = group_on_two_instances().await;
    a.conversations()
        .add_members(alice, group, vec![carol])
        .await
        .expect("add carol");

    // Instance B never heard of the change; its cache says carol is not a
    // member, and the store says she is.
    let sent = b
        .conversations()
        .send(carol, ConversationRef::Group(group), text("hello"))
        .await
        .expect("carol sends through the instance with the stale cache");
    assert_eq!(sent.message.seq, 3);
    let (connection, _) = b
        .delivery()
        .connect(carol, SessionId::new())
        .await
        .expect("connect");
    b.delivery()
        .typing(&connection, TypingTarget::Conversation(group), true)
        .await
        .expect("carol types through the instance with the stale cache");
}

#[tokio::test]
async fn a_member_removed_elsewhere_cannot_send() {
    let (a, b, group, [alice, bob, _carol]) = group_on_two_instances().await;
    a.conversations()
        .remove_member(alice, group, bob)
        .await
        .expect("remove bob");

    // B's cache still names bob; the store refuses his message.
    let refused = b
        .conversations()
        .send(bob, ConversationRef::Group(group), text("still here?"))
        .await;
    assert!(
        matches!(refused, Err(ChatError::ConversationNotFound)),
        "{refused:?}"
    );
    let history = a
        .conversations()
        .history(alice, ConversationRef::Group(group), Default::default())
        .await
        .expect("history");
    assert_eq!(history.messages.len(), 2, "nothing of bob's was stored");
}

//! Conformance cases for [`MessageStore`](crate::store::MessageStore).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::fixtures::{
    at, create_direct, create_group, create_user, membership, new_message, send, send_at, t0,
};
use crate::domain::ClientMsgId;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{InsertOutcome, Message};
use crate::store::Store;

/// Seqs start at 1 and count up by one; the conversation follows.
pub async fn messages_seq_starts_at_one_without_gaps(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    for (i, sender) in [a, b, a, a, b].into_iter().enumerate() {
        let m = send_at(&*store, d, sender, &format!("m{i}"), at(i as u64)).await;
        assert_eq!(m.seq, i as u64 + 1);
        assert_eq!(m.conversation_id, d);
        assert_eq!(m.sender_id, sender);
        assert_eq!(m.content, format!("m{i}"));
        assert_eq!(m.message_type, "text");
        assert_eq!(m.created_at, at(i as u64));
        assert_eq!(store.message(d, m.id).await.expect("ok"), Some(m));
    }
    let conv = membership(&*store, d, a).await.conversation;
    assert_eq!(conv.last_seq, 5);
    assert_eq!(conv.last_activity_at, at(4));
}

/// Many concurrent senders in one conversation get the seqs 1..=n, each
/// exactly once, and each sender's messages keep their order.
pub async fn messages_concurrent_senders_get_gap_free_seqs(store: Arc<dyn Store>) {
    const SENDERS: usize = 8;
    const EACH: usize = 20;
    let mut users = Vec::new();
    for i in 0..SENDERS {
        users.push(create_user(&*store, &format!("sender{i}")).await.id);
    }
    let g = create_group(&*store, "Busy", users[0], &users[1..]).await;
    let tasks: Vec<_> = users
        .iter()
        .map(|&sender| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let m = send(&*store, g, sender, &format!("{sender} {i}")).await;
                    seqs.push(m.seq);
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.expect("task");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "per-sender order");
        all.extend(seqs);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(SENDERS * EACH) as u64).collect();
    assert_eq!(all, expected);

    let mut stored = Vec::new();
    let mut max_seq = u64::MAX;
    loop {
        let page = store
            .messages_before(g, max_seq, 0, 50)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        max_seq = last.seq - 1;
        stored.extend(page);
        if max_seq == 0 {
            break;
        }
    }
    let seqs: Vec<u64> = stored.iter().rev().map(|m| m.seq).collect();
    assert_eq!(seqs, expected);
    assert_eq!(
        membership(&*store, g, users[0]).await.conversation.last_seq,
        (SENDERS * EACH) as u64
    );
}

/// A non-member (or an unknown conversation) stores nothing.
pub async fn messages_non_members_store_nothing(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let stranger = create_user(&*store, "stranger").await.id;
    let d = create_direct(&*store, a, b).await;
    send(&*store, d, a, "hi").await;
    let outcome = store
        .insert_message(new_message(d, stranger, "let me in", at(1)))
        .await
        .expect("ok");
    assert_eq!(outcome, InsertOutcome::NotMember);
    let unknown = store
        .insert_message(new_message(ConversationId::new(), a, "void", at(1)))
        .await
        .expect("ok");
    assert_eq!(unknown, InsertOutcome::NotMember);
    assert_eq!(membership(&*store, d, a).await.conversation.last_seq, 1);
    assert_eq!(
        store.messages_before(d, 10, 0, 10).await.expect("ok").len(),
        1
    );
}

fn with_client_id(
    conversation: ConversationId,
    sender: UserId,
    text: &str,
    key: &str,
) -> crate::model::NewMessage {
    crate::model::NewMessage {
        client_msg_id: Some(ClientMsgId::parse(key).expect("valid key")),
        ..new_message(conversation, sender, text, t0())
    }
}

/// A repeated `client_msg_id` returns the original and stores nothing; the
/// key is scoped to sender and conversation, and finds the original.
pub async fn messages_client_msg_id_returns_the_original(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let ab = create_direct(&*store, a, b).await;
    let ac = create_direct(&*store, a, c).await;
    let InsertOutcome::Created(original) = store
        .insert_message(with_client_id(ab, a, "first", "k-1"))
        .await
        .expect("ok")
    else {
        panic!("first send is created");
    };
    assert_eq!(original.client_msg_id.as_deref(), Some("k-1"));
    let again = store
        .insert_message(with_client_id(ab, a, "first, resent", "k-1"))
        .await
        .expect("ok");
    assert_eq!(again, InsertOutcome::Existing(original.clone()));
    assert_eq!(membership(&*store, ab, a).await.conversation.last_seq, 1);
    let key = ClientMsgId::parse("k-1").expect("valid key");
    let found = |conv, sender, key: ClientMsgId| {
        let store = store.clone();
        async move {
            store
                .message_by_client_msg_id(conv, sender, &key)
                .await
                .expect("read")
        }
    };
    assert_eq!(found(ab, a, key.clone()).await, Some(original.clone()));
    let unused = ClientMsgId::parse("k-2").expect("valid key");
    assert_eq!(found(ab, a, unused).await, None);

    for (conv, sender) in [(ab, b), (ac, a)] {
        assert_eq!(
            found(conv, sender, key.clone()).await,
            None,
            "the key is the sender's in one conversation"
        );
        let other = store
            .insert_message(with_client_id(conv, sender, "same key", "k-1"))
            .await
            .expect("ok");
        assert!(matches!(other, InsertOutcome::Created(_)), "{other:?}");
    }
    let next = send(&*store, ab, a, "no key").await;
    assert_eq!(next.seq, 3, "the replay consumed no seq");
}

/// Concurrent sends with one `client_msg_id` store one message.
pub async fn messages_concurrent_duplicates_store_one(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert_message(with_client_id(d, a, "once", "retry-me"))
                    .await
                    .expect("insert")
            })
        })
        .collect();
    let mut created = Vec::new();
    let mut existing = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            InsertOutcome::Created(m) => created.push(m),
            InsertOutcome::Existing(m) => existing.push(m),
            other => panic!("is a member, with no attachments: {other:?}"),
        }
    }
    assert_eq!(created.len(), 1);
    assert!(existing.iter().all(|m| *m == created[0]));
    assert_eq!(membership(&*store, d, a).await.conversation.last_seq, 1);
}

/// History pages run newest first below a seq bound.
pub async fn messages_history_pages_newest_first(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let other = create_direct(&*store, a, create_user(&*store, "carol").await.id).await;
    send(&*store, other, a, "elsewhere").await;
    let mut sent = Vec::new();
    for i in 1..=10 {
        sent.push(send(&*store, d, if i % 2 == 0 { a } else { b }, &format!("m{i}")).await);
    }
    let seqs = |page: Vec<Message>| page.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.messages_before(d, 10, 0, 3).await.expect("ok")),
        [10, 9, 8]
    );
    assert_eq!(
        seqs(store.messages_before(d, 5, 0, 10).await.expect("ok")),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(
        seqs(store.messages_before(d, u64::MAX, 0, 2).await.expect("ok")),
        [10, 9]
    );
    assert!(
        store
            .messages_before(d, 0, 0, 10)
            .await
            .expect("ok")
            .is_empty()
    );
    let page = store.messages_before(d, 10, 0, 1).await.expect("ok");
    assert_eq!(page, vec![sent[9].clone()]);
    assert!(
        store
            .messages_before(ConversationId::new(), 10, 0, 10)
            .await
            .expect("ok")
            .is_empty()
    );
}

/// A message is found only in its own conversation.
pub async fn messages_lookup_is_scoped_to_the_conversation(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let g = create_group(&*store, "Team", a, &[b]).await;
    let m = send(&*store, d, a, "private").await;
    assert!(store.message(g, m.id).await.expect("ok").is_none());
    assert!(
        store
            .message(d, MessageId::new())
            .await
            .expect("ok")
            .is_none()
    );
    assert_eq!(store.message(d, m.id).await.expect("ok"), Some(m));
}

/// Messages are found by id whatever their conversations; unknown ids
/// are skipped and no ids find nothing.
pub async fn messages_by_ids_finds_messages_across_conversations(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let g = create_group(&*store, "Team", a, &[b]).await;
    let d1 = send(&*store, d, a, "direct one").await;
    let g1 = send(&*store, g, b, "group one").await;
    let d2 = send(&*store, d, b, "direct two").await;
    send(&*store, g, a, "not asked for").await;

    let found = store
        .messages_by_ids(&[g1.id, MessageId::new(), d2.id, d1.id])
        .await
        .expect("messages by ids");
    let mut by_id: HashMap<MessageId, Message> = found.into_iter().map(|m| (m.id, m)).collect();
    assert_eq!(by_id.len(), 3, "the three known messages, once each");
    for m in [d1, g1, d2] {
        assert_eq!(by_id.remove(&m.id), Some(m), "found as stored");
    }
    assert!(
        store
            .messages_by_ids(&[MessageId::new()])
            .await
            .expect("unknown id")
            .is_empty(),
        "unknown ids find nothing"
    );
    assert!(
        store.messages_by_ids(&[]).await.expect("no ids").is_empty(),
        "no ids find nothing"
    );
}

/// Unread counts leave out the member's own messages, whether they were
/// caught up when sending or not.
pub async fn messages_unread_counts_exclude_own_messages(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    send(&*store, d, a, "one").await;
    send(&*store, d, a, "two").await;
    send(&*store, d, b, "three").await;

    let ma = membership(&*store, d, a).await;
    assert_eq!(ma.member.read_seq, 2, "caught up when sending: reads own");
    assert_eq!(ma.unread_count(), 1);
    let mb = membership(&*store, d, b).await;
    assert_eq!(mb.member.read_seq, 0, "not caught up: cursor stays");
    assert_eq!(mb.member.own_unread, 1);
    assert_eq!(mb.unread_count(), 2);

    let after = store
        .advance_read(d, b, 2, at(10))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!(after.member.read_seq, 2);
    assert_eq!(after.unread_count(), 0, "only b's own message is left");
    let after = store
        .advance_read(d, b, 3, at(11))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!((after.member.read_seq, after.member.own_unread), (3, 0));
    assert_eq!(after.unread_count(), 0);

    send(&*store, d, a, "four").await;
    assert_eq!(membership(&*store, d, b).await.unread_count(), 1);
    send(&*store, d, b, "five").await;
    let mb = membership(&*store, d, b).await;
    assert_eq!((mb.member.read_seq, mb.member.own_unread), (3, 1));
    assert_eq!(mb.unread_count(), 1);
}

/// The read cursor only moves forward, stops at the last message, and
/// keeps its time when a call does not move it.
pub async fn messages_read_cursor_never_moves_backwards(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    for i in 0..3 {
        send(&*store, d, a, &format!("m{i}")).await;
    }
    let m = store
        .advance_read(d, b, 99, at(10))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!((m.member.read_seq, m.member.read_at), (3, Some(at(10))));
    let m = store
        .advance_read(d, b, 1, at(20))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!((m.member.read_seq, m.member.read_at), (3, Some(at(10))));
    assert!(
        store
            .advance_read(d, UserId::new(), 1, at(20))
            .await
            .expect("ok")
            .is_none()
    );
    assert!(
        store
            .advance_read(ConversationId::new(), b, 1, at(20))
            .await
            .expect("ok")
            .is_none()
    );
}

/// Reading implies delivery; the delivery cursor moves on its own too,
/// never backwards.
pub async fn messages_reading_implies_delivery(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    for i in 0..4 {
        send(&*store, d, a, &format!("m{i}")).await;
    }
    let m = store
        .advance_delivered(d, b, 1, at(5))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!(
        (m.member.delivered_seq, m.member.delivered_at),
        (1, Some(at(5)))
    );
    assert_eq!(m.member.read_seq, 0);
    let m = store
        .advance_read(d, b, 2, at(6))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!(
        (m.member.delivered_seq, m.member.delivered_at),
        (2, Some(at(6)))
    );
    let m = store
        .advance_delivered(d, b, 4, at(7))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!((m.member.delivered_seq, m.member.read_seq), (4, 2));
    let m = store
        .advance_delivered(d, b, 3, at(8))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!(
        (m.member.delivered_seq, m.member.delivered_at),
        (4, Some(at(7)))
    );
    let m = store
        .advance_read(d, b, 3, at(9))
        .await
        .expect("ok")
        .expect("member");
    assert_eq!(
        (m.member.delivered_seq, m.member.delivered_at),
        (4, Some(at(7))),
        "reading behind the delivery cursor leaves it"
    );
    assert_eq!((m.member.read_seq, m.member.read_at), (3, Some(at(9))));
}

/// Unread messages across conversations, oldest first, others' only,
/// after each read cursor, at most `limit`.
pub async fn messages_unread_span_conversations_oldest_first(store: Arc<dyn Store>) {
    let me = create_user(&*store, "myself").await.id;
    let bob = create_user(&*store, "bob").await.id;
    let carol = create_user(&*store, "carol").await.id;
    let d = create_direct(&*store, me, bob).await;
    let g = create_group(&*store, "Team", carol, &[me, bob]).await;

    let read_already = send_at(&*store, d, bob, "old", at(1)).await;
    store
        .advance_read(d, me, read_already.seq, at(2))
        .await
        .expect("read");
    let g1 = send_at(&*store, g, carol, "g1", at(3)).await;
    send_at(&*store, g, me, "mine", at(4)).await;
    let d1 = send_at(&*store, d, bob, "d1", at(5)).await;
    let g2 = send_at(&*store, g, bob, "g2", at(6)).await;
    let d2 = send_at(&*store, d, bob, "d2", at(7)).await;

    let ids = |v: Vec<Message>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let unread = store.unread_messages(me, 100).await.expect("unread");
    assert_eq!(ids(unread), [g1.id, d1.id, g2.id, d2.id]);
    let first_two = store.unread_messages(me, 2).await.expect("unread");
    assert_eq!(ids(first_two), [g1.id, d1.id]);

    store
        .advance_read(g, me, g2.seq, at(8))
        .await
        .expect("read");
    let unread = store.unread_messages(me, 100).await.expect("unread");
    assert_eq!(ids(unread), [d1.id, d2.id]);
    let others: HashSet<MessageId> = ids(store.unread_messages(bob, 100).await.expect("ok"))
        .into_iter()
        .collect();
    assert!(others.contains(&g1.id) && !others.contains(&d1.id));
    assert!(
        store
            .unread_messages(UserId::new(), 10)
            .await
            .expect("ok")
            .is_empty()
    );
}

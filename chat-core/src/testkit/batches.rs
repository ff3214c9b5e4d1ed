//! Conformance cases for [`MessageStore::write_batch`](crate::store::MessageStore::write_batch).

use std::sync::Arc;

use super::fixtures::{
    at, create_direct, create_group, create_user, membership, new_message, send, t0,
};
use crate::domain::ClientMsgId;
use crate::model::{DeliveryMove, InsertOutcome};
use crate::store::Store;

/// A batch stores each message as single inserts would, in order, with
/// outcomes in input order: seqs per conversation count up in batch order,
/// a non-member's message and a replayed key store nothing and consume no
/// seq, and the messages around them are stored.
pub async fn batches_store_each_message_as_single_inserts_would(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let ab = create_direct(&*store, a, b).await;
    let group = create_group(&*store, "team", a, &[c]).await;
    let original = send(&*store, ab, a, "before").await;
    let mut replay = new_message(ab, a, "again", t0());
    replay.client_msg_id = Some(ClientMsgId::parse("k-1").expect("valid"));
    let mut keyed = new_message(ab, a, "keyed", t0());
    keyed.client_msg_id = Some(ClientMsgId::parse("k-1").expect("valid"));
    store
        .write_batch(vec![keyed], Vec::new(), t0())
        .await
        .expect("first keyed batch");

    let batch = vec![
        new_message(ab, b, "one", t0()),
        new_message(group, c, "g1", t0()),
        new_message(ab, c, "not a member", t0()),
        replay,
        new_message(ab, a, "two", t0()),
        new_message(group, a, "g2", t0()),
    ];
    let (outcomes, _) = store
        .write_batch(batch, Vec::new(), t0())
        .await
        .expect("batch");
    assert_eq!(outcomes.len(), 6);
    let seq = |o: &InsertOutcome| match o {
        InsertOutcome::Created(m) => (m.content.clone(), m.seq),
        other => panic!("not created: {other:?}"),
    };
    assert_eq!(seq(&outcomes[0]), ("one".to_owned(), 3));
    assert_eq!(seq(&outcomes[1]), ("g1".to_owned(), 1));
    assert_eq!(outcomes[2], InsertOutcome::NotMember);
    assert!(
        matches!(&outcomes[3], InsertOutcome::Existing(m) if m.content == "keyed"),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(seq(&outcomes[4]), ("two".to_owned(), 4));
    assert_eq!(seq(&outcomes[5]), ("g2".to_owned(), 2));
    assert_eq!(membership(&*store, ab, a).await.conversation.last_seq, 4);
    // The senders' cursors move as single inserts move them: alice had read
    // up to her own "keyed" (2), so "two" (4) is one of her own unread; bob
    // had read nothing, so his "one" is one of his own unread.
    let alice = membership(&*store, ab, a).await;
    assert_eq!(
        (
            alice.member.read_seq,
            alice.member.own_unread,
            alice.unread_count()
        ),
        (2, 1, 1)
    );
    let bob = membership(&*store, ab, b).await;
    assert_eq!((bob.member.read_seq, bob.member.own_unread), (0, 1));
    assert_eq!(membership(&*store, group, c).await.conversation.last_seq, 2);
    assert_eq!(original.seq, 1);
    let history = store.messages_before(ab, 10, 0, 10).await.expect("history");
    let contents: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["two", "one", "keyed", "before"]);
}

/// Concurrent batches over the same conversations (in different orders)
/// all commit, with gap-free seqs.
pub async fn batches_concurrent_batches_get_gap_free_seqs(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let ab = create_direct(&*store, a, b).await;
    let ac = create_direct(&*store, a, c).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            let (first, second) = if i % 2 == 0 { (ab, ac) } else { (ac, ab) };
            tokio::spawn(async move {
                let batch = (0..5)
                    .flat_map(|j| {
                        [
                            new_message(first, a, &format!("{i}-{j}"), t0()),
                            new_message(second, a, &format!("{i}-{j}"), t0()),
                        ]
                    })
                    .collect();
                store
                    .write_batch(batch, Vec::new(), t0())
                    .await
                    .map(|(outcomes, _)| outcomes)
            })
        })
        .collect();
    for t in tasks {
        let outcomes = t.await.expect("task").expect("batch");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, InsertOutcome::Created(_)))
        );
    }
    for conv in [ab, ac] {
        let mut seqs: Vec<u64> = store
            .messages_before(conv, 100, 0, 100)
            .await
            .expect("history")
            .iter()
            .map(|m| m.seq)
            .collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=30).collect::<Vec<u64>>());
    }
}

/// Several delivery cursors move in one call as they would one by one:
/// results in input order, a non-member gets `None`, a cursor never moves
/// backwards and stops at `last_seq`.
pub async fn batches_move_delivery_cursors_as_single_moves_would(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let ab = create_direct(&*store, a, b).await;
    let ac = create_direct(&*store, a, c).await;
    for i in 0..3 {
        send(&*store, ab, a, &format!("ab{i}")).await;
        send(&*store, ac, a, &format!("ac{i}")).await;
    }
    store
        .advance_delivered(ac, c, 2, t0())
        .await
        .expect("move")
        .expect("member");
    let moves = vec![
        DeliveryMove {
            conversation: ab,
            user: b,
            seq: 2,
        },
        DeliveryMove {
            conversation: ac,
            user: b,
            seq: 3,
        },
        DeliveryMove {
            conversation: ac,
            user: c,
            seq: 1,
        },
        DeliveryMove {
            conversation: ab,
            user: b,
            seq: 99,
        },
    ];
    let out = store
        .write_batch(Vec::new(), moves, at(5))
        .await
        .expect("moves")
        .1;
    assert_eq!(out.len(), 4);
    assert_eq!(out[0].as_ref().map(|m| m.member.delivered_seq), Some(2));
    assert!(
        out[1].is_none(),
        "bob is not in alice and carol's conversation"
    );
    assert_eq!(
        out[2].as_ref().map(|m| m.member.delivered_seq),
        Some(2),
        "never backwards"
    );
    assert_eq!(
        out[3].as_ref().map(|m| m.member.delivered_seq),
        Some(3),
        "capped at last_seq"
    );
    assert_eq!(membership(&*store, ab, b).await.member.delivered_seq, 3);
    assert_eq!(
        membership(&*store, ab, b).await.member.delivered_at,
        Some(at(5))
    );
}

/// A key used twice in one batch stores the first message and returns it
/// for the second, which consumes no seq.
pub async fn batches_repeat_a_key_within_one_batch(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let ab = create_direct(&*store, a, b).await;
    let keyed = |text: &str| {
        let mut m = new_message(ab, a, text, t0());
        m.client_msg_id = Some(ClientMsgId::parse("k-2").expect("valid"));
        m
    };
    let outcomes = store
        .write_batch(
            vec![
                keyed("first"),
                keyed("second"),
                new_message(ab, b, "reply", t0()),
            ],
            Vec::new(),
            t0(),
        )
        .await
        .expect("batch")
        .0;
    let InsertOutcome::Created(first) = &outcomes[0] else {
        panic!("first is created: {:?}", outcomes[0]);
    };
    assert_eq!(outcomes[1], InsertOutcome::Existing(first.clone()));
    assert!(
        matches!(&outcomes[2], InsertOutcome::Created(m) if m.seq == 2),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(membership(&*store, ab, a).await.conversation.last_seq, 2);
}

/// Messages and cursor moves written together: messages first, so a move
/// in the same batch can reach a message stored by it.
pub async fn batches_write_messages_and_cursor_moves_together(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let ab = create_direct(&*store, a, b).await;
    send(&*store, ab, a, "before").await;
    let moves = vec![
        DeliveryMove {
            conversation: ab,
            user: b,
            seq: 2,
        },
        DeliveryMove {
            conversation: ab,
            user: c,
            seq: 1,
        },
    ];
    let (inserted, moved) = store
        .write_batch(vec![new_message(ab, a, "now", t0())], moves, at(7))
        .await
        .expect("batch");
    assert!(
        matches!(&inserted[..], [InsertOutcome::Created(m)] if m.seq == 2),
        "{inserted:?}"
    );
    assert_eq!(moved.len(), 2);
    let bob = moved[0].as_ref().expect("bob is a member");
    assert_eq!(
        (bob.member.delivered_seq, bob.member.delivered_at),
        (2, Some(at(7)))
    );
    assert!(moved[1].is_none(), "carol is not a member");
}

/// A batch stores its messages' replies and mentions as single inserts
/// do: each mentioned member counts the mention (once, however often a
/// message names them), and a message without mentions adds none.
pub async fn batches_record_mentions_and_replies(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let g = create_group(&*store, "Mentions", a, &[b, c]).await;
    let first = send(&*store, g, c, "hello").await;
    let mut reply = new_message(g, a, "@bob look", at(1));
    reply.mentions = vec![b];
    reply.reply_to = Some(first.id);
    let mut both = new_message(g, c, "@bob @alice @bob", at(2));
    both.mentions = vec![b, a, b];
    let plain = new_message(g, b, "hi", at(3));
    let (outcomes, _) = store
        .write_batch(vec![reply, both, plain], Vec::new(), at(4))
        .await
        .expect("batch");
    let stored: Vec<_> = (outcomes.into_iter())
        .map(|o| match o {
            InsertOutcome::Created(m) => m,
            other => panic!("not created: {other:?}"),
        })
        .collect();
    assert_eq!(stored.len(), 3);
    let read_back = store
        .message(g, stored[0].id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(read_back.reply_to, Some(first.id));
    assert_eq!(read_back.mentions, vec![b]);
    let mentions = |user| {
        let store = store.clone();
        async move {
            (store.overview(g, user).await)
                .expect("overview")
                .expect("member")
                .mention_count
        }
    };
    assert_eq!(mentions(b).await, 2, "bob: once per message");
    assert_eq!(mentions(a).await, 1);
    assert_eq!(mentions(c).await, 0);
}

//! Conformance cases for [`OfflineQueue`](crate::realtime::OfflineQueue).

use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::ConversationKind;
use crate::realtime::QueuedMessage;
use crate::testkit::fixtures::at;

use super::TestRealtime;

fn entry(conversation: ConversationId, seq: u64) -> QueuedMessage {
    QueuedMessage {
        message_id: MessageId::new(),
        kind: ConversationKind::Direct,
        timestamp: at(seq),
        conversation_id: conversation,
        seq,
    }
}

/// Pushed entries peek back in push order.
pub async fn realtime_queue_peek_returns_entries_oldest_first(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let user = UserId::new();
    let (c1, c2) = (ConversationId::new(), ConversationId::new());
    let pushed = [entry(c1, 1), entry(c2, 1), entry(c1, 2)];
    for e in &pushed {
        q.push(&[user], e).await.expect("push");
    }
    assert_eq!(
        q.peek(user, 10).await.expect("peek"),
        pushed,
        "oldest first"
    );
}

/// One push lands in the queue of every user it names.
pub async fn realtime_queue_push_to_several_users_fills_each_queue(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let users = [UserId::new(), UserId::new(), UserId::new()];
    let e = entry(ConversationId::new(), 7);
    q.push(&users, &e).await.expect("push");
    for user in users {
        let queued = q.peek(user, 10).await.expect("peek");
        assert_eq!(
            queued,
            std::slice::from_ref(&e),
            "each user has the entry once"
        );
    }
}

/// Peek returns at most `limit` entries, the oldest ones.
pub async fn realtime_queue_peek_respects_the_limit(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let user = UserId::new();
    let c = ConversationId::new();
    let pushed: Vec<_> = (1..=5).map(|seq| entry(c, seq)).collect();
    for e in &pushed {
        q.push(&[user], e).await.expect("push");
    }
    assert_eq!(
        q.peek(user, 2).await.expect("peek"),
        pushed[..2],
        "first two"
    );
    assert!(q.peek(user, 0).await.expect("peek").is_empty(), "limit 0");
    assert_eq!(
        q.len(user).await.expect("len"),
        5,
        "peeking removes nothing"
    );
}

/// `remove_through` drops the conversation's entries up to the seq and
/// keeps later ones and other conversations'.
pub async fn realtime_queue_remove_through_clears_one_conversation_up_to_the_seq(
    rt: &dyn TestRealtime,
) {
    let q = rt.queue();
    let user = UserId::new();
    let (c1, c2) = (ConversationId::new(), ConversationId::new());
    let pushed = [
        entry(c1, 1),
        entry(c2, 1),
        entry(c1, 2),
        entry(c2, 2),
        entry(c1, 3),
    ];
    for e in &pushed {
        q.push(&[user], e).await.expect("push");
    }
    q.remove_through(user, c1, 2).await.expect("remove");
    let left = q.peek(user, 10).await.expect("peek");
    assert_eq!(
        left,
        [pushed[1].clone(), pushed[3].clone(), pushed[4].clone()]
    );
    q.remove_through(user, ConversationId::new(), 99)
        .await
        .expect("remove");
    assert_eq!(
        q.len(user).await.expect("len"),
        3,
        "other conversation: no-op"
    );
    q.remove_through(user, c2, 2).await.expect("remove");
    assert_eq!(q.peek(user, 10).await.expect("peek"), [pushed[4].clone()]);
}

/// `len` counts the entries; `clear` empties the queue.
pub async fn realtime_queue_len_counts_entries_and_clear_empties(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let user = UserId::new();
    let c = ConversationId::new();
    for seq in 1..=3 {
        q.push(&[user], &entry(c, seq)).await.expect("push");
    }
    assert_eq!(q.len(user).await.expect("len"), 3);
    q.clear(user).await.expect("clear");
    assert_eq!(q.len(user).await.expect("len"), 0, "cleared");
    assert!(q.peek(user, 10).await.expect("peek").is_empty(), "cleared");
    let e = entry(c, 4);
    q.push(&[user], &e).await.expect("push");
    assert_eq!(q.peek(user, 10).await.expect("peek"), [e], "usable again");
}

/// Each user's queue changes only through calls for that user.
pub async fn realtime_queue_users_have_independent_queues(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let (a, b) = (UserId::new(), UserId::new());
    let c = ConversationId::new();
    let (ea, eb) = (entry(c, 1), entry(c, 2));
    q.push(&[a], &ea).await.expect("push");
    q.push(&[b], &eb).await.expect("push");
    assert_eq!(
        q.peek(a, 10).await.expect("peek"),
        std::slice::from_ref(&ea)
    );
    assert_eq!(
        q.peek(b, 10).await.expect("peek"),
        std::slice::from_ref(&eb)
    );
    q.remove_through(a, c, 5).await.expect("remove");
    assert_eq!(
        q.peek(b, 10).await.expect("peek"),
        [eb],
        "b keeps its entry"
    );
    q.push(&[a], &ea).await.expect("push");
    q.clear(b).await.expect("clear");
    assert_eq!(
        q.peek(a, 10).await.expect("peek"),
        [ea],
        "a keeps its entry"
    );
}

/// A user nothing was pushed to has an empty queue, and emptying it is a
/// no-op.
pub async fn realtime_queue_unknown_user_has_an_empty_queue(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let user = UserId::new();
    assert!(q.peek(user, 10).await.expect("peek").is_empty());
    assert_eq!(q.len(user).await.expect("len"), 0);
    q.remove_through(user, ConversationId::new(), 1)
        .await
        .expect("remove on an empty queue");
    q.clear(user).await.expect("clear an empty queue");
    assert_eq!(q.len(user).await.expect("len"), 0);
}

/// Unhandled entries are those past the marks `mark_handled` records, per
/// conversation; marks never move back.
pub async fn realtime_queue_unhandled_entries_follow_the_handled_marks(rt: &dyn TestRealtime) {
    let q = rt.queue();
    let user = UserId::new();
    let (c1, c2) = (ConversationId::new(), ConversationId::new());
    let pushed = [entry(c1, 1), entry(c2, 1), entry(c1, 2), entry(c1, 3)];
    for e in &pushed {
        q.push(&[user], e).await.expect("push");
    }
    assert_eq!(q.unhandled(user, 10).await.expect("unhandled"), pushed);
    assert_eq!(
        q.unhandled(user, 2).await.expect("unhandled"),
        pushed[2..],
        "the newest, oldest first"
    );
    q.mark_handled(user, &[(c1, 2)]).await.expect("mark");
    assert_eq!(
        q.unhandled(user, 10).await.expect("unhandled"),
        [pushed[1].clone(), pushed[3].clone()]
    );
    q.mark_handled(user, &[(c1, 1), (c2, 1)])
        .await
        .expect("mark");
    assert_eq!(
        q.unhandled(user, 10).await.expect("unhandled"),
        [pushed[3].clone()],
        "c1's mark stays at 2"
    );
    assert_eq!(
        q.len(user).await.expect("len"),
        4,
        "handling removes nothing"
    );
}

//! Conformance cases for changes to messages (edits, deletions,
//! reactions), mentions and replies in
//! [`MessageStore`](crate::store::MessageStore): the conversation log.

use std::collections::HashSet;
use std::sync::Arc;

use super::fixtures::{
    at, create_direct, create_group, create_user, membership, new_message, send, send_at,
};
use crate::domain::{Emoji, MessageContent};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ChangeAction, ChangeKind, ChangeOutcome, InsertOutcome, LogEntry, Message, MessageChange,
    NewChange,
};
use crate::store::Store;

fn emoji(e: &str) -> Emoji {
    Emoji::parse(e).expect("valid emoji")
}

fn edit(content: &str, mentions: Vec<UserId>) -> ChangeAction {
    ChangeAction::Edit {
        content: MessageContent::parse(content).expect("valid content"),
        mentions,
    }
}

/// Applies `action` by `actor` to `message` at `at(secs)`.
async fn change(
    store: &dyn Store,
    conversation: ConversationId,
    message: MessageId,
    actor: UserId,
    action: ChangeAction,
    secs: u64,
) -> ChangeOutcome {
    store
        .apply_change(NewChange {
            conversation_id: conversation,
            message_id: message,
            actor_id: actor,
            by_operator: false,
            action,
            at: at(secs),
        })
        .await
        .expect("apply change")
}

/// Applies a change that must take a seq, and returns its entry.
async fn applied(
    store: &dyn Store,
    conversation: ConversationId,
    message: MessageId,
    actor: UserId,
    action: ChangeAction,
    secs: u64,
) -> (MessageChange, Message) {
    match change(store, conversation, message, actor, action, secs).await {
        ChangeOutcome::Applied { change, message } => (change, message),
        other => panic!("change not applied: {other:?}"),
    }
}

async fn message(store: &dyn Store, conversation: ConversationId, id: MessageId) -> Message {
    store
        .message(conversation, id)
        .await
        .expect("message")
        .expect("exists")
}

async fn mention_count(store: &dyn Store, conversation: ConversationId, user: UserId) -> u64 {
    store
        .overview(conversation, user)
        .await
        .expect("overview")
        .expect("member")
        .mention_count
}

/// A change takes the next seq of the log (messages and changes share
/// it); it moves `last_seq` but not `message_count`, so it is never
/// unread, and a caught-up actor's cursors move past it.
pub async fn changes_share_the_log_and_are_never_unread(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let m1 = send(&*store, d, a, "one").await;
    let m2 = send(&*store, d, a, "two").await;
    let (reaction, _) = applied(
        &*store,
        d,
        m1.id,
        b,
        ChangeAction::AddReaction(emoji("👍")),
        1,
    )
    .await;
    assert_eq!(reaction.seq, 3);
    assert_eq!(reaction.change, ChangeKind::ReactionAdded);
    assert_eq!((reaction.actor_id, reaction.message_id), (b, m1.id));
    assert_eq!(reaction.emoji.as_deref(), Some("👍"));
    assert_eq!(reaction.count, Some(1));
    assert_eq!(reaction.at, at(1));
    let bob = membership(&*store, d, b).await;
    assert_eq!(bob.conversation.last_seq, 3);
    assert_eq!(bob.conversation.message_count, 2);
    assert_eq!(
        bob.unread_count(),
        2,
        "bob's reaction is not unread, nor read"
    );
    assert_eq!(bob.member.read_seq, 0, "bob was behind: his cursor stays");
    let alice = membership(&*store, d, a).await;
    assert_eq!(
        alice.unread_count(),
        0,
        "a reaction is not unread for alice"
    );
    assert_eq!(alice.member.read_seq, 2);

    let (edited, _) = applied(&*store, d, m2.id, a, edit("two!", vec![]), 2).await;
    assert_eq!(edited.seq, 4);
    let alice = membership(&*store, d, a).await;
    assert_eq!(
        alice.member.read_seq, 2,
        "alice had not seen bob's reaction"
    );
    let read = store
        .advance_read(d, a, 4, at(3))
        .await
        .expect("read")
        .expect("member");
    assert_eq!(
        (read.member.read_seq, read.member.read_message_count),
        (4, 2)
    );
    assert_eq!(read.unread_count(), 0);
    let (again, _) = applied(
        &*store,
        d,
        m1.id,
        a,
        ChangeAction::AddReaction(emoji("🎉")),
        4,
    )
    .await;
    assert_eq!(again.seq, 5);
    let alice = membership(&*store, d, a).await;
    assert_eq!(
        (alice.member.read_seq, alice.member.delivered_seq),
        (5, 5),
        "a caught-up actor's own change moves their cursors"
    );
    assert_eq!(alice.member.read_message_count, 2);

    let m3 = send(&*store, d, a, "three").await;
    assert_eq!(m3.seq, 6);
    let bob = membership(&*store, d, b).await;
    assert_eq!(bob.conversation.message_count, 3);
    assert_eq!(bob.unread_count(), 3);
    let read = store
        .advance_read(d, b, 4, at(5))
        .await
        .expect("read")
        .expect("member");
    assert_eq!(
        read.member.read_message_count, 2,
        "m1 and m2 lie below seq 4"
    );
    assert_eq!(read.unread_count(), 1, "only m3");
}

/// An edit replaces content and mentions and sets `edited_at`; a
/// deletion empties the content, drops mentions and reactions and leaves a
/// tombstone that takes no more changes.
pub async fn changes_edit_and_delete_a_message(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let g = create_group(&*store, "Edits", a, &[b]).await;
    let m = send(&*store, g, a, "draft").await;
    let (entry, after) = applied(&*store, g, m.id, a, edit("final @bob", vec![b]), 1).await;
    assert_eq!(entry.change, ChangeKind::Edited);
    assert_eq!(entry.content.as_deref(), Some("final @bob"));
    assert_eq!(entry.edited_at, Some(at(1)));
    assert_eq!(entry.mentions.as_deref(), Some(&[b][..]));
    assert_eq!(entry.emoji, None);
    assert_eq!(after.content, "final @bob");
    let stored = message(&*store, g, m.id).await;
    assert_eq!(stored, after);
    assert_eq!(stored.edited_at, Some(at(1)));
    assert_eq!(stored.mentions, vec![b]);
    assert_eq!((stored.seq, stored.created_at), (m.seq, m.created_at));

    applied(
        &*store,
        g,
        m.id,
        b,
        ChangeAction::AddReaction(emoji("👍")),
        2,
    )
    .await;
    let (deleted, tomb) = applied(&*store, g, m.id, a, ChangeAction::Delete, 3).await;
    assert_eq!(deleted.change, ChangeKind::Deleted);
    assert_eq!(deleted.content, None);
    assert_eq!(tomb.content, "");
    assert!(tomb.mentions.is_empty());
    assert_eq!(tomb.deleted_at, Some(at(3)));
    assert!(
        store
            .reactions(&[m.id])
            .await
            .expect("reactions")
            .is_empty()
    );
    assert_eq!(message(&*store, g, m.id).await, tomb);
    let last_seq = membership(&*store, g, a).await.conversation.last_seq;
    for action in [
        edit("again", vec![]),
        ChangeAction::Delete,
        ChangeAction::AddReaction(emoji("🎉")),
    ] {
        assert_eq!(
            change(&*store, g, m.id, a, action, 4).await,
            ChangeOutcome::MessageDeleted
        );
    }
    assert_eq!(
        membership(&*store, g, a).await.conversation.last_seq,
        last_seq,
        "refused changes take no seq"
    );
    // The earlier edit's entry no longer shows the text.
    let log = store.log_between(g, 1, last_seq).await.expect("log");
    let Some(LogEntry::Change(old_edit)) = log.get(1) else {
        panic!("seq 2 is the edit: {log:?}");
    };
    assert_eq!(old_edit.change, ChangeKind::Edited);
    assert_eq!(old_edit.content.as_deref(), Some(""));
    assert_eq!(old_edit.mentions.as_deref(), Some(&[][..]));
}

/// A member reacts once per emoji and message: adding it again or
/// removing one that is not there changes nothing and takes no seq.
pub async fn changes_reactions_are_once_per_member_and_emoji(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let g = create_group(&*store, "Reactions", a, &[b, c]).await;
    let m = send(&*store, g, a, "vote").await;
    let thumbs = || ChangeAction::AddReaction(emoji(":+1:"));
    let (first, _) = applied(&*store, g, m.id, b, thumbs(), 1).await;
    assert_eq!(
        first.emoji.as_deref(),
        Some("👍"),
        "short names are stored as the emoji"
    );
    assert!(matches!(
        change(
            &*store,
            g,
            m.id,
            b,
            ChangeAction::AddReaction(emoji("👍")),
            2
        )
        .await,
        ChangeOutcome::Unchanged(_)
    ));
    assert!(matches!(
        change(
            &*store,
            g,
            m.id,
            c,
            ChangeAction::RemoveReaction(emoji("👍")),
            2
        )
        .await,
        ChangeOutcome::Unchanged(_)
    ));
    let (second, _) = applied(&*store, g, m.id, c, thumbs(), 3).await;
    assert_eq!((second.seq, second.count), (first.seq + 1, Some(2)));
    applied(
        &*store,
        g,
        m.id,
        c,
        ChangeAction::AddReaction(emoji("🎉")),
        4,
    )
    .await;
    let mut rows: Vec<(UserId, String)> = store
        .reactions(&[m.id, MessageId::new()])
        .await
        .expect("reactions")
        .into_iter()
        .map(|r| {
            assert_eq!(r.message_id, m.id);
            (r.user_id, r.emoji)
        })
        .collect();
    rows.sort();
    let mut want = vec![
        (b, "👍".to_owned()),
        (c, "👍".to_owned()),
        (c, "🎉".to_owned()),
    ];
    want.sort();
    assert_eq!(rows, want);
    let (removed, _) = applied(
        &*store,
        g,
        m.id,
        b,
        ChangeAction::RemoveReaction(emoji("👍")),
        5,
    )
    .await;
    assert_eq!(removed.change, ChangeKind::ReactionRemoved);
    assert_eq!(removed.count, Some(1));
    assert_eq!(
        membership(&*store, g, a).await.conversation.last_seq,
        m.seq + 4
    );
}

/// Changes need a member and a message of that conversation.
pub async fn changes_need_a_member_and_a_message_of_the_conversation(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let stranger = create_user(&*store, "stranger").await.id;
    let d = create_direct(&*store, a, b).await;
    let g = create_group(&*store, "Other", a, &[]).await;
    let m = send(&*store, d, a, "hi").await;
    let elsewhere = send(&*store, g, a, "there").await;
    let react = || ChangeAction::AddReaction(emoji("👍"));
    assert_eq!(
        change(&*store, d, m.id, stranger, react(), 1).await,
        ChangeOutcome::NotMember
    );
    assert_eq!(
        change(&*store, ConversationId::new(), m.id, a, react(), 1).await,
        ChangeOutcome::NotMember
    );
    assert_eq!(
        change(&*store, d, elsewhere.id, a, react(), 1).await,
        ChangeOutcome::MessageNotFound
    );
    assert_eq!(
        change(&*store, d, MessageId::new(), a, ChangeAction::Delete, 1).await,
        ChangeOutcome::MessageNotFound
    );
    assert_eq!(membership(&*store, d, a).await.conversation.last_seq, 1);
    assert!(
        store
            .reactions(&[m.id])
            .await
            .expect("reactions")
            .is_empty()
    );
}

/// The log interleaves messages and changes by seq; history pages read
/// messages only, and `skip` counts messages.
pub async fn changes_log_interleaves_and_history_skips_changes(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let m1 = send_at(&*store, d, a, "one", at(0)).await;
    applied(
        &*store,
        d,
        m1.id,
        b,
        ChangeAction::AddReaction(emoji("👍")),
        1,
    )
    .await;
    let m3 = send_at(&*store, d, b, "three", at(2)).await;
    applied(&*store, d, m1.id, a, edit("one, edited", vec![]), 3).await;
    let m5 = send_at(&*store, d, a, "five", at(4)).await;
    assert_eq!((m3.seq, m5.seq), (3, 5));
    let log = store.log_between(d, 1, 5).await.expect("log");
    let seqs: Vec<u64> = log.iter().map(LogEntry::seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert!(matches!(&log[0], LogEntry::Message(m) if m.id == m1.id && m.content == "one, edited"));
    assert!(
        matches!(&log[1], LogEntry::Change(c) if c.change == ChangeKind::ReactionAdded && c.count == Some(1))
    );
    assert!(matches!(&log[3], LogEntry::Change(c) if c.change == ChangeKind::Edited));
    let middle: Vec<u64> = store
        .log_between(d, 2, 4)
        .await
        .expect("log")
        .iter()
        .map(LogEntry::seq)
        .collect();
    assert_eq!(middle, vec![2, 3, 4]);
    assert!(store.log_between(d, 6, 9).await.expect("log").is_empty());

    let ids = |page: Vec<Message>| page.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let page = store.messages_before(d, 5, 0, 10).await.expect("page");
    assert_eq!(ids(page), vec![m5.id, m3.id, m1.id]);
    let page = store.messages_before(d, 5, 1, 1).await.expect("page");
    assert_eq!(ids(page), vec![m3.id], "skip counts messages, not seqs");
    let page = store.messages_before(d, 4, 0, 10).await.expect("page");
    assert_eq!(ids(page), vec![m3.id, m1.id]);
    assert!(
        store
            .messages_before(d, 5, 3, 10)
            .await
            .expect("page")
            .is_empty()
    );
}

/// Messages and changes stored concurrently get the seqs 1..=n, each once.
pub async fn changes_concurrent_with_messages_get_gap_free_seqs(store: Arc<dyn Store>) {
    const EACH: usize = 15;
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let g = create_group(&*store, "Busy", a, &[b]).await;
    let target = send(&*store, g, a, "target").await;
    let sender = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                seqs.push(send(&*store, g, a, &format!("m{i}")).await.seq);
            }
            seqs
        })
    };
    let reactor = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let action = if i % 2 == 0 {
                    ChangeAction::AddReaction(emoji("👍"))
                } else {
                    ChangeAction::RemoveReaction(emoji("👍"))
                };
                let (c, _) = applied(&*store, g, target.id, b, action, i as u64).await;
                seqs.push(c.seq);
            }
            seqs
        })
    };
    let mut all = sender.await.expect("sender");
    let changes = reactor.await.expect("reactor");
    assert!(
        changes.windows(2).all(|w| w[0] < w[1]),
        "one actor's changes keep their order"
    );
    all.extend(changes);
    all.push(target.seq);
    let distinct: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "no seq twice");
    let n = (2 * EACH + 1) as u64;
    assert_eq!(distinct, (1..=n).collect());
    let conv = membership(&*store, g, a).await.conversation;
    assert_eq!((conv.last_seq, conv.message_count), (n, EACH as u64 + 1));
    assert_eq!(
        store.log_between(g, 1, n).await.expect("log").len() as u64,
        n
    );
}

/// The mention count is the messages after the member's read cursor whose
/// current mentions name them; replies keep the message they answer.
pub async fn changes_mentions_are_counted_after_the_read_cursor(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let g = create_group(&*store, "Mentions", a, &[b, c]).await;
    let plain = send(&*store, g, a, "hello all").await;
    let mut mention = new_message(g, a, "@bob look", at(1));
    mention.mentions = vec![b];
    mention.reply_to = Some(plain.id);
    let InsertOutcome::Created(first) = store.insert_message(mention).await.expect("insert") else {
        panic!("not created");
    };
    assert_eq!(first.mentions, vec![b]);
    assert_eq!(first.reply_to, Some(plain.id));
    assert_eq!(message(&*store, g, first.id).await, first);
    let mut both = new_message(g, c, "@bob @alice", at(2));
    both.mentions = vec![b, a];
    let InsertOutcome::Created(second) = store.insert_message(both).await.expect("insert") else {
        panic!("not created");
    };
    assert_eq!(mention_count(&*store, g, b).await, 2);
    assert_eq!(mention_count(&*store, g, a).await, 1);
    assert_eq!(mention_count(&*store, g, c).await, 0);
    let listed = store.overviews(b, None).await.expect("overviews");
    assert_eq!(listed[0].mention_count, 2);

    applied(&*store, g, first.id, a, edit("look", vec![]), 3).await;
    assert_eq!(
        mention_count(&*store, g, b).await,
        1,
        "the edit took bob's mention out"
    );
    applied(&*store, g, second.id, c, ChangeAction::Delete, 4).await;
    assert_eq!(
        mention_count(&*store, g, b).await,
        0,
        "a deleted message mentions nobody"
    );
    assert_eq!(mention_count(&*store, g, a).await, 0);

    let mut late = new_message(g, c, "@bob again", at(5));
    late.mentions = vec![b];
    store.insert_message(late).await.expect("insert");
    assert_eq!(mention_count(&*store, g, b).await, 1);
    store
        .advance_read(g, b, u64::MAX, at(6))
        .await
        .expect("read")
        .expect("member");
    assert_eq!(
        mention_count(&*store, g, b).await,
        0,
        "read mentions are not counted"
    );
}

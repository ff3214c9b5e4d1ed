//! Conformance cases for full-text search and the newer half of a page
//! around a message ([`MessageStore`](crate::store::MessageStore)).

use std::sync::Arc;

use super::fixtures::{at, create_direct, create_group, create_user, send, send_at};
use crate::domain::MessageContent;
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ChangeAction, ChangeOutcome, MARK_END, MARK_START, MemberRole, NewChange, NewMember, SearchHit,
    SearchQuery, SearchTerms,
};
use crate::store::Store;

/// Searches as `user` for `q` (optionally within one conversation).
///
/// # Panics
/// When `q` is not a valid query or the store fails.
pub async fn search(
    store: &dyn Store,
    user: UserId,
    q: &str,
    conversation: Option<ConversationId>,
    offset: u32,
    limit: u32,
) -> Vec<SearchHit> {
    let query = SearchQuery {
        user,
        terms: SearchTerms::parse(q).expect("valid query"),
        conversation,
        offset,
        limit,
    };
    store.search_messages(&query).await.expect("search")
}

/// The ids of the hits, in order.
pub fn ids(hits: &[SearchHit]) -> Vec<MessageId> {
    hits.iter().map(|h| h.message.id).collect()
}

/// Applies `action` by member `actor` to message `m` of `c`, which must
/// take a seq.
///
/// # Panics
/// When the change is not applied.
pub async fn change(
    store: &dyn Store,
    c: ConversationId,
    m: MessageId,
    actor: UserId,
    action: ChangeAction,
) {
    let outcome = store
        .apply_change(NewChange {
            conversation_id: c,
            message_id: m,
            actor_id: actor,
            by_operator: false,
            action,
            at: at(50),
        })
        .await
        .expect("change");
    assert!(
        matches!(outcome, ChangeOutcome::Applied { .. }),
        "{outcome:?}"
    );
}

/// Only the searcher's conversations, and in each only what was sent
/// since they joined; a conversation filter narrows it to one.
pub async fn search_sees_only_the_searchers_messages_since_joining(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let d = create_direct(&*store, a, b).await;
    let team = create_group(&*store, "Team", a, &[c]).await;
    let secret = create_group(&*store, "Secret", b, &[c]).await;
    let in_direct = send(&*store, d, b, "lunch at noon").await;
    let in_team = send(&*store, team, c, "Lunch plans").await;
    send(&*store, secret, b, "secret lunch").await;
    let found = search(&*store, a, "lunch", None, 0, 10).await;
    let mut got = ids(&found);
    got.sort();
    let mut want = vec![in_direct.id, in_team.id];
    want.sort();
    assert_eq!(got, want, "not the group alice is not in");
    assert_eq!(
        ids(&search(&*store, a, "lunch", Some(d), 0, 10).await),
        vec![in_direct.id]
    );
    assert!(
        search(&*store, a, "lunch", Some(secret), 0, 10)
            .await
            .is_empty()
    );

    let early = send(&*store, team, a, "early lunch").await;
    store
        .add_members(
            team,
            vec![NewMember {
                user_id: b,
                role: MemberRole::Member,
            }],
            at(10),
            100,
        )
        .await
        .expect("add bob");
    let late = send(&*store, team, c, "late lunch").await;
    let bobs: Vec<MessageId> = ids(&search(&*store, b, "lunch", Some(team), 0, 10).await);
    assert_eq!(bobs, vec![late.id], "not what was sent before bob joined");
    assert!(!bobs.contains(&early.id));
    store.remove_member(team, b).await.expect("remove bob");
    assert!(
        search(&*store, b, "lunch", Some(team), 0, 10)
            .await
            .is_empty(),
        "a member who left searches the group no more"
    );
}

/// Every word must be there as a whole word, in any case and order.
pub async fn search_matches_every_word_whole_and_in_any_case(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let both = send(&*store, d, a, "NOON lunch, downstairs").await;
    send(&*store, d, b, "lunch only").await;
    send(&*store, d, b, "noonish lunchtime").await;
    assert_eq!(
        ids(&search(&*store, b, "lunch noon", None, 0, 10).await),
        vec![both.id]
    );
    assert_eq!(
        ids(&search(&*store, b, "Noon", None, 0, 10).await),
        vec![both.id]
    );
    assert!(
        search(&*store, b, "pizza lunch", None, 0, 10)
            .await
            .is_empty()
    );
    let hit = &search(&*store, b, "downstairs", None, 0, 10).await[0];
    let marked = format!("{MARK_START}downstairs{MARK_END}");
    assert!(hit.snippet.contains(&marked), "{:?}", hit.snippet);
}

/// An edit re-indexes the message; a deletion removes it from search.
pub async fn search_follows_edits_and_deletions(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let m = send(&*store, d, a, "lunch tomorrow").await;
    let edit = ChangeAction::Edit {
        content: MessageContent::parse("dinner tomorrow").expect("content"),
        mentions: Vec::new(),
    };
    change(&*store, d, m.id, a, edit).await;
    assert!(search(&*store, b, "lunch", None, 0, 10).await.is_empty());
    let found = search(&*store, b, "dinner", None, 0, 10).await;
    assert_eq!(ids(&found), vec![m.id]);
    assert_eq!(found[0].message.content, "dinner tomorrow");
    change(&*store, d, m.id, a, ChangeAction::Delete).await;
    assert!(search(&*store, b, "dinner", None, 0, 10).await.is_empty());
    assert!(search(&*store, b, "tomorrow", None, 0, 10).await.is_empty());
}

/// Better matches first, then newest first; offset and limit page
/// through that order.
pub async fn search_ranks_then_pages_newest_first(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let mut plain = Vec::new();
    for i in 0..5 {
        plain.push(send_at(&*store, d, a, "status report", at(i)).await.id);
    }
    let strong = send_at(&*store, d, a, "report report report", at(0)).await;
    let all = search(&*store, b, "report", None, 0, 10).await;
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].message.id, strong.id, "the best match first");
    assert!(all.windows(2).all(|w| w[0].rank >= w[1].rank));
    let newest_first: Vec<MessageId> = plain.iter().rev().copied().collect();
    assert_eq!(ids(&all[1..]), newest_first, "equal ranks: newest first");
    let page = |offset| search(&*store, b, "report", None, offset, 2);
    assert_eq!(ids(&page(1).await), newest_first[..2]);
    assert_eq!(ids(&page(3).await), newest_first[2..4]);
    assert_eq!(ids(&page(5).await), newest_first[4..]);
    assert!(page(6).await.is_empty());
}

/// `messages_after` pages forward through messages only.
pub async fn search_messages_after_a_seq_come_oldest_first(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let m1 = send(&*store, d, a, "one").await;
    let react = ChangeAction::AddReaction(crate::domain::Emoji::parse("👍").expect("emoji"));
    change(&*store, d, m1.id, b, react).await;
    let m3 = send(&*store, d, a, "three").await;
    let m4 = send(&*store, d, b, "four").await;
    let after = |seq, limit| store.messages_after(d, seq, limit);
    let got: Vec<MessageId> = after(0, 10)
        .await
        .expect("page")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(got, vec![m1.id, m3.id, m4.id]);
    let got: Vec<MessageId> = after(1, 1)
        .await
        .expect("page")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(got, vec![m3.id], "the change at seq 2 is not a message");
    assert!(after(4, 10).await.expect("page").is_empty());
}

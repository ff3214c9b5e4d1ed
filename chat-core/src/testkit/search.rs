//! Conformance cases for full-text search and the newer half of a page
//! around a message ([`MessageStore`](crate::store::MessageStore)).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fixtures::{at, create_direct, create_group, create_user, send, send_at};
use crate::domain::MessageContent;
use crate::engine::ChatEngine;
use crate::error::{ChatError, Result};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{
    ChangeAction, ChangeOutcome, MARK_END, MARK_START, MemberRole, NewChange, NewMember, SearchHit,
    SearchQuery, SearchScope, SearchTerms,
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
    let scope = conversation.map_or(SearchScope::All, SearchScope::Conversation);
    search_in(store, user, q, scope, offset, limit).await
}

/// Searches as `user` for `q` in `scope`.
///
/// # Panics
/// When `q` is not a valid query or the store fails.
pub async fn search_in(
    store: &dyn Store,
    user: UserId,
    q: &str,
    scope: SearchScope,
    offset: u32,
    limit: u32,
) -> Vec<SearchHit> {
    let query = SearchQuery {
        user,
        terms: SearchTerms::parse(q).expect("valid query"),
        scope,
        unranked_words: Vec::new(),
        offset,
        limit,
    };
    store.search_messages(&query).await.expect("search")
}

/// How a search through the engine ended (see [`timed_search`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOutcome {
    /// Results, best match first.
    Ranked,
    /// Results, latest first (only very common words, in one conversation).
    Latest,
    /// Refused with `SEARCH_TOO_BROAD` (only very common words, across all
    /// conversations).
    TooBroad,
}

/// One search as the search cost examples time it: what a client of the
/// engine waits for (word counts, the search, the views of the hits).
#[derive(Debug, Clone, Copy)]
pub struct TimedSearch {
    /// From the call to the answer.
    pub took: Duration,
    /// Results on the page.
    pub hits: usize,
    /// How it ended.
    pub outcome: SearchOutcome,
}

/// Runs a first page of `limit` results of a search of `q` as `user`
/// through `engine`, and times it.
///
/// # Errors
/// What the search fails with, but `SEARCH_TOO_BROAD`.
pub async fn timed_search(
    engine: &ChatEngine,
    user: UserId,
    q: &str,
    conversation: Option<ConversationId>,
    limit: u32,
) -> Result<TimedSearch> {
    let started = Instant::now();
    let found = engine
        .conversations()
        .search_messages(user, q, conversation, Some(limit), None)
        .await;
    let took = started.elapsed();
    let (hits, outcome) = match found {
        Ok(page) if page.ranked => (page.results.len(), SearchOutcome::Ranked),
        Ok(page) => (page.results.len(), SearchOutcome::Latest),
        Err(ChatError::SearchTooBroad) => (0, SearchOutcome::TooBroad),
        Err(e) => return Err(e),
    };
    Ok(TimedSearch {
        took,
        hits,
        outcome,
    })
}

/// The latency of some timed searches, as the search cost examples print
/// it: nearest-rank percentiles (the smallest time at or above that share
/// of the searches), and how the searches ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLatency {
    /// Searches.
    pub count: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// Results on the pages, in all.
    pub hits: usize,
    /// Searches ranked, latest first, and refused as too broad.
    pub ended: [usize; 3],
}

impl SearchLatency {
    /// The summary of `runs`; `None` for none.
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a TimedSearch>) -> Option<Self> {
        let runs: Vec<&TimedSearch> = runs.into_iter().collect();
        let mut took: Vec<Duration> = runs.iter().map(|r| r.took).collect();
        if took.is_empty() {
            return None;
        }
        took.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: ceil(q * n), from 1.
            let rank = ((q * took.len() as f64).ceil() as usize).clamp(1, took.len());
            took[rank - 1]
        };
        let ended = |o| runs.iter().filter(|r| r.outcome == o).count();
        Some(Self {
            count: took.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: took[took.len() - 1],
            hits: runs.iter().map(|r| r.hits).sum(),
            ended: [
                ended(SearchOutcome::Ranked),
                ended(SearchOutcome::Latest),
                ended(SearchOutcome::TooBroad),
            ],
        })
    }
}

/// The store reads `engine` has timed (`chat_store_read_seconds`), as
/// lines of `op: calls, mean ms`, for the reads it made at all: where a
/// search cost example's time went.
pub fn store_read_summary(engine: &ChatEngine) -> Vec<String> {
    let metrics = engine.render_metrics();
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let mut summary = Vec::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("chat_store_read_seconds_count{op=\"") else {
            continue;
        };
        let Some((op, _)) = rest.split_once('"') else {
            continue;
        };
        let count = value(line).unwrap_or(0.0);
        let sum_prefix = format!("chat_store_read_seconds_sum{{op=\"{op}\"}}");
        let sum = metrics
            .lines()
            .find(|l| l.starts_with(&sum_prefix))
            .and_then(value)
            .unwrap_or(0.0);
        if count > 0.0 {
            summary.push(format!(
                "{op}: {count} calls, {:.3} ms each",
                sum / count * 1e3
            ));
        }
    }
    summary
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

/// A search of one conversation latest first: its matches in reverse log
/// order whatever their rank, still only since the searcher joined and
/// never deleted ones, paged by offset and limit.
pub async fn search_latest_first_follows_the_log(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let g = create_group(&*store, "Team", a, &[b]).await;
    let early = send(&*store, g, a, "lunch before carol").await;
    store
        .add_members(
            g,
            vec![NewMember {
                user_id: c,
                role: MemberRole::Member,
            }],
            at(5),
            100,
        )
        .await
        .expect("add carol");
    let strong = send_at(&*store, g, b, "lunch lunch lunch", at(6)).await;
    // An older timestamp than `strong`, but later in the log: the log
    // order decides.
    let plain = send_at(&*store, g, a, "what about lunch today then", at(1)).await;
    let gone = send_at(&*store, g, b, "lunch is off", at(7)).await;
    change(&*store, g, gone.id, b, ChangeAction::Delete).await;
    let last = send_at(&*store, g, a, "late lunch", at(8)).await;
    let other = create_direct(&*store, a, c).await;
    send(&*store, other, a, "lunch elsewhere").await;

    let latest = |user, offset, limit| {
        search_in(
            &*store,
            user,
            "lunch",
            SearchScope::ConversationLatest(g),
            offset,
            limit,
        )
    };
    let found = latest(b, 0, 10).await;
    assert_eq!(ids(&found), [last.id, plain.id, strong.id, early.id]);
    assert!(found.iter().all(|h| h.rank == 0.0), "unranked");
    assert!(
        found[0]
            .snippet
            .contains(&format!("{MARK_START}lunch{MARK_END}"))
    );
    assert_eq!(ids(&latest(b, 1, 2).await), [plain.id, strong.id]);
    assert!(latest(b, 4, 10).await.is_empty());
    assert_eq!(
        ids(&latest(c, 0, 10).await),
        [last.id, plain.id, strong.id],
        "only what was sent since joining"
    );
    let ranked = search(&*store, b, "lunch", Some(g), 0, 10).await;
    assert_eq!(ranked[0].message.id, strong.id, "ranked, the best first");
}

/// Words a search need not rank by (`unranked_words`) are still
/// required of every hit, in every scope.
pub async fn search_requires_unranked_words(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let both = send_at(&*store, d, a, "the lunch was good today", at(1)).await;
    send_at(&*store, d, a, "lunch alone", at(2)).await;
    send_at(&*store, d, a, "the end", at(3)).await;
    let strong = send_at(&*store, d, b, "the lunch the lunch", at(4)).await;
    for scope in [SearchScope::All, SearchScope::Conversation(d)] {
        let query = SearchQuery {
            user: b,
            terms: SearchTerms::parse("lunch the").expect("valid"),
            scope,
            unranked_words: vec!["the".to_owned()],
            offset: 0,
            limit: 10,
        };
        let found = store.search_messages(&query).await.expect("search");
        assert_eq!(ids(&found), [strong.id, both.id], "{scope:?}");
        let page = SearchQuery {
            offset: 1,
            limit: 1,
            ..query
        };
        let second = store.search_messages(&page).await.expect("search");
        assert_eq!(ids(&second), [both.id], "{scope:?}");
    }
}

/// A search ranks by its rarer words alone: a message holding the common
/// word often does not outrank one holding the rarer word more.
pub async fn search_ranks_by_the_words_it_may_rank_by(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let common = send_at(&*store, d, a, "lunch the the the the the the", at(1)).await;
    let rare = send_at(&*store, d, a, "lunch lunch the", at(2)).await;
    for scope in [SearchScope::All, SearchScope::Conversation(d)] {
        let query = SearchQuery {
            user: b,
            terms: SearchTerms::parse("the lunch").expect("valid"),
            scope,
            unranked_words: vec!["the".to_owned()],
            offset: 0,
            limit: 10,
        };
        let found = store.search_messages(&query).await.expect("search");
        assert_eq!(ids(&found), [rare.id, common.id], "{scope:?}");
        // Should every word be too common (the engine never asks that of
        // a ranked scope), every word ranks: still the same hits.
        let all_common = SearchQuery {
            unranked_words: vec!["the".to_owned(), "lunch".to_owned()],
            ..query
        };
        let found = store.search_messages(&all_common).await.expect("search");
        let mut found = ids(&found);
        found.sort_unstable();
        let mut expected = vec![rare.id, common.id];
        expected.sort_unstable();
        assert_eq!(found, expected, "{scope:?}");
    }
}

/// Word counts: live messages of every conversation holding each word
/// whole, in any case, counted up to the cap; deletions and edits count
/// at once.
pub async fn search_word_counts_count_live_messages(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let c = create_user(&*store, "carol").await.id;
    let d = create_direct(&*store, a, b).await;
    let e = create_direct(&*store, a, c).await;
    send(&*store, d, a, "Lunch at noon").await;
    send(&*store, d, b, "lunch, lunch!").await;
    let edited = send(&*store, e, c, "lunchtime soon").await;
    let deleted = send(&*store, e, a, "lunch or not").await;
    change(&*store, e, deleted.id, a, ChangeAction::Delete).await;
    let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
    let counts = store
        .search_word_counts(&words(&["lunch", "noon", "soon", "absent"]), 100)
        .await
        .expect("counts");
    assert_eq!(counts, [2, 1, 1, 0]);
    let content = MessageContent::parse("lunch soon").expect("valid");
    change(
        &*store,
        e,
        edited.id,
        c,
        ChangeAction::Edit {
            content,
            mentions: Vec::new(),
        },
    )
    .await;
    let counts = store
        .search_word_counts(&words(&["lunch", "lunchtime"]), 100)
        .await
        .expect("counts");
    assert_eq!(counts, [3, 0]);
    let capped = store
        .search_word_counts(&words(&["lunch", "noon"]), 2)
        .await
        .expect("counts");
    assert_eq!(capped, [2, 1], "counted up to the cap");
    assert!(
        store
            .search_word_counts(&[], 10)
            .await
            .expect("none")
            .is_empty(),
        "no words, no counts"
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ms: u64, outcome: SearchOutcome) -> TimedSearch {
        TimedSearch {
            took: Duration::from_millis(ms),
            hits: 2,
            outcome,
        }
    }

    #[test]
    fn latency_is_by_nearest_rank_and_none_for_no_runs() {
        assert_eq!(SearchLatency::of(&[]), None);
        let runs: Vec<TimedSearch> = (1..=10)
            .map(|ms| run(ms, SearchOutcome::Ranked))
            .chain([run(100, SearchOutcome::TooBroad)])
            .collect();
        let l = SearchLatency::of(&runs).expect("runs");
        assert_eq!(l.count, 11);
        assert_eq!(l.p50, Duration::from_millis(6));
        assert_eq!(l.p99, Duration::from_millis(100));
        assert_eq!(l.max, Duration::from_millis(100));
        assert_eq!(l.hits, 22);
        assert_eq!(l.ended, [10, 0, 1]);
        let one = SearchLatency::of(&runs[..1]).expect("one");
        assert_eq!(
            (one.p50, one.p99),
            (Duration::from_millis(1), Duration::from_millis(1))
        );
    }
}

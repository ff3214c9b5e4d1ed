//! Conformance cases for [`DueWork`](crate::realtime::DueWork).

use std::sync::Arc;
use std::time::Duration;

use super::TestRealtime;
use crate::realtime::{DueWork, WorkKind};

/// Long enough that no claim in a case runs out.
const LEASE: Duration = Duration::from_secs(60);

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect()
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

/// A due key is claimed once, until released; marking it while it is held
/// makes it due again after the release.
pub async fn realtime_due_keys_are_claimed_once_until_released(rt: &dyn TestRealtime) {
    let due = rt.due_work();
    let k = keys(2);
    due.mark_due(WorkKind::Push, &k).await.expect("mark");
    let claimed = due
        .claim_due(WorkKind::Push, Duration::ZERO, LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(sorted(claimed), sorted(k.clone()));
    let again = due
        .claim_due(WorkKind::Push, Duration::ZERO, LEASE, 10)
        .await
        .expect("claim");
    assert!(again.is_empty(), "both are held");
    // New work for the first key while it is held.
    due.mark_due(WorkKind::Push, &k[..1]).await.expect("mark");
    let held = due
        .claim_due(WorkKind::Push, Duration::ZERO, LEASE, 10)
        .await
        .expect("claim");
    assert!(held.is_empty(), "still held");
    for key in &k {
        due.release(WorkKind::Push, key).await.expect("release");
    }
    assert_eq!(
        due.claim_due(WorkKind::Push, Duration::ZERO, LEASE, 10)
            .await
            .expect("claim"),
        k[..1],
        "only the key with new work"
    );
}

/// A key is claimable once its first mark has settled; `limit` caps one
/// claim.
pub async fn realtime_due_claims_wait_for_the_settle_time_and_respect_the_limit(
    rt: &dyn TestRealtime,
) {
    let due = rt.due_work();
    let k = keys(5);
    due.mark_due(WorkKind::Push, &k).await.expect("mark");
    let early = due
        .claim_due(WorkKind::Push, Duration::from_secs(3600), LEASE, 10)
        .await
        .expect("claim");
    assert!(early.is_empty(), "nothing has waited an hour");
    let first = due
        .claim_due(WorkKind::Push, Duration::ZERO, LEASE, 3)
        .await
        .expect("claim");
    let rest = due
        .claim_due(WorkKind::Push, Duration::ZERO, LEASE, 3)
        .await
        .expect("claim");
    assert_eq!((first.len(), rest.len()), (3, 2));
    assert_eq!(sorted(first.into_iter().chain(rest).collect()), sorted(k));
}

/// A claim whose lease ran out (its worker died) is claimed again.
pub async fn realtime_due_an_expired_claim_is_claimed_again(rt: &dyn TestRealtime) {
    let due = rt.due_work();
    let k = keys(1);
    due.mark_due(WorkKind::Webhooks, &k).await.expect("mark");
    let short = Duration::from_millis(50);
    assert_eq!(
        due.claim_due(WorkKind::Webhooks, Duration::ZERO, short, 10)
            .await
            .expect("claim"),
        k
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        due.claim_due(WorkKind::Webhooks, Duration::ZERO, LEASE, 10)
            .await
            .expect("claim"),
        k,
        "the first worker never released it"
    );
}

/// A renewed claim outlives its first lease; renewing a key nobody holds
/// claims nothing.
pub async fn realtime_due_a_renewed_claim_is_not_claimed_again(rt: &dyn TestRealtime) {
    let due = rt.due_work();
    let k = keys(2);
    due.mark_due(WorkKind::Webhooks, &k).await.expect("mark");
    let short = Duration::from_millis(200);
    let claimed = due
        .claim_due(WorkKind::Webhooks, Duration::ZERO, short, 10)
        .await
        .expect("claim");
    assert_eq!(sorted(claimed), sorted(k.clone()));
    due.renew(WorkKind::Webhooks, &k[0], LEASE)
        .await
        .expect("renew");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        due.claim_due(WorkKind::Webhooks, Duration::ZERO, LEASE, 10)
            .await
            .expect("claim"),
        k[1..],
        "only the claim that was not renewed ran out"
    );
    // Released, a key renewed is still free: renewing never claims.
    let free = keys(1);
    due.renew(WorkKind::Webhooks, &free[0], LEASE)
        .await
        .expect("renew");
    due.mark_due(WorkKind::Webhooks, &free).await.expect("mark");
    assert_eq!(
        due.claim_due(WorkKind::Webhooks, Duration::ZERO, LEASE, 10)
            .await
            .expect("claim"),
        free
    );
}

/// Concurrent claimers, on both instances where there are two, share the
/// due keys: each goes to exactly one.
pub async fn realtime_due_concurrent_claimers_on_every_instance_get_each_key_once(
    rt: &dyn TestRealtime,
) {
    let k = keys(40);
    rt.due_work()
        .mark_due(WorkKind::Push, &k)
        .await
        .expect("mark");
    let instances: Vec<Arc<dyn DueWork>> = std::iter::once(rt.due_work())
        .chain(rt.other_instance_due_work())
        .collect();
    let mut claimers = tokio::task::JoinSet::new();
    for i in 0..8 {
        let due = instances[i % instances.len()].clone();
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = due
                    .claim_due(WorkKind::Push, Duration::ZERO, LEASE, 3)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        });
    }
    let claims = claimers.join_all().await;
    assert_eq!(sorted(claims.into_iter().flatten().collect()), sorted(k));
}

/// Each kind of work has its own keys.
pub async fn realtime_due_kinds_are_apart(rt: &dyn TestRealtime) {
    let due = rt.due_work();
    let k = keys(1);
    due.mark_due(WorkKind::Push, &k).await.expect("mark");
    let webhooks = due
        .claim_due(WorkKind::Webhooks, Duration::ZERO, LEASE, 10)
        .await
        .expect("claim");
    assert!(webhooks.is_empty());
    assert_eq!(
        due.claim_due(WorkKind::Push, Duration::ZERO, LEASE, 10)
            .await
            .expect("claim"),
        k
    );
}

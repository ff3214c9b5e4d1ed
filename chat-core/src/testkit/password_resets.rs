//! Conformance cases for [`PasswordResetStore`](crate::store::PasswordResetStore).

use std::sync::Arc;

use super::fixtures::{at, create_user, password_reset};
use crate::model::ResetConsumption;
use crate::store::Store;

/// A reset token works exactly once.
pub async fn resets_token_is_consumed_once(store: Arc<dyn Store>) {
    let user = create_user(&*store, "alice").await;
    store
        .create_password_reset(password_reset(user.id, "r1"))
        .await
        .expect("create");
    assert_eq!(
        store
            .consume_password_reset("r1", at(10))
            .await
            .expect("consume"),
        ResetConsumption::Consumed(user.id)
    );
    assert_eq!(
        store
            .consume_password_reset("r1", at(11))
            .await
            .expect("consume"),
        ResetConsumption::AlreadyUsed
    );
}

/// Expired and unknown tokens are refused with their own outcome.
pub async fn resets_expired_and_unknown_tokens_are_refused(store: Arc<dyn Store>) {
    let user = create_user(&*store, "bob").await;
    store
        .create_password_reset(password_reset(user.id, "r2"))
        .await
        .expect("create");
    assert_eq!(
        store
            .consume_password_reset("r2", at(3600))
            .await
            .expect("consume"),
        ResetConsumption::Expired
    );
    assert_eq!(
        store
            .consume_password_reset("missing", at(1))
            .await
            .expect("consume"),
        ResetConsumption::Unknown
    );
}

/// Using one token spends the user's other outstanding tokens, but not
/// anybody else's.
pub async fn resets_consuming_spends_the_users_other_tokens(store: Arc<dyn Store>) {
    let carol = create_user(&*store, "carol").await;
    let dave = create_user(&*store, "dave").await;
    for (user, hash) in [(carol.id, "c1"), (carol.id, "c2"), (dave.id, "d1")] {
        store
            .create_password_reset(password_reset(user, hash))
            .await
            .expect("create");
    }
    assert_eq!(
        store
            .consume_password_reset("c1", at(1))
            .await
            .expect("consume"),
        ResetConsumption::Consumed(carol.id)
    );
    assert_eq!(
        store
            .consume_password_reset("c2", at(2))
            .await
            .expect("consume"),
        ResetConsumption::AlreadyUsed
    );
    assert_eq!(
        store
            .consume_password_reset("d1", at(3))
            .await
            .expect("consume"),
        ResetConsumption::Consumed(dave.id)
    );
}

/// Of many simultaneous uses of one token, exactly one succeeds.
pub async fn resets_concurrent_consumers_have_one_winner(store: Arc<dyn Store>) {
    let user = create_user(&*store, "erin").await;
    store
        .create_password_reset(password_reset(user.id, "race"))
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_password_reset("race", at(1))
                .await
                .expect("consume")
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if matches!(t.await.expect("join"), ResetConsumption::Consumed(_)) {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

/// Consuming two different tokens of one user at the same time must not
/// deadlock (each would lock its own token, then wait for the other's
/// while spending the rest); exactly one wins.
pub async fn resets_concurrent_consumers_of_different_tokens_have_one_winner(
    store: Arc<dyn Store>,
) {
    let user = create_user(&*store, "zoe").await;
    let hashes: Vec<String> = (0..8).map(|i| format!("z{i}")).collect();
    for hash in &hashes {
        store
            .create_password_reset(password_reset(user.id, hash))
            .await
            .expect("create");
    }
    let mut tasks = Vec::new();
    for hash in hashes {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_password_reset(&hash, at(1))
                .await
                .expect("consume")
        }));
    }
    let mut winners = 0;
    for task in tasks {
        match task.await.expect("join") {
            ResetConsumption::Consumed(id) => {
                assert_eq!(id, user.id);
                winners += 1;
            }
            other => assert_eq!(other, ResetConsumption::AlreadyUsed),
        }
    }
    assert_eq!(winners, 1);
}

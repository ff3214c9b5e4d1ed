//! The conformance suite against PostgreSQL, one fresh database per case.
//!
//! Needs `DATABASE_URL` (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); without it the cases
//! print why and pass, unless `CHAT_REQUIRE_BACKENDS=1`.

use std::sync::Arc;

use chat_core::model::ResetConsumption;
use chat_core::store::Store;
use chat_core::testkit::{TestStore, fixtures};
use chat_store_postgres::PgTestDatabase;

chat_core::store_conformance_tests!(PgTestDatabase::create());

/// Beyond the suite: consuming two different tokens of one user at the same
/// time must not deadlock (each would lock its own token and then wait for
/// the other's while spending the rest); exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resets_of_one_user_with_different_tokens_have_one_winner() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store: Arc<dyn Store> = TestStore::store(&db);
    let user = fixtures::create_user(&*store, "zoe").await;
    let hashes: Vec<String> = (0..8).map(|i| format!("z{i}")).collect();
    for hash in &hashes {
        store
            .create_password_reset(fixtures::password_reset(user.id, hash))
            .await
            .expect("create");
    }
    let mut tasks = Vec::new();
    for hash in hashes {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_password_reset(&hash, fixtures::at(1))
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
    db.teardown().await;
}

/// Beyond the suite: a revocation racing rotations of the session's token
/// never makes either fail, and once both are done no rotation can follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_racing_rotation_leaves_a_revoked_session() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store: Arc<dyn Store> = TestStore::store(&db);
    let user = fixtures::create_user(&*store, "yann").await;
    let sid = fixtures::create_session(&*store, user.id, "root").await;
    let root = store
        .refresh_token_by_hash("root")
        .await
        .expect("ok")
        .expect("found");
    let rotate = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .rotate_refresh_token(
                    root.id,
                    fixtures::at(1),
                    fixtures::refresh_token(user.id, sid, "next"),
                )
                .await
                .expect("rotate")
        })
    };
    let revoke = {
        let store = store.clone();
        tokio::spawn(async move { store.revoke_session(sid, fixtures::at(1)).await })
    };
    let rotated = rotate.await.expect("join");
    assert!(revoke.await.expect("join").expect("revoke"));
    let next = store.refresh_token_by_hash("next").await.expect("ok");
    assert_eq!(next.is_some(), rotated);
    if let Some(next) = next {
        let again = store
            .rotate_refresh_token(
                next.id,
                fixtures::at(2),
                fixtures::refresh_token(user.id, sid, "after"),
            )
            .await
            .expect("rotate");
        assert!(!again, "a revoked session must not rotate");
    }
    db.teardown().await;
}

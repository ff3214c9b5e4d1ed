//! Conformance cases for [`SessionStore`](crate::store::SessionStore).

use std::sync::Arc;

use super::fixtures::{at, create_session, create_user, refresh_token, t0};
use crate::ids::SessionId;
use crate::store::Store;

/// A session's first token is found by its hash with the session's state.
pub async fn sessions_create_and_find_token(store: Arc<dyn Store>) {
    let user = create_user(&*store, "alice").await;
    let sid = create_session(&*store, user.id, "h1").await;
    let session = store.session(sid).await.expect("ok").expect("found");
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.created_at, t0());
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.device_info.as_deref(), Some("test-device"));

    let rec = store
        .refresh_token_by_hash("h1")
        .await
        .expect("ok")
        .expect("found");
    assert_eq!(rec.session_id, sid);
    assert_eq!(rec.user_id, user.id);
    assert_eq!(rec.expires_at, at(7 * 24 * 3600));
    assert_eq!(rec.rotated_at, None);
    assert_eq!(rec.session_revoked_at, None);

    assert!(
        store
            .refresh_token_by_hash("nope")
            .await
            .expect("ok")
            .is_none()
    );
    assert!(store.session(SessionId::new()).await.expect("ok").is_none());
}

/// Rotation marks the old token, adds the new one, and works only once.
pub async fn sessions_rotate_replaces_the_token_once(store: Arc<dyn Store>) {
    let user = create_user(&*store, "bob").await;
    let sid = create_session(&*store, user.id, "old").await;
    let old = store
        .refresh_token_by_hash("old")
        .await
        .expect("ok")
        .expect("found");

    let rotated = store
        .rotate_refresh_token(old.id, at(60), refresh_token(user.id, sid, "new"))
        .await
        .expect("rotate");
    assert!(rotated);
    let old = store
        .refresh_token_by_hash("old")
        .await
        .expect("ok")
        .expect("found");
    assert_eq!(old.rotated_at, Some(at(60)));
    let new = store
        .refresh_token_by_hash("new")
        .await
        .expect("ok")
        .expect("found");
    assert_eq!((new.session_id, new.rotated_at), (sid, None));

    let again = store
        .rotate_refresh_token(old.id, at(61), refresh_token(user.id, sid, "newer"))
        .await
        .expect("rotate");
    assert!(!again, "a rotated token must not rotate twice");
    assert!(
        store
            .refresh_token_by_hash("newer")
            .await
            .expect("ok")
            .is_none()
    );
}

/// Of many simultaneous rotations of one token, exactly one succeeds.
pub async fn sessions_concurrent_rotations_have_one_winner(store: Arc<dyn Store>) {
    let user = create_user(&*store, "carol").await;
    let sid = create_session(&*store, user.id, "root").await;
    let root = store
        .refresh_token_by_hash("root")
        .await
        .expect("ok")
        .expect("found");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(
                    root.id,
                    at(1),
                    refresh_token(user.id, sid, &format!("c{i}")),
                )
                .await
                .expect("rotate")
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.expect("join") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    let mut stored = 0;
    for i in 0..8 {
        if store
            .refresh_token_by_hash(&format!("c{i}"))
            .await
            .expect("ok")
            .is_some()
        {
            stored += 1;
        }
    }
    assert_eq!(stored, 1, "losers must not insert their token");
}

/// After revocation no token of the session rotates and none can be added.
pub async fn sessions_revoked_session_refuses_rotation_and_new_tokens(store: Arc<dyn Store>) {
    let user = create_user(&*store, "dave").await;
    let sid = create_session(&*store, user.id, "t").await;
    assert!(store.revoke_session(sid, at(5)).await.expect("revoke"));
    assert!(
        !store
            .revoke_session(sid, at(6))
            .await
            .expect("revoke again")
    );
    assert!(
        !store
            .revoke_session(SessionId::new(), at(6))
            .await
            .expect("unknown")
    );

    let rec = store
        .refresh_token_by_hash("t")
        .await
        .expect("ok")
        .expect("found");
    assert_eq!(rec.session_revoked_at, Some(at(5)));
    assert_eq!(
        store
            .session(sid)
            .await
            .expect("ok")
            .expect("found")
            .revoked_at,
        Some(at(5))
    );
    let rotated = store
        .rotate_refresh_token(rec.id, at(7), refresh_token(user.id, sid, "t2"))
        .await
        .expect("rotate");
    assert!(!rotated);
    let added = store
        .add_refresh_token(refresh_token(user.id, sid, "t3"))
        .await
        .expect("add");
    assert!(!added);
    assert!(
        store
            .refresh_token_by_hash("t2")
            .await
            .expect("ok")
            .is_none()
    );
    assert!(
        store
            .refresh_token_by_hash("t3")
            .await
            .expect("ok")
            .is_none()
    );
}

/// Revoking all of a user's sessions spares the exception and other users.
pub async fn sessions_revoke_user_sessions_keeps_the_exception(store: Arc<dyn Store>) {
    let erin = create_user(&*store, "erin").await;
    let other = create_user(&*store, "frank").await;
    let s1 = create_session(&*store, erin.id, "e1").await;
    let s2 = create_session(&*store, erin.id, "e2").await;
    let keep = create_session(&*store, erin.id, "e3").await;
    let theirs = create_session(&*store, other.id, "f1").await;

    let mut revoked = store
        .revoke_user_sessions(erin.id, Some(keep), at(9))
        .await
        .expect("revoke");
    revoked.sort();
    let mut expected = vec![s1, s2];
    expected.sort();
    assert_eq!(revoked, expected);
    for (sid, live) in [(s1, false), (s2, false), (keep, true), (theirs, true)] {
        let s = store.session(sid).await.expect("ok").expect("found");
        assert_eq!(s.revoked_at.is_none(), live, "{sid}");
    }
    // Already revoked sessions are not reported again.
    let again = store
        .revoke_user_sessions(erin.id, None, at(10))
        .await
        .expect("revoke");
    assert_eq!(again, vec![keep]);
}

/// Recently revoked sessions are listed; older revocations are not.
pub async fn sessions_revoked_since_lists_recent_revocations(store: Arc<dyn Store>) {
    let user = create_user(&*store, "gina").await;
    let old = create_session(&*store, user.id, "g1").await;
    let recent = create_session(&*store, user.id, "g2").await;
    let _live = create_session(&*store, user.id, "g3").await;
    store.revoke_session(old, at(10)).await.expect("revoke");
    store.revoke_session(recent, at(100)).await.expect("revoke");
    let since = store.sessions_revoked_since(at(50)).await.expect("list");
    assert_eq!(since, vec![recent]);
}

/// A revocation racing a rotation of the session's token never makes
/// either fail, and once both are done no rotation can follow.
pub async fn sessions_revocation_racing_rotation_leaves_a_revoked_session(store: Arc<dyn Store>) {
    let user = create_user(&*store, "yann").await;
    let sid = create_session(&*store, user.id, "root").await;
    let root = store
        .refresh_token_by_hash("root")
        .await
        .expect("ok")
        .expect("found");
    let rotate = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .rotate_refresh_token(root.id, at(1), refresh_token(user.id, sid, "next"))
                .await
                .expect("rotate")
        })
    };
    let revoke = {
        let store = store.clone();
        tokio::spawn(async move { store.revoke_session(sid, at(1)).await })
    };
    let rotated = rotate.await.expect("join");
    assert!(revoke.await.expect("join").expect("revoke"));
    let next = store.refresh_token_by_hash("next").await.expect("ok");
    assert_eq!(next.is_some(), rotated);
    if let Some(next) = next {
        let again = store
            .rotate_refresh_token(next.id, at(2), refresh_token(user.id, sid, "after"))
            .await
            .expect("rotate");
        assert!(!again, "a revoked session must not rotate");
    }
}

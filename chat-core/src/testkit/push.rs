//! Conformance cases for [`PushStore`](crate::store::PushStore).

use std::sync::Arc;

use super::fixtures::{at, create_user};
use crate::ids::{PushSubscriptionId, UserId};
use crate::model::{NewPushSubscription, PushLevel};
use crate::store::Store;

fn subscription(user: UserId, endpoint: &str, secs: u64) -> NewPushSubscription {
    NewPushSubscription {
        id: PushSubscriptionId::new(),
        user_id: user,
        endpoint: endpoint.to_owned(),
        p256dh: format!("key-of-{endpoint}"),
        auth: format!("auth-of-{endpoint}"),
        level: PushLevel::All,
        created_at: at(secs),
    }
}

/// Subscriptions are listed per user, oldest first; their level changes
/// and they are deleted by their owner only.
pub async fn push_subscriptions_round_trip(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = create_user(&*store, "bob").await;
    let phone = store
        .save_push_subscription(subscription(alice.id, "https://push.example/phone", 20))
        .await
        .expect("save");
    let laptop = store
        .save_push_subscription(subscription(alice.id, "https://push.example/laptop", 10))
        .await
        .expect("save");
    let bobs = store
        .save_push_subscription(subscription(bob.id, "https://push.example/bob", 5))
        .await
        .expect("save");
    assert_eq!(phone.p256dh, "key-of-https://push.example/phone");
    assert_eq!(phone.created_at, at(20));
    let listed = store.push_subscriptions(alice.id).await.expect("list");
    assert_eq!(listed, vec![laptop.clone(), phone.clone()], "oldest first");

    let changed = store
        .set_push_level(alice.id, phone.id, PushLevel::Mentions)
        .await
        .expect("level");
    assert_eq!(changed.map(|s| s.level), Some(PushLevel::Mentions));
    assert_eq!(
        store
            .set_push_level(bob.id, phone.id, PushLevel::All)
            .await
            .expect("level"),
        None,
        "not bob's"
    );
    let listed = store.push_subscriptions(alice.id).await.expect("list");
    assert_eq!(listed[1].level, PushLevel::Mentions, "kept");

    assert!(
        !store
            .delete_push_subscription(laptop.id, Some(bob.id))
            .await
            .expect("delete"),
        "bob may not delete alice's"
    );
    assert!(
        store
            .delete_push_subscription(laptop.id, Some(alice.id))
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_push_subscription(laptop.id, Some(alice.id))
            .await
            .expect("delete"),
        "once"
    );
    let listed = store.push_subscriptions(alice.id).await.expect("list");
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), [phone.id]);
    assert_eq!(
        store.push_subscriptions(bob.id).await.expect("list"),
        vec![bobs]
    );
}

/// An endpoint is registered once: registering it again keeps its id and
/// creation time and takes the new keys, level and owner.
pub async fn push_subscriptions_an_endpoint_is_registered_once(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = create_user(&*store, "bob").await;
    let endpoint = "https://push.example/shared-laptop";
    let first = store
        .save_push_subscription(subscription(alice.id, endpoint, 10))
        .await
        .expect("save");
    let mut again = subscription(alice.id, endpoint, 30);
    again.p256dh = "new-key".into();
    again.auth = "new-auth".into();
    again.level = PushLevel::Mentions;
    let second = store.save_push_subscription(again).await.expect("save");
    assert_eq!(second.id, first.id);
    assert_eq!(second.created_at, at(10));
    assert_eq!(
        (second.p256dh.as_str(), second.auth.as_str(), second.level),
        ("new-key", "new-auth", PushLevel::Mentions)
    );
    assert_eq!(
        store.push_subscriptions(alice.id).await.expect("list"),
        vec![second.clone()]
    );

    // The laptop now signs in as bob: the subscription is his.
    let moved = store
        .save_push_subscription(subscription(bob.id, endpoint, 40))
        .await
        .expect("save");
    assert_eq!((moved.id, moved.user_id), (first.id, bob.id));
    assert!(
        store
            .push_subscriptions(alice.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.push_subscriptions(bob.id).await.expect("list"),
        vec![moved]
    );
}

/// A subscription the push service says is gone is deleted whoever owns
/// it.
pub async fn push_subscriptions_gone_ones_are_deleted_by_id(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let sub = store
        .save_push_subscription(subscription(alice.id, "https://push.example/old", 1))
        .await
        .expect("save");
    assert!(
        store
            .delete_push_subscription(sub.id, None)
            .await
            .expect("delete")
    );
    assert!(
        store
            .push_subscriptions(alice.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        !store
            .delete_push_subscription(PushSubscriptionId::new(), None)
            .await
            .expect("delete"),
        "an unknown id deletes nothing"
    );
}

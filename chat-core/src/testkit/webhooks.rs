//! Conformance cases for [`WebhookStore`](crate::store::WebhookStore).

use std::sync::Arc;

use super::fixtures::{at, create_direct, create_user};
use crate::ids::{ConversationId, DeadLetterId, WebhookId};
use crate::model::{DeadLetter, NewWebhook, Webhook, WebhookCursorMove, WebhookEvent};
use crate::store::Store;

fn webhook(url: &str, secs: u64) -> NewWebhook {
    NewWebhook {
        id: WebhookId::new(),
        url: url.to_owned(),
        events: vec![WebhookEvent::MessageCreated, WebhookEvent::ReactionAdded],
        conversation_id: None,
        secret: format!("secret of {url}"),
        created_by: None,
        created_at: at(secs),
    }
}

fn letter(hook: WebhookId, conversation: ConversationId, seq: u64, secs: u64) -> DeadLetter {
    DeadLetter {
        id: DeadLetterId::new(),
        webhook_id: hook,
        event: WebhookEvent::MessageCreated,
        conversation_id: conversation,
        seq,
        body: format!("{{\"seq\":{seq}}}"),
        attempts: 4,
        last_error: "503 Service Unavailable".to_owned(),
        failed_at: at(secs),
    }
}

/// Webhooks are listed oldest first as registered, and deleted once.
pub async fn webhooks_round_trip(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = create_user(&*store, "bob").await;
    let direct = create_direct(&*store, alice.id, bob.id).await;
    let everything = webhook("https://hooks.example/all", 20);
    let mut one = webhook("https://hooks.example/one", 10);
    one.conversation_id = Some(direct);
    one.created_by = Some(alice.id);
    one.events = vec![WebhookEvent::MessageDeleted];
    store
        .create_webhook(everything.clone())
        .await
        .expect("create");
    store.create_webhook(one.clone()).await.expect("create");
    assert_eq!(
        store.webhooks().await.expect("list"),
        vec![one.clone(), everything.clone()]
    );
    assert!(store.delete_webhook(one.id).await.expect("delete"));
    assert!(!store.delete_webhook(one.id).await.expect("delete"), "once");
    assert_eq!(store.webhooks().await.expect("list"), vec![everything]);
}

/// A webhook's cursor in a conversation only moves forward, and goes
/// with the webhook.
pub async fn webhooks_cursors_move_forward_only(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = create_user(&*store, "bob").await;
    let direct = create_direct(&*store, alice.id, bob.id).await;
    let hook = webhook("https://hooks.example/a", 1);
    let other = webhook("https://hooks.example/b", 2);
    store.create_webhook(hook.clone()).await.expect("create");
    store.create_webhook(other.clone()).await.expect("create");
    assert_eq!(
        store.webhook_cursor(hook.id, direct).await.expect("cursor"),
        None
    );
    let to = |hook: &Webhook, seq| WebhookCursorMove {
        webhook: hook.id,
        conversation: direct,
        seq,
    };
    store
        .advance_webhook_cursors(&[to(&hook, 5)])
        .await
        .expect("advance");
    store
        .advance_webhook_cursors(&[to(&hook, 3)])
        .await
        .expect("advance");
    assert_eq!(
        store.webhook_cursor(hook.id, direct).await.expect("cursor"),
        Some(5)
    );
    assert_eq!(
        store
            .webhook_cursor(other.id, direct)
            .await
            .expect("cursor"),
        None,
        "cursors are per webhook"
    );
    store.delete_webhook(hook.id).await.expect("delete");
    store
        .advance_webhook_cursors(&[to(&hook, 9)])
        .await
        .expect("a deleted webhook's cursor is ignored");
    assert_eq!(
        store.webhook_cursor(hook.id, direct).await.expect("cursor"),
        None
    );
}

/// Many cursor moves in one call: each cursor ends at the furthest of its
/// moves, whatever their order, and a deleted webhook's are ignored while
/// the others are written.
pub async fn webhooks_cursor_moves_are_written_together(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = create_user(&*store, "bob").await;
    let carol = create_user(&*store, "carol").await;
    let ab = create_direct(&*store, alice.id, bob.id).await;
    let ac = create_direct(&*store, alice.id, carol.id).await;
    let hook = webhook("https://hooks.example/a", 1);
    let gone = webhook("https://hooks.example/b", 2);
    store.create_webhook(hook.clone()).await.expect("create");
    store.create_webhook(gone.clone()).await.expect("create");
    store.delete_webhook(gone.id).await.expect("delete");
    let to = |hook: &Webhook, conversation, seq| WebhookCursorMove {
        webhook: hook.id,
        conversation,
        seq,
    };
    store
        .advance_webhook_cursors(&[
            to(&hook, ab, 4),
            to(&gone, ab, 7),
            to(&hook, ac, 2),
            to(&hook, ab, 9),
            to(&hook, ab, 6),
        ])
        .await
        .expect("advance together");
    assert_eq!(
        store.webhook_cursor(hook.id, ab).await.expect("cursor"),
        Some(9)
    );
    assert_eq!(
        store.webhook_cursor(hook.id, ac).await.expect("cursor"),
        Some(2)
    );
    assert_eq!(
        store.webhook_cursor(gone.id, ab).await.expect("cursor"),
        None
    );
    store
        .advance_webhook_cursors(&[])
        .await
        .expect("nothing to move");
}

/// Dead letters are kept per webhook, oldest first, deleted one by one
/// by their webhook only, and go with the webhook.
pub async fn webhooks_dead_letters_are_kept_per_webhook(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = create_user(&*store, "bob").await;
    let direct = create_direct(&*store, alice.id, bob.id).await;
    let hook = webhook("https://hooks.example/a", 1);
    let other = webhook("https://hooks.example/b", 2);
    store.create_webhook(hook.clone()).await.expect("create");
    store.create_webhook(other.clone()).await.expect("create");
    let letters = [
        letter(hook.id, direct, 3, 30),
        letter(hook.id, direct, 1, 10),
        letter(hook.id, direct, 2, 20),
    ];
    for l in &letters {
        store.add_dead_letter(l.clone()).await.expect("add");
    }
    let others = letter(other.id, direct, 1, 5);
    store.add_dead_letter(others.clone()).await.expect("add");
    assert_eq!(
        store.dead_letters(hook.id, 2).await.expect("list"),
        vec![letters[1].clone(), letters[2].clone()],
        "oldest first, up to the limit"
    );
    assert_eq!(
        store
            .dead_letter(hook.id, letters[2].id)
            .await
            .expect("one"),
        Some(letters[2].clone())
    );
    assert_eq!(
        store
            .dead_letter(other.id, letters[2].id)
            .await
            .expect("one"),
        None,
        "not the other webhook's"
    );
    assert!(
        !store
            .delete_dead_letter(other.id, letters[0].id)
            .await
            .expect("delete"),
        "not the other webhook's"
    );
    assert!(
        store
            .delete_dead_letter(hook.id, letters[0].id)
            .await
            .expect("delete")
    );
    assert_eq!(
        store.dead_letters(hook.id, 10).await.expect("list").len(),
        2
    );
    store.delete_webhook(hook.id).await.expect("delete");
    assert!(
        store
            .dead_letters(hook.id, 10)
            .await
            .expect("list")
            .is_empty()
    );
    store
        .add_dead_letter(letter(hook.id, direct, 4, 40))
        .await
        .expect("a deleted webhook's letter is ignored");
    assert!(
        store
            .dead_letters(hook.id, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.dead_letters(other.id, 10).await.expect("list"),
        vec![others]
    );
}

//! Searches are limited per user: each reads as many messages as it finds.

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryStore;
use chat_core::testkit::fixtures::create_user;
use chat_core::{ChatEngine, ChatError, ConversationConfig, RateLimit};

#[tokio::test]
async fn searches_past_the_limit_are_refused() {
    let store = Arc::new(MemoryStore::new());
    let engine = ChatEngine::builder()
        .store(store.clone())
        .conversation_config(ConversationConfig {
            search_limit: RateLimit::new(3, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let search = |user| {
        let engine = engine.clone();
        async move {
            (engine.conversations())
                .search_messages(user, "lunch", None, None, None)
                .await
        }
    };
    for _ in 0..3 {
        search(alice).await.expect("within the limit");
    }
    let refused = search(alice).await.expect_err("past the limit");
    assert!(
        matches!(refused, ChatError::RateLimited { .. }),
        "{refused:?}"
    );
    // Per user.
    search(bob).await.expect("another user's own budget");
}

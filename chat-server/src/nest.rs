//! The chat inside an application's own axum router (docs/embedding.md).

use axum::Router;

/// Mounting the chat ([`app`](crate::app) or [`app_with`](crate::app_with))
/// inside an application's own axum [`Router`] (docs/embedding.md).
pub trait NestChat {
    /// Serves `chat` under `prefix` (`"/chat"`): every path that starts with
    /// it, `"/chat/"` included, goes to the chat, which answers what it does
    /// not serve with its own JSON `NOT_FOUND`.
    ///
    /// Use it rather than [`Router::nest`]: axum's `nest` matches `/chat` and
    /// `/chat/...` but never `/chat/`, which then falls to the host's
    /// fallback (axum's default: an empty 404) instead of the chat's error
    /// or the demo's login page.
    #[must_use]
    fn nest_chat(self, prefix: &str, chat: Router) -> Self;
}

impl<S> NestChat for Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn nest_chat(self, prefix: &str, chat: Router) -> Self {
        self.nest_service(prefix, chat)
    }
}

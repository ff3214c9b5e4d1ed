//! [`Notice`]: news every instance of the service acts on, whoever it
//! serves.

use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, SessionId, UserId};
use crate::time::Timestamp;

/// Instance-wide news, carried by [`EventBus::announce`] to every instance
/// (this one included), as opposed to events, which go to the connections
/// of given users.
///
/// [`EventBus::announce`]: super::EventBus::announce
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// A conversation's members changed: cached member lists are stale.
    MembersChanged {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// Someone blocked or unblocked `user_id`: the cached list of who
    /// blocks them is stale.
    BlocksChanged {
        /// The blocked (or unblocked) user.
        user_id: UserId,
    },
    /// A webhook was registered or deleted: copies of the webhook list are
    /// stale.
    WebhooksChanged,
    /// A session was revoked: refuse its access tokens until `until`.
    SessionRevoked {
        /// The session.
        session_id: SessionId,
        /// When the last access token it could have issued expires.
        until: Timestamp,
    },
    /// Raised by a cross-instance bus itself, never announced: this
    /// instance was cut off from the others for a while and may have missed
    /// notices and events. Caches are dropped, revocations reloaded from the
    /// store; the bus also sends [`Event::resync`](super::Event::resync) to
    /// each of its connections, which check their conversations for gaps.
    Resync,
}

/// What an instance runs for each notice (registered with
/// [`EventBus::on_notice`](super::EventBus::on_notice)). It runs on the
/// bus's own task, so it must not block.
pub type NoticeHandler = Arc<dyn Fn(&Notice) + Send + Sync>;

/// The handlers an instance registered, for bus implementations: they keep
/// one of these and run it for every notice they receive.
#[derive(Clone, Default)]
pub struct NoticeHandlers(Arc<RwLock<Vec<NoticeHandler>>>);

impl std::fmt::Debug for NoticeHandlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NoticeHandlers")
            .field(&self.list().len())
            .finish()
    }
}

impl NoticeHandlers {
    /// Adds a handler.
    pub fn add(&self, handler: NoticeHandler) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(handler);
    }

    /// Runs every handler for `notice`, in registration order.
    pub fn dispatch(&self, notice: &Notice) {
        for handler in self.list() {
            handler(notice);
        }
    }

    fn list(&self) -> Vec<NoticeHandler> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

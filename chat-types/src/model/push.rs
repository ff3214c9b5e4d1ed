//! Web Push: the subscriptions devices register, and the notification a
//! device's service worker receives (docs/api.md, "Push notifications").

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::conversation::{ConversationKind, UnknownVariant};
use crate::ids::{ConversationId, MessageId, PushSubscriptionId, UserId};
use crate::time::Timestamp;

/// The most push subscriptions one user keeps (devices and browser
/// profiles); registering one more is refused until one is deleted.
pub const MAX_PUSH_SUBSCRIPTIONS_PER_USER: usize = 20;

/// Which messages notify a device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushLevel {
    /// Every message of a conversation that is not muted.
    #[default]
    All,
    /// Direct messages, and group messages that mention the user.
    Mentions,
}

impl PushLevel {
    /// The stored and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
        }
    }
}

impl FromStr for PushLevel {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Self::All),
            "mentions" => Ok(Self::Mentions),
            other => Err(UnknownVariant(other.to_owned())),
        }
    }
}

/// A subscription to register: what a browser's
/// `PushManager.subscribe()` returned, checked by the pusher (a public
/// `https` endpoint, a P-256 key, a 16-byte secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPushSubscription {
    /// Its id, kept if the endpoint was registered before.
    pub id: PushSubscriptionId,
    /// Whose device it is.
    pub user_id: UserId,
    /// The push service's URL for this device.
    pub endpoint: String,
    /// The device's public key (uncompressed P-256 point, base64url).
    pub p256dh: String,
    /// The device's authentication secret (16 bytes, base64url).
    pub auth: String,
    /// Which messages notify it.
    pub level: PushLevel,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// A registered push subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    /// Its id.
    pub id: PushSubscriptionId,
    /// Whose device it is.
    pub user_id: UserId,
    /// The push service's URL for this device (unique: a device that
    /// signs in as someone else moves its subscription to them).
    pub endpoint: String,
    /// The device's public key (base64url).
    pub p256dh: String,
    /// The device's authentication secret (base64url).
    pub auth: String,
    /// Which messages notify it.
    pub level: PushLevel,
    /// When it was first registered.
    pub created_at: Timestamp,
}

/// What a push notification carries: the JSON a service worker finds in
/// its `push` event (`event.data.json()`), one per conversation with new
/// messages since the last one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushNotification {
    /// The conversation; also the notification's `tag`, so a newer one
    /// replaces an older one of the same conversation.
    pub conversation_id: ConversationId,
    /// `direct` or `group`.
    pub conversation_kind: ConversationKind,
    /// What to show as the notification's title: the sender's name in a
    /// direct conversation, "sender in group" in a group.
    pub title: String,
    /// A short preview of the newest message (at most 120 characters),
    /// or what it holds when it has no text ("📎 photo.png").
    pub body: String,
    /// The newest message's sender.
    pub sender_id: UserId,
    /// The newest message.
    pub message_id: MessageId,
    /// Its seq in the conversation.
    pub seq: u64,
    /// How many new messages of the conversation this notification stands
    /// for (a burst is collapsed into one notification).
    pub count: u32,
    /// Whether one of them mentions the recipient.
    pub mentioned: bool,
    /// The recipient's unread messages across every conversation (for the
    /// app badge).
    pub badge: u64,
    /// When the newest message was sent.
    pub sent_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_through_their_names() {
        for level in [PushLevel::All, PushLevel::Mentions] {
            assert_eq!(level.as_str().parse::<PushLevel>(), Ok(level));
        }
        assert!("loud".parse::<PushLevel>().is_err());
    }
}

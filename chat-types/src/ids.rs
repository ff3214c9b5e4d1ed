//! Typed identifiers.
//!
//! Every id is a UUID wrapped in [`Id<K>`], where the marker `K` says what it
//! identifies, so a `UserId` can never be passed where a `SessionId` is
//! expected. New ids are UUIDv7: they sort by creation time, which keeps
//! B-tree inserts local and lets history pages order by id.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Names the kind of thing an [`Id`] identifies; used in `Debug` output.
pub trait IdKind {
    /// Short type name, e.g. `"UserId"`.
    const NAME: &'static str;
}

/// Marker types for [`Id`]. They are never instantiated.
pub mod kind {
    use super::IdKind;

    /// Marks a user id.
    #[derive(Debug)]
    pub enum User {}
    /// Marks a login session id (the `sid` claim of access tokens).
    #[derive(Debug)]
    pub enum Session {}
    /// Marks a refresh token id.
    #[derive(Debug)]
    pub enum RefreshToken {}
    /// Marks a password reset token id.
    #[derive(Debug)]
    pub enum PasswordReset {}
    /// Marks a conversation id (a direct conversation or a group).
    #[derive(Debug)]
    pub enum Conversation {}
    /// Marks a message id.
    #[derive(Debug)]
    pub enum Message {}
    /// Marks a live connection (one WebSocket of one device).
    #[derive(Debug)]
    pub enum Connection {}
    /// Marks a report of a message to the operators.
    #[derive(Debug)]
    pub enum Report {}
    /// Marks an attachment (an uploaded file).
    #[derive(Debug)]
    pub enum Attachment {}
    /// Marks a device's Web Push subscription.
    #[derive(Debug)]
    pub enum PushSubscription {}
    /// Marks an outgoing webhook.
    #[derive(Debug)]
    pub enum Webhook {}
    /// Marks a webhook delivery that failed for good.
    #[derive(Debug)]
    pub enum DeadLetter {}

    impl IdKind for User {
        const NAME: &'static str = "UserId";
    }
    impl IdKind for Session {
        const NAME: &'static str = "SessionId";
    }
    impl IdKind for RefreshToken {
        const NAME: &'static str = "RefreshTokenId";
    }
    impl IdKind for PasswordReset {
        const NAME: &'static str = "PasswordResetId";
    }
    impl IdKind for Conversation {
        const NAME: &'static str = "ConversationId";
    }
    impl IdKind for Message {
        const NAME: &'static str = "MessageId";
    }
    impl IdKind for Connection {
        const NAME: &'static str = "ConnectionId";
    }
    impl IdKind for Report {
        const NAME: &'static str = "ReportId";
    }
    impl IdKind for Attachment {
        const NAME: &'static str = "AttachmentId";
    }
    impl IdKind for PushSubscription {
        const NAME: &'static str = "PushSubscriptionId";
    }
    impl IdKind for Webhook {
        const NAME: &'static str = "WebhookId";
    }
    impl IdKind for DeadLetter {
        const NAME: &'static str = "DeadLetterId";
    }
}

/// A user's id.
pub type UserId = Id<kind::User>;
/// A login session's id.
pub type SessionId = Id<kind::Session>;
/// A refresh token's id (not the token itself, which is never stored).
pub type RefreshTokenId = Id<kind::RefreshToken>;
/// A password reset token's id.
pub type PasswordResetId = Id<kind::PasswordReset>;
/// A conversation's id. A group's id (`group_id` in the API) is the id of
/// its conversation.
pub type ConversationId = Id<kind::Conversation>;
/// A message's id (UUIDv7, so ids of one sender sort by send time).
pub type MessageId = Id<kind::Message>;
/// A live connection's id: one per WebSocket, so presence and fan-out can
/// tell a user's devices apart.
pub type ConnectionId = Id<kind::Connection>;
/// A report's id.
pub type ReportId = Id<kind::Report>;
/// An attachment's id (UUIDv7: uploads sort by time, which the sweep of
/// uploads never sent reads in).
pub type AttachmentId = Id<kind::Attachment>;
/// A push subscription's id (one per device and browser profile).
pub type PushSubscriptionId = Id<kind::PushSubscription>;
/// An outgoing webhook's id.
pub type WebhookId = Id<kind::Webhook>;
/// A dead letter's id (a webhook delivery that failed for good).
pub type DeadLetterId = Id<kind::DeadLetter>;

/// A UUID tagged with the kind of thing it identifies.
///
/// `PhantomData<fn() -> K>` keeps `Id<K>` `Send + Sync + Copy` whatever `K` is.
pub struct Id<K> {
    uuid: Uuid,
    kind: PhantomData<fn() -> K>,
}

impl<K> Id<K> {
    /// A new, time-ordered (UUIDv7) id.
    pub fn new() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    /// Wraps an existing UUID, e.g. one read from a database.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self {
            uuid,
            kind: PhantomData,
        }
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.uuid
    }
}

impl<K> Default for Id<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl<K> Eq for Id<K> {}

impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.uuid.cmp(&other.uuid)
    }
}

impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", K::NAME, self.uuid)
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid, f)
    }
}

impl<K> FromStr for Id<K> {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self::from_uuid)
    }
}

impl<K> From<Uuid> for Id<K> {
    fn from(uuid: Uuid) -> Self {
        Self::from_uuid(uuid)
    }
}

impl<K> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.uuid.serialize(serializer)
    }
}

impl<'de, K> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self::from_uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_sort_by_creation_time() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
    }

    #[test]
    fn ids_round_trip_through_strings_and_json() {
        let id = SessionId::new();
        let parsed: SessionId = id.to_string().parse().expect("valid uuid");
        assert_eq!(parsed, id);
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"{id}\""));
        let back: SessionId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, id);
    }

    #[test]
    fn a_non_uuid_string_is_rejected() {
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }

    #[test]
    fn debug_output_names_the_kind() {
        let id = UserId::from_uuid(Uuid::nil());
        assert_eq!(
            format!("{id:?}"),
            "UserId(00000000-0000-0000-0000-000000000000)"
        );
    }
}

//! The storage traits, one concern per file, combined into [`Store`].
//!
//! Stores are plain data access: they enforce uniqueness and atomicity
//! (the things only a database can guarantee across instances) and leave
//! rules and orchestration to the services. Every implementation lists the
//! methods in the order the traits declare them.
//!
//! Two decorators sit between the services and every backend (the engine
//! puts them there at start-up): `TimedReads` times each read, and
//! [`BatchedWrites`] makes message inserts and delivery-cursor moves share
//! transactions.

mod attachments;
mod batched_writes;
mod blobs;
mod conversations;
mod health;
mod messages;
mod moderation;
mod password_resets;
mod publish_turns;
mod push;
mod sessions;
mod timed_reads;
mod users;
mod webhooks;

pub use attachments::AttachmentStore;
pub use blobs::{Blob, BlobEntry, BlobKey, BlobReader, BlobStore};
pub use conversations::ConversationStore;
pub use health::StoreHealth;
pub use messages::MessageStore;
pub use moderation::ModerationStore;
pub use password_resets::PasswordResetStore;
pub use push::PushStore;
pub use sessions::SessionStore;
pub use users::UserStore;
pub use webhooks::WebhookStore;

pub use batched_writes::BatchedWrites;
pub(crate) use batched_writes::QueuedInsert;
pub(crate) use publish_turns::PublishTurn;
pub(crate) use timed_reads::TimedReads;

#[cfg(any(test, feature = "mock"))]
pub use {
    attachments::MockAttachmentStore, conversations::MockConversationStore,
    health::MockStoreHealth, messages::MockMessageStore, moderation::MockModerationStore,
    password_resets::MockPasswordResetStore, push::MockPushStore, sessions::MockSessionStore,
    users::MockUserStore, webhooks::MockWebhookStore,
};

/// Everything a backend must provide to serve the engine.
///
/// Implemented automatically for any type implementing every store trait;
/// services take the narrower traits, so `Arc<dyn Store>` upcasts to them.
pub trait Store:
    UserStore
    + AttachmentStore
    + SessionStore
    + PasswordResetStore
    + PushStore
    + WebhookStore
    + ConversationStore
    + MessageStore
    + ModerationStore
    + StoreHealth
{
}

impl<T> Store for T where
    T: UserStore
        + AttachmentStore
        + SessionStore
        + PasswordResetStore
        + PushStore
        + WebhookStore
        + ConversationStore
        + MessageStore
        + ModerationStore
        + StoreHealth
{
}

//! In-memory implementations of every backend trait.
//!
//! They are real backends, not test doubles: the embedded engine uses them by
//! default and they pass the same conformance suite as SQLite and
//! PostgreSQL. State lives behind one `std::sync::Mutex` per backend; no
//! lock is ever held across an `.await`, so a blocking mutex is cheaper and
//! cannot deadlock the runtime.

mod attachments;
mod blobs;
mod conversations;
mod due_work;
mod event_bus;
mod mailer;
mod messages;
mod moderation;
mod offline_queue;
mod presence;
mod push;
mod pusher;
mod rate_limiter;
mod store;
mod webhook_sender;
mod webhooks;

pub use blobs::MemoryBlobStore;
pub use due_work::MemoryDueWork;
pub use event_bus::MemoryEventBus;
pub use mailer::MemoryMailer;
pub use offline_queue::{MAX_QUEUED_PER_USER, MemoryOfflineQueue, OFFLINE_QUEUE_TTL};
pub use presence::MemoryPresence;
pub use pusher::MemoryPusher;
pub use rate_limiter::MemoryRateLimiter;
pub use store::MemoryStore;
pub use webhook_sender::MemoryWebhookSender;

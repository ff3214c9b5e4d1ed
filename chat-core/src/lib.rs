//! The transport-agnostic chat engine.
//!
//! `chat-core` holds everything about chat that does not depend on how
//! clients connect or where data is kept: validated domain types, the one
//! error type, the backend traits, the services, and in-memory backends
//! that are complete enough to run on. Backends (`chat-store-sqlite`,
//! `chat-store-postgres`, ...) implement the traits in their own crates;
//! transports (`chat-server`) call the services. This crate depends on no
//! web framework, database driver or Redis client.
//!
//! # Layout
//!
//! The shared vocabulary lives in `chat-types` (so a client can use it
//! without the engine) and is re-exported here under the same paths:
//!
//! - [`ids`], [`time`]: typed ids (UUIDv7) and millisecond timestamps with
//!   an injectable [`Clock`].
//! - [`domain`]: validated value types ([`Username`], [`Email`],
//!   [`Password`], [`DisplayName`]), parsed once at the edge.
//! - [`error`]: [`ChatError`] with stable machine codes.
//! - [`model`]: plain records passed between services and stores.
//! - [`protocol`]: the WebSocket frames, shared with `chat-client`.
//!
//! The engine itself:
//!
//! - [`store`]: the storage traits, one concern per file, combined into
//!   [`Store`], and the decorators the engine puts over every backend
//!   (read timing, batched writes).
//! - [`mailer`], [`rate_limit`]: the [`Mailer`] and [`RateLimiter`] traits.
//! - [`auth`]: [`AuthService`] (signup, login, token rotation, resets).
//! - [`users`]: [`UserService`] (profiles, search).
//! - [`conversations`]: [`ConversationService`] (direct conversations,
//!   groups, messages, history, read cursors, receipts).
//! - [`realtime`]: the [`EventBus`], [`OfflineQueue`] and [`Presence`]
//!   traits, and the per-instance hub of live connections.
//! - [`delivery`]: [`DeliveryService`] (connections, catch-up, acks,
//!   typing, presence).
//! - [`message_hook`]: [`MessageHook`], the moderation hook every new
//!   message and edit passes before it is stored.
//! - [`moderation`]: [`ModerationService`] (blocks, reports) and
//!   [`AdminService`] (the operators' API).
//! - [`attachments`]: [`AttachmentService`] (uploads, downloads, sweep).
//! - [`push`]: [`PushService`] (devices' Web Push subscriptions, and the
//!   notifier that reads the offline queue) and the [`Pusher`] trait.
//! - [`webhooks`]: [`WebhookService`] (registrations, dead letters, and
//!   the dispatcher that reads conversation logs) and the
//!   [`WebhookSender`] trait.
//! - `members` (internal): who is in each conversation, cached for
//!   routing; the store decides membership.
//! - `blocks` (internal): who blocks whom, cached for the direct-message,
//!   typing and presence paths.
//! - `fanout` (internal): publishes what the services did to every
//!   connection that must see it, and queues it for members with none.
//! - [`engine`]: [`ChatEngine`] and its builder, the one entry point.
//! - [`memory`]: in-memory implementations of every trait.
//! - [`metrics`]: the engine's counters and histograms ([`Metrics`]),
//!   rendered in the Prometheus text format.
//! - `testkit` (feature `testkit`): the conformance suite every backend runs.
//! - feature `openapi`: `utoipa` schemas of the types the REST API returns,
//!   for `chat-server`'s OpenAPI document.
//!
//! With the `mock` feature every backend trait also has a `mockall` mock
//! (`MockUserStore`, `MockSessionStore`, ...).

pub use chat_types::{domain, error, ids, model, protocol, time};

pub mod attachments;
pub mod auth;
mod blocks;
pub mod conversations;
pub mod delivery;
pub mod engine;
mod fanout;
mod log_throttle;
pub mod mailer;
mod members;
pub mod memory;
pub mod message_hook;
mod message_views;
pub mod metrics;
pub mod moderation;
pub mod push;
pub mod rate_limit;
pub mod realtime;
pub mod store;
pub mod users;
pub mod webhooks;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use attachments::{AttachmentConfig, AttachmentPart, AttachmentService, SweepReport, Upload};
pub use auth::{AuthConfig, AuthContext, AuthService, ExternalUser, Signup, TokenPair};
pub use conversations::{
    ChangedMessage, ConversationConfig, ConversationRef, ConversationService, OutgoingMessage,
    PageRequest,
};
pub use delivery::{
    AckTarget, Admission, CatchUp, Connection, DeliveryService, MessageOrder, OfflineBatch,
    TypingTarget,
};
pub use domain::{
    ClientMsgId, DisplayName, Email, Emoji, GroupName, MessageContent, MessageType, Password,
    Username,
};
pub use engine::{ChatEngine, ChatEngineBuilder};
pub use error::{ChatError, Result, ValidationError};
pub use ids::{ConnectionId, ConversationId, MessageId, SessionId, UserId};
pub use mailer::{LogMailer, Mailer, OutgoingMail};
pub use message_hook::{HookConfig, MessageHook};
pub use metrics::Metrics;
pub use moderation::{AdminConfig, AdminService, ModerationService};
pub use push::{PushConfig, PushService, Pusher};
pub use rate_limit::{RateDecision, RateLimit, RateLimiter};
pub use realtime::{EventBus, OfflineQueue, Presence, RealtimeDeps};
pub use store::Store;
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use users::UserService;
pub use webhooks::{WebhookConfig, WebhookSender, WebhookService};

#[cfg(any(test, feature = "mock"))]
pub use mailer::MockMailer;
#[cfg(any(test, feature = "mock"))]
pub use rate_limit::MockRateLimiter;

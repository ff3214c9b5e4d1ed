//! Real-time delivery: [`DeliveryService`] for transports that hold live
//! connections (connect, catch-up, sync, acknowledgements, typing,
//! presence).
//!
//! The order of work for a message is: validate, authorize, persist (the
//! message gets its seq), fan out to every connection of every member (the
//! sender's other devices included) and queue it for members with none,
//! then answer the sender. Persisting first means a message is never shown
//! that history does not have; see `docs/architecture.md`.

mod catch_up;
mod order;
mod service;

pub use catch_up::CatchUp;
pub use order::{Admission, MessageOrder};
pub(crate) use service::DeliveryDeps;
pub use service::{AckTarget, Connection, DeliveryService, OfflineBatch, TypingTarget};

//! Web Push from the server: the VAPID key it signs with, and
//! [`WebPusher`], the [`Pusher`](chat_core::Pusher) that encrypts each
//! notification for its device and posts it to the device's push service
//! (docs/api.md, "Push notifications"; docs/operations.md).

mod vapid;
mod web_pusher;

pub use vapid::VapidKey;
pub use web_pusher::WebPusher;

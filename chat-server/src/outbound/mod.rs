//! Requests the server makes to addresses users and operators give it
//! (push service endpoints, webhooks): only to public addresses, checked
//! when a URL is registered and again at every connection, since a name
//! may resolve elsewhere later (DNS rebinding). Redirects are not followed and proxies from the
//! environment are not used: either would reach an address unchecked.

mod address;
mod client;

pub use address::{AddressPolicy, is_public};
pub use client::{AddressNotAllowed, OutboundClient, UrlRefusal, refused_address};

//! Authentication: accounts, sessions, tokens and password resets.
//!
//! - [`password`]: argon2id hashing off the async runtime, with a cap on
//!   concurrent hashes and a dummy hash for unknown users.
//! - [`tokens`]: HS256 access tokens (JWT) with a pinned algorithm.
//! - [`secrets`]: opaque refresh and reset tokens, stored only as SHA-256.
//! - [`revocation`]: the in-process set of revoked sessions checked on
//!   every request in O(1).
//! - `service`: [`AuthService`], which ties them to the stores.

mod config;
pub mod password;
pub mod revocation;
pub mod secrets;
pub(crate) mod service;
pub mod tokens;

#[cfg(test)]
mod service_tests;

pub use config::{Argon2Params, AuthConfig};
pub use service::{
    AuthContext, AuthService, BOT_TOKEN_PREFIX, BOT_TOKEN_TTL, BotToken, ExternalUser, Signup,
    TokenPair,
};

//! The [`DueWork`] trait: background work handed to exactly one worker
//! across every instance.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// The kinds of work [`DueWork`] hands out, each its own set of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkKind {
    /// Users with offline queue entries to notify (keys: user ids).
    Push,
    /// Conversations with log entries to tell webhooks of (keys:
    /// conversation ids).
    Webhooks,
}

impl WorkKind {
    /// The kind's name in keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Webhooks => "webhooks",
        }
    }
}

/// Keys (users, conversations) that have work waiting, shared by every
/// instance: whoever makes work marks its key due, and each worker claims
/// due keys for a while. A key goes to one worker at a time, so work on
/// one key is done once and in order, whichever instance does it.
///
/// A key is claimable once it was first marked at least a settle time ago
/// (so a burst of work is done as one) and nobody holds it. A worker that
/// dies holding keys loses them when their lease runs out.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait DueWork: Send + Sync {
    /// Marks `keys` of `kind` due; a key already due keeps the time it
    /// was first marked.
    async fn mark_due(&self, kind: WorkKind, keys: &[String]) -> Result<()>;

    /// Claims up to `limit` due keys of `kind` first marked at least
    /// `settle` ago and held by nobody, oldest mark first; each is this
    /// caller's alone until it calls [`release`](Self::release) or
    /// `lease` runs out. A claimed key is no longer due: marking it while
    /// it is held makes it due again once released.
    async fn claim_due(
        &self,
        kind: WorkKind,
        settle: Duration,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<String>>;

    /// Extends the claim on a key still held to run out `lease` from now
    /// (never sooner than it did). A worker whose work on a key outlasts
    /// part of its lease renews it, so nobody takes the key over while
    /// the work goes on. A key no longer held (released, or its lease ran
    /// out) is left alone.
    async fn renew(&self, kind: WorkKind, key: &str, lease: Duration) -> Result<()>;

    /// Lets go of a claimed key.
    async fn release(&self, kind: WorkKind, key: &str) -> Result<()>;
}

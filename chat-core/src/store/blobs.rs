//! [`BlobStore`]: where the bytes of attachments live, apart from the
//! database that records them (docs/architecture.md, "Attachments").
//!
//! Blobs are written once under a fresh key and read back whole, as a
//! stream: a file is never held whole in memory on the way in or out.
//! Backends: the in-memory one (tests and the embedded engine without a
//! data directory) and, in the `chat-blob-store` crate, the local
//! filesystem and S3-compatible object storage.

use std::fmt;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::error::{Result, ValidationError};
use crate::time::Timestamp;

/// The name of a blob: 1 to 200 characters, `/`-separated segments of
/// ASCII letters, digits, `-`, `_` and `.`, none empty or made only of
/// dots. The same name is a valid path on every backend, and can never
/// climb out of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// Longest key, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Checks `key`.
    ///
    /// # Errors
    /// `INVALID_BLOB_KEY` (naming `key`) for anything but the form above.
    pub fn new(key: impl Into<String>) -> std::result::Result<Self, ValidationError> {
        let key = key.into();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && !s.chars().all(|c| c == '.')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if key.len() > Self::MAX_CHARS || !key.split('/').all(segment_ok) {
            return Err(ValidationError::new(
                "key",
                "INVALID_BLOB_KEY",
                "a blob key is 1 to 200 characters of letters, digits, '-', '_' and '.', \
                 in '/'-separated segments",
            ));
        }
        Ok(Self(key))
    }

    /// The key as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes of a blob as they are read: an [`AsyncRead`].
pub type BlobReader = Box<dyn AsyncRead + Send + Unpin>;

/// A blob found by [`BlobStore::get`].
pub struct Blob {
    /// Its size in bytes.
    pub size: u64,
    /// Its bytes.
    pub reader: BlobReader,
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob").field("size", &self.size).finish()
    }
}

/// A blob as [`BlobStore::list`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    /// Its key.
    pub key: BlobKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub written_at: Timestamp,
}

/// Where blobs live. Every implementation passes the conformance cases of
/// `testkit::blobs`.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores what `body` yields, to its end, under `key`, and returns
    /// its size. All or nothing: when `body` fails, yields more than
    /// `max_bytes`, or the backend fails, nothing is left under `key` (a
    /// blob already there stays as it was), and reading stops within one
    /// read of passing `max_bytes`.
    ///
    /// # Errors
    /// `ATTACHMENT_TOO_LARGE` past `max_bytes`; `INTERNAL` when `body`
    /// fails; `STORE_UNAVAILABLE` when the backend cannot be reached.
    async fn put(
        &self,
        key: &BlobKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        max_bytes: u64,
    ) -> Result<u64>;

    /// The blob under `key`, to read; `None` when there is none.
    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>>;

    /// Removes the blob under `key`; removing one that is not there
    /// succeeds (removal is retried by sweeps).
    async fn delete(&self, key: &BlobKey) -> Result<()>;

    /// Every blob strictly below `prefix` (whole segments: `a/b` lists
    /// `a/b/c`, not `a/bc`, nor a blob `a/b` itself), in no set order.
    /// No key is a whole-segment prefix of another (local disk could not
    /// hold both a file `a/b` and a file `a/b/c`), so callers give
    /// prefixes that name folders.
    async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobEntry>>;
}

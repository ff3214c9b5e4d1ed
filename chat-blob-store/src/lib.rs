//! Blob stores for the chat engine's attachments
//! ([`BlobStore`](chat_core::store::BlobStore)), on
//! [`object_store`](https://docs.rs/object_store): the local filesystem
//! under the data directory (the embedded default) and S3-compatible
//! object storage, chosen by URL ([`ObjectBlobStore::from_url`]).
//!
//! Both write a blob whole or not at all: the filesystem writes a staging
//! file and renames it into place; S3 uploads in parts of 5 MiB and
//! completes the upload only at the end, aborting it on any failure. A
//! blob is never held whole in memory: at most one part is buffered, and
//! two parts upload at once, so an upload holds about 15 MiB whatever its
//! size.

mod error;
mod object;
mod s3_url;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::BlobStoreError;
pub use object::ObjectBlobStore;

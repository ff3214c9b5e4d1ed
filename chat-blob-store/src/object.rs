//! [`ObjectBlobStore`]: a [`BlobStore`] on any object_store backend.

use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use chat_core::store::{Blob, BlobEntry, BlobKey, BlobStore};
use chat_core::{ChatError, Result, Timestamp};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt as _, RetryConfig};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::io::StreamReader;

use crate::{BlobStoreError, s3_url};

/// Bytes buffered before a write to S3 starts a multipart upload, and the
/// size of each part: S3's smallest part is 5 MiB.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// The same on local disk, where a part may be any size: memory per
/// upload at once (docs/benchmarks.md, "Attachments").
const LOCAL_PART_BYTES: usize = 1024 * 1024;
/// Parts uploading at once, per blob.
const PARTS_AT_ONCE: usize = 2;
/// Bytes read from a body at a time.
const READ_BYTES: usize = 64 * 1024;

/// Blobs in an object store: a local directory or an S3 bucket.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    /// Where, for logs and errors (no secrets).
    describe: String,
    /// Bytes a write buffers before it goes out as a part.
    part_bytes: usize,
}

impl ObjectBlobStore {
    /// Blobs under directory `dir`, created if missing.
    ///
    /// # Errors
    /// `BLOB_LOCAL_DIR` when the directory cannot be created or used.
    pub fn local(dir: &FsPath) -> std::result::Result<Self, BlobStoreError> {
        let local_dir =
            |source: Box<dyn std::error::Error + Send + Sync>| BlobStoreError::LocalDir {
                path: dir.display().to_string(),
                source,
            };
        std::fs::create_dir_all(dir).map_err(|e| local_dir(e.into()))?;
        // Directories left empty by deletions go too.
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| local_dir(e.into()))?
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            describe: format!("file://{}", dir.display()),
            part_bytes: LOCAL_PART_BYTES,
        })
    }

    /// Blobs in the S3 bucket `url` names:
    /// `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&access_key_id=K&secret_access_key=S`
    /// (any setting object_store's `AmazonS3ConfigKey` reads; those not
    /// given come from the `AWS_*` environment variables).
    ///
    /// Requests are retried at most 3 times within 15 s, and each must
    /// answer within 30 s (unless the URL says otherwise): an upload
    /// waiting on a store that is down fails rather than hangs.
    ///
    /// # Errors
    /// `BLOB_INVALID_URL`, `BLOB_S3_CONFIG`.
    pub fn s3(url: &str) -> std::result::Result<Self, BlobStoreError> {
        // reqwest's rustls has no provider of its own here (see
        // Cargo.toml); one installed already (by the application) stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let parsed = s3_url::parse(url)?;
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(15),
            ..RetryConfig::default()
        };
        let s3 = parsed
            .builder
            .with_retry(retry)
            .build()
            .map_err(BlobStoreError::S3Config)?;
        let store: Arc<dyn ObjectStore> = if parsed.prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, parsed.prefix.as_str()))
        };
        Ok(Self {
            store,
            describe: s3_url::redact(url).to_owned(),
            part_bytes: PART_BYTES,
        })
    }

    /// The store `url` names: `s3://...` (see [`s3`](Self::s3)) or
    /// `file:///ABSOLUTE/DIR` (see [`local`](Self::local)).
    ///
    /// # Errors
    /// As those, and `BLOB_INVALID_URL` for another scheme.
    pub fn from_url(url: &str) -> std::result::Result<Self, BlobStoreError> {
        if url.starts_with("s3://") {
            return Self::s3(url);
        }
        if let Some(dir) = url.strip_prefix("file://")
            && dir.starts_with('/')
        {
            return Self::local(FsPath::new(dir));
        }
        Err(BlobStoreError::InvalidUrl(format!(
            "expected s3://BUCKET... or file:///DIR, got {}",
            s3_url::redact(url)
        )))
    }

    /// Where the blobs are (a `file://` or `s3://` URL, without secrets).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The store's path for `key` (a valid key is a valid path).
    fn path(key: &BlobKey) -> Result<Path> {
        Path::parse(key.as_str()).map_err(ChatError::internal)
    }

    /// Writes all of `body` to `writer` (not yet completing the write),
    /// or fails.
    async fn write(
        writer: &mut BufWriter,
        body: &mut (dyn AsyncRead + Send + Unpin),
        max_bytes: u64,
    ) -> Result<u64> {
        let mut total: u64 = 0;
        let mut buf = BytesMut::with_capacity(READ_BYTES);
        loop {
            buf.reserve(READ_BYTES);
            let n = body.read_buf(&mut buf).await.map_err(ChatError::internal)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max_bytes {
                return Err(ChatError::AttachmentTooLarge { max: max_bytes });
            }
            if buf.len() >= READ_BYTES {
                writer
                    .put(buf.split().freeze())
                    .await
                    .map_err(unavailable)?;
            }
        }
        if !buf.is_empty() {
            writer.put(buf.freeze()).await.map_err(unavailable)?;
        }
        Ok(total)
    }
}

/// A failure of the store itself: unreachable, refusing, or timing out.
fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ChatError {
    ChatError::StoreUnavailable(e.into())
}

/// Maps an object_store failure to the engine's errors: refused
/// credentials and permissions are a misconfiguration (`INTERNAL`, which
/// alerts), not an outage to retry (`STORE_UNAVAILABLE`).
fn store_error(e: object_store::Error) -> ChatError {
    match e {
        object_store::Error::NotFound { .. }
        | object_store::Error::Unauthenticated { .. }
        | object_store::Error::PermissionDenied { .. } => ChatError::internal(e),
        other => unavailable(other),
    }
}

/// Aborts an upload whose `put` was dropped before it ended (the request
/// it served was cancelled): the parts already sent to S3, or the staging
/// file on disk, would otherwise stay. The abort runs as a task of its
/// own, as a drop cannot wait.
struct AbortOnDrop(Option<BufWriter>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let (Some(mut writer), Ok(runtime)) =
            (self.0.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = writer.abort().await {
                tracing::warn!(error = %e, "aborting a cancelled upload failed");
            }
        });
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        max_bytes: u64,
    ) -> Result<u64> {
        let path = Self::path(key)?;
        let writer = BufWriter::with_capacity(self.store.clone(), path, self.part_bytes)
            .with_max_concurrency(PARTS_AT_ONCE);
        let mut guard = AbortOnDrop(Some(writer));
        let written = match guard.0.as_mut() {
            Some(writer) => Self::write(writer, body, max_bytes).await,
            None => return Err(ChatError::internal("the upload's writer is gone")),
        };
        // Past this point the upload ends here, one way or the other.
        let Some(mut writer) = guard.0.take() else {
            return Err(ChatError::internal("the upload's writer is gone"));
        };
        match written {
            // Completing: one PUT, or the multipart upload's completion
            // (which, failing, aborts the upload itself).
            Ok(size) => writer.shutdown().await.map(|()| size).map_err(unavailable),
            Err(e) => {
                // Parts already uploaded would otherwise stay (and cost)
                // on S3; a staging file would stay on disk. The error that
                // matters is the first one.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(store = %self.describe, %key, error = %abort, "aborting an upload failed");
                }
                Err(e)
            }
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>> {
        let found = match self.store.get(&Self::path(key)?).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_error(e)),
        };
        let size = found.meta.size;
        let bytes = found
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()));
        Ok(Some(Blob {
            size,
            reader: Box::new(StreamReader::new(bytes)),
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        match self.store.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobEntry>> {
        let prefix = Self::path(prefix)?;
        let mut listed = self.store.list(Some(&prefix));
        let mut entries = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                // A directory that was never made: nothing under it.
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(store_error(e)),
            };
            // Names object_store uses for itself (staging files) are
            // not blobs.
            let Ok(key) = BlobKey::new(meta.location.as_ref()) else {
                continue;
            };
            entries.push(BlobEntry {
                key,
                size: meta.size,
                written_at: Timestamp::from_datetime(meta.last_modified),
            });
        }
        Ok(entries)
    }
}

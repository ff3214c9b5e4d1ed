//! [`MemoryBlobStore`]: blobs in a map, for tests and engines without a
//! data directory. Unlike the other backends, it holds each blob whole.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::error::{ChatError, Result};
use crate::store::{Blob, BlobEntry, BlobKey, BlobStore};
use crate::time::Timestamp;

/// Bytes read from a body at a time.
const CHUNK: usize = 64 * 1024;

/// Blobs in memory.
#[derive(Debug, Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<HashMap<BlobKey, (Bytes, Timestamp)>>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn blobs(&self) -> MutexGuard<'_, HashMap<BlobKey, (Bytes, Timestamp)>> {
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads `body` to its end, failing past `max_bytes` (after reading at
/// most one chunk more).
async fn read_to_end(body: &mut (dyn AsyncRead + Send + Unpin), max_bytes: u64) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut chunk = vec![0; CHUNK];
    loop {
        let n = body.read(&mut chunk).await.map_err(ChatError::internal)?;
        if n == 0 {
            return Ok(all);
        }
        all.extend_from_slice(&chunk[..n]);
        if all.len() as u64 > max_bytes {
            return Err(ChatError::AttachmentTooLarge { max: max_bytes });
        }
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        max_bytes: u64,
    ) -> Result<u64> {
        let bytes = read_to_end(body, max_bytes).await?;
        let size = bytes.len() as u64;
        self.blobs()
            .insert(key.clone(), (Bytes::from(bytes), Timestamp::now()));
        Ok(size)
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Blob>> {
        Ok(self.blobs().get(key).map(|(bytes, _)| Blob {
            size: bytes.len() as u64,
            reader: Box::new(std::io::Cursor::new(bytes.clone())),
        }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        self.blobs().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobEntry>> {
        let dir = format!("{prefix}/");
        Ok(self
            .blobs()
            .iter()
            .filter(|(key, _)| key.as_str().starts_with(&dir))
            .map(|(key, (bytes, written_at))| BlobEntry {
                key: key.clone(),
                size: bytes.len() as u64,
                written_at: *written_at,
            })
            .collect())
    }
}

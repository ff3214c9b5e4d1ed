//! [`BlobStoreError`]: what can go wrong making a blob store.

/// Why a blob store could not be made. Operations on a store report
/// [`ChatError`](chat_core::ChatError)s instead.
#[derive(Debug, thiserror::Error)]
pub enum BlobStoreError {
    /// `BLOB_INVALID_URL`: the URL is not one this crate reads.
    #[error("invalid blob store URL: {0}")]
    InvalidUrl(String),
    /// `BLOB_LOCAL_DIR`: the directory cannot be created or used.
    #[error("cannot use {path} for blobs: {source}")]
    LocalDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `BLOB_S3_CONFIG`: object_store refused the S3 settings.
    #[error("invalid S3 settings: {0}")]
    S3Config(#[source] object_store::Error),
}

impl BlobStoreError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "BLOB_INVALID_URL",
            Self::LocalDir { .. } => "BLOB_LOCAL_DIR",
            Self::S3Config(_) => "BLOB_S3_CONFIG",
        }
    }
}

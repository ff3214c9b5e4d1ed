//! [`ServerError`]: why the server could not start.

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A setting is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The database could not be created, opened or migrated.
    #[error("store: {message}")]
    Store {
        /// The store's own code (`PG_CONNECT`, `PG_CREATE_DATABASE`,
        /// `PG_MIGRATE`, `SQLITE_CONNECT`, ...), so an operator sees which
        /// step failed.
        code: &'static str,
        /// What failed, with its causes.
        message: String,
    },
    /// The blob store (`CHAT_BLOB_URL`) is unusable.
    #[error("blob store: {message}")]
    Blobs {
        /// The blob store's own code (`BLOB_INVALID_URL`,
        /// `BLOB_LOCAL_DIR`, `BLOB_S3_CONFIG`).
        code: &'static str,
        /// What failed, with its causes.
        message: String,
    },
    /// Redis could not be reached or the Redis settings are unusable.
    #[error("redis: {0}")]
    Redis(String),
    /// A file or socket operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The engine refused its configuration.
    #[error("engine: {0}")]
    Engine(#[from] chat_core::ChatError),
}

impl ServerError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "INVALID_CONFIG",
            Self::Store { code, .. } | Self::Blobs { code, .. } => code,
            Self::Redis(_) => "REDIS_UNAVAILABLE",
            Self::Io(_) => "IO_ERROR",
            Self::Engine(e) => e.code(),
        }
    }
}

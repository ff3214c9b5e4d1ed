//! Uploads as HTTP carries them: spooled to a local file as they arrive
//! (never held whole in memory), then inspected from their bytes (media
//! type, an image's size and preview) before the engine stores them; and
//! the headers that let a browser download them without running them
//! (docs/api.md, "Attachments").

pub mod download;
pub mod inspect;
pub mod spool;
pub mod sweep;

use std::path::PathBuf;
use std::time::Duration;

/// Settings of uploads in the HTTP layer.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Where uploads are spooled while they arrive and are inspected
    /// (the server uses `CHAT_DATA_DIR/uploads`; default: the system's
    /// temporary directory). Each file is removed once stored, or when
    /// the upload fails.
    pub spool_dir: PathBuf,
    /// How long an upload may send nothing before it is cut off with
    /// `408 REQUEST_TIMEOUT` (`CHAT_UPLOAD_IDLE_TIMEOUT_MS`). Uploads are
    /// exempt from the body timeout of other requests, which would cut
    /// off a large file on a slow link.
    pub idle_timeout: Duration,
}

/// Default [`UploadSettings::idle_timeout`].
pub const DEFAULT_UPLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            spool_dir: std::env::temp_dir(),
            idle_timeout: DEFAULT_UPLOAD_IDLE_TIMEOUT,
        }
    }
}

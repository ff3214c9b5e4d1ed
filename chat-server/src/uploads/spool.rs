//! Receiving an upload's body into a temporary file.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use chat_core::ChatError;
use futures::StreamExt as _;
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt as _;

use crate::error::ApiError;

/// How many leading bytes are kept for sniffing the media type.
pub const HEAD_BYTES: usize = 8 * 1024;

/// An upload received whole: in a temporary file, removed when this is
/// dropped.
#[derive(Debug)]
pub struct Spooled {
    /// The file.
    pub file: NamedTempFile,
    /// Its size in bytes.
    pub size: u64,
    /// Its first [`HEAD_BYTES`] bytes (fewer for a smaller file).
    pub head: Vec<u8>,
}

/// Receives `body` into a new file in `dir`, chunk by chunk.
///
/// # Errors
/// `413 ATTACHMENT_TOO_LARGE` as soon as it passes `max_bytes` (the rest
/// is not read); `408 REQUEST_TIMEOUT` when nothing arrives for `idle`;
/// `400 UPLOAD_INCOMPLETE` when the body fails (the client went away or
/// sent less than it announced); `INTERNAL` when the file cannot be
/// written. The file is removed in every case.
pub async fn spool(
    body: Body,
    dir: &Path,
    max_bytes: u64,
    idle: Duration,
) -> Result<Spooled, ApiError> {
    let file = NamedTempFile::with_prefix_in("upload-", dir).map_err(io_error)?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(io_error)?);
    let mut stream = body.into_data_stream();
    let (mut size, mut head) = (0_u64, Vec::new());
    loop {
        let chunk = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => {
                return Err(ApiError::request(
                    StatusCode::REQUEST_TIMEOUT,
                    "REQUEST_TIMEOUT",
                    format!("the upload sent nothing for {idle:?}"),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => {
                return Err(ApiError::request(
                    StatusCode::BAD_REQUEST,
                    "UPLOAD_INCOMPLETE",
                    "the upload ended before its body did",
                ));
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(ChatError::AttachmentTooLarge { max: max_bytes }.into());
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        out.write_all(&chunk).await.map_err(io_error)?;
    }
    out.flush().await.map_err(io_error)?;
    Ok(Spooled { file, size, head })
}

fn io_error(e: std::io::Error) -> ApiError {
    ChatError::internal(format!("cannot spool an upload: {e}")).into()
}

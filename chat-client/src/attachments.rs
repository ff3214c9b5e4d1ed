//! Files: uploading them, sending them in messages, downloading them
//! (docs/api.md, "Attachments").

use std::path::Path;

use chat_types::ids::AttachmentId;
use chat_types::model::MessageAttachment;
use chat_types::{ConversationId, UserId};
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::error::{ClientError, Result};
use crate::rest;
use crate::users::{Sent, UserClient};

impl UserClient {
    /// Uploads `bytes` as a file named `filename`
    /// (`POST /api/v1/attachments`); send it with
    /// [`send_direct_files`](Self::send_direct_files) or
    /// [`send_group_files`](Self::send_group_files) within the hour.
    ///
    /// # Errors
    /// `ATTACHMENT_TOO_LARGE` (413), `INVALID_FILENAME` (422),
    /// `STORE_UNAVAILABLE` (503), and as [`me`](Self::me).
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> Result<MessageAttachment> {
        rest::json(self.upload_request(filename).body(bytes)).await
    }

    /// Uploads the file at `path` under `filename`, streamed from disk (a
    /// file of any size costs the same memory).
    ///
    /// # Errors
    /// As [`upload`](Self::upload); [`ClientError::Io`] when the file
    /// cannot be read.
    pub async fn upload_file(&self, filename: &str, path: &Path) -> Result<MessageAttachment> {
        let file = tokio::fs::File::open(path).await?;
        let size = file.metadata().await?.len();
        let request = (self.upload_request(filename))
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(file);
        rest::json(request).await
    }

    fn upload_request(&self, filename: &str) -> reqwest::RequestBuilder {
        self.post("/api/v1/attachments")
            .query(&[("filename", filename)])
    }

    /// Sends `attachments` (ids of the caller's uploads) to `to`, with
    /// `content` as their caption (may be empty).
    ///
    /// # Errors
    /// `ATTACHMENT_NOT_FOUND` (404) for an id that is not an unsent upload
    /// of the caller's, `TOO_MANY_ATTACHMENTS`, `DUPLICATE_ATTACHMENT`
    /// (422), and as [`send_direct`](Self::send_direct).
    pub async fn send_direct_files(
        &self,
        to: UserId,
        content: &str,
        attachments: &[AttachmentId],
    ) -> Result<Sent> {
        let body = json!({"recipient_id": to, "content": content, "attachments": attachments});
        self.send_message("/api/v1/messages/send", &body).await
    }

    /// Sends `attachments` to a group; as
    /// [`send_direct_files`](Self::send_direct_files).
    ///
    /// # Errors
    /// As [`send_direct_files`](Self::send_direct_files) and
    /// [`send_group`](Self::send_group).
    pub async fn send_group_files(
        &self,
        group: ConversationId,
        content: &str,
        attachments: &[AttachmentId],
    ) -> Result<Sent> {
        let body: Value = json!({"content": content, "attachments": attachments});
        let path = format!("/api/v1/groups/{group}/messages");
        self.send_message(&path, &body).await
    }

    /// Downloads a file into `out`, chunk by chunk, and returns its size.
    ///
    /// # Errors
    /// `ATTACHMENT_NOT_FOUND` (404) when the caller may not read it or it
    /// was deleted; [`ClientError::Io`] when `out` fails.
    pub async fn download_to(
        &self,
        attachment: AttachmentId,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<u64> {
        let path = format!("/api/v1/attachments/{attachment}");
        let mut response = self.get(&path).send().await?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response.bytes().await?;
            return Err(ClientError::from_response(status, &body));
        }
        let mut size = 0;
        while let Some(chunk) = response.chunk().await? {
            out.write_all(&chunk).await?;
            size += chunk.len() as u64;
        }
        out.flush().await?;
        Ok(size)
    }

    /// A file's bytes, whole (for small files; see
    /// [`download_to`](Self::download_to)).
    ///
    /// # Errors
    /// As [`download_to`](Self::download_to).
    pub async fn download(&self, attachment: AttachmentId) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.download_to(attachment, &mut bytes).await?;
        Ok(bytes)
    }

    /// An image's preview, JPEG.
    ///
    /// # Errors
    /// `ATTACHMENT_NOT_FOUND` (404) also when it has none.
    pub async fn preview(&self, attachment: AttachmentId) -> Result<Vec<u8>> {
        let path = format!("/api/v1/attachments/{attachment}/preview");
        Ok(rest::send(self.get(&path)).await?.body)
    }
}

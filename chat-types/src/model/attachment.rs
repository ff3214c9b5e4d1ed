//! Attachments: files uploaded to be sent in messages. Their bytes live in
//! a blob store (`BlobStore`, under `attachments/{id}`: `AttachmentPart` in
//! chat-core); the store records who uploaded what, and where it was sent.

use serde::{Deserialize, Serialize};

use crate::domain::FileName;
use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
use crate::time::Timestamp;

/// The most attachments one message holds.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

/// What an image attachment holds besides its bytes. Width and height
/// are at least 1 (stores refuse 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// Width in pixels (as shown, after the image's own orientation).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether a small preview was made (blob `attachments/{id}.preview`).
    pub has_preview: bool,
}

/// An uploaded file, recorded as its bytes are stored (before them: a
/// record whose bytes never came is an unsent upload the sweep removes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// Its id (UUIDv7).
    pub id: AttachmentId,
    /// Who uploaded it: the only one who may send it.
    pub uploader: UserId,
    /// The name it is shown and downloaded under.
    pub filename: FileName,
    /// Its media type, sniffed from its bytes (never the client's word);
    /// `application/octet-stream` when nothing was recognised.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// For an image of a kind the server decodes: its size and preview.
    pub image: Option<ImageInfo>,
    /// When the upload completed.
    pub created_at: Timestamp,
}

/// Where an attachment was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentIn {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// Its place among the message's attachments (from 0, below
    /// [`MAX_ATTACHMENTS_PER_MESSAGE`]).
    pub position: u16,
}

/// An attachment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// What was recorded at upload.
    pub upload: NewAttachment,
    /// Where it was sent; `None` until a message holds it.
    pub sent_in: Option<SentIn>,
}

/// An attachment as a message carries it: what a client needs to show it
/// (a file chip, or an image at its size with its preview) and to fetch
/// it (`GET /api/v1/attachments/{attachment_id}`, docs/api.md
/// "Attachments"). Stored with the message, as it never changes once
/// uploaded: history, catch-up and live frames carry it without a read.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttachment {
    /// Its id.
    pub attachment_id: AttachmentId,
    /// The name it is shown and downloaded under.
    pub filename: String,
    /// Its media type, sniffed from its bytes by the server.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// An image's width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// An image's height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Whether a small preview can be fetched
    /// (`GET /api/v1/attachments/{attachment_id}/preview`).
    #[serde(default)]
    pub preview: bool,
}

impl From<&NewAttachment> for MessageAttachment {
    fn from(a: &NewAttachment) -> Self {
        Self {
            attachment_id: a.id,
            filename: a.filename.as_str().to_owned(),
            content_type: a.content_type.clone(),
            size: a.size,
            width: a.image.map(|i| i.width),
            height: a.image.map(|i| i.height),
            preview: a.image.is_some_and(|i| i.has_preview),
        }
    }
}

/// A message's attachments as the stores keep them on the message row:
/// a JSON array, or `None` (NULL) for none, as most messages have.
pub fn attachments_to_json(attachments: &[MessageAttachment]) -> Option<String> {
    // Serializing these plain fields cannot fail.
    (!attachments.is_empty()).then(|| serde_json::to_string(attachments).unwrap_or_default())
}

/// An attachment as a database row holds it, before its values are
/// checked against the model (the stores' row types convert to this).
#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    /// `attachment_id`.
    pub id: AttachmentId,
    /// `uploader_id`.
    pub uploader: UserId,
    /// `filename`.
    pub filename: String,
    /// `content_type`.
    pub content_type: String,
    /// `size`.
    pub size: i64,
    /// `width` (NULL for files that are not images).
    pub width: Option<i64>,
    /// `height`.
    pub height: Option<i64>,
    /// `has_preview`.
    pub has_preview: bool,
    /// `created_at`.
    pub created_at: Timestamp,
    /// `conversation_id` (NULL until sent).
    pub conversation_id: Option<ConversationId>,
    /// `message_id`.
    pub message_id: Option<MessageId>,
    /// `position`.
    pub position: Option<i64>,
}

impl AttachmentRecord {
    /// The attachment the row stands for.
    ///
    /// # Errors
    /// The name of the column holding a value the model does not allow (a
    /// name that no longer validates, a negative size, a width of 0 or
    /// past `u32`, a position past [`MAX_ATTACHMENTS_PER_MESSAGE`]): a
    /// corrupt row.
    pub fn into_attachment(self) -> Result<Attachment, &'static str> {
        let filename = FileName::parse(&self.filename).map_err(|_| "filename")?;
        let image = match (self.width, self.height) {
            (Some(w), Some(h)) => Some(ImageInfo {
                width: u32::try_from(w).ok().filter(|w| *w > 0).ok_or("width")?,
                height: u32::try_from(h).ok().filter(|h| *h > 0).ok_or("height")?,
                has_preview: self.has_preview,
            }),
            _ => None,
        };
        let sent_in = match (self.conversation_id, self.message_id, self.position) {
            (Some(conversation_id), Some(message_id), Some(p)) => Some(SentIn {
                conversation_id,
                message_id,
                position: u16::try_from(p)
                    .ok()
                    .filter(|p| usize::from(*p) < MAX_ATTACHMENTS_PER_MESSAGE)
                    .ok_or("position")?,
            }),
            _ => None,
        };
        Ok(Attachment {
            upload: NewAttachment {
                id: self.id,
                uploader: self.uploader,
                filename,
                content_type: self.content_type,
                size: u64::try_from(self.size).map_err(|_| "size")?,
                image,
                created_at: self.created_at,
            },
            sent_in,
        })
    }
}

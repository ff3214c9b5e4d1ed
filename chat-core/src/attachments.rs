//! [`AttachmentService`]: storing uploads, opening them for those who may
//! read them, and sweeping what is no longer wanted (docs/architecture.md,
//! "Attachments").
//!
//! The transport checks an upload's bytes (it sniffs the type from them,
//! measures an image and makes its preview) and hands over an [`Upload`]
//! with the bytes to store. The record is written before the bytes, so a
//! crash in between leaves an unsent record, which the sweep removes with
//! whatever bytes made it; no blob is ever stored that no record names.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;

use crate::domain::FileName;
use crate::error::{ChatError, Result};
use crate::ids::{AttachmentId, UserId};
use crate::model::{Attachment, ImageInfo, MessageAttachment, NewAttachment};
use crate::rate_limit::{RateDecision, RateLimit, RateLimiter};
use crate::store::{AttachmentStore, Blob, BlobKey, BlobStore, ConversationStore};
use crate::time::Clock;

/// Settings of the attachment service.
#[derive(Debug, Clone)]
pub struct AttachmentConfig {
    /// Largest upload, in bytes (default 25 MiB).
    pub max_bytes: u64,
    /// How long an upload may wait to be sent before the sweep removes it
    /// (default one hour).
    pub unsent_grace: Duration,
    /// Records the sweep handles per store call (default 100).
    pub sweep_batch: u32,
    /// Uploads one user may start (default 200 an hour), counted by
    /// [`AttachmentService::admit_upload`].
    pub upload_limit: RateLimit,
}

impl Default for AttachmentConfig {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            unsent_grace: Duration::from_secs(3600),
            sweep_batch: 100,
            upload_limit: RateLimit::new(200, Duration::from_secs(3600)),
        }
    }
}

/// An upload whose bytes the transport checked.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The name it is shown and downloaded under.
    pub filename: FileName,
    /// Its media type, sniffed from its bytes.
    pub content_type: String,
    /// Its size in bytes: exactly what the body yields.
    pub size: u64,
    /// An image's size (its `has_preview` is ignored: `preview` says).
    pub image: Option<ImageInfo>,
    /// An image's small preview (encoded), if one was made.
    pub preview: Option<Vec<u8>>,
}

/// Which bytes of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentPart {
    /// The file as uploaded.
    Original,
    /// An image's small preview.
    Preview,
}

impl AttachmentPart {
    /// The blob key of this part of attachment `id`: `attachments/{id}`,
    /// or `attachments/{id}.preview`.
    pub fn key(self, id: AttachmentId) -> BlobKey {
        let key = match self {
            Self::Original => format!("attachments/{id}"),
            Self::Preview => format!("attachments/{id}.preview"),
        };
        // A UUID's text is letters, digits and '-': always a valid key.
        BlobKey::new(key).unwrap_or_else(|_| unreachable!("attachment keys are valid"))
    }
}

/// What one pass of [`AttachmentService::sweep`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads never sent within the grace period, removed.
    pub abandoned: usize,
    /// Attachments whose blobs were removed (their records were gone).
    pub blobs_removed: usize,
    /// Attachments whose blobs could not be removed this time (kept for
    /// the next pass).
    pub blobs_failed: usize,
}

/// What [`AttachmentService`] works with.
#[derive(Clone)]
pub(crate) struct AttachmentDeps {
    /// The records of uploads.
    pub(crate) attachments: Arc<dyn AttachmentStore>,
    /// Memberships, for who may read a sent attachment.
    pub(crate) conversations: Arc<dyn ConversationStore>,
    /// The bytes.
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// Per-user upload limits.
    pub(crate) limiter: Arc<dyn RateLimiter>,
    /// Server time.
    pub(crate) clock: Arc<dyn Clock>,
}

/// Uploads, downloads and the sweep.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct AttachmentService {
    deps: AttachmentDeps,
    config: Arc<AttachmentConfig>,
}

impl std::fmt::Debug for AttachmentService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AttachmentService {
    pub(crate) fn new(deps: AttachmentDeps, config: AttachmentConfig) -> Self {
        Self {
            deps,
            config: Arc::new(config),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AttachmentConfig {
        &self.config
    }

    /// Counts an upload `user` is about to send, before its bytes are
    /// read: a transport calls it first, so a user past
    /// [`AttachmentConfig::upload_limit`] costs no bandwidth or disk.
    ///
    /// # Errors
    /// `RATE_LIMITED` past the limit.
    pub async fn admit_upload(&self, user: UserId) -> Result<()> {
        let key = format!("upload:{user}");
        match self
            .deps
            .limiter
            .hit(&key, self.config.upload_limit)
            .await?
        {
            RateDecision::Limited { retry_after } => Err(ChatError::RateLimited { retry_after }),
            RateDecision::Allowed { .. } => Ok(()),
        }
    }

    /// Stores `upload` of `uploader`'s, its bytes read from `body`, and
    /// returns it as a message will carry it. Nothing is left visible
    /// when it fails: the record goes again (the sweep removes any bytes
    /// that were written).
    ///
    /// # Errors
    /// `ATTACHMENT_TOO_LARGE` past [`AttachmentConfig::max_bytes`];
    /// `INTERNAL` when `body` fails or yields another size than
    /// `upload.size`; `STORE_UNAVAILABLE` when the store or blob store
    /// cannot be reached.
    pub async fn store(
        &self,
        uploader: UserId,
        upload: Upload,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<MessageAttachment> {
        let max = self.config.max_bytes;
        if upload.size > max {
            return Err(ChatError::AttachmentTooLarge { max });
        }
        let new = NewAttachment {
            id: AttachmentId::new(),
            uploader,
            filename: upload.filename,
            content_type: upload.content_type,
            size: upload.size,
            image: upload.image.map(|i| ImageInfo {
                has_preview: upload.preview.is_some(),
                ..i
            }),
            created_at: self.deps.clock.now(),
        };
        self.deps.attachments.create_attachment(new.clone()).await?;
        if let Err(e) = self.put_bytes(&new, body, upload.preview).await {
            if let Err(undo) = self.deps.attachments.delete_unsent_attachment(new.id).await {
                // The sweep removes it after the grace period.
                tracing::warn!(error = %undo, attachment = %new.id, "could not remove a failed upload's record");
            }
            return Err(e);
        }
        Ok(MessageAttachment::from(&new))
    }

    async fn put_bytes(
        &self,
        new: &NewAttachment,
        body: &mut (dyn AsyncRead + Send + Unpin),
        preview: Option<Vec<u8>>,
    ) -> Result<()> {
        let blobs = &self.deps.blobs;
        let stored = (blobs.put(&AttachmentPart::Original.key(new.id), body, new.size)).await?;
        if stored != new.size {
            return Err(ChatError::internal(format!(
                "the upload's body held {stored} bytes, not {}",
                new.size
            )));
        }
        if let Some(preview) = preview {
            let size = preview.len() as u64;
            let key = AttachmentPart::Preview.key(new.id);
            blobs.put(&key, &mut preview.as_slice(), size).await?;
        }
        Ok(())
    }

    /// Attachment `id` and the bytes of its `part`, for `user`: its
    /// uploader, or, once it is sent, a member of the conversation it was
    /// sent in.
    ///
    /// # Errors
    /// `ATTACHMENT_NOT_FOUND` for anyone else, an unknown id, a deleted
    /// message's file (its record is gone), or a preview of an
    /// attachment that has none.
    pub async fn open(
        &self,
        user: UserId,
        id: AttachmentId,
        part: AttachmentPart,
    ) -> Result<(Attachment, Blob)> {
        let attachment =
            (self.deps.attachments.attachment(id).await?).ok_or(ChatError::AttachmentNotFound)?;
        if !self.may_read(user, &attachment).await? {
            return Err(ChatError::AttachmentNotFound);
        }
        let has_preview = attachment.upload.image.is_some_and(|i| i.has_preview);
        if part == AttachmentPart::Preview && !has_preview {
            return Err(ChatError::AttachmentNotFound);
        }
        // Gone between the two reads: the message was deleted meanwhile.
        let blob =
            (self.deps.blobs.get(&part.key(id)).await?).ok_or(ChatError::AttachmentNotFound)?;
        Ok((attachment, blob))
    }

    async fn may_read(&self, user: UserId, attachment: &Attachment) -> Result<bool> {
        if attachment.upload.uploader == user {
            return Ok(true);
        }
        let Some(sent) = attachment.sent_in else {
            return Ok(false);
        };
        let membership = self
            .deps
            .conversations
            .membership(sent.conversation_id, user)
            .await?;
        Ok(membership.is_some())
    }

    /// One pass of the sweep: removes uploads never sent within the grace
    /// period, then the blobs of every removed record (these, deleted
    /// messages' files, anything a cascade took), up to
    /// [`AttachmentConfig::sweep_batch`] of each. Any number of instances
    /// may sweep at once: every step is idempotent. Call it until it
    /// removes fewer than a batch.
    ///
    /// # Errors
    /// Store errors; a blob that cannot be removed is counted in
    /// [`SweepReport::blobs_failed`] and kept for the next pass.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let store = &self.deps.attachments;
        let before = self.deps.clock.now().minus(self.config.unsent_grace);
        let batch = self.config.sweep_batch;
        let mut report = SweepReport::default();
        for abandoned in store.unsent_attachments(before, batch).await? {
            if store.delete_unsent_attachment(abandoned.upload.id).await? {
                report.abandoned += 1;
            }
        }
        let mut removed = Vec::new();
        for id in store.blob_deletions(batch).await? {
            match self.delete_blobs(id).await {
                Ok(()) => removed.push(id),
                Err(e) => {
                    report.blobs_failed += 1;
                    tracing::warn!(error = %e, attachment = %id, "could not remove an attachment's blobs");
                }
            }
        }
        store.forget_blob_deletions(&removed).await?;
        report.blobs_removed = removed.len();
        Ok(report)
    }

    async fn delete_blobs(&self, id: AttachmentId) -> Result<()> {
        for part in [AttachmentPart::Original, AttachmentPart::Preview] {
            self.deps.blobs.delete(&part.key(id)).await?;
        }
        Ok(())
    }

    /// Whether a sweep pass did a full batch of either kind of work, so
    /// another pass may find more at once.
    pub fn more_to_sweep(&self, report: &SweepReport) -> bool {
        let batch = self.config.sweep_batch as usize;
        report.abandoned >= batch || report.blobs_removed + report.blobs_failed >= batch
    }
}

//! [`AttachmentStore`]: the records of uploaded files (their bytes are in
//! a [`BlobStore`](super::BlobStore)).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::AttachmentId;
use crate::model::{Attachment, NewAttachment};
use crate::time::Timestamp;

/// The records of attachments.
///
/// Sending one (setting its `sent_in`) happens in the transaction that
/// stores the message (`NewMessage::attachments`). Deleting a record, by
/// [`delete_unsent_attachment`](Self::delete_unsent_attachment), by
/// deleting the message that sent it, or by any cascade, queues its blobs
/// for removal in the same transaction
/// ([`blob_deletions`](Self::blob_deletions)), so no blob outlives its
/// record unnoticed.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Records an upload, not yet sent, whose bytes are stored next
    /// (`AttachmentService::store` removes the record again when they
    /// fail).
    ///
    /// # Errors
    /// An id already recorded, or an image of width or height 0: store
    /// errors (the caller made a fresh id and measured the image).
    async fn create_attachment(&self, new: NewAttachment) -> Result<()>;

    /// The attachment with this id; `None` when there is none.
    async fn attachment(&self, id: AttachmentId) -> Result<Option<Attachment>>;

    /// The attachments with these ids that exist, in no set order.
    async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>>;

    /// Attachments never sent and uploaded before `before`, oldest first,
    /// at most `limit`: what the sweep of abandoned uploads removes.
    async fn unsent_attachments(&self, before: Timestamp, limit: u32) -> Result<Vec<Attachment>>;

    /// Removes the record of an attachment never sent. `false` (and
    /// nothing removed) when it was sent meanwhile, or is not there.
    async fn delete_unsent_attachment(&self, id: AttachmentId) -> Result<bool>;

    /// Attachments whose records were removed and whose blobs
    /// (`attachments/{id}` and `attachments/{id}.preview`) may still be
    /// stored, in id (upload) order, at most `limit`: what the sweep removes
    /// before calling [`forget_blob_deletions`](Self::forget_blob_deletions).
    async fn blob_deletions(&self, limit: u32) -> Result<Vec<AttachmentId>>;

    /// Forgets these pending blob deletions (their blobs are removed).
    async fn forget_blob_deletions(&self, ids: &[AttachmentId]) -> Result<()>;
}

//! [`AttachmentStore`]: the records of uploaded files (their bytes are in
//! a [`BlobStore`](super::BlobStore)).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::AttachmentId;
use crate::model::{Attachment, NewAttachment};
use crate::time::Timestamp;

/// The records of attachments. Sending one in a message (setting its
/// `sent_in`) happens in the transaction that stores the message.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Records an upload whose bytes are stored, not yet sent.
    async fn create_attachment(&self, new: NewAttachment) -> Result<()>;

    /// The attachment with this id; `None` when there is none.
    async fn attachment(&self, id: AttachmentId) -> Result<Option<Attachment>>;

    /// Attachments never sent and uploaded before `before`, oldest first,
    /// at most `limit`: what the sweep of abandoned uploads removes.
    async fn unsent_attachments(&self, before: Timestamp, limit: u32) -> Result<Vec<Attachment>>;

    /// Removes the record of an attachment never sent. `false` (and
    /// nothing removed) when it was sent meanwhile, or is not there.
    async fn delete_unsent_attachment(&self, id: AttachmentId) -> Result<bool>;
}

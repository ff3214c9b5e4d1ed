//! [`AttachmentStore`] for [`MemoryStore`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::{ChatError, Result};
use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
use crate::model::{Attachment, MessageAttachment, NewAttachment, SentIn};
use crate::store::AttachmentStore;
use crate::time::Timestamp;

/// The attachments of a [`MemoryStore`], by id (UUIDv7: upload order).
#[derive(Debug, Default)]
pub(super) struct AttachmentState {
    pub(super) by_id: BTreeMap<AttachmentId, Attachment>,
    /// Attachments whose records are gone and whose blobs are not yet
    /// removed (see [`AttachmentStore::blob_deletions`]).
    blob_deletions: BTreeSet<AttachmentId>,
}

impl AttachmentState {
    /// Whether `sender` may send `attachments`: each is theirs, not sent
    /// yet, and named once.
    pub(super) fn sendable(&self, sender: UserId, attachments: &[MessageAttachment]) -> bool {
        let ids: BTreeSet<AttachmentId> = attachments.iter().map(|a| a.attachment_id).collect();
        ids.len() == attachments.len()
            && attachments.iter().all(|a| {
                self.by_id.get(&a.attachment_id).is_some_and(|stored| {
                    stored.upload.uploader == sender && stored.sent_in.is_none()
                })
            })
    }

    /// Records that `message` of `conversation` sends `attachments`
    /// (checked with [`sendable`](Self::sendable)).
    pub(super) fn link(
        &mut self,
        conversation: ConversationId,
        message: MessageId,
        attachments: &[MessageAttachment],
    ) {
        for (position, a) in attachments.iter().enumerate() {
            if let Some(stored) = self.by_id.get_mut(&a.attachment_id) {
                stored.sent_in = Some(SentIn {
                    conversation_id: conversation,
                    message_id: message,
                    position: u16::try_from(position).unwrap_or(u16::MAX),
                });
            }
        }
    }

    /// Removes the records of `message`'s attachments (it was deleted),
    /// queueing their blobs for removal.
    pub(super) fn remove_of_message(&mut self, message: MessageId) {
        self.remove_where(|a| a.sent_in.is_some_and(|s| s.message_id == message));
    }

    fn remove_where(&mut self, gone: impl Fn(&Attachment) -> bool) {
        let ids: Vec<AttachmentId> = (self.by_id.values())
            .filter(|a| gone(a))
            .map(|a| a.upload.id)
            .collect();
        for id in ids {
            self.by_id.remove(&id);
            self.blob_deletions.insert(id);
        }
    }
}

#[async_trait]
impl AttachmentStore for MemoryStore {
    async fn create_attachment(&self, new: NewAttachment) -> Result<()> {
        // As the databases' constraints do.
        if new.image.is_some_and(|i| i.width == 0 || i.height == 0) {
            return Err(ChatError::internal(
                "an image is at least 1 pixel wide and high",
            ));
        }
        let mut st = self.state();
        let attachments = &mut st.attachments;
        if attachments.by_id.contains_key(&new.id) {
            return Err(ChatError::internal("attachment id already used"));
        }
        attachments.by_id.insert(
            new.id,
            Attachment {
                upload: new,
                sent_in: None,
            },
        );
        Ok(())
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<Attachment>> {
        Ok(self.state().attachments.by_id.get(&id).cloned())
    }

    async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>> {
        let st = self.state();
        Ok(ids
            .iter()
            .filter_map(|id| st.attachments.by_id.get(id).cloned())
            .collect())
    }

    async fn unsent_attachments(&self, before: Timestamp, limit: u32) -> Result<Vec<Attachment>> {
        let st = self.state();
        let mut unsent: Vec<Attachment> = st
            .attachments
            .by_id
            .values()
            .filter(|a| a.sent_in.is_none() && a.upload.created_at < before)
            .cloned()
            .collect();
        unsent.sort_by_key(|a| (a.upload.created_at, a.upload.id));
        unsent.truncate(limit as usize);
        Ok(unsent)
    }

    async fn delete_unsent_attachment(&self, id: AttachmentId) -> Result<bool> {
        let mut st = self.state();
        let attachments = &mut st.attachments;
        let unsent = (attachments.by_id.get(&id)).is_some_and(|a| a.sent_in.is_none());
        if unsent {
            attachments.by_id.remove(&id);
            attachments.blob_deletions.insert(id);
        }
        Ok(unsent)
    }

    async fn blob_deletions(&self, limit: u32) -> Result<Vec<AttachmentId>> {
        let st = self.state();
        Ok((st.attachments.blob_deletions.iter())
            .take(limit as usize)
            .copied()
            .collect())
    }

    async fn forget_blob_deletions(&self, ids: &[AttachmentId]) -> Result<()> {
        let mut st = self.state();
        for id in ids {
            st.attachments.blob_deletions.remove(id);
        }
        Ok(())
    }
}

//! [`AttachmentStore`] for [`MemoryStore`].

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::Result;
use crate::ids::AttachmentId;
use crate::model::{Attachment, NewAttachment};
use crate::store::AttachmentStore;
use crate::time::Timestamp;

/// The attachments of a [`MemoryStore`], by id (UUIDv7: upload order).
#[derive(Debug, Default)]
pub(super) struct AttachmentState {
    pub(super) by_id: BTreeMap<AttachmentId, Attachment>,
}

#[async_trait]
impl AttachmentStore for MemoryStore {
    async fn create_attachment(&self, new: NewAttachment) -> Result<()> {
        self.state().attachments.by_id.insert(
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
        let unsent = st
            .attachments
            .by_id
            .get(&id)
            .is_some_and(|a| a.sent_in.is_none());
        if unsent {
            st.attachments.by_id.remove(&id);
        }
        Ok(unsent)
    }
}

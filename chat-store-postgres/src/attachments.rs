//! [`AttachmentStore`]: the `attachments` table of migration 0006.

use async_trait::async_trait;
use chat_core::ids::AttachmentId;
use chat_core::model::{Attachment, AttachmentRecord, NewAttachment};
use chat_core::store::AttachmentStore;
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{PgStore, to_chat_error, to_sql_count};

/// The columns [`AttachmentRow`] reads.
macro_rules! attachment_columns {
    () => {
        "attachment_id, uploader_id, filename, content_type, size, width, height, has_preview, \
         created_at, conversation_id, message_id, position"
    };
}

/// A row of `attachments`.
#[derive(sqlx::FromRow)]
struct AttachmentRow {
    attachment_id: Uuid,
    uploader_id: Uuid,
    filename: String,
    content_type: String,
    size: i64,
    width: Option<i32>,
    height: Option<i32>,
    has_preview: bool,
    created_at: DateTime<Utc>,
    conversation_id: Option<Uuid>,
    message_id: Option<Uuid>,
    position: Option<i16>,
}

impl AttachmentRow {
    /// The attachment; a value the model does not allow is a corrupt row.
    fn into_model(self) -> Result<Attachment> {
        AttachmentRecord {
            id: AttachmentId::from_uuid(self.attachment_id),
            uploader: UserId::from_uuid(self.uploader_id),
            filename: self.filename,
            content_type: self.content_type,
            size: self.size,
            width: self.width.map(i64::from),
            height: self.height.map(i64::from),
            has_preview: self.has_preview,
            created_at: Timestamp::from_datetime(self.created_at),
            conversation_id: self.conversation_id.map(ConversationId::from_uuid),
            message_id: self.message_id.map(MessageId::from_uuid),
            position: self.position.map(i64::from),
        }
        .into_attachment()
        .map_err(|column| ChatError::internal(format!("corrupt attachments row: {column}")))
    }
}

#[async_trait]
impl AttachmentStore for PgStore {
    async fn create_attachment(&self, new: NewAttachment) -> Result<()> {
        sqlx::query(
            "INSERT INTO attachments (attachment_id, uploader_id, filename, content_type, size, \
                 width, height, has_preview, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new.id.as_uuid())
        .bind(new.uploader.as_uuid())
        .bind(new.filename.as_str())
        .bind(&new.content_type)
        .bind(to_sql_count(new.size))
        // No image is 2^31 pixels wide (the decoder refuses far smaller
        // ones); such a value would be kept as i32::MAX.
        .bind(
            new.image
                .map(|i| i32::try_from(i.width).unwrap_or(i32::MAX)),
        )
        .bind(
            new.image
                .map(|i| i32::try_from(i.height).unwrap_or(i32::MAX)),
        )
        .bind(new.image.is_some_and(|i| i.has_preview))
        .bind(new.created_at.as_datetime())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<Attachment>> {
        let row: Option<AttachmentRow> = sqlx::query_as(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments WHERE attachment_id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(AttachmentRow::into_model).transpose()
    }

    async fn unsent_attachments(&self, before: Timestamp, limit: u32) -> Result<Vec<Attachment>> {
        let rows: Vec<AttachmentRow> = sqlx::query_as(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments \
              WHERE message_id IS NULL AND created_at < $1 \
              ORDER BY created_at, attachment_id LIMIT $2"
        ))
        .bind(before.as_datetime())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(AttachmentRow::into_model).collect()
    }

    async fn delete_unsent_attachment(&self, id: AttachmentId) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM attachments WHERE attachment_id = $1 AND message_id IS NULL")
                .bind(id.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(to_chat_error)?;
        Ok(done.rows_affected() == 1)
    }
}

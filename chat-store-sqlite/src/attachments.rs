//! [`AttachmentStore`]: the `attachments` table of migration 0006, and
//! `attachment_blob_deletions` of 0007; and the linking of attachments to
//! the message that sends them, in its insert's transaction.

use async_trait::async_trait;
use chat_core::ids::AttachmentId;
use chat_core::model::{Attachment, AttachmentRecord, MessageAttachment, NewAttachment};
use chat_core::store::AttachmentStore;
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::{SqliteStore, push_id_list, to_chat_error, to_sql_count};

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
    width: Option<i64>,
    height: Option<i64>,
    has_preview: bool,
    created_at: i64,
    conversation_id: Option<Uuid>,
    message_id: Option<Uuid>,
    position: Option<i64>,
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
            width: self.width,
            height: self.height,
            has_preview: self.has_preview,
            created_at: Timestamp::from_millis(self.created_at),
            conversation_id: self.conversation_id.map(ConversationId::from_uuid),
            message_id: self.message_id.map(MessageId::from_uuid),
            position: self.position,
        }
        .into_attachment()
        .map_err(|column| ChatError::internal(format!("corrupt attachments row: {column}")))
    }
}

/// Whether `sender` may send `attachments`: each is named once, is theirs
/// and is not sent yet. True, with no statement, for none.
pub(crate) async fn attachments_sendable(
    conn: &mut SqliteConnection,
    sender: UserId,
    attachments: &[MessageAttachment],
) -> std::result::Result<bool, sqlx::Error> {
    if attachments.is_empty() {
        return Ok(true);
    }
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT COUNT(DISTINCT attachment_id) FROM attachments WHERE message_id IS NULL AND \
         uploader_id = ",
    );
    query
        .push_bind(sender.as_uuid())
        .push(" AND attachment_id IN ");
    push_id_list(
        &mut query,
        attachments.iter().map(|a| a.attachment_id.as_uuid()),
    );
    let found: i64 = query.build_query_scalar().fetch_one(&mut *conn).await?;
    // Named twice, an id is counted once.
    Ok(usize::try_from(found).is_ok_and(|n| n == attachments.len()))
}

/// Records that `message` of `conversation` sends `attachments` (checked
/// with [`attachments_sendable`] in the same transaction), in order.
pub(crate) async fn link_attachments(
    conn: &mut SqliteConnection,
    conversation: ConversationId,
    message: MessageId,
    attachments: &[MessageAttachment],
) -> std::result::Result<(), sqlx::Error> {
    for (position, a) in (0_i64..).zip(attachments) {
        sqlx::query(
            "UPDATE attachments SET conversation_id = ?2, message_id = ?3, position = ?4 \
             WHERE attachment_id = ?1",
        )
        .bind(a.attachment_id.as_uuid())
        .bind(conversation.as_uuid())
        .bind(message.as_uuid())
        .bind(position)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl AttachmentStore for SqliteStore {
    async fn create_attachment(&self, new: NewAttachment) -> Result<()> {
        sqlx::query(
            "INSERT INTO attachments (attachment_id, uploader_id, filename, content_type, size, \
                 width, height, has_preview, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(new.id.as_uuid())
        .bind(new.uploader.as_uuid())
        .bind(new.filename.as_str())
        .bind(&new.content_type)
        .bind(to_sql_count(new.size))
        .bind(new.image.map(|i| i64::from(i.width)))
        .bind(new.image.map(|i| i64::from(i.height)))
        .bind(new.image.is_some_and(|i| i.has_preview))
        .bind(new.created_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<Attachment>> {
        let row: Option<AttachmentRow> = sqlx::query_as(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments WHERE attachment_id = ?1"
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
              WHERE message_id IS NULL AND created_at < ?1 \
              ORDER BY created_at, attachment_id LIMIT ?2"
        ))
        .bind(before.as_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(AttachmentRow::into_model).collect()
    }

    async fn delete_unsent_attachment(&self, id: AttachmentId) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM attachments WHERE attachment_id = ?1 AND message_id IS NULL")
                .bind(id.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(to_chat_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments WHERE attachment_id IN "
        ));
        push_id_list(&mut query, ids.iter().map(|id| id.as_uuid()));
        let rows: Vec<AttachmentRow> = query
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(to_chat_error)?;
        rows.into_iter().map(AttachmentRow::into_model).collect()
    }

    async fn blob_deletions(&self, limit: u32) -> Result<Vec<AttachmentId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT attachment_id FROM attachment_blob_deletions ORDER BY attachment_id LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(ids.into_iter().map(AttachmentId::from_uuid).collect())
    }

    async fn forget_blob_deletions(&self, ids: &[AttachmentId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut query = QueryBuilder::<Sqlite>::new(
            "DELETE FROM attachment_blob_deletions WHERE attachment_id IN ",
        );
        push_id_list(&mut query, ids.iter().map(|id| id.as_uuid()));
        query
            .build()
            .execute(&self.pool)
            .await
            .map_err(to_chat_error)?;
        Ok(())
    }
}

//! [`AttachmentStore`]: the `attachments` table of migration 0006, and
//! `attachment_blob_deletions` of 0007; and the claiming and linking of
//! attachments by the messages that send them, in their inserts'
//! transactions.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::ids::AttachmentId;
use chat_core::model::{Attachment, AttachmentRecord, MessageAttachment, NewAttachment};
use chat_core::store::AttachmentStore;
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
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

/// The unsent attachments among `ids`, each with its uploader, locked
/// until the transaction ends: a message may send one only if it is here
/// (another transaction that sent it first and committed makes it drop
/// out when this one's lock wait ends, as `message_id` is then set).
/// Locked in id order, as every writer that locks several does.
pub(crate) async fn lock_unsent(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Uuid>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT attachment_id, uploader_id FROM attachments \
         WHERE attachment_id = ANY($1) AND message_id IS NULL \
         ORDER BY attachment_id FOR NO KEY UPDATE",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(to_chat_error)?;
    Ok(rows.into_iter().collect())
}

/// Takes `attachments` from `unsent` (as [`lock_unsent`] found them) for a
/// message of `sender`'s: all or none. False, with nothing taken, when
/// one is not there (unknown, sent already, named twice) or not the
/// sender's.
pub(crate) fn claim(
    unsent: &mut HashMap<Uuid, Uuid>,
    sender: UserId,
    attachments: &[MessageAttachment],
) -> bool {
    let mut taken = Vec::with_capacity(attachments.len());
    for a in attachments {
        let id = a.attachment_id.as_uuid();
        match unsent.remove(&id) {
            Some(uploader) if uploader == sender.as_uuid() => taken.push((id, uploader)),
            other => {
                // Put back what this message took (and a stranger's).
                unsent.extend(taken);
                if let Some(uploader) = other {
                    unsent.insert(id, uploader);
                }
                return false;
            }
        }
    }
    true
}

/// The `UPDATE` that links attachments to the messages sending them, from
/// four array parameters (the placeholders given, `$n`): attachment ids,
/// conversation ids, message ids and positions, one element per
/// attachment ([`Links`]' columns).
macro_rules! link_attachments {
    ($ids:literal, $conversations:literal, $messages:literal, $positions:literal) => {
        concat!(
            "UPDATE attachments a \
             SET conversation_id = v.conv, message_id = v.msg, position = v.pos \
             FROM UNNEST(",
            $ids,
            "::uuid[], ",
            $conversations,
            "::uuid[], ",
            $messages,
            "::uuid[], ",
            $positions,
            "::smallint[]) AS v(id, conv, msg, pos) \
             WHERE a.attachment_id = v.id"
        )
    };
}

/// Which message sends which attachments: one row per attachment, for
/// [`Links::store`] (or a statement binding [`Links::columns`]).
#[derive(Default)]
pub(crate) struct Links {
    ids: Vec<Uuid>,
    conversations: Vec<Uuid>,
    messages: Vec<Uuid>,
    positions: Vec<i16>,
}

impl Links {
    /// `message` of `conversation` sends `attachments`, in order.
    pub(crate) fn push(
        &mut self,
        conversation: ConversationId,
        message: MessageId,
        attachments: &[MessageAttachment],
    ) {
        for (position, a) in (0_i16..).zip(attachments) {
            self.ids.push(a.attachment_id.as_uuid());
            self.conversations.push(conversation.as_uuid());
            self.messages.push(message.as_uuid());
            self.positions.push(position);
        }
    }

    /// The links as [`link_attachments!`]'s four array parameters.
    pub(crate) fn columns(self) -> (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, Vec<i16>) {
        (self.ids, self.conversations, self.messages, self.positions)
    }

    /// Records the links, after the messages are stored: one statement,
    /// none when no message sends any.
    pub(crate) async fn store(self, conn: &mut PgConnection) -> Result<()> {
        if self.ids.is_empty() {
            return Ok(());
        }
        sqlx::query(link_attachments!("$1", "$2", "$3", "$4"))
            .bind(self.ids)
            .bind(self.conversations)
            .bind(self.messages)
            .bind(self.positions)
            .execute(&mut *conn)
            .await
            .map_err(to_chat_error)?;
        Ok(())
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

    async fn attachments(&self, ids: &[AttachmentId]) -> Result<Vec<Attachment>> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<AttachmentRow> = sqlx::query_as(concat!(
            "SELECT ",
            attachment_columns!(),
            " FROM attachments WHERE attachment_id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(AttachmentRow::into_model).collect()
    }

    async fn blob_deletions(&self, limit: u32) -> Result<Vec<AttachmentId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT attachment_id FROM attachment_blob_deletions ORDER BY attachment_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(ids.into_iter().map(AttachmentId::from_uuid).collect())
    }

    async fn forget_blob_deletions(&self, ids: &[AttachmentId]) -> Result<()> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        sqlx::query("DELETE FROM attachment_blob_deletions WHERE attachment_id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(to_chat_error)?;
        Ok(())
    }
}

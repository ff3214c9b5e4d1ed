//! [`WebhookStore`]: the tables of migration 0009.

use async_trait::async_trait;
use chat_core::ids::{DeadLetterId, WebhookId};
use chat_core::model::{DeadLetter, NewWebhook, Webhook, WebhookCursorMove, WebhookEvent};
use chat_core::store::WebhookStore;
use chat_core::{ChatError, ConversationId, Result, Timestamp, UserId};
use uuid::Uuid;

use crate::{SqliteStore, from_sql_count, to_chat_error, to_sql_count};

/// A row of `webhooks`.
#[derive(sqlx::FromRow)]
struct WebhookRow {
    webhook_id: Uuid,
    url: String,
    events: String,
    conversation_id: Option<Uuid>,
    secret: String,
    created_by: Option<Uuid>,
    created_at: i64,
}

impl WebhookRow {
    fn into_model(self) -> Result<Webhook> {
        Ok(Webhook {
            id: WebhookId::from_uuid(self.webhook_id),
            url: self.url,
            events: WebhookEvent::list_from_column(&self.events).map_err(ChatError::internal)?,
            conversation_id: self.conversation_id.map(ConversationId::from_uuid),
            secret: self.secret,
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}

/// The columns [`DeadLetterRow`] reads.
const DEAD_LETTER_COLUMNS: &str = "dead_letter_id, webhook_id, event, conversation_id, seq, body, \
     attempts, last_error, failed_at";

/// A row of `webhook_dead_letters`.
#[derive(sqlx::FromRow)]
struct DeadLetterRow {
    dead_letter_id: Uuid,
    webhook_id: Uuid,
    event: String,
    conversation_id: Uuid,
    seq: i64,
    body: String,
    attempts: i64,
    last_error: String,
    failed_at: i64,
}

impl DeadLetterRow {
    fn into_model(self) -> Result<DeadLetter> {
        Ok(DeadLetter {
            id: DeadLetterId::from_uuid(self.dead_letter_id),
            webhook_id: WebhookId::from_uuid(self.webhook_id),
            event: self.event.parse().map_err(ChatError::internal)?,
            conversation_id: ConversationId::from_uuid(self.conversation_id),
            seq: from_sql_count(self.seq),
            body: self.body,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error,
            failed_at: Timestamp::from_millis(self.failed_at),
        })
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, hook: NewWebhook) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhooks \
                 (webhook_id, url, events, conversation_id, secret, created_by, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(hook.id.as_uuid())
        .bind(&hook.url)
        .bind(WebhookEvent::list_to_column(&hook.events))
        .bind(hook.conversation_id.map(|c| c.as_uuid()))
        .bind(&hook.secret)
        .bind(hook.created_by.map(|u| u.as_uuid()))
        .bind(hook.created_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows: Vec<WebhookRow> = sqlx::query_as(
            "SELECT webhook_id, url, events, conversation_id, secret, created_by, created_at \
             FROM webhooks ORDER BY created_at, webhook_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(WebhookRow::into_model).collect()
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE webhook_id = ?1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(to_chat_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn webhook_cursor(
        &self,
        id: WebhookId,
        conversation: ConversationId,
    ) -> Result<Option<u64>> {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM webhook_cursors WHERE webhook_id = ?1 AND conversation_id = ?2",
        )
        .bind(id.as_uuid())
        .bind(conversation.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(seq.map(from_sql_count))
    }

    async fn advance_webhook_cursors(&self, moves: &[WebhookCursorMove]) -> Result<()> {
        let moves = WebhookCursorMove::merged(moves);
        if moves.is_empty() {
            return Ok(());
        }
        // Losing these in a power cut only delivers a few entries again.
        let mut tx = self.begin_relaxed_write().await?;
        for m in &moves {
            sqlx::query(
                "INSERT INTO webhook_cursors (webhook_id, conversation_id, seq) \
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM webhooks WHERE webhook_id = ?1) \
                 ON CONFLICT (webhook_id, conversation_id) \
                 DO UPDATE SET seq = MAX(seq, excluded.seq)",
            )
            .bind(m.webhook.as_uuid())
            .bind(m.conversation.as_uuid())
            .bind(to_sql_count(m.seq))
            .execute(&mut *tx)
            .await
            .map_err(to_chat_error)?;
        }
        tx.commit().await
    }

    async fn add_dead_letter(&self, letter: DeadLetter) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhook_dead_letters \
                 (dead_letter_id, webhook_id, event, conversation_id, seq, body, attempts, \
                  last_error, failed_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 \
             WHERE EXISTS (SELECT 1 FROM webhooks WHERE webhook_id = ?2)",
        )
        .bind(letter.id.as_uuid())
        .bind(letter.webhook_id.as_uuid())
        .bind(letter.event.as_str())
        .bind(letter.conversation_id.as_uuid())
        .bind(to_sql_count(letter.seq))
        .bind(&letter.body)
        .bind(i64::from(letter.attempts))
        .bind(&letter.last_error)
        .bind(letter.failed_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(())
    }

    async fn dead_letters(&self, id: WebhookId, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows: Vec<DeadLetterRow> = sqlx::query_as(&format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters WHERE webhook_id = ?1 \
             ORDER BY failed_at, dead_letter_id LIMIT ?2"
        ))
        .bind(id.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(DeadLetterRow::into_model).collect()
    }

    async fn dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<Option<DeadLetter>> {
        let row: Option<DeadLetterRow> = sqlx::query_as(&format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters \
             WHERE dead_letter_id = ?1 AND webhook_id = ?2"
        ))
        .bind(letter.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(DeadLetterRow::into_model).transpose()
    }

    async fn delete_dead_letter(&self, id: WebhookId, letter: DeadLetterId) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM webhook_dead_letters WHERE dead_letter_id = ?1 AND webhook_id = ?2",
        )
        .bind(letter.as_uuid())
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(done.rows_affected() > 0)
    }
}

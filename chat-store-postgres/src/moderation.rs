//! [`ModerationStore`]: blocks between users and reports of messages
//! (tables `user_blocks` and `message_reports`, migration 0005).
//!
//! Every operation is one statement, or two where the second reads what
//! a conflicting first one left alone: uniqueness (one block per pair and
//! direction, one report per reporter and message) and the first
//! resolution of a report are kept by the database, so concurrent callers
//! on any number of instances agree on one winner.

use async_trait::async_trait;
use chat_core::ids::ReportId;
use chat_core::model::{BlockedUser, NewReport, Report, ReportOutcome, ReportStatus, UserSummary};
use chat_core::store::ModerationStore;
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{PgStore, to_chat_error};

/// The columns [`ReportRow`] reads, as a literal so queries stay
/// `'static`.
macro_rules! report_columns {
    () => {
        "report_id, conversation_id, message_id, sender_id, content, reporter_id, reason, \
         created_at, status, resolved_at, resolved_by"
    };
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    report_id: Uuid,
    conversation_id: Uuid,
    message_id: Uuid,
    sender_id: Uuid,
    content: String,
    reporter_id: Uuid,
    reason: String,
    created_at: DateTime<Utc>,
    status: String,
    resolved_at: Option<DateTime<Utc>>,
    resolved_by: Option<Uuid>,
}

impl ReportRow {
    fn into_model(self) -> Result<Report> {
        Ok(Report {
            id: ReportId::from_uuid(self.report_id),
            conversation_id: ConversationId::from_uuid(self.conversation_id),
            message_id: MessageId::from_uuid(self.message_id),
            sender_id: UserId::from_uuid(self.sender_id),
            content: self.content,
            reporter_id: UserId::from_uuid(self.reporter_id),
            reason: self.reason,
            created_at: Timestamp::from_datetime(self.created_at),
            status: parse_status(&self.status)?,
            resolved_at: self.resolved_at.map(Timestamp::from_datetime),
            resolved_by: self.resolved_by.map(UserId::from_uuid),
        })
    }
}

/// A stored report status; an unknown one is a corrupt or newer row.
fn parse_status(status: &str) -> Result<ReportStatus> {
    status.parse().map_err(ChatError::internal)
}

#[derive(sqlx::FromRow)]
struct BlockedRow {
    user_id: Uuid,
    username: String,
    display_name: Option<String>,
    is_bot: bool,
    created_at: DateTime<Utc>,
}

impl From<BlockedRow> for BlockedUser {
    fn from(row: BlockedRow) -> Self {
        BlockedUser {
            user: UserSummary {
                id: UserId::from_uuid(row.user_id),
                username: row.username,
                display_name: row.display_name,
                is_bot: row.is_bot,
            },
            blocked_at: Timestamp::from_datetime(row.created_at),
        }
    }
}

impl PgStore {
    /// The report with this id, if any.
    async fn report_by_id(&self, id: ReportId) -> Result<Option<Report>> {
        let row: Option<ReportRow> = sqlx::query_as(concat!(
            "SELECT ",
            report_columns!(),
            " FROM message_reports WHERE report_id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(ReportRow::into_model).transpose()
    }
}

#[async_trait]
impl ModerationStore for PgStore {
    /// `blocker` blocks `blocked` from `at`. Returns `false` (changing
    /// nothing, the first time kept) when the block was already there.
    async fn block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool> {
        // A concurrent block of the same pair makes this insert wait on
        // the primary key until it commits, then do nothing: one of them
        // places the block.
        let inserted = sqlx::query(
            "INSERT INTO user_blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker.as_uuid())
        .bind(blocked.as_uuid())
        .bind(at.as_datetime())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Lifts a block. Returns `false` when there was none.
    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        let deleted =
            sqlx::query("DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2")
                .bind(blocker.as_uuid())
                .bind(blocked.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(to_chat_error)?
                .rows_affected();
        Ok(deleted == 1)
    }

    /// The users `blocker` blocked, most recent block first (then by user
    /// id, descending), inactive accounts included.
    async fn blocked_users(&self, blocker: UserId) -> Result<Vec<BlockedUser>> {
        // Inactive accounts stay listed, so their block can be lifted. A
        // range of the primary key, sorted: a user blocks few others.
        let rows: Vec<BlockedRow> = sqlx::query_as(
            "SELECT u.user_id, u.username, u.display_name, u.is_bot, b.created_at \
             FROM user_blocks b JOIN users u ON u.user_id = b.blocked_id \
             WHERE b.blocker_id = $1 \
             ORDER BY b.created_at DESC, b.blocked_id DESC",
        )
        .bind(blocker.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(BlockedUser::from).collect())
    }

    /// The users who blocked `user`, in no particular order.
    async fn blockers_of(&self, user: UserId) -> Result<Vec<UserId>> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT blocker_id FROM user_blocks WHERE blocked_id = $1")
                .bind(user.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(to_chat_error)?;
        Ok(ids.into_iter().map(UserId::from_uuid).collect())
    }

    /// Stores a report, copying the message's sender and current content
    /// into it. Reporting a message again returns the reporter's first
    /// report, unchanged; a message that is not in the conversation is
    /// `MessageNotFound`.
    async fn create_report(&self, new: NewReport) -> Result<ReportOutcome> {
        // The copy is taken by the insert itself, so it is the message as
        // of that statement: an edit or deletion commits either before
        // (and is what the report holds) or after (and changes nothing in
        // it). A concurrent report of the same message by the same
        // reporter makes the insert wait on the unique key until it
        // commits, then do nothing; the read below, a new statement, then
        // sees the winner's report.
        let inserted: Option<ReportRow> = sqlx::query_as(concat!(
            "INSERT INTO message_reports (report_id, conversation_id, message_id, sender_id, \
                 content, reporter_id, reason, created_at) \
             SELECT $1, m.conversation_id, m.message_id, m.sender_id, m.content, $4, $5, $6 \
             FROM messages m WHERE m.message_id = $3 AND m.conversation_id = $2 \
             ON CONFLICT (message_id, reporter_id) DO NOTHING \
             RETURNING ",
            report_columns!()
        ))
        .bind(new.id.as_uuid())
        .bind(new.conversation_id.as_uuid())
        .bind(new.message_id.as_uuid())
        .bind(new.reporter_id.as_uuid())
        .bind(new.reason.as_str())
        .bind(new.created_at.as_datetime())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        if let Some(row) = inserted {
            return Ok(ReportOutcome::Created(row.into_model()?));
        }
        // Nothing inserted: the message is not in this conversation, or
        // the reporter reported it already. A report holds its message's
        // conversation, so the conversation condition tells the two
        // apart: an earlier report found through another conversation's
        // id is no report of a message of that conversation.
        let existing: Option<ReportRow> = sqlx::query_as(concat!(
            "SELECT ",
            report_columns!(),
            " FROM message_reports \
              WHERE message_id = $1 AND reporter_id = $2 AND conversation_id = $3"
        ))
        .bind(new.message_id.as_uuid())
        .bind(new.reporter_id.as_uuid())
        .bind(new.conversation_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        match existing {
            Some(row) => Ok(ReportOutcome::Existing(row.into_model()?)),
            None => Ok(ReportOutcome::MessageNotFound),
        }
    }

    /// Reports (of one status, when given), newest first (`created_at`,
    /// then id, descending), skipping `offset`, at most `limit`.
    async fn reports(
        &self,
        status: Option<ReportStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Report>> {
        // Two statements rather than `$1 IS NULL OR status = $1`, so each
        // reads its own index in the list's order (`message_reports_newest`,
        // `message_reports_status_newest`) whatever plan is cached.
        let rows: Vec<ReportRow> = match status {
            None => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    report_columns!(),
                    " FROM message_reports \
                      ORDER BY created_at DESC, report_id DESC LIMIT $1 OFFSET $2"
                ))
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await
            }
            Some(status) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    report_columns!(),
                    " FROM message_reports WHERE status = $1 \
                      ORDER BY created_at DESC, report_id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(status.as_str())
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(to_chat_error)?;
        rows.into_iter().map(ReportRow::into_model).collect()
    }

    /// Marks a report resolved by operator `by` at `at`; a report already
    /// resolved keeps its first resolution. `None` when there is no such
    /// report.
    async fn resolve_report(
        &self,
        id: ReportId,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Report>> {
        // Of two operators resolving at once, the second's update waits on
        // the row lock, then finds the report resolved and changes
        // nothing; the read below, a new statement, sees the first's
        // resolution.
        let resolved: Option<ReportRow> = sqlx::query_as(concat!(
            "UPDATE message_reports SET status = 'resolved', resolved_at = $2, resolved_by = $3 \
             WHERE report_id = $1 AND status = 'open' \
             RETURNING ",
            report_columns!()
        ))
        .bind(id.as_uuid())
        .bind(at.as_datetime())
        .bind(by.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        match resolved {
            Some(row) => row.into_model().map(Some),
            None => self.report_by_id(id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_report_statuses_are_internal_errors() {
        assert_eq!(
            parse_status("closed").map_err(|e| e.code()),
            Err("INTERNAL")
        );
        assert_eq!(parse_status("open").ok(), Some(ReportStatus::Open));
    }
}

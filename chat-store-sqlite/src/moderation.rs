//! [`ModerationStore`]: blocks between users (`user_blocks`) and reports
//! of messages to the operators (`message_reports`), both from migration
//! 0005.

use async_trait::async_trait;
use chat_core::ids::ReportId;
use chat_core::model::{BlockedUser, NewReport, Report, ReportOutcome, ReportStatus, UserSummary};
use chat_core::store::ModerationStore;
use chat_core::{ChatError, ConversationId, MessageId, Result, Timestamp, UserId};
use uuid::Uuid;

use crate::{SqliteStore, to_chat_error};

/// The columns [`ReportRow`] reads, as a literal so queries stay `'static`.
macro_rules! report_columns {
    () => {
        "report_id, conversation_id, message_id, sender_id, content, reporter_id, reason, \
         created_at, status, resolved_at, resolved_by"
    };
}

/// The operators' list of every report, newest first: a walk of the
/// `message_reports_newest` index (see the plan test below).
const ALL_REPORTS: &str = concat!(
    "SELECT ",
    report_columns!(),
    " FROM message_reports \
      ORDER BY created_at DESC, report_id DESC LIMIT ?1 OFFSET ?2"
);

/// The operators' list of the reports of one status, newest first: a walk
/// of the `message_reports_status` index. A separate statement rather than
/// `?1 IS NULL OR status = ?1`, which no index can serve.
const REPORTS_BY_STATUS: &str = concat!(
    "SELECT ",
    report_columns!(),
    " FROM message_reports WHERE status = ?1 \
      ORDER BY created_at DESC, report_id DESC LIMIT ?2 OFFSET ?3"
);

/// A row of `message_reports`, as [`report_columns`] reads it.
#[derive(sqlx::FromRow)]
struct ReportRow {
    report_id: Uuid,
    conversation_id: Uuid,
    message_id: Uuid,
    sender_id: Uuid,
    content: String,
    reporter_id: Uuid,
    reason: String,
    created_at: i64,
    status: String,
    resolved_at: Option<i64>,
    resolved_by: Option<Uuid>,
}

impl ReportRow {
    /// The report; an unknown status is a corrupt or newer row.
    fn into_model(self) -> Result<Report> {
        Ok(Report {
            id: ReportId::from_uuid(self.report_id),
            conversation_id: ConversationId::from_uuid(self.conversation_id),
            message_id: MessageId::from_uuid(self.message_id),
            sender_id: UserId::from_uuid(self.sender_id),
            content: self.content,
            reporter_id: UserId::from_uuid(self.reporter_id),
            reason: self.reason,
            created_at: Timestamp::from_millis(self.created_at),
            status: parse_status(&self.status)?,
            resolved_at: self.resolved_at.map(Timestamp::from_millis),
            resolved_by: self.resolved_by.map(UserId::from_uuid),
        })
    }
}

/// A blocked user's profile and when the block was placed.
#[derive(sqlx::FromRow)]
struct BlockedRow {
    user_id: Uuid,
    username: String,
    display_name: Option<String>,
    is_bot: bool,
    blocked_at: i64,
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
            blocked_at: Timestamp::from_millis(row.blocked_at),
        }
    }
}

/// A stored report status; an unknown one is a corrupt or newer row.
fn parse_status(status: &str) -> Result<ReportStatus> {
    status.parse().map_err(ChatError::internal)
}

#[async_trait]
impl ModerationStore for SqliteStore {
    /// `blocker` blocks `blocked` from `at`. Returns `false` (changing
    /// nothing, the first time kept) when the block was already there.
    async fn block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool> {
        // The primary key refuses a second row for the pair, so concurrent
        // blocks of one pair place it once, and the first time stays.
        let inserted = sqlx::query(
            "INSERT INTO user_blocks (blocker_id, blocked_id, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker.as_uuid())
        .bind(blocked.as_uuid())
        .bind(at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Lifts a block. Returns `false` when there was none.
    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        let deleted =
            sqlx::query("DELETE FROM user_blocks WHERE blocker_id = ?1 AND blocked_id = ?2")
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
        // `users` directly, not `user_summaries`, which leaves inactive
        // accounts out: a deactivated user stays listed so the block can
        // be lifted. The blocker's rows are a range of the primary key.
        let rows: Vec<BlockedRow> = sqlx::query_as(
            "SELECT u.user_id, u.username, u.display_name, u.is_bot, b.created_at AS blocked_at \
             FROM user_blocks b JOIN users u ON u.user_id = b.blocked_id \
             WHERE b.blocker_id = ?1 \
             ORDER BY b.created_at DESC, b.blocked_id DESC",
        )
        .bind(blocker.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(rows.into_iter().map(BlockedUser::from).collect())
    }

    /// The users who blocked `user`, in no particular order (a range of
    /// the `user_blocks_blocked_id` index).
    async fn blockers_of(&self, user: UserId) -> Result<Vec<UserId>> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT blocker_id FROM user_blocks WHERE blocked_id = ?1")
                .bind(user.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(to_chat_error)?;
        Ok(ids.into_iter().map(UserId::from_uuid).collect())
    }

    /// Stores a report, copying the message's sender and current content
    /// into it. One report per reporter and message: reporting again
    /// returns [`ReportOutcome::Existing`] with the first.
    async fn create_report(&self, new: NewReport) -> Result<ReportOutcome> {
        // One statement reads the message and stores the copy, so the
        // content reported is the content at that instant, whatever edit
        // or deletion commits around it. It inserts nothing when the
        // message is not in the conversation (no row to select) or when
        // the reporter reported it before (the unique index).
        //
        // The WHERE clause also keeps SQLite from parsing `ON CONFLICT`
        // as a join constraint of the SELECT.
        let created: Option<ReportRow> = sqlx::query_as(concat!(
            "INSERT INTO message_reports (report_id, conversation_id, message_id, sender_id, \
                 content, reporter_id, reason, created_at) \
             SELECT ?1, conversation_id, message_id, sender_id, content, ?4, ?5, ?6 \
             FROM messages WHERE message_id = ?3 AND conversation_id = ?2 \
             ON CONFLICT (message_id, reporter_id) DO NOTHING \
             RETURNING ",
            report_columns!()
        ))
        .bind(new.id.as_uuid())
        .bind(new.conversation_id.as_uuid())
        .bind(new.message_id.as_uuid())
        .bind(new.reporter_id.as_uuid())
        .bind(new.reason.as_str())
        .bind(new.created_at.as_millis())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        if let Some(row) = created {
            return Ok(ReportOutcome::Created(row.into_model()?));
        }
        // Nothing inserted: the earlier report, provided the message is
        // in the conversation asked for (the memory store checks the
        // message first too). Reports are never deleted, so after a
        // conflict this finds the report that caused it; no transaction
        // is needed to keep the two statements together.
        let earlier: Option<ReportRow> = sqlx::query_as(concat!(
            "SELECT ",
            report_columns!(),
            " FROM message_reports r \
              WHERE r.message_id = ?1 AND r.reporter_id = ?2 \
                AND EXISTS (SELECT 1 FROM messages \
                            WHERE message_id = ?1 AND conversation_id = ?3)"
        ))
        .bind(new.message_id.as_uuid())
        .bind(new.reporter_id.as_uuid())
        .bind(new.conversation_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        match earlier {
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
        let query = match status {
            Some(status) => sqlx::query_as(REPORTS_BY_STATUS).bind(status.as_str()),
            None => sqlx::query_as(ALL_REPORTS),
        };
        let rows: Vec<ReportRow> = query
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await
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
        // One statement, so two operators resolving at once cannot mix
        // their times and names: the second finds the first's resolution
        // and keeps it (the migration's CHECK sets both or neither).
        let row: Option<ReportRow> = sqlx::query_as(concat!(
            "UPDATE message_reports SET status = 'resolved', \
                 resolved_at = COALESCE(resolved_at, ?2), \
                 resolved_by = COALESCE(resolved_by, ?3) \
             WHERE report_id = ?1 \
             RETURNING ",
            report_columns!()
        ))
        .bind(id.as_uuid())
        .bind(at.as_millis())
        .bind(by.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(ReportRow::into_model).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_are_internal_errors() {
        assert_eq!(
            parse_status("escalated").map_err(|e| e.code()),
            Err("INTERNAL")
        );
        assert_eq!(parse_status("resolved").ok(), Some(ReportStatus::Resolved));
    }

    /// The steps of the plan of `statement` with these parameters.
    async fn plan(store: &SqliteStore, statement: &str, status: Option<&str>) -> Vec<String> {
        let explain = format!("EXPLAIN QUERY PLAN {statement}");
        let query = sqlx::query_as(&explain);
        let query = match status {
            Some(status) => query.bind(status.to_owned()),
            None => query,
        };
        let rows: Vec<(i64, i64, i64, String)> = query
            .bind(20_i64)
            .bind(0_i64)
            .fetch_all(store.pool())
            .await
            .expect("plan");
        rows.into_iter().map(|(.., detail)| detail).collect()
    }

    /// Both lists walk an index in the order they return, so a page reads
    /// `offset + limit` index entries and sorts nothing.
    #[tokio::test]
    async fn report_lists_walk_an_index_without_sorting() {
        let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
        let all = plan(&store, ALL_REPORTS, None).await;
        assert_eq!(
            all,
            vec!["SCAN message_reports USING INDEX message_reports_newest".to_owned()],
            "{all:#?}"
        );
        let open = plan(&store, REPORTS_BY_STATUS, Some("open")).await;
        assert_eq!(
            open,
            vec!["SEARCH message_reports USING INDEX message_reports_status (status=?)".to_owned()],
            "{open:#?}"
        );
        store.pool().close().await;
    }
}

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ReportId, UserId};
use crate::model::{BlockedUser, NewReport, Report, ReportOutcome, ReportStatus};
use crate::time::Timestamp;

/// Blocks between users and reports of messages to the operators.
///
/// The service decides what a block stops (direct conversations and
/// messages, typing, presence) and who may report what; the store keeps
/// the records and their uniqueness.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ModerationStore: Send + Sync {
    /// `blocker` blocks `blocked` from `at`. Returns `false` (changing
    /// nothing, the first time kept) when the block was already there.
    async fn block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool>;

    /// Lifts a block. Returns `false` when there was none.
    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool>;

    /// The users `blocker` blocked, most recent block first (then by user
    /// id), inactive accounts included.
    async fn blocked_users(&self, blocker: UserId) -> Result<Vec<BlockedUser>>;

    /// The users who blocked `user`, in no particular order.
    async fn blockers_of(&self, user: UserId) -> Result<Vec<UserId>>;

    /// Stores a report, copying the message's sender and current content
    /// into it. One report per reporter and message: reporting again
    /// returns [`ReportOutcome::Existing`] with the first.
    async fn create_report(&self, report: NewReport) -> Result<ReportOutcome>;

    /// Reports (of one status, when given), newest first (`created_at`,
    /// then id, descending), skipping `offset`, at most `limit`.
    async fn reports(
        &self,
        status: Option<ReportStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Report>>;

    /// Marks a report resolved by operator `by` at `at`; a report already
    /// resolved keeps its first resolution. `None` when there is no such
    /// report.
    async fn resolve_report(
        &self,
        id: ReportId,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Report>>;
}

//! [`ModerationService`]: blocking users and reporting messages;
//! [`AdminService`]: what the server's operators do.
//!
//! A block stops direct conversations and direct messages between the two
//! users (either way) and hides the blocked user's typing and presence
//! from the blocker; groups they share are unaffected. A report copies the
//! message for the operators, who see it through the admin API.

mod admin;

use std::sync::Arc;
use std::time::Duration;

pub use admin::{AdminConfig, AdminService, USER_LIST_DEFAULT_LIMIT, USER_LIST_MAX_LIMIT};

use crate::blocks::Blocks;
use crate::domain::ReportReason;
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{ConversationId, MessageId, ReportId, UserId};
use crate::members::Members;
use crate::model::{BlockedUser, NewReport, Report, ReportOutcome};
use crate::rate_limit::{RateDecision, RateLimit, RateLimiter};
use crate::store::{ModerationStore, UserStore};
use crate::time::Clock;

/// Reports one user may make (30 an hour): enough for a bad afternoon,
/// too few to flood the operators' queue.
pub const REPORT_LIMIT: RateLimit = RateLimit::new(30, Duration::from_secs(3600));

/// What [`ModerationService`] works with.
#[derive(Clone)]
pub(crate) struct ModerationDeps {
    pub(crate) users: Arc<dyn UserStore>,
    pub(crate) store: Arc<dyn ModerationStore>,
    pub(crate) blocks: Arc<Blocks>,
    pub(crate) members: Arc<Members>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Blocks and reports.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ModerationService {
    deps: ModerationDeps,
}

impl std::fmt::Debug for ModerationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModerationService").finish_non_exhaustive()
    }
}

impl ModerationService {
    pub(crate) fn new(deps: ModerationDeps) -> Self {
        Self { deps }
    }

    /// `user` blocks `target`: from now on neither can start a direct
    /// conversation with the other or send them direct messages, and
    /// `user` no longer sees `target` typing or coming online. Blocking
    /// twice changes nothing.
    ///
    /// # Errors
    /// `USER_NOT_FOUND` for an unknown user; `CANNOT_BLOCK_SELF` (422,
    /// field `user_id`).
    pub async fn block(&self, user: UserId, target: UserId) -> Result<()> {
        if user == target {
            return Err(ValidationError::new(
                "user_id",
                "CANNOT_BLOCK_SELF",
                "you cannot block yourself",
            )
            .into());
        }
        // Deactivated accounts can be blocked too: they may come back.
        if self.deps.users.user_by_id(target).await?.is_none() {
            return Err(ChatError::UserNotFound);
        }
        let now = self.deps.clock.now();
        if self.deps.store.block(user, target, now).await? {
            self.deps.blocks.changed(target).await;
        }
        Ok(())
    }

    /// Lifts `user`'s block of `target`; lifting a block that is not
    /// there changes nothing.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn unblock(&self, user: UserId, target: UserId) -> Result<()> {
        if self.deps.store.unblock(user, target).await? {
            self.deps.blocks.changed(target).await;
        }
        Ok(())
    }

    /// The users `user` blocked, most recent first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn blocked_users(&self, user: UserId) -> Result<Vec<BlockedUser>> {
        self.deps.store.blocked_users(user).await
    }

    /// Whether `blocker` blocks `user` (read through the cache).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn has_blocked(&self, blocker: UserId, user: UserId) -> Result<bool> {
        Ok(self.deps.blocks.blockers_of(user).await?.contains(&blocker))
    }

    /// Reports a message of a conversation `user` belongs to. The flag is
    /// true for a new report, false when `user` had reported this message
    /// already (their first report is returned).
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `MESSAGE_NOT_FOUND`, `RATE_LIMITED` past
    /// [`REPORT_LIMIT`].
    pub async fn report(
        &self,
        user: UserId,
        conversation: ConversationId,
        message: MessageId,
        reason: ReportReason,
    ) -> Result<(Report, bool)> {
        let d = &self.deps;
        if let RateDecision::Limited { retry_after } = d
            .limiter
            .hit(&format!("report:{user}"), REPORT_LIMIT)
            .await?
        {
            return Err(ChatError::RateLimited { retry_after });
        }
        d.members.require(conversation, user, None).await?;
        let report = NewReport {
            id: ReportId::new(),
            conversation_id: conversation,
            message_id: message,
            reporter_id: user,
            reason,
            created_at: d.clock.now(),
        };
        match d.store.create_report(report).await? {
            ReportOutcome::Created(report) => {
                tracing::info!(report = %report.id, %conversation, %message, "message reported");
                Ok((report, true))
            }
            ReportOutcome::Existing(report) => Ok((report, false)),
            ReportOutcome::MessageNotFound => Err(ChatError::MessageNotFound),
        }
    }
}

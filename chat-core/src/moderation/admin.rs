//! [`AdminService`]: the operators' side — accounts, sessions, reports and
//! messages, whatever conversation they are in.

use std::collections::HashSet;
use std::sync::Arc;

use crate::auth::AuthService;
use crate::conversations::{ChangedMessage, ConversationService};
use crate::domain::Username;
use crate::error::{ChatError, Result, ValidationError};
use crate::ids::{ConversationId, MessageId, ReportId, UserId};
use crate::model::{Report, ReportStatus, User, UserListQuery};
use crate::store::{ModerationStore, UserStore};
use crate::time::Clock;

/// Users one page of the admin list holds by default.
pub const USER_LIST_DEFAULT_LIMIT: u32 = 50;
/// Most users (and reports) one page may hold.
pub const USER_LIST_MAX_LIMIT: u32 = 100;
/// Deepest offset a page may start at; narrow the prefix instead.
const MAX_OFFSET: u32 = 10_000;

/// Who the operators are.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// Usernames (case-insensitive) whose accounts hold the admin role.
    /// Empty: nobody, and the admin API answers `PERMISSION_DENIED`.
    pub usernames: Vec<Username>,
}

/// What operators do: list and search every account, deactivate and
/// reactivate accounts, revoke sessions, handle reports and delete any
/// message. Every call takes the caller's user id and checks that they
/// hold the admin role first.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct AdminService {
    admins: Arc<HashSet<String>>,
    users: Arc<dyn UserStore>,
    moderation: Arc<dyn ModerationStore>,
    auth: AuthService,
    conversations: ConversationService,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService")
            .field("admins", &self.admins.len())
            .finish_non_exhaustive()
    }
}

impl AdminService {
    pub(crate) fn new(
        config: AdminConfig,
        users: Arc<dyn UserStore>,
        moderation: Arc<dyn ModerationStore>,
        auth: AuthService,
        conversations: ConversationService,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let admins = config.usernames.iter().map(Username::key).collect();
        Self {
            admins: Arc::new(admins),
            users,
            moderation,
            auth,
            conversations,
            clock,
        }
    }

    /// Whether `user` holds the admin role (an active account named in
    /// [`AdminConfig::usernames`]).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn is_admin(&self, user: UserId) -> Result<bool> {
        if self.admins.is_empty() {
            return Ok(false);
        }
        Ok(self
            .users
            .user_by_id(user)
            .await?
            .is_some_and(|u| self.holds_admin_role(&u)))
    }

    /// Whether the account `user`, already read, holds the admin role: for
    /// callers that have it in hand (a profile), so no second read.
    pub fn holds_admin_role(&self, user: &User) -> bool {
        user.is_active && self.admins.contains(&user.username.to_ascii_lowercase())
    }

    /// Refuses anyone without the admin role.
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; store failures.
    pub async fn require_admin(&self, user: UserId) -> Result<()> {
        if self.is_admin(user).await? {
            Ok(())
        } else {
            Err(ChatError::PermissionDenied(
                "this needs the admin role (docs/configuration.md, CHAT_ADMIN_USERNAMES)",
            ))
        }
    }

    /// Accounts, active and (with `include_inactive`) deactivated, whose
    /// username, display name or email starts with `prefix`, ordered by
    /// username. `limit` 1-100 (default 50), `offset` at most 10,000.
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; `INVALID_QUERY` for a prefix over 100
    /// characters; `INVALID_PAGINATION`.
    pub async fn list_users(
        &self,
        admin: UserId,
        prefix: Option<&str>,
        include_inactive: bool,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Vec<User>> {
        self.require_admin(admin).await?;
        let prefix_key = match prefix.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) if p.chars().count() > 100 => {
                return Err(ChatError::InvalidQuery(ValidationError::new(
                    "q",
                    "INVALID_QUERY",
                    "q must be at most 100 characters long",
                )));
            }
            Some(p) => Some(p.to_lowercase()),
            None => None,
        };
        let (limit, offset) = page(limit, offset)?;
        self.users
            .list_users(UserListQuery {
                prefix_key,
                include_inactive,
                limit,
                offset,
            })
            .await
    }

    /// Deactivates (`active = false`) or reactivates an account.
    /// Deactivating revokes every session at once. An admin cannot
    /// deactivate themself (so the last one cannot lock everybody out).
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; `USER_NOT_FOUND`.
    pub async fn set_active(&self, admin: UserId, user: UserId, active: bool) -> Result<User> {
        self.require_admin(admin).await?;
        if !active && user == admin {
            return Err(ChatError::PermissionDenied(
                "an admin cannot deactivate themself",
            ));
        }
        if active {
            self.auth.reactivate_user(user).await?;
        } else {
            self.auth.deactivate_user(user).await?;
        }
        self.users
            .user_by_id(user)
            .await?
            .ok_or(ChatError::UserNotFound)
    }

    /// Revokes every session of `user`: their tokens answer
    /// `SESSION_REVOKED` and their sockets close with 4001; they can log
    /// in again.
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; `USER_NOT_FOUND`.
    pub async fn revoke_sessions(&self, admin: UserId, user: UserId) -> Result<()> {
        self.require_admin(admin).await?;
        if self.users.user_by_id(user).await?.is_none() {
            return Err(ChatError::UserNotFound);
        }
        self.auth.revoke_all_sessions(user).await
    }

    /// Reports, newest first, optionally of one status.
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; `INVALID_PAGINATION`.
    pub async fn reports(
        &self,
        admin: UserId,
        status: Option<ReportStatus>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Vec<Report>> {
        self.require_admin(admin).await?;
        let (limit, offset) = page(limit, offset)?;
        self.moderation.reports(status, limit, offset).await
    }

    /// Marks a report resolved (resolving twice keeps the first).
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; `REPORT_NOT_FOUND`.
    pub async fn resolve_report(&self, admin: UserId, report: ReportId) -> Result<Report> {
        self.require_admin(admin).await?;
        self.moderation
            .resolve_report(report, admin, self.clock.now())
            .await?
            .ok_or(ChatError::ReportNotFound)
    }

    /// Deletes any message, in any conversation, as the members' own
    /// deletions do (a tombstone; `message.changed` to every member, with
    /// the operator as `actor_id`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED`; `MESSAGE_NOT_FOUND`; `MESSAGE_DELETED`.
    pub async fn delete_message(
        &self,
        admin: UserId,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<ChangedMessage> {
        self.require_admin(admin).await?;
        self.conversations
            .delete_message_as_operator(admin, conversation, message)
            .await
    }
}

/// Checks a page's limit (1-100, default 50) and offset (at most 10,000).
fn page(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32)> {
    let limit = limit.unwrap_or(USER_LIST_DEFAULT_LIMIT);
    if !(1..=USER_LIST_MAX_LIMIT).contains(&limit) {
        return Err(ChatError::InvalidPagination(ValidationError::new(
            "limit",
            "INVALID_PAGINATION",
            "limit must be between 1 and 100",
        )));
    }
    let offset = offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ChatError::InvalidPagination(ValidationError::new(
            "offset",
            "INVALID_PAGINATION",
            "offset must be at most 10000",
        )));
    }
    Ok((limit, offset))
}

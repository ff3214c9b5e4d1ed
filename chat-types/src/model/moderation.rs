//! Blocks between users, reports of messages to the operators, and what
//! the admin API lists.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::ReportReason;
use crate::ids::{ConversationId, MessageId, ReportId, UserId};
use crate::model::{UnknownVariant, UserSummary};
use crate::time::Timestamp;

/// A user someone blocked, as the blocker's list shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedUser {
    /// The blocked user (listed even when their account is inactive, so
    /// the block can be lifted).
    pub user: UserSummary,
    /// When the block was placed.
    pub blocked_at: Timestamp,
}

/// Where a report stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// Waiting for an operator.
    Open,
    /// An operator dealt with it.
    Resolved,
}

impl ReportStatus {
    /// The stored and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

impl FromStr for ReportStatus {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            _ => Err(UnknownVariant(s.to_owned())),
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A report to store, already authorized by the service (the reporter
/// can see the message).
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Id to use when the reporter has not reported this message before.
    pub id: ReportId,
    /// The conversation of the message.
    pub conversation_id: ConversationId,
    /// The message reported.
    pub message_id: MessageId,
    /// Who reports it.
    pub reporter_id: UserId,
    /// Why (possibly empty).
    pub reason: ReportReason,
    /// Server time.
    pub created_at: Timestamp,
}

/// A report as the operators see it. The store copies the message's
/// sender and content when the report is made, so deleting or editing the
/// message afterwards does not take the evidence away.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Report id (`report_id` on the wire, like every other id there).
    #[serde(rename = "report_id")]
    pub id: ReportId,
    /// The conversation of the message.
    pub conversation_id: ConversationId,
    /// The message reported.
    pub message_id: MessageId,
    /// Who sent the message.
    pub sender_id: UserId,
    /// The message's content when it was reported.
    pub content: String,
    /// Who reported it.
    pub reporter_id: UserId,
    /// Why (possibly empty).
    pub reason: String,
    /// When it was reported.
    pub created_at: Timestamp,
    /// Open or resolved.
    pub status: ReportStatus,
    /// When an operator resolved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// The operator who resolved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<UserId>,
}

/// What storing a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// A new report.
    Created(Report),
    /// The reporter had already reported this message: their earlier
    /// report, unchanged (one report per reporter and message).
    Existing(Report),
    /// No such message in the conversation.
    MessageNotFound,
}

/// Which users the admin API lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListQuery {
    /// Only users whose case-folded username, display name or email
    /// starts with this (already lowercase); all users when `None`.
    pub prefix_key: Option<String>,
    /// Inactive (deactivated) accounts too.
    pub include_inactive: bool,
    /// At most this many.
    pub limit: u32,
    /// Skip this many first (ordered by case-folded username).
    pub offset: u32,
}

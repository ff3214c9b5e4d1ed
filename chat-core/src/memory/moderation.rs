//! [`ModerationStore`] for [`MemoryStore`].

use std::collections::HashMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::Result;
use crate::ids::{ReportId, UserId};
use crate::model::{BlockedUser, NewReport, Report, ReportOutcome, ReportStatus};
use crate::store::ModerationStore;
use crate::time::Timestamp;

/// Blocks and reports of a [`MemoryStore`].
#[derive(Debug, Default)]
pub(super) struct ModerationState {
    /// When each (blocker, blocked) block was placed.
    blocks: HashMap<(UserId, UserId), Timestamp>,
    /// Every report, in the order they were made.
    reports: Vec<Report>,
}

#[async_trait]
impl ModerationStore for MemoryStore {
    async fn block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool> {
        let mut st = self.state();
        let blocks = &mut st.moderation.blocks;
        if blocks.contains_key(&(blocker, blocked)) {
            return Ok(false);
        }
        blocks.insert((blocker, blocked), at);
        Ok(true)
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        Ok(self
            .state()
            .moderation
            .blocks
            .remove(&(blocker, blocked))
            .is_some())
    }

    async fn blocked_users(&self, blocker: UserId) -> Result<Vec<BlockedUser>> {
        let st = self.state();
        let mut list: Vec<BlockedUser> = st
            .moderation
            .blocks
            .iter()
            .filter(|((by, _), _)| *by == blocker)
            .filter_map(|((_, blocked), at)| {
                Some(BlockedUser {
                    user: st.any_summary(*blocked)?,
                    blocked_at: *at,
                })
            })
            .collect();
        list.sort_by_key(|b| std::cmp::Reverse((b.blocked_at, b.user.id)));
        Ok(list)
    }

    async fn blockers_of(&self, user: UserId) -> Result<Vec<UserId>> {
        Ok(self
            .state()
            .moderation
            .blocks
            .keys()
            .filter(|(_, blocked)| *blocked == user)
            .map(|(blocker, _)| *blocker)
            .collect())
    }

    async fn create_report(&self, new: NewReport) -> Result<ReportOutcome> {
        let mut st = self.state();
        let message = st
            .chat
            .message_ids
            .get(&new.message_id)
            .filter(|(conv, _)| *conv == new.conversation_id)
            .and_then(|(conv, seq)| st.chat.message_at(*conv, *seq))
            .cloned();
        let Some(message) = message else {
            return Ok(ReportOutcome::MessageNotFound);
        };
        let reports = &mut st.moderation.reports;
        if let Some(earlier) = reports
            .iter()
            .find(|r| r.message_id == new.message_id && r.reporter_id == new.reporter_id)
        {
            return Ok(ReportOutcome::Existing(earlier.clone()));
        }
        let report = Report {
            id: new.id,
            conversation_id: new.conversation_id,
            message_id: new.message_id,
            sender_id: message.sender_id,
            content: message.content,
            reporter_id: new.reporter_id,
            reason: new.reason.as_str().to_owned(),
            created_at: new.created_at,
            status: ReportStatus::Open,
            resolved_at: None,
            resolved_by: None,
        };
        reports.push(report.clone());
        Ok(ReportOutcome::Created(report))
    }

    async fn reports(
        &self,
        status: Option<ReportStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Report>> {
        let st = self.state();
        let mut list: Vec<Report> = st
            .moderation
            .reports
            .iter()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        list.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        Ok(list
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect())
    }

    async fn resolve_report(
        &self,
        id: ReportId,
        by: UserId,
        at: Timestamp,
    ) -> Result<Option<Report>> {
        let mut st = self.state();
        let Some(report) = st.moderation.reports.iter_mut().find(|r| r.id == id) else {
            return Ok(None);
        };
        if report.status == ReportStatus::Open {
            report.status = ReportStatus::Resolved;
            report.resolved_at = Some(at);
            report.resolved_by = Some(by);
        }
        Ok(Some(report.clone()))
    }
}

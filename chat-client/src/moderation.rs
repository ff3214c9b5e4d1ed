//! Blocks, muting, posting policies and reports as a user, and the
//! operators' admin API (`/api/v1/admin`, for accounts holding the admin
//! role).

use chat_types::model::Report;
use chat_types::{ConversationId, MessageId, UserId};
use reqwest::Method;
use serde_json::{Value, json};

use crate::error::Result;
use crate::rest;
use crate::users::{Changed, UserClient};

impl UserClient {
    /// Blocks a user (`PUT /api/v1/users/me/blocks/{user_id}`): no direct
    /// conversation or message between the two any more, and their typing
    /// and presence are hidden from the caller.
    ///
    /// # Errors
    /// `USER_NOT_FOUND` (404), `CANNOT_BLOCK_SELF` (422), and as
    /// [`me`](Self::me).
    pub async fn block(&self, user: UserId) -> Result<()> {
        let path = format!("/api/v1/users/me/blocks/{user}");
        rest::send(self.authed(Method::PUT, &path)).await.map(drop)
    }

    /// Lifts a block (`DELETE /api/v1/users/me/blocks/{user_id}`).
    ///
    /// # Errors
    /// As [`me`](Self::me).
    pub async fn unblock(&self, user: UserId) -> Result<()> {
        let path = format!("/api/v1/users/me/blocks/{user}");
        rest::send(self.authed(Method::DELETE, &path))
            .await
            .map(drop)
    }

    /// The users the caller blocked (`GET /api/v1/users/me/blocks`), as
    /// the server answers: `{"blocks": [{"user_id", "username", ...}]}`.
    ///
    /// # Errors
    /// As [`me`](Self::me).
    pub async fn blocks(&self) -> Result<Value> {
        rest::json(self.get("/api/v1/users/me/blocks")).await
    }

    /// Mutes (`true`) or unmutes a conversation for the caller
    /// (`PUT`/`DELETE /api/v1/conversations/{id}/mute`); answers the
    /// conversation as the list shows it.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND` (404), and as [`me`](Self::me).
    pub async fn mute(&self, conversation: ConversationId, muted: bool) -> Result<Value> {
        let path = format!("/api/v1/conversations/{conversation}/mute");
        let method = if muted { Method::PUT } else { Method::DELETE };
        rest::json(self.authed(method, &path)).await
    }

    /// Sets who may post in a group, `"everyone"` or `"admins"`
    /// (`PATCH /api/v1/groups/{id}`); answers the group.
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), `CONVERSATION_NOT_FOUND` (404), and as
    /// [`me`](Self::me).
    pub async fn set_posting(&self, group: ConversationId, posting: &str) -> Result<Value> {
        let path = format!("/api/v1/groups/{group}");
        let body = json!({ "posting": posting });
        rest::json(self.authed(Method::PATCH, &path).json(&body)).await
    }

    /// Reports a message to the operators
    /// (`POST /api/v1/conversations/{id}/messages/{message_id}/reports`).
    /// Reporting it again answers the first report.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND` / `MESSAGE_NOT_FOUND` (404),
    /// `INVALID_REASON` (422), `RATE_LIMITED` (429), and as [`me`](Self::me).
    pub async fn report(
        &self,
        conversation: ConversationId,
        message: MessageId,
        reason: &str,
    ) -> Result<Report> {
        let path = format!("/api/v1/conversations/{conversation}/messages/{message}/reports");
        rest::json(self.post(&path).json(&json!({ "reason": reason }))).await
    }

    /// Admin: accounts whose username, display name or email starts with
    /// `q` (all when `None`), deactivated ones too with
    /// `include_inactive` (`GET /api/v1/admin/users`), as the server
    /// answers: `{"users": [...]}`.
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403) without the admin role, and as
    /// [`me`](Self::me).
    pub async fn admin_users(&self, q: Option<&str>, include_inactive: bool) -> Result<Value> {
        let mut request = self
            .get("/api/v1/admin/users")
            .query(&[("include_inactive", include_inactive)]);
        if let Some(q) = q {
            request = request.query(&[("q", q)]);
        }
        rest::json(request).await
    }

    /// Admin: deactivates (`false`) or reactivates an account
    /// (`PATCH /api/v1/admin/users/{id}`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), `USER_NOT_FOUND` (404), and as
    /// [`me`](Self::me).
    pub async fn admin_set_active(&self, user: UserId, active: bool) -> Result<Value> {
        let path = format!("/api/v1/admin/users/{user}");
        let body = json!({ "is_active": active });
        rest::json(self.authed(Method::PATCH, &path).json(&body)).await
    }

    /// Admin: revokes every session of an account
    /// (`DELETE /api/v1/admin/users/{id}/sessions`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), `USER_NOT_FOUND` (404), and as
    /// [`me`](Self::me).
    pub async fn admin_revoke_sessions(&self, user: UserId) -> Result<()> {
        let path = format!("/api/v1/admin/users/{user}/sessions");
        rest::send(self.authed(Method::DELETE, &path))
            .await
            .map(drop)
    }

    /// Admin: reports, newest first, optionally of one status (`"open"`,
    /// `"resolved"`) (`GET /api/v1/admin/reports`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), and as [`me`](Self::me).
    pub async fn admin_reports(&self, status: Option<&str>) -> Result<Vec<Report>> {
        #[derive(serde::Deserialize)]
        struct List {
            reports: Vec<Report>,
        }
        let mut request = self.get("/api/v1/admin/reports");
        if let Some(status) = status {
            request = request.query(&[("status", status)]);
        }
        let list: List = rest::json(request).await?;
        Ok(list.reports)
    }

    /// Admin: marks a report resolved
    /// (`POST /api/v1/admin/reports/{id}/resolve`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), `REPORT_NOT_FOUND` (404), and as
    /// [`me`](Self::me).
    pub async fn admin_resolve_report(&self, report: chat_types::ids::ReportId) -> Result<Report> {
        let path = format!("/api/v1/admin/reports/{report}/resolve");
        rest::json(self.post(&path)).await
    }

    /// Admin: deletes any message
    /// (`DELETE /api/v1/admin/conversations/{id}/messages/{message_id}`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), `MESSAGE_NOT_FOUND` (404),
    /// `MESSAGE_DELETED` (409), and as [`me`](Self::me).
    pub async fn admin_delete_message(
        &self,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<Changed> {
        let path = format!("/api/v1/admin/conversations/{conversation}/messages/{message}");
        rest::json(self.authed(Method::DELETE, &path)).await
    }
}

//! [`UserClient`]: the REST calls a logged-in user makes (profiles,
//! search, messages, groups, conversations), and their typed answers.

use std::fmt;

use chat_types::model::{MessageChange, MessageView};
use chat_types::{ConversationId, MessageId, Timestamp, UserId};
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::Result;
use crate::rest::{self, Rest};

/// Authenticated REST calls, as one user. Made by
/// [`ChatClient::user`](crate::ChatClient::user); cheap to clone.
///
/// `Debug` shows the user, never the token.
#[derive(Clone)]
pub struct UserClient {
    rest: Rest,
    user_id: UserId,
    access_token: String,
}

impl fmt::Debug for UserClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserClient")
            .field("base_url", &self.rest.base())
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// One user found by [`UserClient::search`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserHit {
    /// The user.
    pub user_id: UserId,
    /// Their username.
    pub username: String,
    /// Their display name, if they set one.
    pub display_name: Option<String>,
    /// True for a bot account (false from a server that predates the flag).
    #[serde(default)]
    pub is_bot: bool,
}

/// A stored message, as a send answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sent {
    /// The message id.
    pub message_id: MessageId,
    /// Its conversation (a direct conversation or the group).
    pub conversation_id: ConversationId,
    /// Its position in the conversation.
    pub seq: u64,
    /// Server time of acceptance.
    pub created_at: Timestamp,
    /// The idempotency key given, if any.
    #[serde(default)]
    pub client_msg_id: Option<String>,
    /// The stored text, only when it may not be the text sent: the
    /// server's moderation hook rewrote it, or this is the original of a
    /// repeated `client_msg_id`.
    #[serde(default)]
    pub content: Option<String>,
    /// True when the `client_msg_id` was used before: this is the original
    /// message and nothing new was stored (HTTP 200 instead of 201).
    #[serde(skip)]
    pub replayed: bool,
}

/// One page of history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HistoryPage {
    /// The messages.
    pub messages: Vec<MessageView>,
    /// True when older messages exist beyond this page.
    pub has_more: bool,
}

/// The answer to a change (edit, delete, reaction): the message as it is
/// now, and the log entry the change made (none when nothing changed, as
/// for a reaction that was already there).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Changed {
    /// The message after the change, with its reactions.
    pub message: MessageView,
    /// The entry every member gets as `message.changed`.
    pub change: Option<MessageChange>,
}

#[derive(Deserialize)]
struct SearchAnswer {
    users: Vec<UserHit>,
}

#[derive(Deserialize)]
struct GroupAnswer {
    group_id: ConversationId,
}

#[derive(Deserialize)]
struct AddedAnswer {
    #[serde(default)]
    added: Vec<UserId>,
}

impl UserClient {
    pub(crate) fn new(rest: Rest, user_id: UserId, access_token: String) -> Self {
        Self {
            rest,
            user_id,
            access_token,
        }
    }

    /// The user this client acts as.
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The caller's own profile, email included (`GET /api/v1/auth/me`).
    ///
    /// # Errors
    /// The 401 codes of a bad token, and transport errors.
    pub async fn me(&self) -> Result<Value> {
        rest::json(self.get("/api/v1/auth/me")).await
    }

    /// A user's profile, with presence (`GET /api/v1/users/{id}`).
    ///
    /// # Errors
    /// `USER_NOT_FOUND` (404), and as [`me`](Self::me).
    pub async fn profile(&self, user: UserId) -> Result<Value> {
        rest::json(self.get(&format!("/api/v1/users/{user}"))).await
    }

    /// Active users whose username or display name starts with `q`, at
    /// most 20 (`GET /api/v1/users/search`).
    ///
    /// # Errors
    /// `INVALID_QUERY` (400) for an empty or over-long `q`, and as
    /// [`me`](Self::me).
    pub async fn search(&self, q: &str) -> Result<Vec<UserHit>> {
        let request = self.get("/api/v1/users/search").query(&[("q", q)]);
        let answer: SearchAnswer = rest::json(request).await?;
        Ok(answer.users)
    }

    /// Sends a direct message to `to` (`POST /api/v1/messages/send`); the
    /// first one creates the conversation. With a `client_msg_id`, a
    /// retry returns the original ([`Sent::replayed`]).
    ///
    /// # Errors
    /// `INVALID_RECIPIENT`, `EMPTY_CONTENT`, `CONTENT_TOO_LONG`,
    /// `INVALID_CONTENT`, `INVALID_CLIENT_MSG_ID` (422), `RATE_LIMITED`
    /// (429), and as [`me`](Self::me).
    pub async fn send_direct(
        &self,
        to: UserId,
        content: &str,
        client_msg_id: Option<&str>,
    ) -> Result<Sent> {
        let mut body = json!({"recipient_id": to, "content": content});
        if let Some(id) = client_msg_id {
            body["client_msg_id"] = json!(id);
        }
        self.send_message("/api/v1/messages/send", &body).await
    }

    /// Sends a message to a group (`POST /api/v1/groups/{id}/messages`).
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND` (404) for a group the caller is not in,
    /// and as [`send_direct`](Self::send_direct).
    pub async fn send_group(
        &self,
        group: ConversationId,
        content: &str,
        client_msg_id: Option<&str>,
    ) -> Result<Sent> {
        let mut body = json!({"content": content});
        if let Some(id) = client_msg_id {
            body["client_msg_id"] = json!(id);
        }
        let path = format!("/api/v1/groups/{group}/messages");
        self.send_message(&path, &body).await
    }

    /// Creates a group owned by the caller with `members`
    /// (`POST /api/v1/groups`); returns its id.
    ///
    /// # Errors
    /// `INVALID_GROUP_NAME` (422), `USER_NOT_FOUND` (404), `GROUP_FULL`
    /// (409), and as [`me`](Self::me).
    pub async fn create_group(&self, name: &str, members: &[UserId]) -> Result<ConversationId> {
        let body = json!({"name": name, "member_ids": members});
        let answer: GroupAnswer = rest::json(self.post("/api/v1/groups").json(&body)).await?;
        Ok(answer.group_id)
    }

    /// Adds `members` to a group (`POST /api/v1/groups/{id}/members`, owner
    /// or admin); returns who was added (existing members are skipped).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403) for a plain member, `GROUP_FULL` (409),
    /// and as [`create_group`](Self::create_group).
    pub async fn add_members(
        &self,
        group: ConversationId,
        members: &[UserId],
    ) -> Result<Vec<UserId>> {
        let body = json!({"user_ids": members});
        let path = format!("/api/v1/groups/{group}/members");
        let answer: AddedAnswer = rest::json(self.post(&path).json(&body)).await?;
        Ok(answer.added)
    }

    /// A page of a conversation's history, newest first
    /// (`GET /api/v1/conversations/{id}/messages`): at most `limit`
    /// messages (1 to 100, default 50), older than `before` when given.
    ///
    /// # Errors
    /// `INVALID_PAGINATION` (400), `CONVERSATION_NOT_FOUND` (404), and as
    /// [`me`](Self::me).
    pub async fn history(
        &self,
        conversation: ConversationId,
        limit: Option<u32>,
        before: Option<MessageId>,
    ) -> Result<HistoryPage> {
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        if let Some(before) = before {
            query.push(("before", before.to_string()));
        }
        let path = format!("/api/v1/conversations/{conversation}/messages");
        rest::json(self.get(&path).query(&query)).await
    }

    /// The caller's conversations, most recent first, with unread counts
    /// (`GET /api/v1/conversations`), as the server answers:
    /// `{"conversations": [...]}`.
    ///
    /// # Errors
    /// As [`me`](Self::me).
    pub async fn conversations(&self) -> Result<Value> {
        rest::json(self.get("/api/v1/conversations")).await
    }

    /// Marks a conversation read up to its newest message
    /// (`POST /api/v1/conversations/{id}/read`).
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND` (404), and as [`me`](Self::me).
    pub async fn mark_read(&self, conversation: ConversationId) -> Result<()> {
        let path = format!("/api/v1/conversations/{conversation}/read");
        rest::send(self.post(&path)).await.map(drop)
    }

    /// The caller's oldest unread messages across conversations
    /// (`GET /api/v1/messages/unread`), as the server answers:
    /// `{"messages": [...], "total"}`.
    ///
    /// # Errors
    /// As [`me`](Self::me).
    pub async fn unread(&self) -> Result<Value> {
        rest::json(self.get("/api/v1/messages/unread")).await
    }

    /// Searches the messages the caller can read
    /// (`GET /api/v1/search/messages`), as the server answers:
    /// `{"results": [{"message", "snippet": {"text", "highlights"}}], "ranked", "has_more"}`
    /// (`ranked` false: latest first, for only very common words in one
    /// conversation).
    ///
    /// # Errors
    /// `INVALID_QUERY`, `SEARCH_TOO_BROAD`, `INVALID_PAGINATION` (400),
    /// `CONVERSATION_NOT_FOUND` (404), and as [`me`](Self::me).
    pub async fn search_messages(
        &self,
        q: &str,
        conversation: Option<ConversationId>,
        limit: Option<u32>,
    ) -> Result<Value> {
        let mut query: Vec<(&str, String)> = vec![("q", q.to_owned())];
        if let Some(c) = conversation {
            query.push(("conversation_id", c.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        rest::json(self.get("/api/v1/search/messages").query(&query)).await
    }

    /// Replies to `parent` in `conversation`
    /// (`POST /api/v1/conversations/{id}/messages` with `reply_to`).
    ///
    /// # Errors
    /// `MESSAGE_NOT_FOUND` (404) for a parent of another conversation,
    /// `MESSAGE_DELETED` (409), and as [`send_direct`](Self::send_direct).
    pub async fn reply(
        &self,
        conversation: ConversationId,
        parent: MessageId,
        content: &str,
    ) -> Result<Sent> {
        let body = json!({"content": content, "reply_to": parent});
        let path = format!("/api/v1/conversations/{conversation}/messages");
        self.send_message(&path, &body).await
    }

    /// Replaces the content of the caller's own message
    /// (`PATCH /api/v1/conversations/{id}/messages/{message_id}`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` or `EDIT_WINDOW_CLOSED` (403),
    /// `MESSAGE_NOT_FOUND` (404), `MESSAGE_DELETED` (409), content errors
    /// (422), and as [`me`](Self::me).
    pub async fn edit(
        &self,
        conversation: ConversationId,
        message: MessageId,
        content: &str,
    ) -> Result<Changed> {
        let path = format!("/api/v1/conversations/{conversation}/messages/{message}");
        let body = json!({ "content": content });
        rest::json(self.authed(Method::PATCH, &path).json(&body)).await
    }

    /// Deletes a message (`DELETE /api/v1/conversations/{id}/messages/{message_id}`).
    ///
    /// # Errors
    /// `PERMISSION_DENIED` (403), `MESSAGE_NOT_FOUND` (404),
    /// `MESSAGE_DELETED` (409), and as [`me`](Self::me).
    pub async fn delete(
        &self,
        conversation: ConversationId,
        message: MessageId,
    ) -> Result<Changed> {
        let path = format!("/api/v1/conversations/{conversation}/messages/{message}");
        rest::json(self.authed(Method::DELETE, &path)).await
    }

    /// Adds (`add`) or takes back the caller's reaction with `emoji` (an
    /// emoji or a short name such as `:+1:`)
    /// (`PUT` or `DELETE /api/v1/conversations/{id}/messages/{message_id}/reactions/{emoji}`).
    ///
    /// # Errors
    /// `INVALID_EMOJI` (422), `MESSAGE_NOT_FOUND` (404), `MESSAGE_DELETED`
    /// (409), and as [`me`](Self::me).
    pub async fn react(
        &self,
        conversation: ConversationId,
        message: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<Changed> {
        let path = format!("/api/v1/conversations/{conversation}/messages/{message}/reactions");
        let method = if add { Method::PUT } else { Method::DELETE };
        let request = self.rest.request_with_segment(method, &path, emoji)?;
        rest::json(request.bearer_auth(&self.access_token)).await
    }

    pub(crate) async fn send_message(&self, path: &str, body: &Value) -> Result<Sent> {
        let answer = rest::send(self.post(path).json(body)).await?;
        let mut sent: Sent = answer.decode()?;
        sent.replayed = answer.status == 200;
        Ok(sent)
    }

    pub(crate) fn get(&self, path: &str) -> RequestBuilder {
        self.authed(Method::GET, path)
    }

    pub(crate) fn post(&self, path: &str) -> RequestBuilder {
        self.authed(Method::POST, path)
    }

    pub(crate) fn authed(&self, method: Method, path: &str) -> RequestBuilder {
        self.rest
            .request(method, path)
            .bearer_auth(&self.access_token)
    }
}

//! [`HttpMessageHook`]: the moderation hook (docs/api.md, "Moderation
//! hook") as an HTTP endpoint the operator runs.
//!
//! Each new message and edit is posted there as JSON, signed like a
//! webhook delivery when a secret is set; the answer says whether to
//! allow, rewrite or refuse it. The URL comes from the operator's
//! configuration, not from users, so it may be a private address (a
//! sidecar on the same host is the usual set-up); the client follows no
//! redirect and uses no proxy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chat_core::message_hook::{Draft, DraftAction, MessageHook, Verdict};
use chat_core::webhooks::signature;
use chat_core::{ChatError, Result};
use reqwest13::header::{CONTENT_TYPE, USER_AGENT};
use reqwest13::{Client, StatusCode, Url};
use serde::{Deserialize, Serialize};

/// The largest answer read from the hook (a rewrite of the longest
/// message, escaped, fits).
const MAX_ANSWER_BYTES: usize = 128 * 1024;

/// Posts each draft to the operator's endpoint and reads its verdict.
#[derive(Debug, Clone)]
pub struct HttpMessageHook {
    client: Client,
    url: Url,
    secret: Option<String>,
}

impl HttpMessageHook {
    /// A hook at `url` (`http` or `https`), signing with `secret` when
    /// given, giving up on a request after `timeout`.
    ///
    /// # Errors
    /// The TLS backend cannot be set up.
    pub fn new(
        url: Url,
        secret: Option<String>,
        timeout: Duration,
    ) -> std::result::Result<Self, reqwest13::Error> {
        // As in the outbound client: reqwest's rustls has no provider of
        // its own here; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .redirect(reqwest13::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            url,
            secret,
        })
    }
}

/// The JSON body the hook receives.
#[derive(Serialize)]
struct HookRequest<'a> {
    event: &'static str,
    conversation_id: String,
    conversation_type: &'static str,
    sender_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<String>,
    content: &'a str,
    message_type: &'a str,
    reply_to: Option<String>,
    attachments: Vec<String>,
}

impl<'a> HookRequest<'a> {
    fn of(draft: &'a Draft) -> Self {
        Self {
            event: draft.action.as_str(),
            conversation_id: draft.conversation_id.to_string(),
            conversation_type: draft.conversation_kind.as_str(),
            sender_id: draft.sender_id.to_string(),
            message_id: match draft.action {
                DraftAction::Send => None,
                DraftAction::Edit { message_id } => Some(message_id.to_string()),
            },
            content: draft.content.as_str(),
            message_type: &draft.message_type,
            reply_to: draft.reply_to.map(|id| id.to_string()),
            attachments: draft.attachments.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The hook's answer. Fields it does not know are ignored, so a hook may
/// add its own (labels, scores) for its logs.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum HookAnswer {
    Allow,
    Rewrite { content: String },
    Refuse { reason: Option<String> },
}

impl From<HookAnswer> for Verdict {
    fn from(answer: HookAnswer) -> Self {
        match answer {
            HookAnswer::Allow => Self::Allow,
            HookAnswer::Rewrite { content } => Self::Rewrite(content),
            HookAnswer::Refuse { reason } => Self::Refuse { reason },
        }
    }
}

#[async_trait]
impl MessageHook for HttpMessageHook {
    async fn review(&self, draft: &Draft) -> Result<Verdict> {
        let body = serde_json::to_vec(&HookRequest::of(draft)).map_err(ChatError::internal)?;
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("chat-engine-message-hook/", env!("CARGO_PKG_VERSION")),
            )
            .header("chat-event", draft.action.as_str());
        if let Some(secret) = &self.secret {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            request = request.header("chat-signature", signature::sign(secret, now, &body));
        }
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| ChatError::internal(crate::error::error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ChatError::internal(format!("the hook answered {status}")));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ChatError::internal(crate::error::error_chain(&e)))?
        {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ChatError::internal(format!(
                    "the hook's answer is over {MAX_ANSWER_BYTES} bytes"
                )));
            }
            answer.extend_from_slice(&chunk);
        }
        verdict_of(status, &answer)
    }
}

/// What an answer with `status` (a success) and `body` means: no body
/// allows; otherwise the body must be one of the documented answers.
fn verdict_of(status: StatusCode, body: &[u8]) -> Result<Verdict> {
    if status == StatusCode::NO_CONTENT || body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Verdict::Allow);
    }
    serde_json::from_slice::<HookAnswer>(body)
        .map(Verdict::from)
        .map_err(|e| {
            ChatError::internal(format!(
                "the hook's answer is not one the API documents: {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(body: &str) -> Result<Verdict> {
        verdict_of(StatusCode::OK, body.as_bytes())
    }

    #[test]
    fn the_documented_answers_are_read() {
        assert_eq!(verdict("").ok(), Some(Verdict::Allow));
        assert_eq!(verdict(r#"{"action":"allow"}"#).ok(), Some(Verdict::Allow));
        assert_eq!(
            verdict(r#"{"action":"rewrite","content":"****"}"#).ok(),
            Some(Verdict::Rewrite("****".into()))
        );
        assert_eq!(
            verdict(r#"{"action":"refuse","reason":"no"}"#).ok(),
            Some(Verdict::Refuse {
                reason: Some("no".into())
            })
        );
        assert_eq!(
            verdict(r#"{"action":"refuse"}"#).ok(),
            Some(Verdict::Refuse { reason: None })
        );
        assert_eq!(
            verdict_of(StatusCode::NO_CONTENT, b"ignored").ok(),
            Some(Verdict::Allow)
        );
    }

    #[test]
    fn anything_else_is_a_failure_not_a_verdict() {
        for body in [
            "ok",
            r#"{"action":"delete"}"#,
            r#"{"action":"rewrite"}"#,
            r#"{"allowed":true}"#,
            "[]",
        ] {
            assert!(verdict(body).is_err(), "{body}");
        }
    }
}

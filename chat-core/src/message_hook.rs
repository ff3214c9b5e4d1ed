//! [`MessageHook`], the moderation hook (docs/api.md, "Moderation hook"): a check every new
//! message and every edit passes before it is stored, which may let it
//! through, rewrite its text, or refuse it.
//!
//! The hook is on the message path, so it is bounded: an answer that does
//! not come within [`HookConfig::timeout`], or that cannot be used, is a
//! failure, and [`HookConfig::on_failure`] says whether a failure lets the
//! message through unchanged (`open`, the default) or refuses it with
//! `MODERATION_UNAVAILABLE` (`closed`). Nothing is stored before the hook
//! has answered, so a refused message leaves no trace and an accepted one
//! is stored as the hook left it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::domain::MessageContent;
use crate::error::{ChatError, Result};
use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
use crate::log_throttle::{Throttle, WARN_INTERVAL, cause};
use crate::metrics::Metrics;
use crate::model::ConversationKind;

/// The longest refusal reason passed on to the sender, in characters.
pub const MAX_REASON_LEN: usize = 200;

/// Checks messages before they are stored. The server's implementation
/// asks an HTTP endpoint the operator configures; an embedder can
/// implement it in process.
#[async_trait]
pub trait MessageHook: Send + Sync {
    /// What to do with `draft`. An error is a failure of the hook (the
    /// configured [`OnHookFailure`] applies), not a refusal.
    ///
    /// # Errors
    /// The hook could not decide (unreachable, an answer it cannot read).
    async fn review(&self, draft: &Draft) -> Result<Verdict>;
}

/// A message about to be stored, as the hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// A new message, or an edit of one.
    pub action: DraftAction,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Whether that is a direct conversation or a group.
    pub conversation_kind: ConversationKind,
    /// Who sends (or edits) it.
    pub sender_id: UserId,
    /// Its text (empty for attachments without a caption).
    pub content: MessageContent,
    /// Its type (`text` unless the client chose another; for an edit, the
    /// message's own).
    pub message_type: String,
    /// The message it answers, if any.
    pub reply_to: Option<MessageId>,
    /// The attachments it carries.
    pub attachments: Vec<AttachmentId>,
}

/// What a [`Draft`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftAction {
    /// A message being sent.
    Send,
    /// New text for the stored message `message_id`.
    Edit {
        /// The message being edited.
        message_id: MessageId,
    },
}

impl DraftAction {
    /// Its name in the hook's request (`message.send`, `message.edit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "message.send",
            Self::Edit { .. } => "message.edit",
        }
    }
}

/// A hook's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store the message as it is.
    Allow,
    /// Store it with this text instead. It must be valid message text
    /// (blank only for a message with attachments); otherwise the answer
    /// counts as a failure of the hook.
    Rewrite(String),
    /// Do not store it; the sender gets `MESSAGE_REFUSED` with the reason
    /// (at most [`MAX_REASON_LEN`] characters are kept).
    Refuse {
        /// Why, for the sender; `None` for a standard sentence.
        reason: Option<String>,
    },
}

/// What happens when the hook fails (no answer in time, or one that
/// cannot be used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnHookFailure {
    /// The message goes through unchanged (the default): a moderation
    /// outage does not stop the chat.
    #[default]
    Open,
    /// The message is refused with `MODERATION_UNAVAILABLE`: nothing
    /// unchecked is ever stored.
    Closed,
}

/// Settings of the moderation hook.
#[derive(Debug, Clone)]
pub struct HookConfig {
    /// How long the hook may take to answer (default 1 s).
    pub timeout: Duration,
    /// What a failure does (default [`OnHookFailure::Open`]).
    pub on_failure: OnHookFailure,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            on_failure: OnHookFailure::Open,
        }
    }
}

/// Puts drafts to the configured hook, if any, within its timeout.
#[derive(Clone)]
pub(crate) struct HookGate {
    hook: Option<Arc<dyn MessageHook>>,
    config: HookConfig,
    metrics: Metrics,
}

impl HookGate {
    pub(crate) fn new(
        hook: Option<Arc<dyn MessageHook>>,
        config: HookConfig,
        metrics: Metrics,
    ) -> Self {
        Self {
            hook,
            config,
            metrics,
        }
    }

    /// Whether a hook is configured.
    pub(crate) fn is_set(&self) -> bool {
        self.hook.is_some()
    }

    /// The text to store for `draft`: its own, or the hook's rewrite.
    ///
    /// # Errors
    /// `MESSAGE_REFUSED` when the hook refuses; `MODERATION_UNAVAILABLE`
    /// when it fails and failures close.
    pub(crate) async fn review(&self, draft: Draft) -> Result<Reviewed> {
        let Some(hook) = &self.hook else {
            return Ok(Reviewed::unchanged(draft.content));
        };
        let started = Instant::now();
        let answer = tokio::time::timeout(self.config.timeout, hook.review(&draft)).await;
        self.metrics.hook_latency(started.elapsed());
        let failure = match answer {
            Ok(Ok(Verdict::Allow)) => {
                self.metrics.hook_outcome("allow");
                return Ok(Reviewed::unchanged(draft.content));
            }
            Ok(Ok(Verdict::Rewrite(text))) => match rewritten(&draft, &text) {
                Ok(content) => {
                    self.metrics.hook_outcome("rewrite");
                    return Ok(Reviewed {
                        rewritten: content != draft.content,
                        content,
                    });
                }
                Err(e) => e,
            },
            Ok(Ok(Verdict::Refuse { reason })) => {
                self.metrics.hook_outcome("refuse");
                return Err(ChatError::MessageRefused {
                    reason: reason_for_sender(reason.as_deref()),
                });
            }
            Ok(Err(e)) => cause(&e),
            Err(_) => format!("no answer within {} ms", self.config.timeout.as_millis()),
        };
        self.metrics.hook_outcome("error");
        static THROTTLE: Throttle = Throttle::new(WARN_INTERVAL);
        if let Some(held_back) = THROTTLE.check() {
            tracing::warn!(error = %failure, held_back, on_failure = ?self.config.on_failure, "the moderation hook failed");
        }
        match self.config.on_failure {
            OnHookFailure::Open => Ok(Reviewed::unchanged(draft.content)),
            OnHookFailure::Closed => Err(ChatError::ModerationUnavailable),
        }
    }
}

/// The text to store, once the hook had its say.
pub(crate) struct Reviewed {
    pub(crate) content: MessageContent,
    /// Whether the hook changed it.
    pub(crate) rewritten: bool,
}

impl Reviewed {
    fn unchanged(content: MessageContent) -> Self {
        Self {
            content,
            rewritten: false,
        }
    }
}

/// The hook's new text for `draft`, if it is valid message text.
fn rewritten(draft: &Draft, text: &str) -> std::result::Result<MessageContent, String> {
    let parsed = if draft.attachments.is_empty() {
        MessageContent::parse(text)
    } else {
        MessageContent::parse_caption(text)
    };
    parsed.map_err(|e| format!("its rewrite is not valid message text: {e}"))
}

/// The reason a refused sender is told: the hook's, without control
/// characters, cut to [`MAX_REASON_LEN`]; a standard sentence for none.
fn reason_for_sender(reason: Option<&str>) -> String {
    let kept: String = reason
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_LEN)
        .collect();
    let kept = kept.trim();
    if kept.is_empty() {
        "this message was refused by the server's moderation".to_owned()
    } else {
        kept.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reason_is_cleaned_and_bounded() {
        assert_eq!(
            reason_for_sender(Some("  no\u{7} spam\n ")),
            "no spam",
            "control characters go, spaces around go"
        );
        assert_eq!(
            reason_for_sender(Some(&"x".repeat(500))).chars().count(),
            MAX_REASON_LEN
        );
        assert!(reason_for_sender(None).contains("moderation"));
        assert!(reason_for_sender(Some(" \n")).contains("moderation"));
    }
}

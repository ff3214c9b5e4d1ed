//! Outgoing webhooks: what an operator registers, and what failed to
//! reach it for good (docs/api.md, "Webhooks").

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::change::ChangeKind;
use super::conversation::UnknownVariant;
use crate::ids::{ConversationId, DeadLetterId, UserId, WebhookId};
use crate::time::Timestamp;

/// What a webhook can be told about: the entries of conversation logs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// A new message.
    #[serde(rename = "message.created")]
    MessageCreated,
    /// A message's content was replaced.
    #[serde(rename = "message.edited")]
    MessageEdited,
    /// A message was deleted.
    #[serde(rename = "message.deleted")]
    MessageDeleted,
    /// A member reacted to a message.
    #[serde(rename = "reaction.added")]
    ReactionAdded,
    /// A member took a reaction back.
    #[serde(rename = "reaction.removed")]
    ReactionRemoved,
}

impl WebhookEvent {
    /// Every event, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::MessageCreated,
        Self::MessageEdited,
        Self::MessageDeleted,
        Self::ReactionAdded,
        Self::ReactionRemoved,
    ];

    /// The stored and serialized name (`message.created`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageCreated => "message.created",
            Self::MessageEdited => "message.edited",
            Self::MessageDeleted => "message.deleted",
            Self::ReactionAdded => "reaction.added",
            Self::ReactionRemoved => "reaction.removed",
        }
    }

    /// `events` as stored: their names, comma-separated.
    pub fn list_to_column(events: &[Self]) -> String {
        events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Events as [`list_to_column`](Self::list_to_column) stored them.
    ///
    /// # Errors
    /// A name this build does not know.
    pub fn list_from_column(column: &str) -> Result<Vec<Self>, UnknownVariant> {
        column.split(',').map(str::parse).collect()
    }

    /// The event of a change to a message.
    pub fn of_change(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Edited => Self::MessageEdited,
            ChangeKind::Deleted => Self::MessageDeleted,
            ChangeKind::ReactionAdded => Self::ReactionAdded,
            ChangeKind::ReactionRemoved => Self::ReactionRemoved,
        }
    }
}

impl FromStr for WebhookEvent {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownVariant(s.to_owned()))
    }
}

/// A webhook to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Its id.
    pub id: WebhookId,
    /// Where events are posted (checked: a public `https` URL).
    pub url: String,
    /// The events it wants (at least one, each once).
    pub events: Vec<WebhookEvent>,
    /// Only this conversation's events; `None` for every conversation.
    pub conversation_id: Option<ConversationId>,
    /// The key of the HMAC-SHA256 signature every delivery carries.
    pub secret: String,
    /// The operator who registered it, if one did (an embedder may
    /// register webhooks with no user).
    pub created_by: Option<UserId>,
    /// When it was registered: it is told of log entries from then on.
    pub created_at: Timestamp,
}

/// A registered webhook.
pub type Webhook = NewWebhook;

/// One webhook cursor to move: how far webhook `webhook` has been told
/// of `conversation`'s log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookCursorMove {
    /// The webhook.
    pub webhook: WebhookId,
    /// The conversation.
    pub conversation: ConversationId,
    /// Every entry up to this seq was handled (delivered, skipped or kept
    /// as a dead letter).
    pub seq: u64,
}

impl WebhookCursorMove {
    /// `moves` with each cursor once, at its largest seq, ordered by
    /// webhook then conversation: a store can write them with one
    /// statement (PostgreSQL's upsert may touch a row only once per
    /// statement), and concurrent writers lock rows in the same order.
    pub fn merged(moves: &[Self]) -> Vec<Self> {
        let mut furthest = std::collections::BTreeMap::new();
        for m in moves {
            let seq = furthest.entry((m.webhook, m.conversation)).or_insert(m.seq);
            *seq = (*seq).max(m.seq);
        }
        furthest
            .into_iter()
            .map(|((webhook, conversation), seq)| Self {
                webhook,
                conversation,
                seq,
            })
            .collect()
    }
}

/// A delivery that failed for good: every attempt failed, or the push
/// of the event was refused. It keeps the body as sent, to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its id.
    pub id: DeadLetterId,
    /// The webhook it was for.
    pub webhook_id: WebhookId,
    /// The event.
    pub event: WebhookEvent,
    /// The conversation, and the entry's seq in its log.
    pub conversation_id: ConversationId,
    /// The entry's seq.
    pub seq: u64,
    /// The JSON body that was posted.
    pub body: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// What the last attempt got (a status, a timeout).
    pub last_error: String,
    /// When it was given up.
    pub failed_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_cursor_moves_keep_the_furthest_of_each_once_in_key_order() {
        let (a, b) = (WebhookId::new(), WebhookId::new());
        let (x, y) = (ConversationId::new(), ConversationId::new());
        let at = |webhook, conversation, seq| WebhookCursorMove {
            webhook,
            conversation,
            seq,
        };
        let merged =
            WebhookCursorMove::merged(&[at(b, x, 4), at(a, y, 2), at(b, x, 9), at(a, y, 1)]);
        let mut expected = vec![at(a, y, 2), at(b, x, 9)];
        expected.sort_by_key(|m| (m.webhook, m.conversation));
        assert_eq!(merged, expected);
        assert!(WebhookCursorMove::merged(&[]).is_empty());
    }

    #[test]
    fn events_round_trip_through_their_names() {
        for event in WebhookEvent::ALL {
            assert_eq!(event.as_str().parse::<WebhookEvent>(), Ok(event));
            assert_eq!(
                serde_json::to_value(event).expect("json"),
                serde_json::json!(event.as_str())
            );
        }
        assert!("message.*".parse::<WebhookEvent>().is_err());
        let column = WebhookEvent::list_to_column(&WebhookEvent::ALL);
        assert_eq!(
            WebhookEvent::list_from_column(&column),
            Ok(WebhookEvent::ALL.to_vec())
        );
    }
}

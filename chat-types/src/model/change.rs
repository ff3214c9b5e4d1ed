//! Changes to stored messages: edits, deletions and reactions.
//!
//! A change is an entry of its conversation's log, like a message: it
//! takes the next seq, so devices get changes through the same cursor
//! catch-up and `sync` as messages, exactly once and in order (see
//! `docs/architecture.md`, "The conversation log").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::{Emoji, MessageContent};
use crate::ids::{ConversationId, MessageId, UserId};
use crate::model::{Message, UnknownVariant};
use crate::time::Timestamp;

/// What a change did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The content was replaced.
    Edited,
    /// The message was deleted (its content is gone).
    Deleted,
    /// A member reacted with an emoji.
    ReactionAdded,
    /// A member took their reaction back.
    ReactionRemoved,
}

impl ChangeKind {
    /// The stored and serialized form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Edited => "edited",
            Self::Deleted => "deleted",
            Self::ReactionAdded => "reaction_added",
            Self::ReactionRemoved => "reaction_removed",
        }
    }
}

impl FromStr for ChangeKind {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "edited" => Ok(Self::Edited),
            "deleted" => Ok(Self::Deleted),
            "reaction_added" => Ok(Self::ReactionAdded),
            "reaction_removed" => Ok(Self::ReactionRemoved),
            _ => Err(UnknownVariant(s.to_owned())),
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change to apply, already authorized by the service.
#[derive(Debug, Clone)]
pub struct NewChange {
    /// The conversation of the message.
    pub conversation_id: ConversationId,
    /// The message changed.
    pub message_id: MessageId,
    /// Who changes it: a member, or a server operator when `by_operator`.
    pub actor_id: UserId,
    /// True when a server operator (not necessarily a member) makes the
    /// change through the admin API: the store skips the membership check
    /// and moves no cursor of the actor's.
    pub by_operator: bool,
    /// What to do.
    pub action: ChangeAction,
    /// Server time.
    pub at: Timestamp,
}

/// The action of a [`NewChange`].
#[derive(Debug, Clone)]
pub enum ChangeAction {
    /// Replace the content and the mentions.
    Edit {
        /// The new text.
        content: MessageContent,
        /// The members it mentions.
        mentions: Vec<UserId>,
    },
    /// Delete: empty the content, drop mentions and reactions.
    Delete,
    /// The actor reacts with this emoji (once per emoji and message).
    AddReaction(Emoji),
    /// The actor takes back their reaction with this emoji.
    RemoveReaction(Emoji),
}

impl ChangeAction {
    /// The kind of log entry this action makes.
    pub fn kind(&self) -> ChangeKind {
        match self {
            Self::Edit { .. } => ChangeKind::Edited,
            Self::Delete => ChangeKind::Deleted,
            Self::AddReaction(_) => ChangeKind::ReactionAdded,
            Self::RemoveReaction(_) => ChangeKind::ReactionRemoved,
        }
    }
}

/// A change as a log entry, rendered with its message's state when it is
/// read (never with older content, so a deleted message's text cannot
/// come back through an earlier edit).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageChange {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The change's place in the conversation's log.
    pub seq: u64,
    /// The message changed.
    pub message_id: MessageId,
    /// Who changed it.
    pub actor_id: UserId,
    /// When.
    pub at: Timestamp,
    /// What happened.
    pub change: ChangeKind,
    /// For `edited`: the message's current content (empty once deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// For `edited`: when the content was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Timestamp>,
    /// For `edited`: the members the current content mentions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<UserId>>,
    /// For reactions: the emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// For reactions: how many members have reacted with that emoji now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl MessageChange {
    /// The entry of a change of `kind` to `message` by `actor`, rendered
    /// with the message's state; `reaction` is the emoji and its current
    /// count for reaction changes. Every store renders entries with this.
    pub fn render(
        seq: u64,
        kind: ChangeKind,
        actor: UserId,
        at: Timestamp,
        message: &Message,
        reaction: Option<(String, u64)>,
    ) -> Self {
        let edited = kind == ChangeKind::Edited;
        let (emoji, count) = match reaction {
            Some((emoji, count)) => (Some(emoji), Some(count)),
            None => (None, None),
        };
        Self {
            conversation_id: message.conversation_id,
            seq,
            message_id: message.id,
            actor_id: actor,
            at,
            change: kind,
            content: edited.then(|| message.content.clone()),
            edited_at: message.edited_at.filter(|_| edited),
            mentions: edited.then(|| message.mentions.clone()),
            emoji,
            count,
        }
    }
}

/// What [`ChangeAction`] did to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Applied, with the next seq: the log entry, and the message as it
    /// is now.
    Applied {
        /// The log entry.
        change: MessageChange,
        /// The message after the change.
        message: Message,
    },
    /// Nothing to do (the reaction was already there, or was not), so no
    /// seq was taken.
    Unchanged(Message),
    /// The actor is not a member of the conversation (or it does not exist).
    NotMember,
    /// No such message in the conversation.
    MessageNotFound,
    /// The message is deleted; it takes no more changes.
    MessageDeleted,
}

/// One entry of a conversation's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    /// A message.
    Message(Message),
    /// A change to an earlier message.
    Change(MessageChange),
}

impl LogEntry {
    /// The entry's seq.
    pub fn seq(&self) -> u64 {
        match self {
            Self::Message(m) => m.seq,
            Self::Change(c) => c.seq,
        }
    }
}

/// The reactions with one emoji on a message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many members reacted with it.
    pub count: u64,
    /// Whether the reader is one of them.
    pub me: bool,
}

/// One stored reaction, as stores return them for a set of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The message.
    pub message_id: MessageId,
    /// Who reacted.
    pub user_id: UserId,
    /// With what.
    pub emoji: String,
    /// When.
    pub created_at: Timestamp,
}

impl ReactionCount {
    /// Counts `reactions` (of one message) per emoji, in the order each
    /// emoji was first used, with `me` for `reader`.
    pub fn tally(reactions: &[Reaction], reader: UserId) -> Vec<Self> {
        let mut sorted: Vec<&Reaction> = reactions.iter().collect();
        sorted.sort_by_key(|r| (r.created_at, r.user_id));
        let mut counts: Vec<Self> = Vec::new();
        for r in sorted {
            let i = match counts.iter().position(|c| c.emoji == r.emoji) {
                Some(i) => i,
                None => {
                    counts.push(Self {
                        emoji: r.emoji.clone(),
                        count: 0,
                        me: false,
                    });
                    counts.len() - 1
                }
            };
            counts[i].count += 1;
            counts[i].me |= r.user_id == reader;
        }
        counts
    }
}

/// A short quote of the message a reply answers.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyQuote {
    /// The quoted message.
    pub message_id: MessageId,
    /// Its author.
    pub sender_id: UserId,
    /// Its first characters (at most [`ReplyQuote::EXCERPT_CHARS`]); empty
    /// once it is deleted.
    pub excerpt: String,
    /// True when the quoted message was deleted.
    pub deleted: bool,
}

impl ReplyQuote {
    /// How many characters of the parent a quote keeps.
    pub const EXCERPT_CHARS: usize = 100;

    /// The quote of `parent`.
    pub fn of(parent: &Message) -> Self {
        let deleted = parent.is_deleted();
        let excerpt = if deleted {
            String::new()
        } else {
            parent.content.chars().take(Self::EXCERPT_CHARS).collect()
        };
        Self {
            message_id: parent.id,
            sender_id: parent.sender_id,
            excerpt,
            deleted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reaction(user: UserId, emoji: &str, at: i64) -> Reaction {
        Reaction {
            message_id: MessageId::new(),
            user_id: user,
            emoji: emoji.to_owned(),
            created_at: Timestamp::from_millis(at),
        }
    }

    #[test]
    fn reactions_are_counted_per_emoji_in_order_of_first_use() {
        let (me, other) = (UserId::new(), UserId::new());
        let counts = ReactionCount::tally(
            &[
                reaction(other, "🎉", 3),
                reaction(me, "👍", 1),
                reaction(other, "👍", 2),
            ],
            me,
        );
        assert_eq!(
            counts,
            vec![
                ReactionCount {
                    emoji: "👍".into(),
                    count: 2,
                    me: true
                },
                ReactionCount {
                    emoji: "🎉".into(),
                    count: 1,
                    me: false
                },
            ]
        );
    }

    #[test]
    fn kinds_round_trip_through_their_stored_form() {
        for kind in [
            ChangeKind::Edited,
            ChangeKind::Deleted,
            ChangeKind::ReactionAdded,
            ChangeKind::ReactionRemoved,
        ] {
            assert_eq!(kind.as_str().parse::<ChangeKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).expect("json"),
                serde_json::json!(kind.as_str())
            );
        }
        assert!("renamed".parse::<ChangeKind>().is_err());
    }
}

//! Message views for a reader: the quote of the message each one answers
//! and its reactions, read in one go for a page of messages.

use std::collections::HashMap;

use crate::error::Result;
use crate::ids::{MessageId, UserId};
use crate::model::MessageView;
use crate::model::{Reaction, ReactionCount, ReplyQuote};
use crate::store::MessageStore;

/// Whether [`decorate_with`] reads reactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reactions {
    /// Read and tally them (history, catch-up, sync, search).
    Read,
    /// Leave them empty: the reader replays the log from these messages
    /// on, and every reaction to them is a later entry of that log which
    /// sets the absolute count when it arrives (a gap fill on the live
    /// path, where a read per fill would cost the most).
    Skip,
}

/// Fills `reply` and `reactions` of `views` for `reader`: at most two
/// store reads for the whole page (the quoted messages, when any view is a
/// reply, and the reactions).
///
/// # Errors
/// Store errors.
pub(crate) async fn decorate(
    store: &dyn MessageStore,
    reader: UserId,
    views: &mut [MessageView],
) -> Result<()> {
    decorate_with(store, reader, views, Reactions::Read).await
}

/// [`decorate`], reading reactions only when `reactions` says so.
///
/// # Errors
/// Store errors.
pub(crate) async fn decorate_with(
    store: &dyn MessageStore,
    reader: UserId,
    views: &mut [MessageView],
    reactions: Reactions,
) -> Result<()> {
    let read_reactions = reactions == Reactions::Read;
    if views.is_empty() {
        return Ok(());
    }
    let mut parents: Vec<MessageId> = views.iter().filter_map(|v| v.message.reply_to).collect();
    parents.sort_unstable();
    parents.dedup();
    let quotes: HashMap<MessageId, ReplyQuote> = if parents.is_empty() {
        HashMap::new()
    } else {
        store
            .messages_by_ids(&parents)
            .await?
            .iter()
            .map(|m| (m.id, ReplyQuote::of(m)))
            .collect()
    };
    let live: Vec<MessageId> = views
        .iter()
        .filter(|v| read_reactions && !v.message.is_deleted())
        .map(|v| v.message.id)
        .collect();
    let mut reactions: HashMap<MessageId, Vec<Reaction>> = HashMap::new();
    if !live.is_empty() {
        for r in store.reactions(&live).await? {
            reactions.entry(r.message_id).or_default().push(r);
        }
    }
    for v in views {
        v.reply = v.message.reply_to.and_then(|id| quotes.get(&id).cloned());
        v.reactions = reactions
            .get(&v.message.id)
            .map(|rs| ReactionCount::tally(rs, reader))
            .unwrap_or_default();
    }
    Ok(())
}

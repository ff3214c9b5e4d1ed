//! Message views for a reader: the quote of the message each one answers
//! and its reactions, read in one go for a page of messages.

use std::collections::HashMap;

use crate::error::Result;
use crate::ids::{MessageId, UserId};
use crate::model::MessageView;
use crate::model::{Reaction, ReactionCount, ReplyQuote};
use crate::store::MessageStore;

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
        .filter(|v| !v.message.is_deleted())
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

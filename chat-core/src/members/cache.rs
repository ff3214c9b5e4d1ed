//! The in-process maps behind [`Members`](super::Members).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::MemberSet;
use crate::ids::{ConversationId, UserId};

/// Member lists by conversation, so a group message does not cost a
/// members query. Every membership change, on any instance, invalidates the
/// entry (a [`Notice::MembersChanged`](crate::realtime::Notice) reaches
/// every instance); direct conversations never change members.
#[derive(Debug)]
pub(crate) struct MemberCache {
    entries: RwLock<HashMap<ConversationId, Arc<MemberSet>>>,
    /// The direct conversation of each pair (smaller id first): it never
    /// changes once created, so a direct send needs no lookup query.
    direct: RwLock<HashMap<(UserId, UserId), ConversationId>>,
    max_entries: usize,
}

impl MemberCache {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            direct: RwLock::new(HashMap::new()),
            max_entries: max_entries.max(1),
        }
    }

    pub(crate) fn direct(&self, a: UserId, b: UserId) -> Option<ConversationId> {
        self.direct
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pair(a, b))
            .copied()
    }

    pub(crate) fn insert_direct(&self, a: UserId, b: UserId, conversation: ConversationId) {
        let mut direct = self.direct.write().unwrap_or_else(|e| e.into_inner());
        if direct.len() >= self.max_entries {
            direct.clear();
        }
        direct.insert(pair(a, b), conversation);
    }

    pub(crate) fn get(&self, conversation: ConversationId) -> Option<Arc<MemberSet>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&conversation)
            .cloned()
    }

    pub(crate) fn insert(&self, conversation: ConversationId, set: Arc<MemberSet>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries && !entries.contains_key(&conversation) {
            // Crude but bounded: a full cache starts over. Misses cost one
            // members query each, and the hot conversations return first.
            entries.clear();
        }
        entries.insert(conversation, set);
    }

    /// Forgets every member list (direct pairs never change and stay).
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub(crate) fn invalidate(&self, conversation: ConversationId) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conversation);
    }
}

fn pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

//! [`PushStore`] for [`MemoryStore`].

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::error::Result;
use crate::ids::{PushSubscriptionId, UserId};
use crate::model::{NewPushSubscription, PushLevel, PushSubscription};
use crate::store::PushStore;

/// The push subscriptions of a [`MemoryStore`], by id (UUIDv7: the order
/// they were first registered in).
#[derive(Debug, Default)]
pub(super) struct PushState {
    by_id: BTreeMap<PushSubscriptionId, PushSubscription>,
}

#[async_trait]
impl PushStore for MemoryStore {
    async fn save_push_subscription(&self, sub: NewPushSubscription) -> Result<PushSubscription> {
        let mut state = self.state();
        let push = &mut state.push;
        let existing = push
            .by_id
            .values()
            .find(|s| s.endpoint == sub.endpoint)
            .map(|s| (s.id, s.created_at));
        let (id, created_at) = existing.unwrap_or((sub.id, sub.created_at));
        let stored = PushSubscription {
            id,
            user_id: sub.user_id,
            endpoint: sub.endpoint,
            p256dh: sub.p256dh,
            auth: sub.auth,
            level: sub.level,
            created_at,
        };
        push.by_id.insert(id, stored.clone());
        Ok(stored)
    }

    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>> {
        let state = self.state();
        let mut subs: Vec<PushSubscription> = state
            .push
            .by_id
            .values()
            .filter(|s| s.user_id == user)
            .cloned()
            .collect();
        subs.sort_by_key(|s| (s.created_at, s.id));
        Ok(subs)
    }

    async fn set_push_level(
        &self,
        user: UserId,
        id: PushSubscriptionId,
        level: PushLevel,
    ) -> Result<Option<PushSubscription>> {
        let mut state = self.state();
        Ok(state
            .push
            .by_id
            .get_mut(&id)
            .filter(|s| s.user_id == user)
            .map(|s| {
                s.level = level;
                s.clone()
            }))
    }

    async fn delete_push_subscription(
        &self,
        id: PushSubscriptionId,
        owner: Option<UserId>,
    ) -> Result<bool> {
        let mut state = self.state();
        let push = &mut state.push;
        let owned = push
            .by_id
            .get(&id)
            .is_some_and(|s| owner.is_none_or(|o| o == s.user_id));
        if owned {
            push.by_id.remove(&id);
        }
        Ok(owned)
    }
}

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{PushSubscriptionId, UserId};
use crate::model::{NewPushSubscription, PushLevel, PushSubscription};

/// Devices' Web Push subscriptions, one per endpoint.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PushStore: Send + Sync {
    /// Registers a subscription. An endpoint registered before keeps its
    /// id and creation time and takes everything else from `sub` (new
    /// keys, a new level, and a new owner when the device now signs in as
    /// someone else). Returns the subscription as stored.
    async fn save_push_subscription(&self, sub: NewPushSubscription) -> Result<PushSubscription>;

    /// The user's subscriptions, oldest first.
    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>>;

    /// Sets the level of the user's subscription `id`; `None` when the
    /// user has no such subscription.
    async fn set_push_level(
        &self,
        user: UserId,
        id: PushSubscriptionId,
        level: PushLevel,
    ) -> Result<Option<PushSubscription>>;

    /// Deletes subscription `id` if it belongs to `owner` (any owner when
    /// `None`: the push service said the endpoint is gone). True when one
    /// was deleted.
    async fn delete_push_subscription(
        &self,
        id: PushSubscriptionId,
        owner: Option<UserId>,
    ) -> Result<bool>;
}

//! [`PushStore`]: the `push_subscriptions` table of migration 0008.

use async_trait::async_trait;
use chat_core::ids::PushSubscriptionId;
use chat_core::model::{NewPushSubscription, PushLevel, PushSubscription};
use chat_core::store::PushStore;
use chat_core::{ChatError, Result, Timestamp, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{PgStore, to_chat_error};

/// The columns [`SubscriptionRow`] reads.
const COLUMNS: &str = "subscription_id, user_id, endpoint, p256dh, auth, level, created_at";

/// A row of `push_subscriptions`.
#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    subscription_id: Uuid,
    user_id: Uuid,
    endpoint: String,
    p256dh: String,
    auth: String,
    level: String,
    created_at: DateTime<Utc>,
}

impl SubscriptionRow {
    /// The subscription; an unknown level is a corrupt or newer row.
    fn into_model(self) -> Result<PushSubscription> {
        Ok(PushSubscription {
            id: PushSubscriptionId::from_uuid(self.subscription_id),
            user_id: UserId::from_uuid(self.user_id),
            endpoint: self.endpoint,
            p256dh: self.p256dh,
            auth: self.auth,
            level: self.level.parse().map_err(ChatError::internal)?,
            created_at: Timestamp::from_datetime(self.created_at),
        })
    }
}

#[async_trait]
impl PushStore for PgStore {
    async fn save_push_subscription(&self, sub: NewPushSubscription) -> Result<PushSubscription> {
        let row: SubscriptionRow = sqlx::query_as(&format!(
            "INSERT INTO push_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, \
                 p256dh = excluded.p256dh, auth = excluded.auth, level = excluded.level \
             RETURNING {COLUMNS}"
        ))
        .bind(sub.id.as_uuid())
        .bind(sub.user_id.as_uuid())
        .bind(&sub.endpoint)
        .bind(&sub.p256dh)
        .bind(&sub.auth)
        .bind(sub.level.as_str())
        .bind(sub.created_at.as_datetime())
        .fetch_one(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.into_model()
    }

    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>> {
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 \
             ORDER BY created_at, subscription_id"
        ))
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        rows.into_iter().map(SubscriptionRow::into_model).collect()
    }

    async fn set_push_level(
        &self,
        user: UserId,
        id: PushSubscriptionId,
        level: PushLevel,
    ) -> Result<Option<PushSubscription>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "UPDATE push_subscriptions SET level = $1 \
             WHERE subscription_id = $2 AND user_id = $3 RETURNING {COLUMNS}"
        ))
        .bind(level.as_str())
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        row.map(SubscriptionRow::into_model).transpose()
    }

    async fn delete_push_subscription(
        &self,
        id: PushSubscriptionId,
        owner: Option<UserId>,
    ) -> Result<bool> {
        let deleted = sqlx::query(
            "DELETE FROM push_subscriptions \
             WHERE subscription_id = $1 AND ($2::uuid IS NULL OR user_id = $2)",
        )
        .bind(id.as_uuid())
        .bind(owner.map(|o| o.as_uuid()))
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(deleted.rows_affected() > 0)
    }
}

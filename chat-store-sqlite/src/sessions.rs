use async_trait::async_trait;
use chat_core::ids::RefreshTokenId;
use chat_core::model::{NewRefreshToken, NewSession, RefreshTokenRecord, Session};
use chat_core::store::SessionStore;
use chat_core::{Result, SessionId, Timestamp, UserId};
use sqlx::SqliteExecutor;
use uuid::Uuid;

use crate::{SqliteStore, to_chat_error};

#[derive(sqlx::FromRow)]
struct SessionRow {
    session_id: Uuid,
    user_id: Uuid,
    created_at: i64,
    revoked_at: Option<i64>,
    device_info: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RefreshTokenRow {
    token_id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    session_revoked_at: Option<i64>,
}

async fn insert_refresh_token(
    executor: impl SqliteExecutor<'_>,
    token: &NewRefreshToken,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens \
             (token_id, session_id, user_id, token_hash, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(token.id.as_uuid())
    .bind(token.session_id.as_uuid())
    .bind(token.user_id.as_uuid())
    .bind(&token.token_hash)
    .bind(token.created_at.as_millis())
    .bind(token.expires_at.as_millis())
    .execute(executor)
    .await
    .map_err(to_chat_error)?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStore {
    /// Creates a session together with its first refresh token, atomically.
    async fn create_session(&self, session: NewSession, token: NewRefreshToken) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (session_id, user_id, created_at, device_info) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(session.id.as_uuid())
        .bind(session.user_id.as_uuid())
        .bind(session.created_at.as_millis())
        .bind(session.device_info)
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?;
        insert_refresh_token(&mut *tx, &token).await?;
        tx.commit().await.map_err(to_chat_error)
    }

    /// Fetches a session by id.
    async fn session(&self, id: SessionId) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT session_id, user_id, created_at, revoked_at, device_info \
             FROM sessions WHERE session_id = ?1",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(|row| Session {
            id: SessionId::from_uuid(row.session_id),
            user_id: UserId::from_uuid(row.user_id),
            created_at: Timestamp::from_millis(row.created_at),
            revoked_at: row.revoked_at.map(Timestamp::from_millis),
            device_info: row.device_info,
        }))
    }

    /// Finds a refresh token by the hash of its value.
    async fn refresh_token_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        let row: Option<RefreshTokenRow> = sqlx::query_as(
            "SELECT t.token_id, t.session_id, t.user_id, t.created_at, t.expires_at, \
                    t.rotated_at, s.revoked_at AS session_revoked_at \
             FROM refresh_tokens t JOIN sessions s ON s.session_id = t.session_id \
             WHERE t.token_hash = ?1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(row.map(|row| RefreshTokenRecord {
            id: RefreshTokenId::from_uuid(row.token_id),
            session_id: SessionId::from_uuid(row.session_id),
            user_id: UserId::from_uuid(row.user_id),
            created_at: Timestamp::from_millis(row.created_at),
            expires_at: Timestamp::from_millis(row.expires_at),
            rotated_at: row.rotated_at.map(Timestamp::from_millis),
            session_revoked_at: row.session_revoked_at.map(Timestamp::from_millis),
        }))
    }

    /// Marks `old` as rotated at `at` and inserts `new`, atomically, but only
    /// if `old` had not been rotated and its session is not revoked.
    async fn rotate_refresh_token(
        &self,
        old: RefreshTokenId,
        at: Timestamp,
        new: NewRefreshToken,
    ) -> Result<bool> {
        // Holding the write lock from the start, concurrent rotations run
        // one after the other: the first marks `old`, the rest find it
        // marked and insert nothing.
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ?2 \
             WHERE token_id = ?1 AND rotated_at IS NULL \
               AND EXISTS (SELECT 1 FROM sessions s \
                           WHERE s.session_id = refresh_tokens.session_id \
                             AND s.revoked_at IS NULL)",
        )
        .bind(old.as_uuid())
        .bind(at.as_millis())
        .execute(&mut *tx)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        if marked == 0 {
            tx.rollback().await.map_err(to_chat_error)?;
            return Ok(false);
        }
        insert_refresh_token(&mut *tx, &new).await?;
        tx.commit().await.map_err(to_chat_error)?;
        Ok(true)
    }

    /// Adds a further refresh token to a live session (used in the grace
    /// window after a rotation). Returns `false` when the session is revoked.
    async fn add_refresh_token(&self, token: NewRefreshToken) -> Result<bool> {
        // One statement: the liveness check and the insert are atomic.
        let inserted = sqlx::query(
            "INSERT INTO refresh_tokens \
                 (token_id, session_id, user_id, token_hash, created_at, expires_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 \
             WHERE EXISTS (SELECT 1 FROM sessions \
                           WHERE session_id = ?2 AND revoked_at IS NULL)",
        )
        .bind(token.id.as_uuid())
        .bind(token.session_id.as_uuid())
        .bind(token.user_id.as_uuid())
        .bind(&token.token_hash)
        .bind(token.created_at.as_millis())
        .bind(token.expires_at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Revokes a session. Returns `false` when it was already revoked or
    /// does not exist.
    async fn revoke_session(&self, id: SessionId, at: Timestamp) -> Result<bool> {
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at = ?2 \
             WHERE session_id = ?1 AND revoked_at IS NULL",
        )
        .bind(id.as_uuid())
        .bind(at.as_millis())
        .execute(&self.pool)
        .await
        .map_err(to_chat_error)?
        .rows_affected();
        Ok(revoked == 1)
    }

    /// Revokes every live session of a user except `except`, returning the
    /// ids it revoked.
    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
        at: Timestamp,
    ) -> Result<Vec<SessionId>> {
        // `UPDATE ... RETURNING` reports exactly the rows this statement
        // changed, so there is no separate read to race with.
        // `IS NOT` is SQLite's null-safe inequality: with no exception,
        // every live session matches.
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE sessions SET revoked_at = ?3 \
             WHERE user_id = ?1 AND revoked_at IS NULL AND session_id IS NOT ?2 \
             RETURNING session_id",
        )
        .bind(user_id.as_uuid())
        .bind(except.map(|id| id.as_uuid()))
        .bind(at.as_millis())
        .fetch_all(&self.pool)
        .await
        .map_err(to_chat_error)?;
        Ok(sorted_session_ids(ids))
    }

    /// Sessions revoked at or after `since`, so a restarted instance can
    /// refuse access tokens that are still within their lifetime.
    async fn sessions_revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>> {
        // Sorted in Rust so the query can use the partial index on
        // `revoked_at` rather than walking the primary key in order.
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT session_id FROM sessions WHERE revoked_at >= ?1")
                .bind(since.as_millis())
                .fetch_all(&self.pool)
                .await
                .map_err(to_chat_error)?;
        Ok(sorted_session_ids(ids))
    }
}

/// Session ids in ascending order, as the reference store returns them.
fn sorted_session_ids(ids: Vec<Uuid>) -> Vec<SessionId> {
    let mut ids: Vec<SessionId> = ids.into_iter().map(SessionId::from_uuid).collect();
    ids.sort();
    ids
}

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::error::{ChatError, Result};
use crate::ids::{PasswordResetId, RefreshTokenId, SessionId, UserId};
use crate::model::{
    Credential, NewPasswordReset, NewRefreshToken, NewSession, NewUser, ProfileUpdate,
    RefreshTokenRecord, ResetConsumption, Session, User, UserCredentials, UserListQuery,
    UserSummary,
};
use crate::store::{PasswordResetStore, SessionStore, StoreHealth, UserStore};
use crate::time::Timestamp;

/// A complete store kept in process memory. Data is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    users: HashMap<UserId, StoredUser>,
    username_index: HashMap<String, UserId>,
    email_index: HashMap<String, UserId>,
    sessions: HashMap<SessionId, Session>,
    refresh_tokens: HashMap<RefreshTokenId, StoredRefreshToken>,
    refresh_by_hash: HashMap<String, RefreshTokenId>,
    resets: HashMap<PasswordResetId, StoredReset>,
    reset_by_hash: HashMap<String, PasswordResetId>,
    /// Conversations, members and messages (see `conversations.rs`).
    pub(super) chat: super::conversations::ChatState,
    /// Blocks and reports (see `moderation.rs`).
    pub(super) moderation: super::moderation::ModerationState,
    /// Attachments (see `attachments.rs`).
    pub(super) attachments: super::attachments::AttachmentState,
    /// Push subscriptions (see `push.rs`).
    pub(super) push: super::push::PushState,
    /// Webhooks (see `webhooks.rs`).
    pub(super) webhooks: super::webhooks::WebhookState,
}

#[derive(Debug, Clone)]
struct StoredUser {
    user: User,
    display_name_key: Option<String>,
    credential: Credential,
}

#[derive(Debug, Clone)]
struct StoredRefreshToken {
    token: NewRefreshToken,
    rotated_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct StoredReset {
    reset: NewPasswordReset,
    used: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in
        // a way later calls could not handle, so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// The public profile of an active user.
    pub(super) fn summary(&self, id: UserId) -> Option<UserSummary> {
        self.users
            .get(&id)
            .is_some_and(|s| s.user.is_active)
            .then(|| self.any_summary(id))
            .flatten()
    }

    /// The profile of any user, active or not (member lists keep showing
    /// deactivated members).
    pub(super) fn any_summary(&self, id: UserId) -> Option<UserSummary> {
        let stored = self.users.get(&id)?;
        Some(UserSummary {
            id,
            username: stored.user.username.clone(),
            display_name: stored.user.display_name.clone(),
            is_bot: stored.user.is_bot,
        })
    }

    fn credentials(&self, id: Option<&UserId>) -> Option<UserCredentials> {
        let stored = self.users.get(id?)?;
        Some(UserCredentials {
            user: stored.user.clone(),
            credential: stored.credential.clone(),
        })
    }

    fn insert_refresh_token(&mut self, token: NewRefreshToken) {
        self.refresh_by_hash
            .insert(token.token_hash.clone(), token.id);
        self.refresh_tokens.insert(
            token.id,
            StoredRefreshToken {
                token,
                rotated_at: None,
            },
        );
    }

    fn session_is_live(&self, id: SessionId) -> bool {
        self.sessions
            .get(&id)
            .is_some_and(|s| s.revoked_at.is_none())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        let mut st = self.state();
        let username_key = new.username.key();
        let email_key = new.email.key();
        if st.username_index.contains_key(&username_key) {
            return Err(ChatError::UsernameTaken);
        }
        if st.email_index.contains_key(&email_key) {
            return Err(ChatError::EmailTaken);
        }
        let user = User {
            id: new.id,
            username: new.username.as_str().to_owned(),
            email: new.email.as_str().to_owned(),
            display_name: new.display_name.as_ref().map(|d| d.as_str().to_owned()),
            created_at: new.created_at,
            last_seen: None,
            is_active: true,
            is_bot: new.is_bot,
        };
        st.username_index.insert(username_key, new.id);
        st.email_index.insert(email_key, new.id);
        st.users.insert(
            new.id,
            StoredUser {
                user: user.clone(),
                display_name_key: new.display_name.as_ref().map(|d| d.key()),
                credential: new.credential,
            },
        );
        Ok(user)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.state().users.get(&id).map(|s| s.user.clone()))
    }

    async fn credentials_by_username(&self, username_key: &str) -> Result<Option<UserCredentials>> {
        let st = self.state();
        Ok(st.credentials(st.username_index.get(username_key)))
    }

    async fn credentials_by_email(&self, email_key: &str) -> Result<Option<UserCredentials>> {
        let st = self.state();
        Ok(st.credentials(st.email_index.get(email_key)))
    }

    async fn credentials_by_id(&self, id: UserId) -> Result<Option<UserCredentials>> {
        Ok(self.state().credentials(Some(&id)))
    }

    async fn update_profile(&self, id: UserId, update: ProfileUpdate) -> Result<User> {
        let mut st = self.state();
        let current_email_key = st
            .users
            .get(&id)
            .ok_or(ChatError::UserNotFound)?
            .user
            .email
            .to_lowercase();
        if let Some(email) = &update.email {
            let key = email.key();
            if st.email_index.get(&key).is_some_and(|owner| *owner != id) {
                return Err(ChatError::EmailTaken);
            }
            st.email_index.remove(&current_email_key);
            st.email_index.insert(key, id);
        }
        let stored = st.users.get_mut(&id).ok_or(ChatError::UserNotFound)?;
        if let Some(email) = update.email {
            stored.user.email = email.as_str().to_owned();
        }
        if let Some(display_name) = update.display_name {
            stored.display_name_key = display_name.as_ref().map(|d| d.key());
            stored.user.display_name = display_name.map(|d| d.as_str().to_owned());
        }
        Ok(stored.user.clone())
    }

    async fn set_password_hash(&self, id: UserId, password_hash: String) -> Result<()> {
        let mut st = self.state();
        let stored = st.users.get_mut(&id).ok_or(ChatError::UserNotFound)?;
        stored.credential = Credential::Password(password_hash);
        Ok(())
    }

    async fn set_active(&self, id: UserId, active: bool) -> Result<()> {
        let mut st = self.state();
        let stored = st.users.get_mut(&id).ok_or(ChatError::UserNotFound)?;
        stored.user.is_active = active;
        Ok(())
    }

    async fn search_users(&self, prefix_key: &str, limit: u32) -> Result<Vec<UserSummary>> {
        let st = self.state();
        let mut found: Vec<UserSummary> = st
            .users
            .values()
            .filter(|s| s.user.is_active)
            .filter(|s| {
                s.user.username.to_ascii_lowercase().starts_with(prefix_key)
                    || s.display_name_key
                        .as_deref()
                        .is_some_and(|d| d.starts_with(prefix_key))
            })
            .filter_map(|s| st.any_summary(s.user.id))
            .collect();
        found.sort_by_key(|u| u.username.to_ascii_lowercase());
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn list_users(&self, query: UserListQuery) -> Result<Vec<User>> {
        let st = self.state();
        let matches = |s: &StoredUser, prefix: &str| {
            s.user.username.to_ascii_lowercase().starts_with(prefix)
                || s.display_name_key
                    .as_deref()
                    .is_some_and(|d| d.starts_with(prefix))
                || s.user.email.to_lowercase().starts_with(prefix)
        };
        let mut found: Vec<&StoredUser> = st
            .users
            .values()
            .filter(|s| query.include_inactive || s.user.is_active)
            .filter(|s| query.prefix_key.as_deref().is_none_or(|p| matches(s, p)))
            .collect();
        found.sort_by_key(|s| (s.user.username.to_ascii_lowercase(), s.user.id));
        Ok(found
            .into_iter()
            .skip(query.offset as usize)
            .take(query.limit as usize)
            .map(|s| s.user.clone())
            .collect())
    }

    async fn user_summaries(&self, ids: &[UserId]) -> Result<Vec<UserSummary>> {
        let st = self.state();
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| st.summary(*id))
            .collect())
    }

    async fn touch_last_seen(&self, id: UserId, at: Timestamp) -> Result<()> {
        if let Some(stored) = self.state().users.get_mut(&id)
            && stored.user.last_seen.is_none_or(|seen| seen < at)
        {
            stored.user.last_seen = Some(at);
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: NewSession, token: NewRefreshToken) -> Result<()> {
        let mut st = self.state();
        st.sessions.insert(
            session.id,
            Session {
                id: session.id,
                user_id: session.user_id,
                created_at: session.created_at,
                revoked_at: None,
                device_info: session.device_info,
            },
        );
        st.insert_refresh_token(token);
        Ok(())
    }

    async fn session(&self, id: SessionId) -> Result<Option<Session>> {
        Ok(self.state().sessions.get(&id).cloned())
    }

    async fn refresh_token_by_hash(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        let st = self.state();
        let Some(stored) = st
            .refresh_by_hash
            .get(token_hash)
            .and_then(|id| st.refresh_tokens.get(id))
        else {
            return Ok(None);
        };
        let t = &stored.token;
        Ok(Some(RefreshTokenRecord {
            id: t.id,
            session_id: t.session_id,
            user_id: t.user_id,
            created_at: t.created_at,
            expires_at: t.expires_at,
            rotated_at: stored.rotated_at,
            session_revoked_at: st.sessions.get(&t.session_id).and_then(|s| s.revoked_at),
        }))
    }

    async fn rotate_refresh_token(
        &self,
        old: RefreshTokenId,
        at: Timestamp,
        new: NewRefreshToken,
    ) -> Result<bool> {
        let mut st = self.state();
        let Some(stored) = st.refresh_tokens.get(&old) else {
            return Ok(false);
        };
        if stored.rotated_at.is_some() || !st.session_is_live(stored.token.session_id) {
            return Ok(false);
        }
        if let Some(stored) = st.refresh_tokens.get_mut(&old) {
            stored.rotated_at = Some(at);
        }
        st.insert_refresh_token(new);
        Ok(true)
    }

    async fn add_refresh_token(&self, token: NewRefreshToken) -> Result<bool> {
        let mut st = self.state();
        if !st.session_is_live(token.session_id) {
            return Ok(false);
        }
        st.insert_refresh_token(token);
        Ok(true)
    }

    async fn revoke_session(&self, id: SessionId, at: Timestamp) -> Result<bool> {
        let mut st = self.state();
        match st.sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_user_sessions(
        &self,
        user_id: UserId,
        except: Option<SessionId>,
        at: Timestamp,
    ) -> Result<Vec<SessionId>> {
        let mut st = self.state();
        let mut revoked = Vec::new();
        for s in st.sessions.values_mut() {
            if s.user_id == user_id && s.revoked_at.is_none() && Some(s.id) != except {
                s.revoked_at = Some(at);
                revoked.push(s.id);
            }
        }
        revoked.sort();
        Ok(revoked)
    }

    async fn sessions_revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>> {
        let st = self.state();
        let mut ids: Vec<SessionId> = st
            .sessions
            .values()
            .filter(|s| s.revoked_at.is_some_and(|r| r >= since))
            .map(|s| s.id)
            .collect();
        ids.sort();
        Ok(ids)
    }
}

#[async_trait]
impl PasswordResetStore for MemoryStore {
    async fn create_password_reset(&self, reset: NewPasswordReset) -> Result<()> {
        let mut st = self.state();
        st.reset_by_hash.insert(reset.token_hash.clone(), reset.id);
        st.resets
            .insert(reset.id, StoredReset { reset, used: false });
        Ok(())
    }

    async fn consume_password_reset(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<ResetConsumption> {
        let mut st = self.state();
        let Some(stored) = st
            .reset_by_hash
            .get(token_hash)
            .and_then(|id| st.resets.get(id))
        else {
            return Ok(ResetConsumption::Unknown);
        };
        if stored.used {
            return Ok(ResetConsumption::AlreadyUsed);
        }
        if stored.reset.expires_at <= now {
            return Ok(ResetConsumption::Expired);
        }
        let user_id = stored.reset.user_id;
        for r in st.resets.values_mut() {
            if r.reset.user_id == user_id {
                r.used = true;
            }
        }
        Ok(ResetConsumption::Consumed(user_id))
    }
}

#[async_trait]
impl StoreHealth for MemoryStore {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

//! Builders for test records.

use std::time::Duration;

use crate::domain::{DisplayName, Email, GroupName, MessageContent, MessageType, Username};
use crate::ids::{ConversationId, MessageId, PasswordResetId, RefreshTokenId, SessionId, UserId};
use crate::model::{
    Credential, InsertOutcome, MemberRole, Membership, Message, NewDirectConversation, NewGroup,
    NewMember, NewMessage, NewPasswordReset, NewRefreshToken, NewSession, NewUser, User,
};
use crate::store::Store;
use crate::time::Timestamp;

/// A fixed point in time for tests (2026-01-08T10:30:00.123Z).
pub fn t0() -> Timestamp {
    Timestamp::from_millis(1_767_868_200_123)
}

/// `t0` plus `secs` seconds.
pub fn at(secs: u64) -> Timestamp {
    t0().plus(Duration::from_secs(secs))
}

/// A new user named `username` with email `{username}@example.com`.
///
/// # Panics
/// When `username` is not a valid username.
pub fn new_user(username: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        username: Username::parse(username).expect("valid username"),
        email: Email::parse(&format!("{username}@example.com")).expect("valid email"),
        display_name: None,
        credential: Credential::Password(format!("hash-of-{username}")),
        is_bot: false,
        created_at: t0(),
    }
}

/// Like [`new_user`] with a display name.
pub fn new_user_named(username: &str, display_name: &str) -> NewUser {
    NewUser {
        display_name: Some(DisplayName::parse(display_name).expect("valid display name")),
        ..new_user(username)
    }
}

/// Inserts a user and returns it.
pub async fn create_user(store: &dyn Store, username: &str) -> User {
    store
        .create_user(new_user(username))
        .await
        .expect("create user")
}

/// A refresh token record for `session` with the given hash, valid 7 days.
pub fn refresh_token(user: UserId, session: SessionId, hash: &str) -> NewRefreshToken {
    NewRefreshToken {
        id: RefreshTokenId::new(),
        session_id: session,
        user_id: user,
        token_hash: hash.to_owned(),
        created_at: t0(),
        expires_at: at(7 * 24 * 3600),
    }
}

/// Creates a session for `user` with a first token hashed as `hash`.
pub async fn create_session(store: &dyn Store, user: UserId, hash: &str) -> SessionId {
    let id = SessionId::new();
    store
        .create_session(
            NewSession {
                id,
                user_id: user,
                created_at: t0(),
                device_info: Some("test-device".to_owned()),
            },
            refresh_token(user, id, hash),
        )
        .await
        .expect("create session");
    id
}

/// A reset token for `user` hashed as `hash`, expiring at `t0 + 1h`.
pub fn password_reset(user: UserId, hash: &str) -> NewPasswordReset {
    NewPasswordReset {
        id: PasswordResetId::new(),
        user_id: user,
        token_hash: hash.to_owned(),
        created_at: t0(),
        expires_at: at(3600),
    }
}

/// Creates the direct conversation of `a` and `b`, created at `t0`.
pub async fn create_direct(store: &dyn Store, a: UserId, b: UserId) -> ConversationId {
    store
        .create_direct(NewDirectConversation {
            id: ConversationId::new(),
            user_a: a,
            user_b: b,
            created_at: t0(),
        })
        .await
        .expect("create direct conversation")
        .0
}

/// Creates a group named `name` owned by `owner`, with `members` as plain
/// members, created at `t0`.
pub async fn create_group(
    store: &dyn Store,
    name: &str,
    owner: UserId,
    members: &[UserId],
) -> ConversationId {
    let id = ConversationId::new();
    let members = std::iter::once(NewMember {
        user_id: owner,
        role: MemberRole::Owner,
    })
    .chain(members.iter().map(|&user_id| NewMember {
        user_id,
        role: MemberRole::Member,
    }))
    .collect();
    store
        .create_group(NewGroup {
            id,
            name: GroupName::parse(name).expect("valid group name"),
            creator_id: owner,
            created_at: t0(),
            members,
        })
        .await
        .expect("create group");
    id
}

/// A text message from `sender` sent at `at`.
pub fn new_message(
    conversation: ConversationId,
    sender: UserId,
    text: &str,
    at: Timestamp,
) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        conversation_id: conversation,
        sender_id: sender,
        content: MessageContent::parse(text).expect("valid content"),
        message_type: MessageType::text(),
        client_msg_id: None,
        created_at: at,
        reply_to: None,
        mentions: Vec::new(),
        attachments: Vec::new(),
    }
}

/// Stores a message sent at `at` and returns it.
///
/// # Panics
/// When the store does not create it (the sender is not a member).
pub async fn send_at(
    store: &dyn Store,
    conversation: ConversationId,
    sender: UserId,
    text: &str,
    at: Timestamp,
) -> Message {
    match store
        .insert_message(new_message(conversation, sender, text, at))
        .await
        .expect("insert message")
    {
        InsertOutcome::Created(m) => m,
        other => panic!("message not created: {other:?}"),
    }
}

/// Stores a message sent at `t0`.
pub async fn send(
    store: &dyn Store,
    conversation: ConversationId,
    sender: UserId,
    text: &str,
) -> Message {
    send_at(store, conversation, sender, text, t0()).await
}

/// The user's membership, which must exist.
pub async fn membership(
    store: &dyn Store,
    conversation: ConversationId,
    user: UserId,
) -> Membership {
    store
        .membership(conversation, user)
        .await
        .expect("membership")
        .expect("is a member")
}

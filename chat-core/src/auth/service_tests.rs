//! Unit tests of [`AuthService`] against `mockall` mocks: each pins down
//! which store calls a flow makes, and which it must not make.

use std::sync::Arc;
use std::time::Duration;

use mockall::predicate::eq;

use super::service::AuthDeps;
use super::{Argon2Params, AuthConfig, AuthService, Signup};
use crate::domain::{Email, Password, Username};
use crate::error::ChatError;
use crate::ids::{RefreshTokenId, SessionId, UserId};
use crate::mailer::MockMailer;
use crate::model::{Credential, RefreshTokenRecord, ResetConsumption, User, UserCredentials};
use crate::rate_limit::{MockRateLimiter, RateDecision};
use crate::store::{MockPasswordResetStore, MockSessionStore, MockUserStore};
use crate::time::{Clock, ManualClock, Timestamp};

struct Mocks {
    users: MockUserStore,
    sessions: MockSessionStore,
    resets: MockPasswordResetStore,
    mailer: MockMailer,
    limiter: MockRateLimiter,
    clock: Arc<ManualClock>,
}

fn mocks() -> Mocks {
    Mocks {
        users: MockUserStore::new(),
        sessions: MockSessionStore::new(),
        resets: MockPasswordResetStore::new(),
        mailer: MockMailer::new(),
        limiter: MockRateLimiter::new(),
        clock: Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000))),
    }
}

fn service(m: Mocks) -> AuthService {
    let config = AuthConfig {
        argon2: cheap_params(),
        ..AuthConfig::default()
    };
    AuthService::new(
        AuthDeps {
            users: Arc::new(m.users),
            sessions: Arc::new(m.sessions),
            resets: Arc::new(m.resets),
            mailer: Arc::new(m.mailer),
            limiter: Arc::new(m.limiter),
            clock: m.clock,
            bus: Arc::new(crate::memory::MemoryEventBus::new()),
        },
        config,
        &[1u8; 32],
    )
    .expect("service")
}

fn user(id: UserId) -> User {
    User {
        id,
        username: "alice".into(),
        email: "alice@example.com".into(),
        display_name: None,
        created_at: Timestamp::from_millis(0),
        last_seen: None,
        is_active: true,
        is_bot: false,
    }
}

fn token_record(now: Timestamp, rotated_at: Option<Timestamp>) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: RefreshTokenId::new(),
        session_id: SessionId::new(),
        user_id: UserId::new(),
        created_at: now,
        expires_at: now.plus(Duration::from_secs(3600)),
        rotated_at,
        session_revoked_at: None,
    }
}

fn cheap_params() -> Argon2Params {
    Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    }
}

/// A real argon2 hash made cheaply, for stores that must hold one.
async fn cheap_hash(password: &str) -> String {
    super::password::PasswordHasher::new(cheap_params(), 1)
        .expect("hasher")
        .hash(password)
        .await
        .expect("hash")
}

fn allowed() -> RateDecision {
    RateDecision::Allowed { remaining: 5 }
}

#[tokio::test]
async fn a_rate_limited_client_is_refused_before_any_store_access() {
    let mut m = mocks();
    m.limiter.expect_peek().returning(|_, _| {
        Ok(RateDecision::Limited {
            retry_after: Duration::from_secs(60),
        })
    });
    // No expectations on the user store: any call would panic.
    let err = service(m)
        .login("alice", "pw", "10.0.0.1", None)
        .await
        .expect_err("limited");
    assert!(
        matches!(err, ChatError::RateLimited { retry_after } if retry_after == Duration::from_secs(60))
    );
}

#[tokio::test]
async fn an_unknown_user_counts_as_a_failed_attempt_and_creates_no_session() {
    let mut m = mocks();
    m.limiter.expect_peek().returning(|_, _| Ok(allowed()));
    m.users
        .expect_credentials_by_username()
        .with(eq("ghost"))
        .times(1)
        .returning(|_| Ok(None));
    m.limiter
        .expect_hit()
        .withf(|key, _| key == "login:10.0.0.1")
        .times(1)
        .returning(|_, _| Ok(allowed()));
    let err = service(m)
        .login("Ghost", "whatever1!", "10.0.0.1", None)
        .await
        .expect_err("unknown");
    assert!(matches!(err, ChatError::InvalidCredentials));
}

#[tokio::test]
async fn a_login_with_an_at_sign_looks_up_the_email() {
    let mut m = mocks();
    m.limiter.expect_peek().returning(|_, _| Ok(allowed()));
    m.users
        .expect_credentials_by_email()
        .with(eq("alice@example.com"))
        .times(1)
        .returning(|_| Ok(None));
    m.limiter.expect_hit().returning(|_, _| Ok(allowed()));
    let _ = service(m)
        .login("Alice@Example.com", "pw", "ip", None)
        .await;
}

#[tokio::test]
async fn an_inactive_account_cannot_log_in_even_with_the_right_password() {
    let hash = cheap_hash("right1!pw").await;
    let mut m = mocks();
    m.limiter.expect_peek().returning(|_, _| Ok(allowed()));
    m.users
        .expect_credentials_by_username()
        .returning(move |_| {
            Ok(Some(UserCredentials {
                user: User {
                    is_active: false,
                    ..user(UserId::new())
                },
                credential: Credential::Password(hash.clone()),
            }))
        });
    m.limiter
        .expect_hit()
        .times(1)
        .returning(|_, _| Ok(allowed()));
    let err = service(m)
        .login("alice", "right1!pw", "ip", None)
        .await
        .expect_err("inactive");
    assert!(matches!(err, ChatError::InvalidCredentials));
}

#[tokio::test]
async fn a_taken_username_is_reported_without_hashing_or_inserting() {
    let mut m = mocks();
    let id = UserId::new();
    m.users
        .expect_credentials_by_username()
        .returning(move |_| {
            Ok(Some(UserCredentials {
                user: user(id),
                credential: Credential::Password("x".into()),
            }))
        });
    // No create_user expectation: inserting would panic.
    let err = service(m)
        .signup(
            Signup {
                username: Username::parse("alice").expect("valid"),
                email: Email::parse("new@example.com").expect("valid"),
                password: Password::parse("s3cret!pw").expect("valid"),
                display_name: None,
            },
            None,
        )
        .await
        .expect_err("taken");
    assert!(matches!(err, ChatError::UsernameTaken));
}

#[tokio::test]
async fn reusing_a_token_rotated_long_ago_revokes_its_session() {
    let mut m = mocks();
    let now = m.clock.now();
    let record = token_record(now, Some(now.minus(Duration::from_secs(60))));
    let session = record.session_id;
    m.sessions
        .expect_refresh_token_by_hash()
        .returning(move |_| Ok(Some(record.clone())));
    m.sessions
        .expect_revoke_session()
        .with(eq(session), eq(now))
        .times(1)
        .returning(|_, _| Ok(true));
    let auth = service(m);
    let err = auth.refresh("stolen").await.expect_err("reused");
    assert!(matches!(err, ChatError::RefreshTokenReused));
}

#[tokio::test]
async fn reusing_a_token_within_the_grace_window_adds_a_sibling_token() {
    let mut m = mocks();
    let now = m.clock.now();
    let record = token_record(now, Some(now.minus(Duration::from_secs(2))));
    let session = record.session_id;
    m.sessions
        .expect_refresh_token_by_hash()
        .returning(move |_| Ok(Some(record.clone())));
    m.sessions
        .expect_add_refresh_token()
        .withf(move |t| t.session_id == session)
        .times(1)
        .returning(|_| Ok(true));
    let pair = service(m).refresh("twice").await.expect("grace");
    assert_eq!(pair.session_id, session);
}

#[tokio::test]
async fn losing_a_rotation_race_within_the_grace_window_still_succeeds() {
    let mut m = mocks();
    let now = m.clock.now();
    let fresh = token_record(now, None);
    let mut rotated = fresh.clone();
    rotated.rotated_at = Some(now);
    let mut seq = mockall::Sequence::new();
    m.sessions
        .expect_refresh_token_by_hash()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(fresh.clone())));
    m.sessions
        .expect_rotate_refresh_token()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(false));
    m.sessions
        .expect_refresh_token_by_hash()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(rotated.clone())));
    m.sessions
        .expect_add_refresh_token()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(true));
    service(m).refresh("raced").await.expect("second of a race");
}

#[tokio::test]
async fn a_spent_reset_token_changes_no_password() {
    let mut m = mocks();
    m.resets
        .expect_consume_password_reset()
        .returning(|_, _| Ok(ResetConsumption::AlreadyUsed));
    // No set_password_hash expectation: calling it would panic.
    let err = service(m)
        .reset_password("spent", &Password::parse("n3w!password").expect("valid"))
        .await
        .expect_err("spent");
    assert!(matches!(err, ChatError::InvalidResetToken));
}

#[tokio::test]
async fn logout_makes_the_sessions_access_tokens_fail_at_once() {
    let mut m = mocks();
    let now = m.clock.now();
    let user_id = UserId::new();
    m.sessions.expect_create_session().returning(|_, _| Ok(()));
    m.limiter.expect_peek().returning(|_, _| Ok(allowed()));
    let hash = cheap_hash("right1!pw").await;
    m.users
        .expect_credentials_by_username()
        .returning(move |_| {
            Ok(Some(UserCredentials {
                user: user(user_id),
                credential: Credential::Password(hash.clone()),
            }))
        });
    m.users.expect_touch_last_seen().returning(|_, _| Ok(()));
    let session_holder = Arc::new(std::sync::Mutex::new(None::<SessionId>));
    let holder = session_holder.clone();
    m.sessions
        .expect_refresh_token_by_hash()
        .returning(move |_| {
            let sid = holder.lock().expect("lock").expect("session id");
            Ok(Some(RefreshTokenRecord {
                session_id: sid,
                user_id,
                ..token_record(now, None)
            }))
        });
    m.sessions
        .expect_revoke_session()
        .times(1)
        .returning(|_, _| Ok(true));
    let auth = service(m);
    let pair = auth
        .login("alice", "right1!pw", "ip", None)
        .await
        .expect("login");
    *session_holder.lock().expect("lock") = Some(pair.session_id);
    assert_eq!(
        auth.authenticate(&pair.access_token)
            .expect("valid")
            .user_id,
        user_id
    );

    auth.logout(&pair.refresh_token).await.expect("logout");
    let err = auth.authenticate(&pair.access_token).expect_err("revoked");
    assert!(matches!(err, ChatError::SessionRevoked));
}

#[tokio::test]
async fn a_store_outage_surfaces_as_store_unavailable() {
    let mut m = mocks();
    m.limiter.expect_peek().returning(|_, _| Ok(allowed()));
    m.users
        .expect_credentials_by_username()
        .returning(|_| Err(ChatError::StoreUnavailable("connection refused".into())));
    let err = service(m)
        .login("alice", "pw", "ip", None)
        .await
        .expect_err("down");
    assert_eq!(err.code(), "STORE_UNAVAILABLE");
}

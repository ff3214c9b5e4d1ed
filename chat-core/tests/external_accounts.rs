//! Accounts of an embedding application that authenticates its people
//! itself: provisioned without a password, given tokens by the application,
//! and closed to the built-in login and password reset.

use chat_core::memory::MemoryMailer;
use chat_core::{ChatEngine, ChatError, Email, ExternalUser, Password, Signup, Username};
use std::sync::Arc;
use std::time::Duration;

fn external(name: &str) -> ExternalUser {
    ExternalUser {
        username: Username::parse(name).expect("username"),
        email: Email::parse(&format!("{name}@corp.example")).expect("email"),
        display_name: None,
    }
}

async fn sign_up(engine: &ChatEngine, name: &str, email: &str) {
    engine
        .auth()
        .signup(
            Signup {
                username: Username::parse(name).expect("username"),
                email: Email::parse(email).expect("email"),
                password: Password::parse("s3cret!pass").expect("password"),
                display_name: None,
            },
            None,
        )
        .await
        .expect("signup");
}

#[tokio::test]
async fn a_provisioned_user_gets_tokens_that_authenticate() {
    let engine = ChatEngine::builder().build().expect("engine");
    let user = engine
        .auth()
        .provision_user(external("erin"))
        .await
        .expect("provision");
    let pair = engine
        .auth()
        .issue_tokens(user.id, Some("corp portal"))
        .await
        .expect("tokens");
    assert_eq!(pair.user_id, user.id);
    let ctx = engine
        .auth()
        .authenticate(&pair.access_token)
        .expect("valid token");
    assert_eq!(ctx.user_id, user.id);
    // The refresh token works as any other.
    let next = engine
        .auth()
        .refresh(&pair.refresh_token)
        .await
        .expect("refresh");
    assert_eq!(next.user_id, user.id);
}

#[tokio::test]
async fn provisioning_twice_returns_the_same_account() {
    let engine = ChatEngine::builder().build().expect("engine");
    let first = engine
        .auth()
        .provision_user(external("erin"))
        .await
        .expect("first");
    let again = engine
        .auth()
        .provision_user(external("ERIN"))
        .await
        .expect("again");
    assert_eq!(first.id, again.id);
}

#[tokio::test]
async fn a_signed_up_account_is_never_handed_to_the_application() {
    let engine = ChatEngine::builder().build().expect("engine");
    sign_up(&engine, "erin", "erin@elsewhere.example").await;
    let err = engine
        .auth()
        .provision_user(external("erin"))
        .await
        .expect_err("taken");
    assert!(matches!(err, ChatError::UsernameTaken), "{err:?}");
}

#[tokio::test]
async fn no_password_logs_in_to_a_provisioned_account_and_no_reset_mail_goes_out() {
    let mailer = Arc::new(MemoryMailer::new());
    let engine = ChatEngine::builder()
        .mailer(mailer.clone())
        .build()
        .expect("engine");
    engine
        .auth()
        .provision_user(external("erin"))
        .await
        .expect("provision");
    for password in ["", "!external", "s3cret!pass"] {
        let err = engine
            .auth()
            .login("erin", password, "10.0.0.1", None)
            .await
            .expect_err("no password works");
        assert!(matches!(err, ChatError::InvalidCredentials), "{err:?}");
    }
    // Erin asks for a reset, then someone with a password does: only the
    // second gets a mail.
    sign_up(&engine, "fred", "fred@example.com").await;
    let erin = Email::parse("erin@corp.example").expect("email");
    let fred = Email::parse("fred@example.com").expect("email");
    engine
        .auth()
        .forgot_password(&erin, "10.0.0.2")
        .await
        .expect("accepted");
    engine
        .auth()
        .forgot_password(&fred, "10.0.0.2")
        .await
        .expect("accepted");
    mailer.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = mailer.outbox();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].to, "fred@example.com");
}

#[tokio::test]
async fn tokens_are_refused_for_unknown_users() {
    let engine = ChatEngine::builder().build().expect("engine");
    let err = engine
        .auth()
        .issue_tokens(chat_core::UserId::new(), None)
        .await
        .expect_err("unknown");
    assert!(matches!(err, ChatError::UserNotFound), "{err:?}");
}

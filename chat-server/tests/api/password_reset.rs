//! Forgot and reset password.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_error, password_of, spawn_app};

/// Extracts the token from the emailed link `.../#reset-token=TOKEN`.
pub(crate) fn token_from(body: &str) -> String {
    let start = body.find("#reset-token=").expect("link in the email") + "#reset-token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn request_reset(app: &TestApp, email: &str) -> serde_json::Value {
    let (status, body) = app
        .post("/api/v1/auth/forgot-password", json!({"email": email}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body
}

#[tokio::test]
async fn the_answer_is_the_same_whether_or_not_the_email_exists() {
    let app = spawn_app().await;
    app.signup("alice").await;
    let known = request_reset(&app, "alice@example.com").await;
    let unknown = request_reset(&app, "ghost@example.com").await;
    assert_eq!(known, unknown);
    assert!(known["message"].as_str().is_some());
    let sent = app.mailer.wait_for(1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "alice@example.com");
    assert!(sent[0].body.contains("http://chat.test/#reset-token="));
}

#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    let t = app.signup("bob").await;
    request_reset(&app, "BOB@example.com").await;
    let token = token_from(&app.mailer.wait_for(1).await[0].body);

    let (status, body) = app
        .post(
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "brand-new1!"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true}));

    assert_error(
        &app.get("/api/v1/auth/me", Some(&t.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_error(
        &app.login("bob", &password_of("bob")).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(app.login("bob", "brand-new1!").await.0, StatusCode::OK);

    // Single use.
    assert_error(
        &app.post(
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "again-new1!"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_RESET_TOKEN",
    );
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour() {
    let app = spawn_app().await;
    app.signup("carol").await;
    request_reset(&app, "carol@example.com").await;
    let token = token_from(&app.mailer.wait_for(1).await[0].body);
    app.advance(Duration::from_secs(3600));
    assert_error(
        &app.post(
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "brand-new1!"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_RESET_TOKEN",
    );
}

#[tokio::test]
async fn a_weak_new_password_is_refused_without_spending_the_token() {
    let app = spawn_app().await;
    app.signup("dave").await;
    request_reset(&app, "dave@example.com").await;
    let token = token_from(&app.mailer.wait_for(1).await[0].body);
    let weak = app
        .post(
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "weak"}),
        )
        .await;
    assert_error(&weak, StatusCode::UNPROCESSABLE_ENTITY, "WEAK_PASSWORD");
    assert_eq!(weak.1["error"]["field"], "new_password");
    let (status, _) = app
        .post(
            "/api/v1/auth/reset-password",
            json!({"token": token, "new_password": "strong-one1!"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn made_up_tokens_and_bad_emails_are_refused() {
    let app = spawn_app().await;
    assert_error(
        &app.post(
            "/api/v1/auth/reset-password",
            json!({"token": "nope", "new_password": "strong-one1!"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_RESET_TOKEN",
    );
    assert_error(
        &app.post(
            "/api/v1/auth/forgot-password",
            json!({"email": "not-an-email"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_EMAIL",
    );
}

#[tokio::test]
async fn one_address_gets_at_most_three_reset_emails_an_hour_and_the_answer_does_not_change() {
    let app = spawn_app().await;
    app.signup("carol").await;
    let first = request_reset(&app, "carol@example.com").await;
    for _ in 0..4 {
        assert_eq!(request_reset(&app, "carol@example.com").await, first);
    }
    assert_eq!(app.mailer.wait_for(3).await.len(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mailer.outbox().len(), 3, "no fourth email");
}

#[tokio::test]
async fn one_client_is_refused_after_ten_reset_requests_an_hour() {
    let app = spawn_app().await;
    for i in 0..10 {
        request_reset(&app, &format!("someone{i}@example.com")).await;
    }
    let (status, body) = app
        .post(
            "/api/v1/auth/forgot-password",
            json!({"email": "one-more@example.com"}),
        )
        .await;
    assert_error(
        &(status, body),
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    );
}

//! The server built the way the binary builds it (`bootstrap::build_state`)
//! on SQLite and PostgreSQL: accounts and sessions survive a restart.

use std::sync::Arc;

use chat_core::ManualClock;
use chat_core::Timestamp;
use chat_core::memory::MemoryMailer;
use chat_server::{Config, bootstrap};
use chat_store_postgres::PgTestDatabase;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_error, password_of, serve_state, tokens};

fn config(data_dir: &std::path::Path, database_url: Option<String>) -> Config {
    let mut c = Config::defaults();
    c.data_dir = data_dir.to_path_buf();
    c.database_url = database_url;
    c.argon2_memory_kib = 256;
    c.argon2_iterations = 1;
    c.db_min_connections = 0;
    c.db_max_connections = 5;
    c
}

async fn start(config: &Config) -> TestApp {
    let state = bootstrap::build_state(config).await.expect("state");
    serve_state(
        state,
        Arc::new(MemoryMailer::new()),
        Arc::new(ManualClock::new(Timestamp::now())),
    )
    .await
}

/// Signs up, logs out one session, restarts, and checks that the user can
/// log in, the live session's token still works (the secret was kept) and
/// the logged-out session's token is still refused.
async fn accounts_survive_a_restart(config: Config) {
    let app = start(&config).await;
    let kept = app.signup("alice").await;
    let (_, gone) = app.login("alice", &password_of("alice")).await;
    let gone = tokens(&gone);
    let (status, _) = app
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": gone.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    drop(app);

    let app = start(&config).await;
    let (status, body) = app.login("alice", &password_of("alice")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], kept.user_id.as_str());
    let (status, me) = app.get("/api/v1/auth/me", Some(&kept.access)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "alice");
    assert_error(
        &app.get("/api/v1/auth/me", Some(&gone.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    let (status, _) = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": kept.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(
        (status, ready["store"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
}

#[tokio::test]
async fn on_the_default_sqlite_store_accounts_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), None);
    accounts_survive_a_restart(config).await;
    assert!(dir.path().join("chat.db").exists());
    assert!(dir.path().join(bootstrap::SECRET_FILE).exists());
}

#[tokio::test]
async fn on_postgres_accounts_survive_a_restart() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    accounts_survive_a_restart(config(dir.path(), Some(db.url().to_owned()))).await;
    db.teardown().await;
}

#[tokio::test]
async fn an_unknown_database_scheme_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = bootstrap::build_state(&config(dir.path(), Some("mysql://x".into())))
        .await
        .expect_err("unsupported");
    assert_eq!(err.code(), "INVALID_CONFIG");
}

/// NUL and other control characters in every kind of input: login and
/// signup bodies, a query string, a WebSocket frame. PostgreSQL cannot
/// store NUL in text and failed with a 500 (and the failed login was not
/// counted); every backend now gets the same refusal before the store.
async fn control_characters_are_refused_before_the_store(config: Config) {
    let app = start(&config).await;
    let alice = app.signup("alice").await;
    for (path, body) in [
        (
            "/api/v1/auth/login",
            json!({"username": "al\u{0}ice", "password": "x"}),
        ),
        (
            "/api/v1/auth/login",
            json!({"username": "alice", "password": "pass\u{0}word1!"}),
        ),
        (
            "/api/v1/auth/signup",
            json!({"username": "bob", "email": "b\u{0}@example.com", "password": "s3cret!pass"}),
        ),
        (
            "/api/v1/auth/forgot-password",
            json!({"email": "alice@example.com\u{1b}"}),
        ),
        (
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": "\u{0}"}),
        ),
    ] {
        let (status, body) = app.post(path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_TEXT", "{path}: {body}");
        assert!(body["error"]["field"].is_string(), "{path}: {body}");
    }
    assert_error(
        &app.get_as(&alice.access, "/api/v1/users/search?q=al%00ice")
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );
    let mut ws = app.ws(&alice.access).await;
    ws.send_text(
        r#"{"type":"message.send","recipient_id":"x","content":"a\u0000b","client_msg_id":"c1"}"#,
    )
    .await;
    let error = ws.next().await;
    assert_eq!(error["code"], "INVALID_TEXT", "{error}");
    assert_eq!(error["client_msg_id"], "c1");
    // The server is fine, and the refused logins did not count as failures.
    let (status, _) = app.login("alice", &password_of("alice")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn on_sqlite_control_characters_are_refused_before_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    control_characters_are_refused_before_the_store(config(dir.path(), None)).await;
}

#[tokio::test]
async fn on_postgres_control_characters_are_refused_before_the_store() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    control_characters_are_refused_before_the_store(config(dir.path(), Some(db.url().to_owned())))
        .await;
    db.teardown().await;
}

#[tokio::test]
async fn a_store_that_cannot_start_names_the_step_that_failed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut unreachable = config(
        dir.path(),
        Some("postgres://postgres@127.0.0.1:1/chat".into()),
    );
    unreachable.db_acquire_timeout_ms = 500;
    let err = bootstrap::build_state(&unreachable)
        .await
        .expect_err("nothing listens on port 1");
    // Not STORE_UNAVAILABLE, the code of a request refused at run time.
    assert_eq!(err.code(), "PG_CONNECT", "{err}");
}

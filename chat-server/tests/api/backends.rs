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

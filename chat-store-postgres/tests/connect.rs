//! `PgStore::connect` against the local server: database creation and
//! error reporting.

use chat_core::testkit::backends_required;
use chat_store_postgres::{PgPoolConfig, PgStore};
use sqlx::ConnectOptions as _;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::str::FromStr as _;

fn admin_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if backends_required() => {
            panic!("CHAT_REQUIRE_BACKENDS=1 but DATABASE_URL is not set")
        }
        Err(_) => {
            eprintln!("skipping: PostgreSQL unavailable (set DATABASE_URL)");
            None
        }
    }
}

#[tokio::test]
async fn connect_creates_a_missing_database_and_migrates_it() {
    let Some(admin) = admin_url() else { return };
    let name = format!("chat_test_create_{}", uuid::Uuid::new_v4().simple());
    let admin_options = PgConnectOptions::from_str(&admin).expect("admin url");
    let url = admin_options
        .clone()
        .database(&name)
        .to_url_lossy()
        .to_string();

    let store = PgStore::connect(
        &url,
        PgPoolConfig {
            min_connections: 0,
            max_connections: 2,
            ..PgPoolConfig::default()
        },
    )
    .await
    .expect("connect creates the database");
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(store.pool())
        .await
        .expect("migrated");
    assert_eq!(users, 0);
    store.pool().close().await;

    let mut conn = PgConnection::connect_with(&admin_options)
        .await
        .expect("admin");
    sqlx::Executor::execute(
        &mut conn,
        format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str(),
    )
    .await
    .expect("drop");
}

#[tokio::test]
async fn an_unreachable_server_is_reported_with_its_cause() {
    let err = PgStore::connect(
        "postgres://postgres@127.0.0.1:1/chat",
        PgPoolConfig::default(),
    )
    .await
    .expect_err("nothing listens on port 1");
    assert_eq!(err.code(), "PG_CONNECT");
    let cause = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(cause.to_lowercase().contains("refused"), "{cause}");
}

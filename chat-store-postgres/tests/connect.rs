//! `PgStore::connect` against the local server: database creation and
//! error reporting.

use chat_core::testkit::backend_unavailable;
use chat_store_postgres::{PgPoolConfig, PgStore};
use sqlx::ConnectOptions as _;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::str::FromStr as _;

/// `DATABASE_URL`, or `None` after recording the skip (a panic when
/// backends are required).
fn admin_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) => backend_unavailable(
            "PostgreSQL",
            "DATABASE_URL is not set",
            "set DATABASE_URL to a server that answers",
        ),
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

/// Instances started together on a database that does not exist yet (the
/// recipe of docs/deployment.md) must all come up: one creates the
/// database and the others see it exists, and migrations run once. The
/// race is narrow, so several rounds, each on a fresh database, make a
/// regression fail reliably.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_on_a_missing_database_all_start() {
    const ROUNDS: usize = 5;
    let Some(admin) = admin_url() else { return };
    let admin_options = PgConnectOptions::from_str(&admin).expect("admin url");
    let mut admin_conn = PgConnection::connect_with(&admin_options)
        .await
        .expect("admin");
    let config = PgPoolConfig {
        min_connections: 0,
        max_connections: 2,
        ..PgPoolConfig::default()
    };
    for round in 0..ROUNDS {
        let name = format!("chat_test_race_{}", uuid::Uuid::new_v4().simple());
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut admin_conn)
                .await
                .expect("pg_database");
        assert!(!exists, "{name} exists already");
        let url = admin_options
            .clone()
            .database(&name)
            .to_url_lossy()
            .to_string();

        let (a, b, c, d) = tokio::join!(
            PgStore::connect(&url, config),
            PgStore::connect(&url, config),
            PgStore::connect(&url, config),
            PgStore::connect(&url, config),
        );
        let outcomes = [a, b, c, d].map(|started| match started {
            Ok(store) => Ok(store),
            Err(e) => Err(format!("{}: {}", e.code(), chain(&e))),
        });
        let mut failures = Vec::new();
        for outcome in &outcomes {
            match outcome {
                Ok(store) => store.close().await,
                Err(why) => failures.push(why.clone()),
            }
        }
        // Dropped before asserting, so a failure leaves no database behind.
        sqlx::Executor::execute(
            &mut admin_conn,
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
        )
        .await
        .expect("drop");
        assert!(
            failures.is_empty(),
            "round {round}: {} of 4 instances failed to start: {failures:#?}",
            failures.len()
        );
    }
}

/// An error and its sources, for assertion messages.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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

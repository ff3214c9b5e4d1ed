//! [`PgTestDatabase`]: a fresh, migrated database per test.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::Store;
use chat_core::testkit::{TestStore, backend_unavailable};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};
use uuid::Uuid;

use crate::{MIGRATOR, PgPoolConfig, PgStore};

/// How long to wait for the server before deciding it is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A uniquely named, migrated database on the server named by
/// `DATABASE_URL`, with a [`PgStore`] connected to it.
///
/// Each test gets its own database, so tests run in parallel without
/// seeing each other's rows and need no cleanup between them.
/// [`teardown`](Self::teardown) drops the database; a failing test skips
/// it (the conformance macro only tears down after a pass), which leaves
/// the failing test's data to inspect.
///
/// ```no_run
/// # async fn example() {
/// use chat_store_postgres::PgTestDatabase;
///
/// let Some(db) = PgTestDatabase::create().await else { return };
/// // ... use db.store() or db.url() ...
/// db.teardown().await;
/// # }
/// ```
pub struct PgTestDatabase {
    /// Connected to the test database, not to the admin one.
    store: PgStore,
    /// The test database's URL, for code under test that connects itself.
    url: String,
    /// `chat_test_<uuid>`, unique so parallel tests never share data.
    name: String,
    /// Where to reconnect to drop the database: a database cannot be
    /// dropped over a connection to itself.
    admin: PgConnectOptions,
}

impl PgTestDatabase {
    /// Creates a database `chat_test_<uuid>` on the server at `DATABASE_URL`
    /// (an admin URL such as `postgres://postgres@127.0.0.1:5432/postgres`)
    /// and connects a migrated [`PgStore`] to it with a small pool (at most
    /// 5 connections, none kept idle).
    ///
    /// Returns `None`, after saying why and recording the skip (see
    /// [`backend_unavailable`](chat_core::testkit::backend_unavailable)),
    /// when `DATABASE_URL` is unset or the server does not answer, so the
    /// calling test can skip.
    ///
    /// # Panics
    /// - Instead of returning `None`, when backends are required
    ///   (`CHAT_REQUIRE_BACKENDS=1`, see
    ///   [`backends_required`](chat_core::testkit::backends_required)).
    /// - When `DATABASE_URL` is malformed, or the server answers but
    ///   creating, connecting to or migrating the database fails.
    pub async fn create() -> Option<Self> {
        let (admin, name, url) = new_database().await?;
        let store = match PgStore::connect(&url, POOL).await {
            Ok(store) => store,
            Err(e) => panic!("cannot set up test database {name}: {e} ({e:?})"),
        };
        Some(Self {
            store,
            url,
            name,
            admin,
        })
    }

    /// Like [`create`](Self::create), but the database holds the schema as
    /// of migration `version` only (`2` for `0002_conversations.sql`): an
    /// older deployment, for tests that write rows in the old schema and
    /// then upgrade it, as an instance of a newer build does when it
    /// starts ([`PgStore::from_pool`] over [`store`](Self::store)'s pool,
    /// or [`PgStore::connect`] to [`url`](Self::url)).
    ///
    /// Until then [`store`](Self::store) is connected but knows a schema
    /// the database does not have yet: use its pool to write the old rows.
    ///
    /// # Panics
    /// As [`create`](Self::create) does, and when no migration has this
    /// version.
    pub async fn at_migration(version: i64) -> Option<Self> {
        assert!(
            MIGRATOR.iter().any(|m| m.version == version),
            "there is no migration {version}"
        );
        let (admin, name, url) = new_database().await?;
        let pool = match PgPoolOptions::new()
            .min_connections(POOL.min_connections)
            .max_connections(POOL.max_connections)
            .acquire_timeout(POOL.acquire_timeout)
            .connect(&url)
            .await
        {
            Ok(pool) => pool,
            Err(e) => panic!("cannot connect to test database {name}: {e}"),
        };
        // The embedded migrations up to `version`, exactly as the store
        // applies them (same checksums), so the upgrade that follows
        // finds them applied and runs the rest.
        let older = Migrator {
            migrations: MIGRATOR
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect::<Vec<_>>()
                .into(),
            ..Migrator::DEFAULT
        };
        if let Err(e) = older.run(&pool).await {
            panic!("cannot migrate test database {name} to {version}: {e}");
        }
        Some(Self {
            store: PgStore::over(pool),
            url,
            name,
            admin,
        })
    }

    /// The store connected to the test database.
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    /// A URL for the test database, to hand to code that connects by
    /// itself (a server under test). Built from `DATABASE_URL`'s settings
    /// (with the password, if any) by sqlx, which keeps host, port, user,
    /// password and TLS settings but drops rarer options.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the store's connections and drops the database, even if other
    /// connections to it are still open (`WITH (FORCE)`).
    ///
    /// Failures are printed, not raised: a leftover `chat_test_*` database
    /// is untidy but does not make a passed test wrong.
    pub async fn teardown(&self) {
        self.store.close().await;
        let result = drop_database(&self.admin, &self.name).await;
        if let Err(e) = result {
            eprintln!("warning: cannot drop test database {}: {e}", self.name);
        }
    }
}

/// Shows the database name only: the URL and options may hold a password.
impl std::fmt::Debug for PgTestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TestStore for PgTestDatabase {
    fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    async fn teardown(&self) {
        PgTestDatabase::teardown(self).await;
    }
}

/// The pool of a test database: small (at most 5 connections, none kept
/// idle), and patient, as the concurrency cases queue 8 callers on 5
/// connections, on machines that may be busy compiling.
const POOL: PgPoolConfig = PgPoolConfig {
    min_connections: 0,
    max_connections: 5,
    acquire_timeout: Duration::from_secs(30),
};

/// Creates an empty database `chat_test_<uuid>` on the server at
/// `DATABASE_URL`; returns the admin options, its name and its URL, or
/// `None` when the server is unavailable (see [`unavailable`]).
///
/// # Panics
/// When `DATABASE_URL` is malformed or the server answers but refuses to
/// create the database.
async fn new_database() -> Option<(PgConnectOptions, String, String)> {
    let Ok(admin_url) = std::env::var("DATABASE_URL") else {
        return unavailable("DATABASE_URL is not set");
    };
    let admin = match PgConnectOptions::from_str(&admin_url) {
        Ok(options) => options,
        Err(e) => panic!("DATABASE_URL is not a valid PostgreSQL URL: {e}"),
    };
    let mut conn = match admin_connection(&admin).await {
        Ok(conn) => conn,
        Err(why) => return unavailable(&why),
    };
    let name = format!("chat_test_{}", Uuid::new_v4().simple());
    let sql = format!(r#"CREATE DATABASE "{name}""#);
    if let Err(e) = conn.execute(sql.as_str()).await {
        panic!("cannot create test database {name}: {e}");
    }
    // Closing is best-effort: the database exists either way.
    let _ = conn.close().await;
    let url = admin.clone().database(&name).to_url_lossy().to_string();
    Some((admin, name, url))
}

/// Skips (says why, records the skip, returns `None`) or, when backends
/// are required, panics.
fn unavailable<T>(why: &str) -> Option<T> {
    backend_unavailable(
        "PostgreSQL",
        why,
        "set DATABASE_URL to a server that answers",
    )
}

/// Drops `name`, disconnecting whoever is still connected to it.
async fn drop_database(admin: &PgConnectOptions, name: &str) -> Result<(), String> {
    let mut conn = admin_connection(admin).await?;
    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
    let dropped = conn.execute(sql.as_str()).await;
    // Closing is best-effort: the outcome is already decided.
    let _ = conn.close().await;
    dropped.map(drop).map_err(|e| e.to_string())
}

/// A single connection to the admin database, or why there is none.
async fn admin_connection(admin: &PgConnectOptions) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(admin)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("cannot connect to DATABASE_URL: {e}")),
        Err(_) => Err(format!(
            "DATABASE_URL did not answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

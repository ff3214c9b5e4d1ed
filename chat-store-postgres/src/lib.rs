//! PostgreSQL backend for the chat engine.
//!
//! [`PgStore`] implements every `chat-core` store trait on PostgreSQL through
//! an sqlx pool, and passes the same conformance suite as the in-memory
//! reference store (`chat_core::memory::MemoryStore`). Several server
//! instances can share one database: every guarantee the traits make
//! (uniqueness, one winner per rotation or reset) is enforced by the
//! database, not by the process.
//!
//! # Concurrency
//!
//! Queries run at PostgreSQL's default READ COMMITTED isolation. Atomic
//! operations are single conditional statements (`UPDATE ... WHERE
//! rotated_at IS NULL RETURNING ...`) or short transactions that lock the
//! row they depend on first, so concurrent callers queue on a row lock and
//! then see the winner's commit; none of them needs retrying. Each
//! operation's comments say which lock it takes and why. Transactions that
//! lock both a conversation row and member rows always take the
//! conversation's first, so they cannot deadlock one another.
//!
//! # Layout
//!
//! - `lib.rs`: [`PgStore`] and [`PgPoolConfig`]: connecting and migrations.
//! - [`error`]: [`PgStoreError`] for start-up failures and [`to_chat_error`]
//!   for query failures.
//! - `users.rs`, `sessions.rs`, `password_resets.rs`, `conversations.rs`,
//!   `messages.rs`, `moderation.rs`, `health.rs`: one `chat-core` trait
//!   each, methods in the order the trait declares them.
//! - `message_batch.rs`, `cursor_batch.rs`: batches of messages and of
//!   cursor moves, each with a fixed number of statements.
//! - `changes.rs`: changes to messages (edits, deletions, reactions), the
//!   log they share with messages, and reactions.
//! - `search.rs`: full-text search of messages, and the messages after a
//!   seq (the newer half of a page around a search hit).
//! - `throwaway` (feature `testkit`): `ThrowawayPostgres`, a server of a
//!   test's own that it can stop and start (fault tests).
//! - `testkit` (feature `testkit`): `PgTestDatabase`, a throwaway database
//!   per test.
//! - `migrations/`: the schema, embedded at compile time and applied by
//!   [`PgStore::connect`] and [`PgStore::from_pool`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateDatabase as _, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Postgres};

// Their column-list macros serve the batch and change modules too, so
// they come first.
#[macro_use]
mod conversations;
#[macro_use]
mod attachments;
#[macro_use]
mod messages;
mod changes;
mod cursor_batch;
pub mod error;
mod health;
mod message_batch;
mod moderation;
mod password_resets;
mod push;
mod search;
mod sessions;
mod users;
mod webhooks;

#[cfg(feature = "testkit")]
mod testkit;
#[cfg(feature = "testkit")]
mod throwaway;

pub use error::{PgStoreError, to_chat_error};
#[cfg(feature = "testkit")]
pub use testkit::PgTestDatabase;
#[cfg(feature = "testkit")]
pub use throwaway::ThrowawayPostgres;

/// The schema, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connection pool settings for [`PgStore::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgPoolConfig {
    /// Connections kept open even when idle, so a burst after a quiet
    /// period does not wait for connection set-up. Default 10.
    pub min_connections: u32,
    /// Upper bound on open connections for reads and single writes; the
    /// writers have their own besides ([`PgStore::with_writers`], one
    /// each). Keep the sum over all instances below the server's
    /// `max_connections`. Default 20: on a small machine more connections
    /// only queue in PostgreSQL instead of in the pool (with 100, a
    /// 2-core machine ran about half as many messages a second).
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing with
    /// `STORE_UNAVAILABLE`. Default 5 s.
    pub acquire_timeout: Duration,
}

impl Default for PgPoolConfig {
    fn default() -> Self {
        Self {
            min_connections: 10,
            max_connections: 20,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A seq or counter (`u64` in chat-core) as stored in a BIGINT column.
/// Values past `i64::MAX` cannot occur in practice; they saturate.
fn to_sql_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A seq or counter read from a BIGINT column. The schema's CHECKs keep
/// them non-negative; a negative value would read as 0.
fn from_sql_count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A complete chat store in one PostgreSQL database.
///
/// Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The writers' own connections, one per writer, apart from `pool`:
    /// a batch that queued for a connection behind hundreds of reads
    /// would hold up every message in it.
    writes: PgPool,
    /// Message batches written at once (see [`PgStore::with_writers`]).
    writers: usize,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:pass@host/db`)
    /// with a pool configured by `config`, creating the database if it does
    /// not exist, and applies pending migrations.
    ///
    /// Instances may start together, even on a database that does not
    /// exist yet: one creates it, the others find it there, and the
    /// migrations, which run under an advisory lock, are applied once.
    ///
    /// # Errors
    /// `PG_INVALID_URL`, `PG_INVALID_CONFIG` (no connections allowed, or
    /// more kept open than allowed), `PG_CREATE_DATABASE`, `PG_CONNECT` or `PG_MIGRATE` (see
    /// [`PgStoreError`]).
    pub async fn connect(url: &str, config: PgPoolConfig) -> Result<Self, PgStoreError> {
        if config.max_connections == 0 || config.min_connections > config.max_connections {
            return Err(PgStoreError::InvalidConfig(format!(
                "min_connections ({}) must not exceed max_connections ({}), which must be at least 1",
                config.min_connections, config.max_connections
            )));
        }
        let options = PgConnectOptions::from_str(url).map_err(PgStoreError::InvalidUrl)?;
        // Like SQLite's create-if-missing: a fresh deployment needs no
        // `createdb`. When the check itself fails (no access to the
        // maintenance database), connecting below reports the real problem.
        // Instances starting together all find the database missing and
        // all try to create it; those that lose the race find it there,
        // which is what they wanted.
        if let Ok(false) = Postgres::database_exists(url).await {
            match Postgres::create_database(url).await {
                Ok(()) => {}
                Err(e) if error::is_database_already_there(&e) => {}
                Err(e) => return Err(PgStoreError::CreateDatabase(e)),
            }
        }
        // One direct connection first: a pool that cannot connect reports
        // only "timed out", while this reports the cause (refused, bad
        // password, unknown host).
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(PgStoreError::Connect)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .min_connections(config.min_connections)
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(PgStoreError::Connect)?;
        Self::from_pool(pool).await
    }

    /// A store over an existing pool, after applying pending migrations
    /// (under an advisory lock, so instances starting together apply them
    /// once).
    ///
    /// # Errors
    /// `PG_CONNECT` when no connection can be had from the pool;
    /// `PG_MIGRATE` when a migration fails or the database holds
    /// migrations this build does not know.
    pub async fn from_pool(pool: PgPool) -> Result<Self, PgStoreError> {
        migrate(&pool).await?;
        Ok(Self::over(pool))
    }

    /// A store over `pool` with one writer, whatever its schema: callers
    /// migrate first (tests holding an older schema on purpose do not).
    fn over(pool: PgPool) -> Self {
        let writes = write_pool(&pool, 1);
        Self {
            pool,
            writes,
            writers: 1,
        }
    }

    /// The store, writing up to `writers` batches of messages and cursor
    /// moves at once, each on its own connection and transaction (batches
    /// of different conversations; one conversation's are written in
    /// order). Default 1. More writers overlap commits: with hundreds of
    /// conversations sending at once they raise throughput (about 7,000 to
    /// 13,000 messages a second with 8 on a 2-core machine), but with a few
    /// busy conversations they split batches and make each commit wait
    /// longer (docs/benchmarks.md). Values below 1 count as 1.
    #[must_use]
    pub fn with_writers(mut self, writers: usize) -> Self {
        self.writers = writers.max(1);
        self.writes = write_pool(&self.pool, self.writers);
        self
    }

    /// The underlying pool (the writers have their own connections
    /// beside it; [`close`](Self::close) closes both).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection of the store, waiting for those in use.
    pub async fn close(&self) {
        self.writes.close().await;
        self.pool.close().await;
    }
}

/// Applies pending migrations, once however many instances start together.
///
/// sqlx's migrator serialises them itself: with `locking` on (the default
/// of `sqlx::migrate!`, checked by a test below) it holds a PostgreSQL
/// advisory lock keyed on the database's name from before it creates its
/// `_sqlx_migrations` table until the last migration is applied. An
/// instance that waited for the lock then finds every migration applied
/// and applies none. The migrations are the only DDL the store runs at
/// start-up.
///
/// The lock belongs to the connection's session, and the migrator does not
/// release it when a migration fails. So the migration runs on a
/// connection of its own that is closed, not returned to the pool, on
/// failure: otherwise a pool kept by the caller would hold the lock and
/// every other instance would wait for it forever.
async fn migrate(pool: &PgPool) -> Result<(), PgStoreError> {
    let mut conn = pool.acquire().await.map_err(PgStoreError::Connect)?;
    match MIGRATOR.run(&mut *conn).await {
        Ok(()) => Ok(()),
        Err(e) => {
            // Best-effort: the migration's error is what to report.
            let _ = conn.detach().close().await;
            Err(PgStoreError::Migrate(e))
        }
    }
}

/// A pool of `writers` connections to the database of `pool`, opened on
/// first use and kept while the store lives.
///
/// Each statement is planned once per connection and the plan reused
/// (`force_generic_plan`): a writer runs the same handful of statements
/// hundreds of times a second, and planning each afresh took about a
/// fifth of PostgreSQL's CPU under load. A plan made once, though, is made
/// when the tables may still be empty (a fresh deployment, a benchmark),
/// and a plan that scans a small table whole would go on scanning it as it
/// grows; with sequential scans priced out (`enable_seqscan = off`) the
/// plan is the index probe whatever the table's size then. Every statement
/// a writer runs reaches its rows by key (docs/benchmarks.md, "Writers
/// plan once").
fn write_pool(pool: &PgPool, writers: usize) -> PgPool {
    let writers = u32::try_from(writers).unwrap_or(u32::MAX).max(1);
    PgPoolOptions::new()
        .max_connections(writers)
        .acquire_timeout(pool.options().get_acquire_timeout())
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with((*pool.connect_options()).clone().options([
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
        ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instances starting together rely on the migrator's advisory lock
    /// (see [`migrate`]).
    #[test]
    fn migrations_run_under_the_migrators_advisory_lock() {
        assert!(MIGRATOR.locking);
    }

    #[tokio::test]
    async fn unusable_pool_sizes_are_refused_before_connecting() {
        for (min, max) in [(0, 0), (6, 5)] {
            let config = PgPoolConfig {
                min_connections: min,
                max_connections: max,
                ..PgPoolConfig::default()
            };
            let err = PgStore::connect("postgres://nowhere.invalid/db", config)
                .await
                .expect_err("refused");
            assert_eq!(err.code(), "PG_INVALID_CONFIG");
        }
    }

    /// A writer plans each statement once, maybe while its tables are
    /// empty; with sequential scans priced out, a plan made on the empty
    /// `messages` table is an index probe all the same (with them allowed,
    /// it is a hash join over a scan of the whole table).
    #[tokio::test]
    async fn a_writers_plan_made_on_an_empty_table_probes_the_index() {
        let Some(db) = PgTestDatabase::create().await else {
            return;
        };
        let writes = write_pool(db.store().pool(), 1);
        let mut conn = writes.acquire().await.expect("a writer's connection");
        for (setting, want) in [
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
        ] {
            let got: String = sqlx::query_scalar(&format!("SHOW {setting}"))
                .fetch_one(&mut *conn)
                .await
                .expect("SHOW");
            assert_eq!(got, want, "{setting}");
        }
        // `messages` is empty: the plan is made now, as a writer's first
        // batch on a fresh database makes it.
        sqlx::raw_sql(
            "PREPARE probe(uuid[]) AS SELECT m.seq FROM UNNEST($1::uuid[]) AS k(id) \
             JOIN messages m ON m.message_id = k.id",
        )
        .execute(&mut *conn)
        .await
        .expect("PREPARE");
        let plan: Vec<String> = sqlx::query_scalar("EXPLAIN EXECUTE probe('{}')")
            .fetch_all(&mut *conn)
            .await
            .expect("EXPLAIN");
        let plan = plan.join("\n");
        assert!(plan.contains("Index Scan using messages_pkey"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
        drop(conn);
        writes.close().await;
    }

    #[tokio::test]
    async fn a_malformed_url_is_reported_as_such() {
        let err = PgStore::connect("postgres://localhost:notaport/db", PgPoolConfig::default())
            .await
            .expect_err("refused");
        assert_eq!(err.code(), "PG_INVALID_URL");
    }
}

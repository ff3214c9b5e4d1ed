//! SQLite backend for the chat engine.
//!
//! [`SqliteStore`] implements every `chat-core` store trait on one SQLite
//! database through an sqlx pool, and passes the same conformance suite as
//! the in-memory reference store (`chat_core::memory::MemoryStore`). It suits
//! a single instance: SQLite serializes writers, and the file lives on one
//! machine.
//!
//! # Durability and concurrency
//!
//! - WAL journal: readers never wait for the writer, nor the writer for them.
//! - `synchronous = FULL`: every commit is on disk before it is acknowledged.
//!   With WAL, `NORMAL` could lose the last commits on power loss, and
//!   nothing acknowledged (a rotated token, a spent reset token) may be lost.
//!   One exception: webhook cursor moves commit with `NORMAL` (a lost one
//!   only delivers a few entries again; see `write_tx.rs`).
//! - SQLite admits one writer at a time. Writes that span several statements
//!   start with `BEGIN IMMEDIATE`, which takes the write lock up front: a
//!   concurrent writer then waits (up to the 5 s busy timeout) instead of
//!   failing with `SQLITE_BUSY` when a deferred transaction that has already
//!   read tries to upgrade to writing. Single statements are atomic anyway.
//! - Those transactions first queue in the process, on the store's write
//!   gate (`write_tx.rs`), so each starts as soon as the one before it
//!   commits instead of sleeping in SQLite's busy handler.
//!
//! # Layout
//!
//! - `lib.rs`: [`SqliteStore`]: connecting, pragmas, migrations.
//! - [`error`]: [`SqliteStoreError`] for start-up failures and
//!   [`to_chat_error`] for query failures.
//! - `users.rs`, `sessions.rs`, `password_resets.rs`, `conversations.rs`,
//!   `messages.rs`, `moderation.rs`, `health.rs`: one `chat-core` trait
//!   each, methods in the order the trait declares them.
//! - `changes.rs`: the conversation log's changes (edits, deletions,
//!   reactions) for `MessageStore`: applying one inside the transaction
//!   `messages.rs` opens, reading the log, reactions.
//! - `search.rs`: full-text search of messages for `MessageStore`, on the
//!   FTS5 index that migration 0004 creates and its triggers keep.
//! - `write_tx.rs`: the write gate and the transactions that pass it.
//! - `migrations/`: the schema, embedded at compile time and applied by
//!   [`SqliteStore::connect`] and [`SqliteStore::from_pool`]. Comments there
//!   say how ids, times, seqs and case-insensitive keys are stored.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod attachments;
mod changes;
#[macro_use]
mod conversations;
mod cursor_batch;
pub mod error;
mod health;
mod message_batch;
mod messages;
mod moderation;
mod password_resets;
mod push;
mod search;
mod sessions;
mod users;
mod webhooks;
mod write_tx;

pub use error::{SqliteStoreError, to_chat_error};

/// The schema, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for another connection's write lock before
/// failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows a multi-row statement (`VALUES` lists) takes at most: at 11 bound
/// values a row (a message), well under SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Runs a statement built with a `QueryBuilder`, for its effect.
async fn execute_built(
    conn: &mut sqlx::SqliteConnection,
    mut query: sqlx::QueryBuilder<'_, sqlx::Sqlite>,
) -> chat_core::Result<()> {
    query
        .build()
        .execute(&mut *conn)
        .await
        .map_err(to_chat_error)?;
    Ok(())
}

/// Ends `query` with the list `(?, ?, ...)` of `ids` bound: the tail of
/// an `IN` clause. The caller keeps the list under SQLite's limit on
/// bound parameters (32,766).
fn push_id_list(
    query: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    ids: impl IntoIterator<Item = uuid::Uuid>,
) {
    query.push("(");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    list.push_unseparated(")");
}

/// A seq or counter (`u64` in chat-core) as stored in an INTEGER column.
/// Values past `i64::MAX` cannot occur in practice; they saturate.
fn to_sql_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A seq or counter read from an INTEGER column. The schema's CHECKs keep
/// them non-negative; a negative value would read as 0.
fn from_sql_count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A complete chat store in one SQLite database.
///
/// Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Taken by every write transaction, so they queue here rather than
    /// poll SQLite's lock (see `write_tx.rs`).
    write_gate: write_tx::WriteGate,
}

impl SqliteStore {
    /// Opens (creating it and its directory if missing) the database at
    /// `url`, such as `sqlite://data/chat.db` or `sqlite::memory:`, and
    /// applies pending migrations.
    ///
    /// Every connection uses WAL, `synchronous = FULL`, foreign keys and a
    /// 5 s busy timeout. An in-memory database lives only as long as a
    /// connection to it, so it gets a single connection that is never
    /// closed for idleness.
    ///
    /// # Errors
    /// `SQLITE_INVALID_URL`, `SQLITE_CREATE_DIR`, `SQLITE_CONNECT` or
    /// `SQLITE_MIGRATE` (see [`SqliteStoreError`]).
    pub async fn connect(url: &str) -> Result<Self, SqliteStoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(SqliteStoreError::InvalidUrl)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool_options = if is_in_memory(url) {
            SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            create_parent_dir(options.get_filename())?;
            SqlitePoolOptions::new()
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(SqliteStoreError::Connect)?;
        Self::from_pool(pool).await
    }

    /// A store over an existing pool, after applying pending migrations.
    ///
    /// The pool's connections should be configured as [`connect`](Self::connect)
    /// does; in particular foreign keys must be on.
    ///
    /// # Errors
    /// `SQLITE_MIGRATE` when a migration fails or the database holds
    /// migrations this build does not know.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, SqliteStoreError> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(SqliteStoreError::Migrate)?;
        Ok(Self {
            pool,
            write_gate: write_tx::WriteGate::default(),
        })
    }

    /// The underlying pool, e.g. to close it on shutdown.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// True for the URL forms sqlx opens as an in-memory database.
fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// `create_if_missing` creates the file but not its directory.
fn create_parent_dir(file: &Path) -> Result<(), SqliteStoreError> {
    // `file:` names are SQLite URIs, not paths; leave them to SQLite.
    if file.to_string_lossy().starts_with("file:") {
        return Ok(());
    }
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| SqliteStoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://data/chat.db"));
    }

    #[test]
    fn a_bare_file_name_needs_no_directory() {
        assert!(create_parent_dir(Path::new("chat.db")).is_ok());
        assert!(create_parent_dir(Path::new("file:chat.db?mode=rwc")).is_ok());
    }
}

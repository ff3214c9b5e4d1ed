//! [`WriteTx`]: a write transaction that queues in the process for
//! SQLite's one write lock instead of polling for it.
//!
//! SQLite admits one writer at a time, and a connection that finds the
//! lock taken does not queue for it: its busy handler sleeps and tries
//! again, 1, 2, 5, 10, up to 100 ms at a time. Under load the message
//! writer is busy nearly all the time, so any other write (a webhook's
//! cursor moves, a session) collided with it, and whichever lost slept
//! milliseconds past the moment the lock came free: with a webhook
//! following 3,000 messages a second, batches of messages took 5 to 25 ms
//! instead of 1 to 2 (docs/benchmarks.md, "Webhooks"). Every write
//! transaction of a [`SqliteStore`] first takes the store's gate, a fair
//! async mutex, so they run one after another, each as soon as the one
//! before has committed. The busy timeout still covers what the gate
//! cannot see: single-statement writes, and other processes on the file.
//!
//! [`RelaxedWriteTx`] is the same for writes a power cut may lose (a
//! webhook's cursor: losing it means delivering a few entries again, which
//! receivers drop by their delivery id): it commits with `synchronous =
//! NORMAL`, without waiting for the disk, so it holds the lock for well
//! under a millisecond instead of a flush. In WAL mode the next ordinary
//! commit's flush makes it durable as well, and a crash of the process
//! alone loses nothing.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use chat_core::Result;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Sqlite, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{SqliteStore, to_chat_error};

/// The statement that opens every write transaction: it takes the write
/// lock up front, so a transaction that has read never fails with
/// `SQLITE_BUSY` trying to upgrade to writing.
const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";

/// The gate every write transaction of one store passes.
pub(crate) type WriteGate = Arc<Mutex<()>>;

/// A write transaction holding its store's gate until it commits or rolls
/// back (or is dropped, which rolls back). Use it as the connection it
/// runs on.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _gate: OwnedMutexGuard<()>,
}

impl SqliteStore {
    /// Begins a write transaction once the writes of this store started
    /// before it have finished, holding SQLite's write lock from `BEGIN`.
    ///
    /// # Errors
    /// The pool's or SQLite's, as [`to_chat_error`] maps them.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let gate = self.write_gate.clone().lock_owned().await;
        let tx = self
            .pool
            .begin_with(BEGIN_IMMEDIATE)
            .await
            .map_err(to_chat_error)?;
        Ok(WriteTx { tx, _gate: gate })
    }
}

impl WriteTx {
    /// Commits, then lets the next write in.
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back, then lets the next write in.
    pub(crate) async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

/// A write transaction, holding its store's gate, whose commit does not
/// wait for the disk (see the module docs). Use it as the connection it
/// runs on. Its connection goes back to the pool only with `synchronous =
/// FULL` again; if that cannot be restored it is closed instead.
pub(crate) struct RelaxedWriteTx {
    /// `None` once handed back (committed and restored).
    conn: Option<PoolConnection<Sqlite>>,
    _gate: OwnedMutexGuard<()>,
}

impl SqliteStore {
    /// Begins a write transaction whose commit may be lost in a power cut
    /// (never in a crash of the process), after the writes of this store
    /// started before it.
    ///
    /// # Errors
    /// The pool's or SQLite's, as [`to_chat_error`] maps them.
    pub(crate) async fn begin_relaxed_write(&self) -> Result<RelaxedWriteTx> {
        let gate = self.write_gate.clone().lock_owned().await;
        let conn = self.pool.acquire().await.map_err(to_chat_error)?;
        // From here, dropping the guard restores the connection.
        let mut tx = RelaxedWriteTx {
            conn: Some(conn),
            _gate: gate,
        };
        // The level cannot change inside a transaction: set it first.
        sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *tx)
            .await
            .map_err(to_chat_error)?;
        sqlx::query(BEGIN_IMMEDIATE)
            .execute(&mut *tx)
            .await
            .map_err(to_chat_error)?;
        Ok(tx)
    }
}

impl RelaxedWriteTx {
    /// Commits, restores the connection's `synchronous = FULL` and hands
    /// it back, then lets the next write in.
    pub(crate) async fn commit(mut self) -> Result<()> {
        sqlx::query("COMMIT")
            .execute(&mut *self)
            .await
            .map_err(to_chat_error)?;
        if let Some(mut conn) = self.conn.take() {
            restore(&mut conn).await;
        }
        Ok(())
    }
}

/// Rolls back what may be open and sets `synchronous = FULL` again, so the
/// connection is fit for the pool's other users; closes it when that
/// fails.
async fn restore(conn: &mut PoolConnection<Sqlite>) {
    let closed =
        !conn.is_in_transaction() || sqlx::query("ROLLBACK").execute(&mut **conn).await.is_ok();
    let restored = closed
        && sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut **conn)
            .await
            .is_ok();
    if !restored {
        conn.close_on_drop();
    }
}

impl Drop for RelaxedWriteTx {
    /// Not committed (an error, or the caller was cancelled): the
    /// connection is rolled back and restored on a task of its own.
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move { restore(&mut conn).await });
                }
                // No runtime to restore it on: it is not handed back.
                Err(_) => conn.close_on_drop(),
            }
        }
    }
}

impl Deref for RelaxedWriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_deref()
            .expect("a relaxed write holds its connection until it ends")
    }
}

impl DerefMut for RelaxedWriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_deref_mut()
            .expect("a relaxed write holds its connection until it ends")
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;

    use super::*;

    /// A store over a file with one connection, so every statement below
    /// runs on the connection the relaxed writes used.
    async fn one_connection_store(dir: &tempfile::TempDir) -> SqliteStore {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("chat.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("pool");
        SqliteStore::from_pool(pool).await.expect("store")
    }

    /// `PRAGMA synchronous` of the pool's connection: 2 is FULL.
    async fn level(store: &SqliteStore) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .expect("level")
    }

    #[tokio::test]
    async fn a_relaxed_write_hands_its_connection_back_at_full() {
        let dir = tempfile::tempdir().expect("dir");
        let store = one_connection_store(&dir).await;
        assert_eq!(level(&store).await, 2);
        let mut tx = store.begin_relaxed_write().await.expect("begin");
        let during: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *tx)
            .await
            .expect("level");
        assert_eq!(during, 1, "NORMAL while it runs");
        tx.commit().await.expect("commit");
        assert_eq!(level(&store).await, 2, "FULL again after a commit");
    }

    #[tokio::test]
    async fn an_abandoned_relaxed_write_is_rolled_back_and_restored() {
        let dir = tempfile::tempdir().expect("dir");
        let store = one_connection_store(&dir).await;
        let mut tx = store.begin_relaxed_write().await.expect("begin");
        sqlx::query("CREATE TABLE scratch (x INTEGER)")
            .execute(&mut *tx)
            .await
            .expect("write");
        drop(tx);
        // The restoring task holds the only connection until it is done.
        assert_eq!(level(&store).await, 2, "FULL again after a drop");
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'scratch'")
                .fetch_one(&store.pool)
                .await
                .expect("count");
        assert_eq!(left, 0, "rolled back");
    }
}

//! The conformance suite against SQLite, one fresh database file per case,
//! plus checks that only a file-backed store can fail: durability across a
//! reopen and the journal mode.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::store::{Store, UserStore};
use chat_core::testkit::{TestStore, fixtures};
use chat_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A store on a file in its own temporary directory.
struct SqliteTestStore {
    store: Arc<SqliteStore>,
    /// Deleted when the case passes; kept (and its path printed) when it
    /// fails, so the database can be inspected.
    dir: Option<TempDir>,
}

impl SqliteTestStore {
    async fn new() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let store = SqliteStore::connect(&url(&dir.path().join("chat.db")))
            .await
            .expect("open SQLite store");
        Self {
            store: Arc::new(store),
            dir: Some(dir),
        }
    }
}

impl Drop for SqliteTestStore {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "keeping the failed case's database in {}",
                dir.keep().display()
            );
        }
    }
}

#[async_trait]
impl TestStore for SqliteTestStore {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn teardown(&self) {
        self.store.pool().close().await;
    }
}

fn url(file: &std::path::Path) -> String {
    format!("sqlite://{}", file.display())
}

chat_core::store_conformance_tests!(async { Some(SqliteTestStore::new().await) });

/// The same suite on `sqlite::memory:`, which runs on a single connection.
mod in_memory {
    use std::sync::Arc;

    use chat_core::testkit::Plain;
    use chat_store_sqlite::SqliteStore;

    chat_core::store_conformance_tests!(async {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("open in-memory store");
        Some(Plain(Arc::new(store)))
    });
}

#[tokio::test]
async fn committed_data_survives_closing_and_reopening_the_file() {
    let dir = TempDir::new().expect("temp dir");
    let file = dir.path().join("chat.db");
    let store = SqliteStore::connect(&url(&file)).await.expect("open");
    let user = fixtures::create_user(&store, "alice").await;
    store.pool().close().await;

    let reopened = SqliteStore::connect(&url(&file)).await.expect("reopen");
    let found = reopened.user_by_id(user.id).await.expect("read");
    assert_eq!(found, Some(user));
    reopened.pool().close().await;
}

#[tokio::test]
async fn the_journal_is_write_ahead_and_commits_are_fully_synced() {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::connect(&url(&dir.path().join("chat.db")))
        .await
        .expect("open");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    // 2 is FULL.
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(store.pool())
        .await
        .expect("synchronous");
    assert_eq!(synchronous, 2);
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .expect("foreign_keys");
    assert_eq!(foreign_keys, 1);
    store.pool().close().await;
}

#[tokio::test]
async fn missing_directories_are_created() {
    let dir = TempDir::new().expect("temp dir");
    let file: PathBuf = dir.path().join("nested/deeper/chat.db");
    let store = SqliteStore::connect(&url(&file)).await.expect("open");
    assert!(file.exists());
    store.pool().close().await;
}

#[tokio::test]
async fn an_in_memory_store_keeps_its_data_between_calls() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    let user = fixtures::create_user(&store, "bob").await;
    assert_eq!(store.user_by_id(user.id).await.expect("read"), Some(user));
}

//! Setup shared by this crate's test files: databases as an older build
//! left them, for the tests that upgrade one.

use std::path::Path;

use chat_core::UserId;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tempfile::TempDir;

/// A database file migrated up to an older version, with a pool open on
/// it to fill it as that build would have.
pub(crate) struct OldDatabase {
    /// The pool on the file; close it before opening the file as a
    /// [`SqliteStore`](chat_store_sqlite::SqliteStore), which upgrades it.
    pub(crate) pool: SqlitePool,
    /// The file's `sqlite://` URL.
    pub(crate) url: String,
    /// Holds the file; deleted when the database is dropped.
    _dir: TempDir,
}

/// The `sqlite://` URL of a database file.
pub(crate) fn url(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

/// A fresh database with this crate's migrations up to and including
/// number `last` (`0003_message_log.sql` is number 3) applied, and none
/// after: what a build of that time made.
///
/// The migrations are copied to a directory of their own, because sqlx
/// applies every migration of a directory.
pub(crate) async fn database_at_migration(last: u32) -> OldDatabase {
    let dir = TempDir::new().expect("temp dir");
    let old_migrations = dir.path().join("migrations");
    std::fs::create_dir(&old_migrations).expect("migrations dir");
    let all_migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut copied = 0;
    for entry in std::fs::read_dir(&all_migrations).expect("read migrations") {
        let name = entry.expect("migration entry").file_name();
        let name = name.to_str().expect("UTF-8 migration name");
        let number: u32 = name
            .split_once('_')
            .and_then(|(number, _)| number.parse().ok())
            .expect("migration names start with their number");
        if number <= last {
            std::fs::copy(all_migrations.join(name), old_migrations.join(name))
                .expect("copy migration");
            copied += 1;
        }
    }
    assert_eq!(copied, last, "migrations 1 to {last} exist, once each");
    let file = dir.path().join("chat.db");
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .expect("open");
    Migrator::new(old_migrations.as_path())
        .await
        .expect("old migrations")
        .run(&pool)
        .await
        .expect("migrate the old database");
    OldDatabase {
        pool,
        url: url(&file),
        _dir: dir,
    }
}

/// Inserts an active user named `name` (email `{name}@example.com`) with
/// the columns every migration so far has.
pub(crate) async fn insert_user(pool: &SqlitePool, user: UserId, name: &str) {
    sqlx::query(
        "INSERT INTO users (user_id, username, username_key, email, email_key, \
             password_hash, created_at) VALUES (?1, ?2, ?2, ?3, ?3, 'x', 0)",
    )
    .bind(user.as_uuid())
    .bind(name)
    .bind(format!("{name}@example.com"))
    .execute(pool)
    .await
    .expect("user");
}

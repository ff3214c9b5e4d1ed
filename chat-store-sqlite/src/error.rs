//! Start-up errors, and the mapping of query errors to [`ChatError`].

use std::path::PathBuf;

use chat_core::ChatError;
use sqlx::migrate::MigrateError;

/// Why a [`SqliteStore`](crate::SqliteStore) could not be opened.
///
/// Query failures after start-up are reported as [`ChatError`] instead
/// (see [`to_chat_error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteStoreError {
    /// `SQLITE_INVALID_URL`: the URL is not a valid `sqlite:` URL.
    #[error("invalid SQLite URL")]
    InvalidUrl(#[source] sqlx::Error),
    /// `SQLITE_CREATE_DIR`: the database file's directory could not be created.
    #[error("cannot create the database directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// `SQLITE_CONNECT`: the database could not be opened.
    #[error("cannot open the SQLite database")]
    Connect(#[source] sqlx::Error),
    /// `SQLITE_MIGRATE`: applying the schema migrations failed.
    #[error("cannot migrate the SQLite database")]
    Migrate(#[source] MigrateError),
}

impl SqliteStoreError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "SQLITE_INVALID_URL",
            Self::CreateDir { .. } => "SQLITE_CREATE_DIR",
            Self::Connect(_) => "SQLITE_CONNECT",
            Self::Migrate(_) => "SQLITE_MIGRATE",
        }
    }
}

/// Primary result codes (the low byte of an extended code) meaning the
/// database is momentarily or operationally out of reach, not that the
/// query is wrong: BUSY, LOCKED, IOERR, CANTOPEN.
const UNAVAILABLE_CODES: [i32; 4] = [5, 6, 10, 14];

/// Maps a query error to [`ChatError`].
///
/// Pool timeouts, a closed pool, I/O failures, a crashed connection worker
/// and SQLite's busy, locked, I/O and cannot-open results become
/// [`ChatError::StoreUnavailable`] (retrying may work); everything else is
/// [`ChatError::Internal`]. The cause is kept as the source, for the log.
pub fn to_chat_error(e: sqlx::Error) -> ChatError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&(code & 0xff))),
        _ => false,
    };
    if unavailable {
        ChatError::StoreUnavailable(Box::new(e))
    } else {
        ChatError::Internal(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_failures_mean_the_store_is_unavailable() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::other("disk gone")),
        ] {
            assert_eq!(to_chat_error(e).code(), "STORE_UNAVAILABLE");
        }
    }

    #[test]
    fn other_failures_are_internal() {
        assert_eq!(to_chat_error(sqlx::Error::RowNotFound).code(), "INTERNAL");
    }
}

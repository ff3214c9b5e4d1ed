//! Start-up errors, and the mapping of query errors to [`ChatError`].

use chat_core::ChatError;
use sqlx::migrate::MigrateError;

/// Why a [`PgStore`](crate::PgStore) could not be started.
///
/// Query failures after start-up are reported as [`ChatError`] instead
/// (see [`to_chat_error`]). Messages never contain the URL, which may hold
/// a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgStoreError {
    /// `PG_INVALID_URL`: the URL is not a valid `postgres:` URL.
    #[error("invalid PostgreSQL URL")]
    InvalidUrl(#[source] sqlx::Error),
    /// `PG_INVALID_CONFIG`: the pool settings are unusable.
    #[error("invalid PostgreSQL pool configuration: {0}")]
    InvalidConfig(String),
    /// `PG_CREATE_DATABASE`: the database did not exist and could not be
    /// created. Another instance creating it at the same moment is not
    /// this error: the database then exists, as wanted.
    #[error("cannot create the PostgreSQL database")]
    CreateDatabase(#[source] sqlx::Error),
    /// `PG_CONNECT`: the server could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL")]
    Connect(#[source] sqlx::Error),
    /// `PG_MIGRATE`: applying the schema migrations failed.
    #[error("cannot migrate the PostgreSQL database")]
    Migrate(#[source] MigrateError),
}

impl PgStoreError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "PG_INVALID_URL",
            Self::InvalidConfig(_) => "PG_INVALID_CONFIG",
            Self::CreateDatabase(_) => "PG_CREATE_DATABASE",
            Self::Connect(_) => "PG_CONNECT",
            Self::Migrate(_) => "PG_MIGRATE",
        }
    }
}

/// True for SQLSTATEs saying the server, not the query, is the problem:
/// class 08 (connection exception), 53300 (too many connections) and
/// 57P01-57P03 (shutting down, crashed, starting up).
fn is_unavailable_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

/// True when `CREATE DATABASE` failed because the database exists, which
/// for a start-up that wanted it to exist is success. Instances starting
/// together on a missing database all see it missing, and all but one lose
/// the race to create it, in one of two ways: 42P04 (duplicate_database)
/// when the winner had committed before their `CREATE DATABASE` began, or
/// 23505 (unique_violation) on `pg_database_datname_index` when it
/// committed while theirs was under way.
pub(crate) fn is_database_already_there(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    match db.code().as_deref() {
        Some("42P04") => true,
        Some("23505") => db.constraint() == Some("pg_database_datname_index"),
        _ => false,
    }
}

/// Maps a query error to [`ChatError`].
///
/// Pool timeouts, a closed pool, I/O failures and the SQLSTATEs of an
/// unreachable or restarting server become [`ChatError::StoreUnavailable`]
/// (retrying may work); everything else is [`ChatError::Internal`]. The
/// cause is kept as the source, for the log.
pub fn to_chat_error(e: sqlx::Error) -> ChatError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_state(&code)),
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
            sqlx::Error::Io(std::io::Error::other("connection reset")),
        ] {
            assert_eq!(to_chat_error(e).code(), "STORE_UNAVAILABLE");
        }
    }

    #[test]
    fn other_failures_are_internal() {
        assert_eq!(to_chat_error(sqlx::Error::RowNotFound).code(), "INTERNAL");
    }

    #[test]
    fn only_database_errors_can_mean_the_database_is_there() {
        assert!(!is_database_already_there(&sqlx::Error::RowNotFound));
        assert!(!is_database_already_there(&sqlx::Error::PoolTimedOut));
    }

    #[test]
    fn server_side_outages_are_recognised_by_sqlstate() {
        assert!(is_unavailable_state("08006"));
        assert!(is_unavailable_state("57P01"));
        assert!(!is_unavailable_state("23505"));
    }
}

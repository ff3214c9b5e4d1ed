-- Accounts: users, login sessions, refresh tokens and password reset tokens.
--
-- Conventions every SQLite migration of this crate follows:
-- * Ids are UUIDs stored as 16-byte BLOBs, the encoding sqlx uses for
--   `uuid::Uuid`. Byte order is UUID order, so UUIDv7 ids sort by creation
--   time exactly as they do in Rust and in PostgreSQL.
-- * Times are INTEGER Unix milliseconds. chat-core's `Timestamp` has
--   millisecond precision, so values round-trip exactly and compare as
--   plain integers.
-- * Booleans are INTEGER 0/1, checked.
-- * Tables are STRICT: SQLite would otherwise store a value of the wrong
--   type (a text id, a float time) without complaint.

CREATE TABLE users (
    user_id          BLOB    NOT NULL PRIMARY KEY,
    username         TEXT    NOT NULL,
    -- The `*_key` columns hold the lowercase forms computed in chat-core
    -- (`Username::key`, `Email::key`, `DisplayName::key`), so uniqueness and
    -- search are case-insensitive in exactly the same way on every backend,
    -- whatever the database's own case rules are. Unique-violation messages
    -- name these columns (`users.username_key`), which is how the store
    -- tells USERNAME_TAKEN from EMAIL_TAKEN.
    username_key     TEXT    NOT NULL UNIQUE,
    email            TEXT    NOT NULL,
    email_key        TEXT    NOT NULL UNIQUE,
    display_name     TEXT,
    display_name_key TEXT,
    -- PHC-format argon2 hash.
    password_hash    TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    last_seen        INTEGER,
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    CHECK ((display_name IS NULL) = (display_name_key IS NULL))
) STRICT;

-- User search is a prefix LIKE on the keys. SQLite's LIKE folds ASCII case,
-- so it can only use an index whose collation folds case too (NOCASE).
-- The keys are lowercase already, so NOCASE changes no result; these
-- indexes only spare prefix search a full table scan.
CREATE INDEX users_username_key_search ON users (username_key COLLATE NOCASE);
CREATE INDEX users_display_name_key_search ON users (display_name_key COLLATE NOCASE);

-- A session lives from login to logout and spans every refresh-token
-- rotation in between; access tokens carry its id. Revocation is recorded
-- here, once, rather than on each refresh token (seed 002 kept a `revoked`
-- flag per token), so revoking a session is one row update.
CREATE TABLE sessions (
    session_id  BLOB    NOT NULL PRIMARY KEY,
    user_id     BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    -- Client description (User-Agent), truncated by the service.
    device_info TEXT
) STRICT;

-- Revoking all of a user's sessions, and cascading deletes of users.
CREATE INDEX sessions_user_id ON sessions (user_id);
-- `sessions_revoked_since` at start-up; live sessions (the vast majority)
-- are left out of the index.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Seed 002's refresh_tokens, with `revoked` moved to the session. Only the
-- SHA-256 of a token is stored, so a database leak yields no usable token.
CREATE TABLE refresh_tokens (
    token_id   BLOB    NOT NULL PRIMARY KEY,
    session_id BLOB    NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    user_id    BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- Set when the token was exchanged for a successor; presenting it again
    -- is reuse.
    rotated_at INTEGER
) STRICT;

-- SQLite does not index foreign keys by itself; without these, deleting a
-- session or a user would scan every refresh token.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);

-- Password reset tokens, hashed like refresh tokens. Using one spends all
-- of the user's outstanding tokens (by user_id, hence the index).
CREATE TABLE password_reset_tokens (
    token_id   BLOB    NOT NULL PRIMARY KEY,
    user_id    BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1))
) STRICT;

CREATE INDEX password_reset_tokens_user_id ON password_reset_tokens (user_id);

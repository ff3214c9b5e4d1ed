-- Accounts: users, login sessions, refresh tokens and password reset tokens.
--
-- Conventions every PostgreSQL migration of this crate follows:
-- * Ids are UUID (UUIDv7, chosen by the application), so they sort by
--   creation time and B-tree inserts stay local.
-- * Times are TIMESTAMPTZ. chat-core's `Timestamp` has millisecond precision
--   and timestamptz keeps microseconds, so values round-trip exactly.
-- * Constraints are named, because the store maps unique violations to
--   USERNAME_TAKEN / EMAIL_TAKEN by constraint name.

CREATE TABLE users (
    user_id          UUID        PRIMARY KEY,
    username         TEXT        NOT NULL,
    -- The `*_key` columns hold the lowercase forms computed in chat-core
    -- (`Username::key`, `Email::key`, `DisplayName::key`), so uniqueness and
    -- search are case-insensitive in exactly the same way on every backend,
    -- whatever the database's collation or `lower()` would do.
    username_key     TEXT        NOT NULL CONSTRAINT users_username_key_unique UNIQUE,
    email            TEXT        NOT NULL,
    email_key        TEXT        NOT NULL CONSTRAINT users_email_key_unique UNIQUE,
    display_name     TEXT,
    display_name_key TEXT,
    -- PHC-format argon2 hash.
    password_hash    TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ,
    is_active        BOOLEAN     NOT NULL DEFAULT TRUE,
    CONSTRAINT users_display_name_key_matches
        CHECK ((display_name IS NULL) = (display_name_key IS NULL))
);

-- User search is a prefix LIKE on both keys. Under a non-C collation a plain
-- B-tree index cannot serve LIKE 'abc%'; text_pattern_ops compares
-- byte-wise and can, whatever the database's collation.
CREATE INDEX users_username_key_prefix ON users (username_key text_pattern_ops);
CREATE INDEX users_display_name_key_prefix ON users (display_name_key text_pattern_ops);

-- A session lives from login to logout and spans every refresh-token
-- rotation in between; access tokens carry its id. Revocation is recorded
-- here, once, rather than on each refresh token (seed 002 kept a `revoked`
-- flag per token), so revoking a session is one row update.
CREATE TABLE sessions (
    session_id  UUID        PRIMARY KEY,
    user_id     UUID        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ,
    -- Client description (User-Agent), truncated by the service.
    device_info TEXT
);

-- Revoking all of a user's sessions, and cascading deletes of users.
CREATE INDEX sessions_user_id ON sessions (user_id);
-- `sessions_revoked_since` at start-up; live sessions (the vast majority)
-- are left out of the index.
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Seed 002's refresh_tokens, with `revoked` moved to the session. Only the
-- SHA-256 of a token is stored, so a database leak yields no usable token.
CREATE TABLE refresh_tokens (
    token_id   UUID        PRIMARY KEY,
    session_id UUID        NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    user_id    UUID        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL CONSTRAINT refresh_tokens_token_hash_unique UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    -- Set when the token was exchanged for a successor; presenting it again
    -- is reuse.
    rotated_at TIMESTAMPTZ
);

-- PostgreSQL does not index foreign keys by itself; without these, deleting
-- a session or a user would scan every refresh token.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);

-- Password reset tokens, hashed like refresh tokens. Using one spends all
-- of the user's outstanding tokens (by user_id, hence the index).
CREATE TABLE password_reset_tokens (
    token_id   UUID        PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL CONSTRAINT password_reset_tokens_token_hash_unique UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used       BOOLEAN     NOT NULL DEFAULT FALSE
);

CREATE INDEX password_reset_tokens_user_id ON password_reset_tokens (user_id);

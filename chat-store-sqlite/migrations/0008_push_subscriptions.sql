-- Web Push subscriptions: one row per device (push endpoint). Conventions
-- as in 0001 and 0002.
CREATE TABLE push_subscriptions (
    subscription_id BLOB    NOT NULL PRIMARY KEY,
    -- Whose device it is; the subscription goes with the account.
    user_id         BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    -- The push service's URL for this device: one subscription per
    -- endpoint (a device that signs in as someone else moves it).
    endpoint        TEXT    NOT NULL UNIQUE,
    -- The device's P-256 public key and authentication secret
    -- (base64url), which encrypt each payload (RFC 8291).
    p256dh          TEXT    NOT NULL,
    auth            TEXT    NOT NULL,
    level           TEXT    NOT NULL CHECK (level IN ('all', 'mentions')),
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX push_subscriptions_by_user ON push_subscriptions (user_id, created_at);

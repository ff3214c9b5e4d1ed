-- Outgoing webhooks. Conventions as in 0001 and 0002.
CREATE TABLE webhooks (
    webhook_id      BLOB    NOT NULL PRIMARY KEY,
    url             TEXT    NOT NULL,
    -- The events it wants: their names (`message.created`, ...),
    -- comma-separated, each once.
    events          TEXT    NOT NULL,
    -- Only this conversation's events; NULL for all. A deleted
    -- conversation takes its webhooks with it.
    conversation_id BLOB    REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    -- The HMAC key of its signatures: kept as is, since every delivery
    -- is signed with it.
    secret          TEXT    NOT NULL,
    created_by      BLOB    REFERENCES users (user_id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL
) STRICT;

-- How far each webhook was told of each conversation's log.
CREATE TABLE webhook_cursors (
    webhook_id      BLOB    NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    conversation_id BLOB    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (webhook_id, conversation_id)
) STRICT, WITHOUT ROWID;

-- Deliveries that failed for good, with the body as posted, to replay.
CREATE TABLE webhook_dead_letters (
    dead_letter_id  BLOB    NOT NULL PRIMARY KEY,
    webhook_id      BLOB    NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    conversation_id BLOB    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    body            TEXT    NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    last_error      TEXT    NOT NULL,
    failed_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_dead_letters_by_webhook
    ON webhook_dead_letters (webhook_id, failed_at);

-- Outgoing webhooks. Conventions as in 0001 and 0002. New tables only:
-- instances of the previous release keep running while this applies.
CREATE TABLE webhooks (
    webhook_id      UUID        NOT NULL PRIMARY KEY,
    url             TEXT        NOT NULL,
    -- The events it wants: their names (`message.created`, ...),
    -- comma-separated, each once.
    events          TEXT        NOT NULL,
    -- Only this conversation's events; NULL for all. A deleted
    -- conversation takes its webhooks with it.
    conversation_id UUID        REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    -- The HMAC key of its signatures: kept as is, since every delivery
    -- is signed with it.
    secret          TEXT        NOT NULL,
    created_by      UUID        REFERENCES users (user_id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL
);

-- How far each webhook was told of each conversation's log.
CREATE TABLE webhook_cursors (
    webhook_id      UUID   NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    conversation_id UUID   NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL CONSTRAINT webhook_cursors_seq CHECK (seq >= 0),
    PRIMARY KEY (webhook_id, conversation_id)
);

-- Deliveries that failed for good, with the body as posted, to replay.
CREATE TABLE webhook_dead_letters (
    dead_letter_id  UUID        NOT NULL PRIMARY KEY,
    webhook_id      UUID        NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    event           TEXT        NOT NULL,
    conversation_id UUID        NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             BIGINT      NOT NULL CONSTRAINT webhook_dead_letters_seq CHECK (seq >= 0),
    body            TEXT        NOT NULL,
    attempts        INTEGER     NOT NULL CONSTRAINT webhook_dead_letters_attempts CHECK (attempts >= 0),
    last_error      TEXT        NOT NULL,
    failed_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX webhook_dead_letters_by_webhook
    ON webhook_dead_letters (webhook_id, failed_at);

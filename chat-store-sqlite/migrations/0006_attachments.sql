-- Attachments: files uploaded to be sent in messages. Conventions as in
-- 0001 and 0002. The bytes are not here: they are in the blob store,
-- under `attachments/{attachment_id}` (and `.preview` for an image's
-- preview); a row is written once the bytes are stored.
CREATE TABLE attachments (
    attachment_id   BLOB    NOT NULL PRIMARY KEY,
    -- Who uploaded it: the only one who may send it. No cascade, as for
    -- `messages.sender_id` (users are never deleted today).
    uploader_id     BLOB    NOT NULL REFERENCES users (user_id),
    -- Validated in chat-types (`FileName`).
    filename        TEXT    NOT NULL,
    -- Sniffed from the bytes by the server.
    content_type    TEXT    NOT NULL,
    size            INTEGER NOT NULL CHECK (size >= 0),
    -- An image's size in pixels, and whether a preview was stored; all
    -- NULL (or 0) for other files.
    width           INTEGER CHECK (width > 0),
    height          INTEGER CHECK (height > 0),
    has_preview     INTEGER NOT NULL DEFAULT 0 CHECK (has_preview IN (0, 1)),
    created_at      INTEGER NOT NULL,
    -- Where it was sent: all three set together, in the transaction that
    -- stores the message, or none (not sent yet). A deleted conversation
    -- takes its attachments' rows with it (the sweep removes their bytes).
    conversation_id BLOB    REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    message_id      BLOB    REFERENCES messages (message_id) ON DELETE CASCADE,
    position        INTEGER CHECK (position >= 0),
    CHECK ((conversation_id IS NULL) = (message_id IS NULL)
           AND (message_id IS NULL) = (position IS NULL)),
    CHECK ((width IS NULL) = (height IS NULL))
) STRICT;

-- The sweep of uploads never sent reads them oldest first.
CREATE INDEX attachments_unsent ON attachments (created_at, attachment_id)
    WHERE message_id IS NULL;

-- A message's attachments, in order (and the cascade from `messages`).
CREATE UNIQUE INDEX attachments_of_message ON attachments (message_id, position)
    WHERE message_id IS NOT NULL;

-- The cascade from `conversations`, and the foreign-key check of
-- `uploader_id` when users are deleted some day.
CREATE INDEX attachments_conversation ON attachments (conversation_id)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX attachments_uploader ON attachments (uploader_id);

-- Conversations (direct and group), their members with read and delivery
-- cursors, and messages. Conventions as in 0001; in addition, seqs and
-- counters are INTEGER (SQLite's 64-bit signed integer), never negative.

-- One table for both kinds, so a message, a member and a cursor work the
-- same way in either; the columns only one kind uses are NULL for the other,
-- as the CHECK at the end spells out.
CREATE TABLE conversations (
    conversation_id  BLOB    NOT NULL PRIMARY KEY,
    kind             TEXT    NOT NULL CHECK (kind IN ('direct', 'group')),
    -- The group's name; NULL for direct conversations.
    name             TEXT,
    -- Who created the group. NULL for direct conversations, and once the
    -- creator's account is deleted: the group outlives its creator.
    creator_id       BLOB    REFERENCES users (user_id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    -- The seq of the newest message (0 before the first). Sending a message
    -- increments it inside the sending transaction, so seqs run 1, 2, 3 ...
    -- without gaps, and unread counts are cursor arithmetic rather than
    -- scans of history.
    last_seq         INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- Time of the newest message, or creation time; conversation lists sort
    -- by it.
    last_activity_at INTEGER NOT NULL,
    -- The two members of a direct conversation, smaller id first, so the
    -- unique index below can refuse a second conversation for the same
    -- pair whichever of the two starts it. NULL for groups. Not foreign
    -- keys: the member rows already reference the users.
    direct_user_low  BLOB,
    direct_user_high BLOB,
    CHECK (CASE kind
        WHEN 'direct' THEN name IS NULL AND creator_id IS NULL
            AND direct_user_low IS NOT NULL AND direct_user_high IS NOT NULL
            AND direct_user_low < direct_user_high
        ELSE name IS NOT NULL AND direct_user_low IS NULL AND direct_user_high IS NULL
    END)
) STRICT;

-- At most one direct conversation per pair, enforced by the database so
-- that concurrent "get or create" calls cannot make two: creation is
-- `INSERT ... ON CONFLICT DO NOTHING` on this index. It also serves the
-- pair lookup.
CREATE UNIQUE INDEX conversations_direct_pair
    ON conversations (direct_user_low, direct_user_high) WHERE kind = 'direct';

-- Deleting a user sets `creator_id` to NULL; without this index that would
-- scan every conversation. Direct conversations (no creator) are left out.
CREATE INDEX conversations_creator_id ON conversations (creator_id) WHERE creator_id IS NOT NULL;

-- A user's membership, role and cursors. The cursors are seqs: everything
-- up to `read_seq` is read, up to `delivered_seq` delivered to at least one
-- device. Keeping a cursor per member (rather than a row per message and
-- reader) makes marking a whole conversation read one row update.
CREATE TABLE conversation_members (
    conversation_id BLOB    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    user_id         BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       INTEGER NOT NULL,
    -- `last_seq` when the user joined: earlier messages are not unread for
    -- them.
    joined_seq      INTEGER NOT NULL CHECK (joined_seq >= 0),
    read_seq        INTEGER NOT NULL CHECK (read_seq >= joined_seq),
    -- When the cursor last moved because the member read or received
    -- something; NULL until then (sending does not set them).
    read_at         INTEGER,
    delivered_seq   INTEGER NOT NULL CHECK (delivered_seq >= read_seq),
    delivered_at    INTEGER,
    -- How many of the member's own messages lie after `read_seq`, so the
    -- unread count (`last_seq - read_seq - own_unread`) needs no scan of
    -- history.
    own_unread      INTEGER NOT NULL DEFAULT 0 CHECK (own_unread >= 0),
    PRIMARY KEY (conversation_id, user_id)
) STRICT;

-- A user's conversation list (the primary key serves a conversation's
-- member list), and cascading deletes of users.
CREATE INDEX conversation_members_user_id ON conversation_members (user_id);

CREATE TABLE messages (
    message_id      BLOB    NOT NULL PRIMARY KEY,
    conversation_id BLOB    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    -- No cascade: what happens to a deleted user's messages is decided
    -- where deleting users is (until then, such a delete is refused).
    sender_id       BLOB    NOT NULL REFERENCES users (user_id),
    -- Verbatim as sent; validated (length, control characters) in chat-core.
    content         TEXT    NOT NULL,
    message_type    TEXT    NOT NULL,
    -- The sender's idempotency key, if one was given.
    client_msg_id   TEXT,
    created_at      INTEGER NOT NULL,
    -- History pages, the last message of a conversation list entry and
    -- unread messages all read by (conversation, seq); being unique, it
    -- also makes a duplicated seq impossible.
    UNIQUE (conversation_id, seq)
) STRICT;

-- Counting a member's own messages in a seq range when their read cursor
-- moves, and the sender foreign key.
CREATE INDEX messages_sender ON messages (sender_id, conversation_id, seq);

-- Idempotent sends: a client retrying with the same key gets the original
-- message back instead of a duplicate. Messages without a key (most) are
-- left out of the index.
CREATE UNIQUE INDEX messages_client_msg_id
    ON messages (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

-- Conversations (direct and group), their members with read and delivery
-- cursors, and messages. Conventions as in 0001; in addition, seqs and
-- counters are BIGINT (u64 in chat-core), never negative.

-- One table for both kinds, so a message, a member and a cursor work the
-- same way in either; the columns only one kind uses are NULL for the other,
-- as `conversations_kind_columns` spells out.
CREATE TABLE conversations (
    conversation_id  UUID        PRIMARY KEY,
    kind             TEXT        NOT NULL
        CONSTRAINT conversations_kind_known CHECK (kind IN ('direct', 'group')),
    -- The group's name; NULL for direct conversations.
    name             TEXT,
    -- Who created the group. NULL for direct conversations, and once the
    -- creator's account is deleted: the group outlives its creator.
    creator_id       UUID        REFERENCES users (user_id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    -- The seq of the newest message (0 before the first). Sending a message
    -- increments it inside the sending transaction, under this row's lock,
    -- so seqs run 1, 2, 3 ... without gaps in commit order, whichever
    -- instance sends, and unread counts are cursor arithmetic rather than
    -- scans of history.
    last_seq         BIGINT      NOT NULL DEFAULT 0
        CONSTRAINT conversations_last_seq_not_negative CHECK (last_seq >= 0),
    -- Time of the newest message, or creation time; conversation lists sort
    -- by it.
    last_activity_at TIMESTAMPTZ NOT NULL,
    -- The two members of a direct conversation, smaller id first, so the
    -- unique index below can refuse a second conversation for the same
    -- pair whichever of the two starts it. NULL for groups. Not foreign
    -- keys: the member rows already reference the users.
    direct_user_low  UUID,
    direct_user_high UUID,
    CONSTRAINT conversations_kind_columns CHECK (CASE kind
        WHEN 'direct' THEN name IS NULL AND creator_id IS NULL
            AND direct_user_low IS NOT NULL AND direct_user_high IS NOT NULL
            AND direct_user_low < direct_user_high
        ELSE name IS NOT NULL AND direct_user_low IS NULL AND direct_user_high IS NULL
    END)
);

-- At most one direct conversation per pair, enforced by the database so
-- that concurrent "get or create" calls, from any number of instances,
-- cannot make two: creation is `INSERT ... ON CONFLICT DO NOTHING` on this
-- index. It also serves the pair lookup.
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
    conversation_id UUID        NOT NULL
        REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    user_id         UUID        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role            TEXT        NOT NULL
        CONSTRAINT conversation_members_role_known CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       TIMESTAMPTZ NOT NULL,
    -- `last_seq` when the user joined: earlier messages are not unread for
    -- them.
    joined_seq      BIGINT      NOT NULL,
    read_seq        BIGINT      NOT NULL,
    -- When the cursor last moved because the member read or received
    -- something; NULL until then (sending does not set them).
    read_at         TIMESTAMPTZ,
    delivered_seq   BIGINT      NOT NULL,
    delivered_at    TIMESTAMPTZ,
    -- How many of the member's own messages lie after `read_seq`, so the
    -- unread count (`last_seq - read_seq - own_unread`) needs no scan of
    -- history.
    own_unread      BIGINT      NOT NULL DEFAULT 0,
    CONSTRAINT conversation_members_pkey PRIMARY KEY (conversation_id, user_id),
    -- Cursors never move backwards from where the member joined, and
    -- reading implies delivery.
    CONSTRAINT conversation_members_cursors_ordered
        CHECK (joined_seq >= 0 AND read_seq >= joined_seq AND delivered_seq >= read_seq),
    CONSTRAINT conversation_members_own_unread_not_negative CHECK (own_unread >= 0)
);

-- A user's conversation list (the primary key serves a conversation's
-- member list), and cascading deletes of users.
CREATE INDEX conversation_members_user_id ON conversation_members (user_id);

CREATE TABLE messages (
    message_id      UUID        PRIMARY KEY,
    conversation_id UUID        NOT NULL
        REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             BIGINT      NOT NULL CONSTRAINT messages_seq_positive CHECK (seq >= 1),
    -- No cascade: what happens to a deleted user's messages is decided
    -- where deleting users is (until then, such a delete is refused).
    sender_id       UUID        NOT NULL REFERENCES users (user_id),
    -- Verbatim as sent; validated (length, control characters) in chat-core.
    content         TEXT        NOT NULL,
    message_type    TEXT        NOT NULL,
    -- The sender's idempotency key, if one was given.
    client_msg_id   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    -- History pages, the last message of a conversation list entry and
    -- unread messages all read by (conversation, seq); being unique, it
    -- also makes a duplicated seq impossible.
    CONSTRAINT messages_conversation_seq_unique UNIQUE (conversation_id, seq)
);

-- Counting a member's own messages in a seq range when their read cursor
-- moves, and the sender foreign key.
CREATE INDEX messages_sender ON messages (sender_id, conversation_id, seq);

-- Idempotent sends: a client retrying with the same key gets the original
-- message back instead of a duplicate, even when the retry reaches another
-- instance. Messages without a key (most) are left out of the index. The
-- store recognises a violation by this name.
CREATE UNIQUE INDEX messages_client_msg_id_unique
    ON messages (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;

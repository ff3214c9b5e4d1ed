-- The conversation log: changes to messages (edits, deletions, reactions)
-- take seqs in the same gap-free sequence as messages, so a conversation's
-- seq numbers its log, not only its messages (docs/design/message-log.md).
-- Messages gain replies and mentions. Conventions as in 0001 and 0002.

-- Unread counts become message arithmetic, since changes are never unread:
-- `message_count - read_message_count - own_unread`. Every entry before
-- this migration is a message, hence the starting values.
ALTER TABLE conversations
    -- Messages in the log (tombstones of deleted ones included); sending
    -- increments it with `last_seq`, a change moves `last_seq` only.
    ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
UPDATE conversations SET message_count = last_seq;
ALTER TABLE conversations
    ADD CONSTRAINT conversations_message_count_in_log
        CHECK (message_count >= 0 AND message_count <= last_seq);

ALTER TABLE conversation_members
    -- Messages with seqs up to `read_seq`: when the read cursor moves, the
    -- messages in the range read are added.
    ADD COLUMN read_message_count BIGINT NOT NULL DEFAULT 0;
UPDATE conversation_members SET read_message_count = read_seq;
ALTER TABLE conversation_members
    ADD CONSTRAINT conversation_members_read_message_count_in_range
        CHECK (read_message_count >= 0 AND read_message_count <= read_seq);

ALTER TABLE messages
    -- The message of the same conversation this one answers (checked by
    -- chat-core). Messages are never deleted one by one (a deletion leaves a
    -- tombstone), only with their conversation, replies included.
    ADD COLUMN reply_to   UUID REFERENCES messages (message_id),
    -- The mentioned members, as sent or last edited, in order; empty once
    -- deleted. Denormalized for reads: `message_mentions` holds the same
    -- pairs for the mention count.
    ADD COLUMN mentions   UUID[] NOT NULL DEFAULT '{}',
    ADD COLUMN edited_at  TIMESTAMPTZ,
    -- Set by a deletion, which empties the content and the mentions and
    -- keeps the row so history keeps its place.
    ADD COLUMN deleted_at TIMESTAMPTZ,
    -- Every row before this migration satisfies it (none is deleted), so it
    -- is not checked against them: that would read the whole table while
    -- holding its lock.
    ADD CONSTRAINT messages_deleted_are_empty
        CHECK (deleted_at IS NULL OR (content = '' AND mentions = '{}')) NOT VALID;

-- The foreign key's check when messages are deleted (with their
-- conversation) looks replies up here. Few messages are replies.
CREATE INDEX messages_reply_to ON messages (reply_to) WHERE reply_to IS NOT NULL;

-- Who each message mentions now (the `mentions` column, one row per
-- member): an edit replaces the rows, a deletion drops them. `seq` is the
-- message's, so a member's mention count is a range of the index below:
-- their rows after their read cursor.
CREATE TABLE message_mentions (
    message_id      UUID   NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    -- No cascade, as for `messages.sender_id`.
    user_id         UUID   NOT NULL REFERENCES users (user_id),
    conversation_id UUID   NOT NULL,
    seq             BIGINT NOT NULL,
    CONSTRAINT message_mentions_pkey PRIMARY KEY (message_id, user_id)
);

CREATE INDEX message_mentions_user ON message_mentions (user_id, conversation_id, seq);

-- The changes of the log, one per seq not taken by a message. An entry
-- copies no content: it is rendered with its message's state when read,
-- so a deleted message's text cannot come back through an earlier edit.
CREATE TABLE message_changes (
    conversation_id UUID        NOT NULL
        REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             BIGINT      NOT NULL CONSTRAINT message_changes_seq_positive CHECK (seq >= 1),
    message_id      UUID        NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    kind            TEXT        NOT NULL
        CONSTRAINT message_changes_kind_known
        CHECK (kind IN ('edited', 'deleted', 'reaction_added', 'reaction_removed')),
    -- No cascade, as for `messages.sender_id`.
    actor_id        UUID        NOT NULL REFERENCES users (user_id),
    -- The emoji of a reaction change; NULL for the others.
    emoji           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    -- Catch-up reads the log by (conversation, seq); being unique, it also
    -- makes a duplicated seq among changes impossible.
    CONSTRAINT message_changes_conversation_seq_unique UNIQUE (conversation_id, seq),
    CONSTRAINT message_changes_emoji_for_reactions
        CHECK ((emoji IS NOT NULL) = (kind IN ('reaction_added', 'reaction_removed')))
);

-- The foreign key's cascade from messages.
CREATE INDEX message_changes_message_id ON message_changes (message_id);

-- One reaction per member, emoji and message: adding it again or removing
-- one that is not there changes nothing and takes no seq. A deletion drops
-- the message's rows.
CREATE TABLE message_reactions (
    message_id      UUID        NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    -- No cascade, as for `messages.sender_id`.
    user_id         UUID        NOT NULL REFERENCES users (user_id),
    emoji           TEXT        NOT NULL,
    conversation_id UUID        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT message_reactions_pkey PRIMARY KEY (message_id, user_id, emoji)
);

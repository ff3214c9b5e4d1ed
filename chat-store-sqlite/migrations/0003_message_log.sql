-- The conversation log: changes to messages (edits, deletions, reactions)
-- take seqs in the same gap-free sequence as messages, so a conversation's
-- seq numbers its log, not only its messages (docs/design/message-log.md).
-- Messages gain replies and mentions. Conventions as in 0001 and 0002.
--
-- SQLite checks a CHECK constraint added by ALTER TABLE ... ADD COLUMN
-- against every existing row. That is cheap for conversations and members,
-- so their new columns are checked; `messages` may hold the whole history,
-- so its new columns are kept consistent by the store alone (a deletion
-- empties `content` and `mentions` in the statement that sets
-- `deleted_at`) rather than by a CHECK that would read every message here.

-- Unread counts become message arithmetic, since changes are never unread:
-- `message_count - read_message_count - own_unread`. Every entry before
-- this migration is a message, hence the starting values.
ALTER TABLE conversations
    -- Messages in the log (tombstones of deleted ones included); sending
    -- increments it with `last_seq`, a change moves `last_seq` only.
    ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0
        CHECK (message_count >= 0 AND message_count <= last_seq);
UPDATE conversations SET message_count = last_seq;

ALTER TABLE conversation_members
    -- Messages with seqs up to `read_seq`: when the read cursor moves, the
    -- messages in the range read are added; a member joins with the
    -- conversation's `message_count`.
    ADD COLUMN read_message_count INTEGER NOT NULL DEFAULT 0
        CHECK (read_message_count >= 0 AND read_message_count <= read_seq);
UPDATE conversation_members SET read_message_count = read_seq;

-- The message of the same conversation this one answers (checked by
-- chat-core). Messages are never deleted one by one (a deletion leaves a
-- tombstone), only with their conversation, replies included. SQLite only
-- lets ADD COLUMN add a foreign key whose default is NULL, as here.
ALTER TABLE messages ADD COLUMN reply_to BLOB REFERENCES messages (message_id);
-- The mentioned members, as sent or last edited, in order: their 16-byte
-- ids concatenated; NULL when there are none (most messages), and once the
-- message is deleted. Denormalized so that reading a message needs no
-- join; `message_mentions` holds the same pairs for the mention count.
ALTER TABLE messages ADD COLUMN mentions BLOB;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
-- Set by a deletion, which empties `content` and `mentions` and keeps the
-- row so history keeps its place.
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;

-- The foreign key's check when messages are deleted (with their
-- conversation) looks replies up here. Few messages are replies.
CREATE INDEX messages_reply_to ON messages (reply_to) WHERE reply_to IS NOT NULL;

-- Who each message mentions now (the `mentions` column, one row per
-- member): an edit replaces the rows, a deletion drops them. `seq` is the
-- message's, so a member's mention count is a range of the index below:
-- their rows after their read cursor.
CREATE TABLE message_mentions (
    message_id      BLOB    NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    -- No cascade, as for `messages.sender_id`. The index below also serves
    -- the foreign key.
    user_id         BLOB    NOT NULL REFERENCES users (user_id),
    conversation_id BLOB    NOT NULL,
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    PRIMARY KEY (message_id, user_id)
) STRICT;

CREATE INDEX message_mentions_user ON message_mentions (user_id, conversation_id, seq);

-- The changes of the log, one per seq not taken by a message. An entry
-- copies no content: it is rendered with its message's state when read,
-- so a deleted message's text cannot come back through an earlier edit.
--
-- `kind` ('edited', 'deleted', 'reaction_added', 'reaction_removed') is
-- not CHECKed: changing a CHECK in SQLite means rebuilding the table, and
-- a later kind should need no such rebuild. Readers parse it and treat a
-- kind they do not know as a corrupt row.
CREATE TABLE message_changes (
    conversation_id BLOB    NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL CHECK (seq >= 1),
    message_id      BLOB    NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    -- No cascade, as for `messages.sender_id`. Users are never deleted
    -- today; whoever adds that decides what becomes of their changes and
    -- reactions, and indexes `actor_id` and `message_reactions.user_id` so
    -- the foreign-key checks do not scan these tables.
    actor_id        BLOB    NOT NULL REFERENCES users (user_id),
    -- The emoji of a reaction change; NULL for the others.
    emoji           TEXT,
    created_at      INTEGER NOT NULL,
    -- Catch-up reads the log by (conversation, seq); being unique, it also
    -- makes a duplicated seq among changes impossible.
    UNIQUE (conversation_id, seq)
) STRICT;

-- The foreign key's cascade from messages.
CREATE INDEX message_changes_message_id ON message_changes (message_id);

-- One reaction per member, emoji and message: adding it again or removing
-- one that is not there changes nothing and takes no seq. A deletion drops
-- the message's rows. The primary key also serves a message's reactions
-- and the count of one emoji on it.
CREATE TABLE message_reactions (
    message_id      BLOB    NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
    -- No cascade, as for `messages.sender_id`.
    user_id         BLOB    NOT NULL REFERENCES users (user_id),
    emoji           TEXT    NOT NULL,
    conversation_id BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) STRICT;

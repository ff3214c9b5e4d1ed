-- Moderation: members mute conversations, groups restrict who posts, users
-- block one another, members report messages to the operators.
-- Conventions as in 0001 and 0002.

-- Every existing member starts unmuted and every existing conversation
-- lets everyone post. A column with a constant default is added without
-- rewriting or even reading the table (PostgreSQL 11+ keeps the default
-- in the catalogue for the rows already there), so these take a moment
-- whatever the size of the tables.
ALTER TABLE conversation_members
    -- The member muted the conversation: unread counts go on, but it
    -- notifies them of nothing.
    ADD COLUMN muted BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE conversations
    -- Who may post: 'everyone', or only the owner and admins ('admins', an
    -- announcement channel). Direct conversations always let everyone post.
    ADD COLUMN posting TEXT NOT NULL DEFAULT 'everyone',
    -- Every row before this migration satisfies it (they all hold the
    -- default), so it is not checked against them: a CHECK added with its
    -- column still reads the whole table while holding its lock (about
    -- 0.5 s for 3 million rows on a 2-core machine). New writes are
    -- checked all the same.
    ADD CONSTRAINT conversations_posting_known
        CHECK (posting IN ('everyone', 'admins') AND (posting = 'everyone' OR kind = 'group'))
        NOT VALID;

-- Who blocked whom, one row per pair and direction: a block is one-way.
-- What a block stops is decided in chat-core; the store keeps the rows.
-- A deleted account's blocks, placed or received, mean nothing any more,
-- hence the cascades.
CREATE TABLE user_blocks (
    blocker_id UUID        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    blocked_id UUID        NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    -- Blocking twice is `INSERT ... ON CONFLICT DO NOTHING` on this key,
    -- which keeps the first block's time. It also serves the blocker's
    -- list (a user blocks few others, so sorting them costs nothing).
    CONSTRAINT user_blocks_pkey PRIMARY KEY (blocker_id, blocked_id)
);

-- Who blocked a user (checked before a direct message reaches them), and
-- cascading deletes of the blocked user.
CREATE INDEX user_blocks_blocked_id ON user_blocks (blocked_id);

-- Reports of messages to the operators. A report copies the message's
-- sender and content when it is made, so editing or deleting the message
-- afterwards does not take the evidence away; for the same reason the
-- conversation and message ids are not foreign keys: the report outlives
-- the message, whatever happens to it.
CREATE TABLE message_reports (
    report_id       UUID        PRIMARY KEY,
    conversation_id UUID        NOT NULL,
    message_id      UUID        NOT NULL,
    -- No cascade, as for `messages.sender_id`: what happens to a deleted
    -- user's reports is decided where deleting users is.
    sender_id       UUID        NOT NULL REFERENCES users (user_id),
    -- The message's content when it was reported ('' for a tombstone).
    content         TEXT        NOT NULL,
    reporter_id     UUID        NOT NULL REFERENCES users (user_id),
    -- Validated (length, control characters) in chat-core; may be empty.
    reason          TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'open'
        CONSTRAINT message_reports_status_known CHECK (status IN ('open', 'resolved')),
    -- Set together, once, by the operator who resolves the report.
    resolved_at     TIMESTAMPTZ,
    resolved_by     UUID        REFERENCES users (user_id),
    -- One report per reporter and message: reporting again is `INSERT ...
    -- ON CONFLICT DO NOTHING` on this key, and finds the first report here.
    CONSTRAINT message_reports_one_per_reporter UNIQUE (message_id, reporter_id),
    CONSTRAINT message_reports_resolution CHECK (CASE status
        WHEN 'open' THEN resolved_at IS NULL AND resolved_by IS NULL
        ELSE resolved_at IS NOT NULL AND resolved_by IS NOT NULL
    END)
);

-- The operators' list, newest first, read in index order and paged. The
-- user foreign keys have no index: reports are few, and deleting a user
-- may as well scan them.
CREATE INDEX message_reports_newest ON message_reports (created_at DESC, report_id DESC);
-- The same list of one status (the open reports, mostly): a range of this
-- index, in the list's order.
CREATE INDEX message_reports_status_newest
    ON message_reports (status, created_at DESC, report_id DESC);

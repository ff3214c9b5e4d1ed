-- Moderation: members mute conversations, groups restrict who posts,
-- users block users, and members report messages to the operators.
-- Conventions as in 0001 and 0002.
--
-- The new columns of `conversation_members` and `conversations` are
-- CHECKed: SQLite checks a CHECK added by ALTER TABLE ... ADD COLUMN
-- against every existing row, which is cheap for these tables (0003 says
-- the same). Their defaults are what every existing row means: nobody
-- muted anything, and every group let everyone post.

-- The member muted the conversation: it still counts as unread, but
-- notifies them of nothing.
ALTER TABLE conversation_members
    ADD COLUMN muted INTEGER NOT NULL DEFAULT 0 CHECK (muted IN (0, 1));

-- Who may post: 'everyone', or only the owner and admins ('admins'). A
-- direct conversation is always 'everyone': the store only changes it
-- for groups. The CHECK lists the values chat-core's `PostingPolicy`
-- knows; a new one would mean rebuilding the table, which a policy,
-- unlike a change kind (see 0003), is rare enough to bear.
ALTER TABLE conversations
    ADD COLUMN posting TEXT NOT NULL DEFAULT 'everyone'
        CHECK (posting IN ('everyone', 'admins'));

-- `blocker_id` blocked `blocked_id` at `created_at`. One row per pair, in
-- one direction: blocking again keeps the first row (and its time). A
-- block means nothing once either account is gone, hence the cascades.
CREATE TABLE user_blocks (
    blocker_id BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    blocked_id BLOB    NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
) STRICT;

-- The users who blocked someone (the primary key serves the other
-- direction, a blocker's list), and the cascade from the blocked user.
CREATE INDEX user_blocks_blocked_id ON user_blocks (blocked_id);

-- Reports of messages to the operators. A report copies the message's
-- sender and content when it is made, so editing or deleting the message
-- afterwards does not take the evidence away. For the same reason
-- `conversation_id` and `message_id` are not foreign keys: a report
-- outlives its message, even its conversation (deleting one would
-- otherwise either be refused or take the reports with it).
CREATE TABLE message_reports (
    report_id       BLOB    NOT NULL PRIMARY KEY,
    conversation_id BLOB    NOT NULL,
    message_id      BLOB    NOT NULL,
    -- No cascade on the user references, as for `messages.sender_id`:
    -- users are never deleted today, and whoever adds that decides what
    -- becomes of the reports naming them (and indexes `reporter_id`,
    -- `sender_id` and `resolved_by`, so the foreign-key checks do not scan
    -- this table).
    sender_id       BLOB    NOT NULL REFERENCES users (user_id),
    -- The message's content when it was reported ('' for a deleted one).
    content         TEXT    NOT NULL,
    reporter_id     BLOB    NOT NULL REFERENCES users (user_id),
    -- Possibly empty; validated (length, control characters) in chat-core.
    reason          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    -- Set together, once, when an operator resolves the report.
    resolved_at     INTEGER,
    resolved_by     BLOB    REFERENCES users (user_id),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)
        AND (resolved_at IS NULL) = (resolved_by IS NULL)),
    -- One report per reporter and message: reporting again finds the
    -- first through this index (`INSERT ... ON CONFLICT DO NOTHING`).
    UNIQUE (message_id, reporter_id)
) STRICT;

-- The operators' list, newest first, walked in index order with no sort.
CREATE INDEX message_reports_newest ON message_reports (created_at DESC, report_id DESC);
-- The list of one status (open reports, mostly), newest first likewise.
CREATE INDEX message_reports_status
    ON message_reports (status, created_at DESC, report_id DESC);

-- Attachments sent in messages. Conventions as in 0001 and 0002.

-- What a message carries of its attachments (name, type, size, image
-- size, whether there is a preview), as a JSON array in order; NULL for
-- none, as most messages have. Attachments never change once uploaded,
-- so history, catch-up and live frames read them with the message; the
-- `attachments` rows stay the authority on who may download what.
ALTER TABLE messages ADD COLUMN attachments TEXT;

-- Attachments whose rows are gone and whose blobs may still be stored
-- (`attachments/{attachment_id}` and `.preview`): the sweep removes the
-- blobs, then these rows. Filled by the trigger below, so every way a row
-- of `attachments` goes (a deleted message, an abandoned upload, the
-- cascade from a deleted conversation) leaves its blobs to the sweep.
CREATE TABLE attachment_blob_deletions (
    attachment_id BLOB NOT NULL PRIMARY KEY
) STRICT, WITHOUT ROWID;

-- SQLite runs triggers for rows a foreign-key cascade deletes too.
CREATE TRIGGER attachments_queue_blob_deletion AFTER DELETE ON attachments
BEGIN
    INSERT OR IGNORE INTO attachment_blob_deletions (attachment_id)
    VALUES (OLD.attachment_id);
END;

-- Full-text search of messages (`MessageStore::search_messages`): an FTS5
-- index over the content of every message that is not deleted, kept right
-- by triggers. Conventions as in 0001.
--
-- The index is CONTENTLESS (`content = ''`): it holds the inverted index
-- and each entry's length in tokens (which bm25 needs), not the text. The
-- text is in `messages` already; a search reads it from there for the few
-- hits it returns, and builds their snippets with chat-core's
-- `mark_snippet` (FTS5's snippet() and highlight() need the text, which a
-- contentless index has not, and the memory store uses `mark_snippet` too,
-- so every backend marks the same words the same way).
--
-- Why not external content (`content = 'messages'`): FTS5 would then find
-- a hit's text by `messages.rowid`, and `messages` has no INTEGER PRIMARY
-- KEY, so its rowids are implicit, and VACUUM may renumber them
-- (https://sqlite.org/lang_vacuum.html), silently pointing the index at
-- other messages. Any key of our own would need a new indexed column on
-- `messages` and a second write of every inserted row.
--
-- Instead, an entry's rowid says where its message is:
--
--     rowid = search_key * 2^32 + seq
--
-- with `search_key` a small integer per conversation (the table below),
-- so the entries of one conversation are one contiguous rowid range, in
-- seq order. A search checks a hit against the searcher's memberships
-- from the rowid alone (conversation: `rowid >> 32`; seq: `rowid &
-- 0xFFFFFFFF`, compared with `joined_seq`), reads no message row until it
-- has the page it returns, and a search of one conversation reads only
-- that conversation's range of the index. The split allows 2^31 - 1
-- conversations (a CHECK below) and seqs up to 2^32 - 1 per conversation
-- (the message triggers refuse a larger one rather than let it run into
-- the next conversation's range): far beyond what one SQLite file holds.
--
-- Tokenizer: unicode61 folds case and, with `categories 'L* N*'`, splits
-- text into runs of letters and digits, as chat-core's `SearchTerms` and
-- `words_of` do, so a term matches whole words in any case. (Its default
-- categories also make private-use characters part of words, which
-- `words_of` does not.) `remove_diacritics 0` keeps accents significant
-- ("café" is not "cafe"), as `SearchTerms` does. One difference remains:
-- `words_of` keeps the combining marks Unicode calls alphabetic (most
-- vowel signs of Indic scripts) inside words, and unicode61 splits words
-- at every mark. Every character unicode61 keeps in a word, `words_of`
-- keeps too, so the index never misses a word `words_of` sees: a query
-- word it splits becomes a phrase of its parts, which every message
-- holding the word holds. It may find a few more (other vowel signs
-- between the same consonants).
--
-- `contentless_delete = 1` (SQLite 3.43 and later; the bundled SQLite is
-- newer) lets the triggers remove an entry by rowid alone. Without it, a
-- contentless entry can only be removed by handing FTS5 the exact text it
-- was indexed with, and any mistake there corrupts the index.

-- The search key of each conversation. AUTOINCREMENT: a key is never
-- reused, so an entry can never be taken for a later conversation's. No
-- foreign key to `conversations`: when a conversation is deleted, the
-- deletes of its messages (cascading from it) still need its key to remove
-- their entries; the trigger on `conversations` below removes the key
-- after them.
CREATE TABLE message_search_conversations (
    search_key      INTEGER PRIMARY KEY AUTOINCREMENT
        CHECK (search_key BETWEEN 1 AND 2147483647),
    conversation_id BLOB    NOT NULL UNIQUE
) STRICT;

-- Existing conversations, oldest first.
INSERT INTO message_search_conversations (conversation_id)
    SELECT conversation_id FROM conversations ORDER BY created_at, conversation_id;

-- Every conversation gets its key as it is created (a direct conversation
-- that already existed inserts no row, so fires nothing).
CREATE TRIGGER message_search_conversation_insert AFTER INSERT ON conversations
BEGIN
    INSERT INTO message_search_conversations (conversation_id) VALUES (new.conversation_id);
END;

-- SQLite runs the cascading deletes of a conversation's messages (and
-- their triggers) before the conversation's AFTER DELETE triggers; a test
-- of this crate checks that the index is left empty.
CREATE TRIGGER message_search_conversation_delete AFTER DELETE ON conversations
BEGIN
    DELETE FROM message_search_conversations WHERE conversation_id = old.conversation_id;
END;

CREATE VIRTUAL TABLE message_search USING fts5 (
    content,
    content = '',
    contentless_delete = 1,
    tokenize = "unicode61 remove_diacritics 0 categories 'L* N*'"
);

-- The messages there are now, but deleted ones (their content is empty
-- anyway), in rowid order, which FTS5 writes fastest. A seq past 2^32 - 1
-- cannot occur (4 billion entries in one conversation); such a message
-- would be left out rather than collide with another conversation's.
INSERT INTO message_search (rowid, content)
    SELECT k.search_key * 4294967296 + m.seq, m.content
    FROM messages m
    JOIN message_search_conversations k ON k.conversation_id = m.conversation_id
    WHERE m.deleted_at IS NULL AND m.seq <= 4294967295
    ORDER BY 1;

-- A new message is indexed in the transaction that stores it.
CREATE TRIGGER message_search_insert AFTER INSERT ON messages
WHEN new.deleted_at IS NULL
BEGIN
    SELECT RAISE(ABORT, 'message_search: seq past 4294967295') WHERE new.seq > 4294967295;
    INSERT INTO message_search (rowid, content)
        SELECT search_key * 4294967296 + new.seq, new.content
        FROM message_search_conversations WHERE conversation_id = new.conversation_id;
END;

-- An edit replaces the entry; a deletion (which empties `content` and sets
-- `deleted_at`) removes it. The store never changes a message's
-- conversation or seq, but they are listed so the entry would follow.
CREATE TRIGGER message_search_update
AFTER UPDATE OF content, deleted_at, conversation_id, seq ON messages
BEGIN
    DELETE FROM message_search WHERE old.deleted_at IS NULL AND rowid =
        (SELECT search_key * 4294967296 + old.seq
         FROM message_search_conversations WHERE conversation_id = old.conversation_id);
    SELECT RAISE(ABORT, 'message_search: seq past 4294967295')
        WHERE new.deleted_at IS NULL AND new.seq > 4294967295;
    INSERT INTO message_search (rowid, content)
        SELECT search_key * 4294967296 + new.seq, new.content
        FROM message_search_conversations
        WHERE new.deleted_at IS NULL AND conversation_id = new.conversation_id;
END;

-- Messages are only deleted with their conversation (a deletion by a user
-- leaves a tombstone, handled above).
CREATE TRIGGER message_search_delete AFTER DELETE ON messages
WHEN old.deleted_at IS NULL
BEGIN
    DELETE FROM message_search WHERE rowid =
        (SELECT search_key * 4294967296 + old.seq
         FROM message_search_conversations WHERE conversation_id = old.conversation_id);
END;

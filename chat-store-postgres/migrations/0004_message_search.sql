-- Full-text search of messages (`MessageStore::search_messages`): each
-- message's words as a tsvector, kept by PostgreSQL itself, and a GIN index
-- on it. Conventions as in 0001.
--
-- The words are those of `chat_core::model::SearchTerms`: runs of letters
-- and digits, lowercase, whole. The `simple` configuration lowercases and
-- keeps every word (no stemming, no stop words, no language). Its parser,
-- though, also reads `example.com`, `bob@example.com`, `3.14`, `v1.2` and
-- URLs as single tokens, which a search for `example`, `bob` or `3` would
-- then miss; so every ASCII punctuation character becomes a space first
-- (`translate`, which does not depend on the locale), and only runs of
-- letters and digits reach the parser. Other characters that are not
-- letters or digits (emoji, typographic dashes and quotes) already separate
-- words in a UTF-8 database. Case folding beyond ASCII follows the
-- database's LC_CTYPE, as `lower()` does: a database created with the
-- plain `C` locale (rather than `C.UTF-8` or a language's) folds ASCII
-- only.
--
-- A STORED generated column, so every way a row is written keeps it right
-- without the store's help: single and batched inserts, edits, and
-- deletions (a tombstone's empty content has no words). Ranking reads the
-- vector of every match, so it is stored rather than recomputed per query
-- (an expression index alone would leave `ts_rank` re-parsing the content
-- of every match of every search). A trigger-maintained column was not
-- chosen: adding it is instant, but filling it rewrites every row all the
-- same (inside this migration's transaction, holding their locks), and the
-- trigger is code to keep right.
--
-- What an operator should expect: adding the column rewrites the messages
-- table and its indexes under an ACCESS EXCLUSIVE lock, so messages can be
-- neither read nor written until this migration commits, and the table
-- grows by about two thirds. On a 2-core machine, about 22 s per million
-- messages for the rewrite and 6 s for the index (measured on 1,000,000
-- chat-sized messages: 164 MB of table became 272 MB, plus a 24 MB index).
-- Instances wait for it on the migrator's advisory lock. Plan the upgrade
-- of a large deployment for a quiet moment.
ALTER TABLE messages
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple',
            translate(content, '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~', repeat(' ', 32)))
    ) STORED;

-- Searches read the vectors of the messages holding a word from here.
-- Tombstones are left out (they have no words, and searches skip them by
-- `deleted_at IS NULL`, which lets the planner use this partial index).
-- New entries go to GIN's pending list first (fastupdate, the default):
-- cheap for sends; (auto)vacuum and autoanalyze merge it into the index.
CREATE INDEX messages_search ON messages USING gin (search_vector)
    WHERE deleted_at IS NULL;

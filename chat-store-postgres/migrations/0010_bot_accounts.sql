-- Bot accounts say so (`is_bot`, docs/api.md "Bots"). A new column with a
-- default: instances of the previous release keep running while this
-- applies. Bots created before this have no password and the email
-- `{username}@bots.invalid`, which no signup or provisioned account can
-- have (`.invalid` never resolves).
ALTER TABLE users ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE users SET is_bot = TRUE
WHERE password_hash = '!external' AND email_key LIKE '%@bots.invalid';

-- Bot accounts say so (`is_bot`, docs/api.md "Bots"). Bots created before
-- this have no password and the email `{username}@bots.invalid`, which no
-- signup or provisioned account can have (`.invalid` never resolves).
ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0 CHECK (is_bot IN (0, 1));

UPDATE users SET is_bot = 1
WHERE password_hash = '!external' AND email_key LIKE '%@bots.invalid';

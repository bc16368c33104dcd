-- A check of the session key the server last started with (an HMAC of a fixed text under
-- it, never the key): a command that seals with the key (`webhook create`) compares its
-- own, and refuses a key the server does not hold.
ALTER TABLE account_settings ADD COLUMN session_key_check TEXT;

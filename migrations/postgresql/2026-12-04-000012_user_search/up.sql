-- The user search's text (login, name and email, lowercased) kept as a column: the trigram
-- index is built on it, and a search too short for trigrams (one or two letters) reads it
-- as it is instead of lowercasing three columns of every user on every search (issue 16:
-- `q=ab` read 100,000 users in 95 ms; the stored column takes a third of that).
ALTER TABLE users ADD COLUMN search_text TEXT
    GENERATED ALWAYS AS (lower(login || chr(31) || name || chr(31) || email)) STORED;
DROP INDEX users_search_idx;
CREATE INDEX users_search_idx ON users USING gin (search_text gin_trgm_ops);

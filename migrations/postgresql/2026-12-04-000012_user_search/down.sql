DROP INDEX users_search_idx;
ALTER TABLE users DROP COLUMN search_text;
CREATE INDEX users_search_idx ON users
    USING gin ((lower(login || chr(31) || name || chr(31) || email)) gin_trgm_ops);

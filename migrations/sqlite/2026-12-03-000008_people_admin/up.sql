-- A one-time link to set a password says, when it is refused, whether it was used or a
-- newer link replaced it (kept until a while after it expired, then purged).
ALTER TABLE password_setups ADD COLUMN used_at TIMESTAMP;
ALTER TABLE password_setups ADD COLUMN replaced_at TIMESTAMP;

-- A CSV file of people uploaded for import, waiting between its preview and its
-- application: applying reads this copy again, never what a browser posts back. Only the
-- uploader may preview or apply it; it is deleted once applied, or an hour after upload.
CREATE TABLE user_imports (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name   TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX user_imports_created_idx ON user_imports (created_at);

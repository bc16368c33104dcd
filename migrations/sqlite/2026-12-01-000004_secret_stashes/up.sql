-- A secret just issued, waiting for the one page view that shows it (post → redirect → get).
-- Sealed with a key derived from the server's key and the session's own id, which only the
-- browser's cookie carries: the database alone cannot open it. Taken (deleted) as it is shown.
CREATE TABLE secret_stashes (
    id             INTEGER PRIMARY KEY,
    session_digest TEXT NOT NULL REFERENCES user_sessions (id_digest) ON DELETE CASCADE,
    page           TEXT NOT NULL,
    sealed         TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX secret_stashes_session_page_idx ON secret_stashes (session_digest, page);
CREATE INDEX secret_stashes_created_idx ON secret_stashes (created_at);

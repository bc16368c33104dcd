-- Personal access tokens. Only a SHA-256 digest of the secret is stored, with its hint.
CREATE TABLE access_tokens (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    real_user_id   INTEGER REFERENCES users (id) ON DELETE SET NULL, -- who created it on the owner's behalf
    purpose        TEXT NOT NULL,
    scopes         TEXT NOT NULL DEFAULT '',                        -- space-separated; '' = no limitation
    digest         TEXT NOT NULL UNIQUE,
    hint           TEXT NOT NULL,
    workflow_state TEXT NOT NULL DEFAULT 'active' CHECK (workflow_state IN ('active', 'pending')),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP,
    last_used_at   TIMESTAMP
);
CREATE INDEX access_tokens_user_idx ON access_tokens (user_id, id);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);
CREATE INDEX access_tokens_last_used_idx ON access_tokens (last_used_at);

-- Notifications (SPEC 13): webhook endpoints, the outbox that every notification goes
-- through, what the expiry scheduler has already considered, and each person's choices.

-- Where webhooks go. The signing secret is needed to sign, so it cannot be kept as a
-- digest: it is sealed (ChaCha20-Poly1305) with a key derived from the server's session
-- key, and only its hint is kept in clear.
CREATE TABLE webhook_endpoints (
    id            INTEGER PRIMARY KEY,
    url           TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    events        TEXT NOT NULL DEFAULT '',   -- space-separated event types; '' = every event
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    secret_sealed TEXT NOT NULL,
    secret_hint   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- The outbox: one row per message to deliver (an email to one person, a webhook to one
-- endpoint), written in the same transaction as the change that causes it, and sent by
-- the delivery worker afterwards. A worker claims due rows until `claimed_until` (a
-- lease: the claims of an instance that died are taken again once it has passed).
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,       -- webhook-id / Message-ID: the same at every attempt
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    event           TEXT NOT NULL,
    endpoint_id     INTEGER REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,  -- an email's recipient
    recipient       TEXT NOT NULL DEFAULT '',   -- an email's address
    token_id        INTEGER,                     -- the token a reminder is about (no key: tokens go)
    payload         TEXT NOT NULL,              -- a webhook's exact body; an email's facts (JSON)
    dedupe_key      TEXT UNIQUE,                -- at most one message per key (weekly digests)
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'logged', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    resends         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    give_up_at      TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    claimed_by      TEXT,
    last_error      TEXT,
    last_status     INTEGER,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX notifications_due_idx ON notifications (state, next_attempt_at);
CREATE INDEX notifications_channel_idx ON notifications (channel, id);
CREATE INDEX notifications_endpoint_idx ON notifications (endpoint_id, id);

-- The lines the expiry scheduler has seen each token cross ('7d': a week before its
-- expiry, '0d': the day of it, 'expired'), for that expiry: each is acted on once, by
-- one instance, however often the scheduler runs. A new expiry is a new line.
CREATE TABLE token_reminders (
    token_id   INTEGER NOT NULL REFERENCES access_tokens (id) ON DELETE CASCADE,
    threshold  TEXT NOT NULL CHECK (threshold IN ('7d', '0d', 'expired')),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, threshold, expires_at)
);

-- What a person chose on their account page; no row means the defaults (expiry reminders
-- on, no weekly digest). Security notices are always sent.
CREATE TABLE notification_preferences (
    user_id          INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    expiry_reminders BOOLEAN NOT NULL DEFAULT TRUE,
    weekly_digest    BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at       TIMESTAMP NOT NULL
);

-- Ids that are never given twice, as PostgreSQL's identity columns never give them. Without
-- AUTOINCREMENT, SQLite gives the next row the highest id in the table plus one: a service,
-- webhook endpoint, delivery or provisioning credential created after the newest one was
-- removed took the removed one's id, and a page still open on the removed one (its edit
-- form, "Delete", "Resend", "Revoke") then acted on its successor.
--
-- SQLite adds AUTOINCREMENT only by building the table again. Each is built beside the old
-- one, its children first pointed at the new parent; the old tables are dropped children
-- first (so no ON DELETE CASCADE fires), and renaming a new table renames the references
-- to it. Ids above the highest kept one that were given and removed before this migration
-- cannot be known: only those may be given once more.

CREATE TABLE services_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    slug              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    accept_unscoped   BOOLEAN NOT NULL DEFAULT FALSE,
    credential_digest TEXT NOT NULL UNIQUE,
    credential_hint   TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
INSERT INTO services_new (id, slug, name, description, accept_unscoped, credential_digest,
                          credential_hint, created_at, updated_at)
    SELECT id, slug, name, description, accept_unscoped, credential_digest,
           credential_hint, created_at, updated_at FROM services;

CREATE TABLE service_scopes_new (
    service_id BIGINT NOT NULL REFERENCES services_new (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    scope      TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    holders    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service_id, position)
);
INSERT INTO service_scopes_new (service_id, position, scope, label, holders)
    SELECT service_id, position, scope, label, holders FROM service_scopes;

CREATE TABLE service_rules_new (
    service_id BIGINT NOT NULL REFERENCES services_new (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    PRIMARY KEY (service_id, position)
);
INSERT INTO service_rules_new (service_id, position, method, path, scope)
    SELECT service_id, position, method, path, scope FROM service_rules;

CREATE TABLE webhook_endpoints_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    url           TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    events        TEXT NOT NULL DEFAULT '',   -- space-separated event types; '' = every event
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    secret_sealed TEXT NOT NULL,
    secret_hint   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
INSERT INTO webhook_endpoints_new (id, url, description, events, enabled, secret_sealed,
                                   secret_hint, created_at, updated_at)
    SELECT id, url, description, events, enabled, secret_sealed,
           secret_hint, created_at, updated_at FROM webhook_endpoints;

CREATE TABLE notifications_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL UNIQUE,       -- webhook-id / Message-ID: the same at every attempt
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    event           TEXT NOT NULL,
    endpoint_id     INTEGER REFERENCES webhook_endpoints_new (id) ON DELETE CASCADE,
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
INSERT INTO notifications_new (id, message_id, channel, event, endpoint_id, user_id, recipient,
                               token_id, payload, dedupe_key, state, attempts, resends,
                               next_attempt_at, give_up_at, claimed_until, claimed_by,
                               last_error, last_status, created_at, sent_at)
    SELECT id, message_id, channel, event, endpoint_id, user_id, recipient,
           token_id, payload, dedupe_key, state, attempts, resends,
           next_attempt_at, give_up_at, claimed_until, claimed_by,
           last_error, last_status, created_at, sent_at FROM notifications;

CREATE TABLE provisioning_credentials_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose      TEXT NOT NULL,
    digest       TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
INSERT INTO provisioning_credentials_new (id, purpose, digest, hint, created_at, last_used_at)
    SELECT id, purpose, digest, hint, created_at, last_used_at FROM provisioning_credentials;

DROP TABLE service_scopes;
DROP TABLE service_rules;
DROP TABLE notifications;
DROP TABLE services;
DROP TABLE webhook_endpoints;
DROP TABLE provisioning_credentials;

ALTER TABLE services_new RENAME TO services;
ALTER TABLE service_scopes_new RENAME TO service_scopes;
ALTER TABLE service_rules_new RENAME TO service_rules;
ALTER TABLE webhook_endpoints_new RENAME TO webhook_endpoints;
ALTER TABLE notifications_new RENAME TO notifications;
ALTER TABLE provisioning_credentials_new RENAME TO provisioning_credentials;

CREATE INDEX notifications_due_idx ON notifications (state, next_attempt_at);
CREATE INDEX notifications_channel_idx ON notifications (channel, id);
CREATE INDEX notifications_endpoint_idx ON notifications (endpoint_id, id);

-- The institution's services that tokens guard (SPEC 11). A service's credential, for
-- introspection, is stored as its SHA-256 digest, with a hint.
CREATE TABLE services (
    id                INTEGER PRIMARY KEY,
    slug              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    accept_unscoped   BOOLEAN NOT NULL DEFAULT FALSE,
    credential_digest TEXT NOT NULL UNIQUE,
    credential_hint   TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
-- A service's scopes (`gradebook:read`), with a plain label and who may hold them
-- ('' anyone; else role keys: student teacher ta designer observer admin).
CREATE TABLE service_scopes (
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    scope      TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    holders    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service_id, position)
);
-- Route rules: requests with this method ('*' any) and path pattern need this scope.
CREATE TABLE service_rules (
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    scope      TEXT NOT NULL,
    PRIMARY KEY (service_id, position)
);
-- How often a token was used, per service (0: tokenwarden's own API) and day.
CREATE TABLE token_usage (
    token_id   BIGINT NOT NULL REFERENCES access_tokens (id) ON DELETE CASCADE,
    service_id BIGINT NOT NULL,
    day        DATE NOT NULL,
    uses       BIGINT NOT NULL,
    PRIMARY KEY (token_id, service_id, day)
);

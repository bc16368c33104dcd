-- Users, roles, sessions, account settings and the audit log.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT NOT NULL UNIQUE,          -- stored lower-cased: logins are case-insensitive
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
    time_zone     TEXT NOT NULL DEFAULT 'Etc/UTC',
    locale        TEXT NOT NULL DEFAULT 'en',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX users_name_idx ON users (name);
CREATE INDEX users_email_idx ON users (email);

-- Enrollment roles (student, teacher, ta, designer, observer); a user may hold several.
CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('student', 'teacher', 'ta', 'designer', 'observer')),
    PRIMARY KEY (user_id, role)
);

-- Account roles: the built-in Account Admin plus custom roles; permissions is a bit set.
CREATE TABLE account_roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    permissions BIGINT NOT NULL DEFAULT 0,
    built_in    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL
);
INSERT INTO account_roles (id, name, permissions, built_in, created_at)
VALUES (1, 'Account Admin', 31, TRUE, CURRENT_TIMESTAMP);

CREATE TABLE user_account_roles (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_role_id INTEGER NOT NULL REFERENCES account_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, account_role_id)
);
CREATE INDEX user_account_roles_role_idx ON user_account_roles (account_role_id);

-- Server-side session state: the cookie carries a random id, the table its SHA-256.
CREATE TABLE user_sessions (
    id_digest    TEXT PRIMARY KEY NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

-- One row: the account settings of SPEC section 3.
CREATE TABLE account_settings (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    limit_personal_creation BOOLEAN NOT NULL DEFAULT FALSE,
    block_students          BOOLEAN NOT NULL DEFAULT FALSE,
    student_max_days        INTEGER NOT NULL DEFAULT 120 CHECK (student_max_days BETWEEN 1 AND 120),
    default_lifetime_days   INTEGER NOT NULL DEFAULT 30,
    updated_at              TIMESTAMP NOT NULL
);
INSERT INTO account_settings (id, updated_at) VALUES (1, CURRENT_TIMESTAMP);

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at     TIMESTAMP NOT NULL,
    actor_id        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    subject_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    token_id        BIGINT,
    action          TEXT NOT NULL,
    details         TEXT NOT NULL DEFAULT '',
    ip              TEXT
);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_user_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);

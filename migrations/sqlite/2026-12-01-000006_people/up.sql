-- Where a role came from: given by an administrator (or the command line), from single
-- sign-on's claim at each sign-in, or from SCIM's groups. The institution's systems set
-- their own again and again; an administrator's stay apart.
CREATE TABLE user_roles_by_source (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('student', 'teacher', 'ta', 'designer', 'observer')),
    source  TEXT NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'sso', 'scim')),
    PRIMARY KEY (user_id, role, source)
);
INSERT INTO user_roles_by_source (user_id, role) SELECT user_id, role FROM user_roles;
DROP TABLE user_roles;
ALTER TABLE user_roles_by_source RENAME TO user_roles;

CREATE TABLE user_account_roles_by_source (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_role_id INTEGER NOT NULL REFERENCES account_roles (id) ON DELETE CASCADE,
    source          TEXT NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'sso', 'scim')),
    PRIMARY KEY (user_id, account_role_id, source)
);
INSERT INTO user_account_roles_by_source (user_id, account_role_id) SELECT user_id, account_role_id FROM user_account_roles;
DROP TABLE user_account_roles;
ALTER TABLE user_account_roles_by_source RENAME TO user_account_roles;
CREATE INDEX user_account_roles_role_idx ON user_account_roles (account_role_id);

-- Who a user is to the institution's systems: the OpenID Connect issuer and subject,
-- SCIM's externalId.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject_idx ON users (oidc_subject);
ALTER TABLE users ADD COLUMN scim_external_id TEXT;
CREATE INDEX users_scim_external_id_idx ON users (scim_external_id);

-- A one-time link to set a password (a user created by an administrator). Only the
-- link's digest is kept.
CREATE TABLE password_setups (
    digest     TEXT PRIMARY KEY NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX password_setups_user_idx ON password_setups (user_id);

-- A sign-in with the institution's identity provider under way: its state's digest, and
-- its nonce, PKCE verifier and destination sealed with a key the state itself is part of.
-- Taken (deleted) by the callback: each is good once.
CREATE TABLE oidc_logins (
    state_digest TEXT PRIMARY KEY NOT NULL,
    sealed       TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);

-- Credentials of provisioning clients (SCIM): digest and hint only.
CREATE TABLE provisioning_credentials (
    id           INTEGER PRIMARY KEY,
    purpose      TEXT NOT NULL,
    digest       TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);

-- SCIM Groups, mapped to roles by their display name (the role map); their members.
CREATE TABLE scim_groups (
    id           TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL UNIQUE,
    external_id  TEXT,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_user_idx ON scim_group_members (user_id);

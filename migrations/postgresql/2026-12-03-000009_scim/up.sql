-- What a provisioning client (SCIM) says of a user beyond tokenwarden's own fields: the
-- parts of their name, and when it deleted them. A deleted user is kept (suspended, tokens
-- revoked): SCIM no longer sees them, and nothing stored is lost.
CREATE TABLE scim_users (
    user_id     BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    formatted   TEXT,
    given_name  TEXT,
    family_name TEXT,
    deleted_at  TIMESTAMP
);

-- A group's display name names its roles in the role map, where case does not count: two
-- groups whose names differ only in case would be one group there.
CREATE UNIQUE INDEX scim_groups_display_name_ci_idx ON scim_groups (lower(display_name));

DROP TABLE scim_group_members;
DROP TABLE scim_groups;
DROP TABLE provisioning_credentials;
DROP TABLE oidc_logins;
DROP TABLE password_setups;
DROP INDEX users_scim_external_id_idx;
ALTER TABLE users DROP COLUMN scim_external_id;
DROP INDEX users_oidc_subject_idx;
ALTER TABLE users DROP COLUMN oidc_subject;
CREATE TABLE user_account_roles_old (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_role_id INTEGER NOT NULL REFERENCES account_roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, account_role_id)
);
INSERT OR IGNORE INTO user_account_roles_old (user_id, account_role_id) SELECT user_id, account_role_id FROM user_account_roles;
DROP TABLE user_account_roles;
ALTER TABLE user_account_roles_old RENAME TO user_account_roles;
CREATE INDEX user_account_roles_role_idx ON user_account_roles (account_role_id);
CREATE TABLE user_roles_old (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('student', 'teacher', 'ta', 'designer', 'observer')),
    PRIMARY KEY (user_id, role)
);
INSERT OR IGNORE INTO user_roles_old (user_id, role) SELECT user_id, role FROM user_roles;
DROP TABLE user_roles;
ALTER TABLE user_roles_old RENAME TO user_roles;

DROP TABLE scim_group_members;
DROP TABLE scim_groups;
DROP TABLE provisioning_credentials;
DROP TABLE oidc_logins;
DROP TABLE password_setups;
ALTER TABLE users DROP COLUMN scim_external_id;
ALTER TABLE users DROP COLUMN oidc_subject;
DELETE FROM user_account_roles a USING user_account_roles b
    WHERE a.user_id = b.user_id AND a.account_role_id = b.account_role_id AND a.source > b.source;
ALTER TABLE user_account_roles DROP CONSTRAINT user_account_roles_pkey;
ALTER TABLE user_account_roles DROP COLUMN source;
ALTER TABLE user_account_roles ADD PRIMARY KEY (user_id, account_role_id);
DELETE FROM user_roles a USING user_roles b
    WHERE a.user_id = b.user_id AND a.role = b.role AND a.source > b.source;
ALTER TABLE user_roles DROP CONSTRAINT user_roles_pkey;
ALTER TABLE user_roles DROP COLUMN source;
ALTER TABLE user_roles ADD PRIMARY KEY (user_id, role);

DROP TABLE audit_events;
DROP TABLE account_settings;
DROP TABLE user_sessions;
DROP TABLE user_account_roles;
DROP TABLE account_roles;
DROP TABLE user_roles;
DROP TABLE users;

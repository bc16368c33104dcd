DROP TABLE user_imports;
ALTER TABLE password_setups DROP COLUMN replaced_at;
ALTER TABLE password_setups DROP COLUMN used_at;

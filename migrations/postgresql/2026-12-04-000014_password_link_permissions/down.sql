ALTER TABLE password_setups DROP COLUMN permissions;

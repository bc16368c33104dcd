-- The account permissions the person held when the link was made: it opens no more.
-- Links made before have none recorded, and open an account without permissions only.
ALTER TABLE password_setups ADD COLUMN permissions BIGINT;

DROP INDEX access_tokens_owner_pending_idx;
DROP INDEX access_tokens_pending_idx;
DROP TRIGGER access_tokens_lapsed_moved;
DROP TRIGGER access_tokens_lapsed_in;
DROP INDEX access_tokens_owner_live_activity_idx;
DROP INDEX access_tokens_live_activity_idx;
CREATE INDEX access_tokens_activity_idx ON access_tokens (coalesce(last_used_at, created_at));
CREATE INDEX access_tokens_owner_activity_idx ON access_tokens (owner_roles, coalesce(last_used_at, created_at));
ALTER TABLE access_tokens DROP COLUMN lapsed;

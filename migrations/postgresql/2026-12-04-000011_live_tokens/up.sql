-- "Unused for N days" among live tokens, by the owner's roles (issue 16). The activity
-- index is walked from the longest unused, and the longest unused are mostly tokens that
-- expired long ago: at a million tokens, a student-only owner's walk passed hundreds of
-- thousands of them before it had fifty live ones. `lapsed` marks a token that had expired
-- by the last sweep of the tallies (`tally_sweep`, every minute), and the activity indexes
-- leave such tokens out. It is never true of a live token; a token that expired since the
-- last sweep is still in the indexes, and the query's own test of the expiry leaves it out.
ALTER TABLE access_tokens ADD COLUMN lapsed BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE access_tokens SET lapsed = TRUE WHERE expires_at <= (SELECT swept_to FROM tally_sweep);

DROP INDEX access_tokens_activity_idx;
DROP INDEX access_tokens_owner_activity_idx;
CREATE INDEX access_tokens_live_activity_idx ON access_tokens ((coalesce(last_used_at, created_at)), id)
WHERE NOT lapsed;
CREATE INDEX access_tokens_owner_live_activity_idx
ON access_tokens (owner_roles, (coalesce(last_used_at, created_at)), id) WHERE NOT lapsed;

-- A token written already expired (an import, the seed), or whose expiry an update moves
-- across the last sweep, either way. The sweep's mark is read as committed: a sweep still
-- running leaves the token unmarked, which costs the walk a row and is never wrong.
CREATE FUNCTION access_tokens_lapsed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.lapsed := coalesce(NEW.expires_at <= (SELECT swept_to FROM tally_sweep), FALSE);
    RETURN NEW;
END $$;
CREATE TRIGGER access_tokens_lapsed_in BEFORE INSERT ON access_tokens
    FOR EACH ROW WHEN (NEW.expires_at IS NOT NULL AND NOT NEW.lapsed) EXECUTE FUNCTION access_tokens_lapsed();
CREATE TRIGGER access_tokens_lapsed_moved BEFORE UPDATE OF expires_at ON access_tokens
    FOR EACH ROW WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at) EXECUTE FUNCTION access_tokens_lapsed();

-- Tokens waiting for their owner to activate them are one in a hundred: the list of them
-- by owner walked a hundred others for each one it showed.
CREATE INDEX access_tokens_pending_idx ON access_tokens (id) WHERE workflow_state = 'pending';
CREATE INDEX access_tokens_owner_pending_idx ON access_tokens (owner_roles, id) WHERE workflow_state = 'pending';

-- The dashboard counts the tokens expiring in the rest of today and on the last day of each
-- horizon by their owner's roles and state: read from the index alone, not from a row of
-- the table for each token (at a million tokens, cold, those reads were 260 of the
-- dashboard's 280 ms on SQLite).
CREATE INDEX access_tokens_expiry_tally_idx ON access_tokens (expires_at, owner_roles, workflow_state);
-- Its first column makes (expires_at) alone redundant here, beside (expires_at, id).
DROP INDEX access_tokens_expires_idx;

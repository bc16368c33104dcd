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
CREATE INDEX access_tokens_live_activity_idx ON access_tokens (coalesce(last_used_at, created_at), id)
WHERE NOT lapsed;
CREATE INDEX access_tokens_owner_live_activity_idx ON access_tokens (owner_roles, coalesce(last_used_at, created_at), id)
WHERE NOT lapsed;

-- A token written already expired (an import, the seed), or whose expiry an update moves
-- across the last sweep, either way.
CREATE TRIGGER access_tokens_lapsed_in AFTER INSERT ON access_tokens
WHEN NOT NEW.lapsed AND NEW.expires_at <= (SELECT swept_to FROM tally_sweep) BEGIN
    UPDATE access_tokens SET lapsed = TRUE WHERE id = NEW.id;
END;
CREATE TRIGGER access_tokens_lapsed_moved AFTER UPDATE OF expires_at ON access_tokens
WHEN NEW.lapsed IS NOT coalesce(NEW.expires_at <= (SELECT swept_to FROM tally_sweep), FALSE) BEGIN
    UPDATE access_tokens SET lapsed = coalesce(NEW.expires_at <= (SELECT swept_to FROM tally_sweep), FALSE)
    WHERE id = NEW.id;
END;

-- Tokens waiting for their owner to activate them are one in a hundred: the list of them
-- by owner walked a hundred others for each one it showed.
CREATE INDEX access_tokens_pending_idx ON access_tokens (id) WHERE workflow_state = 'pending';
CREATE INDEX access_tokens_owner_pending_idx ON access_tokens (owner_roles, id) WHERE workflow_state = 'pending';

-- The dashboard counts the tokens expiring in the rest of today and on the last day of each
-- horizon by their owner's roles and state: read from the index alone, not from a row of
-- the table for each token (at a million tokens, cold, those reads were 260 of the
-- dashboard's 280 ms on SQLite).
CREATE INDEX access_tokens_expiry_tally_idx ON access_tokens (expires_at, owner_roles, workflow_state);

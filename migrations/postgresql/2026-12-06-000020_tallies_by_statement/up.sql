-- The dashboard's tallies follow each statement on access_tokens, not each row. Row by
-- row, a statement that writes many tokens (the seed, the cap of students' tokens, a
-- revoke of all of someone's tokens) updated the same tally rows once a token, and
-- PostgreSQL keeps each earlier version of a row until no transaction can see it: after a
-- million seeded tokens the weekly chart's 58 rows took 50 MB and the tally of expiries 36
-- MiB, read by the dashboard (both) and by each list by owner's roles (the tally). Now a
-- statement adds what it changed to each tally row once, in key order (so that two
-- statements lock the rows they share in the same order), and leaves alone the rows where
-- its changes cancel out.

DROP TRIGGER access_tokens_tallies_in ON access_tokens;
DROP TRIGGER access_tokens_tallies_moved ON access_tokens;
DROP FUNCTION token_tallies_follow();

-- A token added to the tallies (sign 1) or taken out of them (sign -1), as they count it.
CREATE TYPE token_tally_change AS (
    sign           INTEGER,
    expires_at     TIMESTAMP,
    owner_roles    INTEGER,
    workflow_state TEXT,
    last_used_at   TIMESTAMP,
    created_at     TIMESTAMP
);

-- Applies one statement's changes: `kind` is 'in' (tokens created), 'out' (deleted) or
-- 'moved' (updated: each token taken out as it was and added as it is). The changes come
-- as one array of the statement's tokens: thousands when the app writes many (the tokens
-- of 500 users at a time when it caps students' tokens).
CREATE FUNCTION token_tallies_apply(kind TEXT, changes token_tally_change[]) RETURNS VOID
LANGUAGE plpgsql AS $$
DECLARE
    mark TIMESTAMP;
BEGIN
    IF cardinality(changes) = 0 THEN
        RETURN;
    END IF;
    -- Shared with other writers, exclusive with the sweep: which tokens are "live as of
    -- the mark" is decided against the mark the sweep leaves.
    SELECT swept_to INTO mark FROM tally_sweep WHERE id = 1 FOR SHARE;
    INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
    SELECT coalesce(c.expires_at::date, DATE '9999-12-31'), c.owner_roles, c.workflow_state = 'pending',
           sum(c.sign)
    FROM unnest(changes) c GROUP BY 1, 2, 3 HAVING sum(c.sign) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (expires_on, owner_roles, pending) DO UPDATE SET n = token_tallies.n + EXCLUDED.n;
    INSERT INTO token_activity_tallies (active_on, n)
    SELECT coalesce(c.last_used_at, c.created_at)::date, sum(c.sign)
    FROM unnest(changes) c WHERE c.expires_at IS NULL OR c.expires_at > mark
    GROUP BY 1 HAVING sum(c.sign) <> 0 ORDER BY 1
    ON CONFLICT (active_on) DO UPDATE SET n = token_activity_tallies.n + EXCLUDED.n;
    IF kind = 'in' THEN
        INSERT INTO token_weekly_activity (week_of, created)
        SELECT date_trunc('week', c.created_at)::date, count(*) FROM unnest(changes) c GROUP BY 1 ORDER BY 1
        ON CONFLICT (week_of) DO UPDATE SET created = token_weekly_activity.created + EXCLUDED.created;
    ELSIF kind = 'out' THEN
        INSERT INTO token_weekly_activity (week_of, revoked)
        VALUES (date_trunc('week', now() AT TIME ZONE 'UTC')::date, cardinality(changes))
        ON CONFLICT (week_of) DO UPDATE SET revoked = token_weekly_activity.revoked + EXCLUDED.revoked;
    END IF;
END $$;

CREATE FUNCTION token_tallies_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM token_tallies_apply('in', ARRAY(
        SELECT ROW(1, expires_at, owner_roles, workflow_state, last_used_at, created_at)::token_tally_change
        FROM new_rows));
    RETURN NULL;
END $$;

CREATE FUNCTION token_tallies_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM token_tallies_apply('out', ARRAY(
        SELECT ROW(-1, expires_at, owner_roles, workflow_state, last_used_at, created_at)::token_tally_change
        FROM old_rows));
    RETURN NULL;
END $$;

-- Only the tokens whose expiry, state, owner's roles or day of last activity changed (a
-- token's id never changes, so its versions pair by id):
-- most updates (a purpose edited, a use on the day of the last one) move no tally, and
-- take no lock on the sweep's row.
CREATE FUNCTION token_tallies_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM token_tallies_apply('moved', ARRAY(
        SELECT ROW(t.sign, t.expires_at, t.owner_roles, t.workflow_state, t.last_used_at, t.created_at)::token_tally_change
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        CROSS JOIN LATERAL (VALUES
            (1, n.expires_at, n.owner_roles, n.workflow_state, n.last_used_at, n.created_at),
            (-1, o.expires_at, o.owner_roles, o.workflow_state, o.last_used_at, o.created_at)
        ) AS t (sign, expires_at, owner_roles, workflow_state, last_used_at, created_at)
        WHERE o.expires_at IS DISTINCT FROM n.expires_at OR o.workflow_state <> n.workflow_state
           OR o.owner_roles <> n.owner_roles
           OR coalesce(o.last_used_at, o.created_at)::date <> coalesce(n.last_used_at, n.created_at)::date));
    RETURN NULL;
END $$;

CREATE TRIGGER access_tokens_tallies_in AFTER INSERT ON access_tokens
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION token_tallies_in();
CREATE TRIGGER access_tokens_tallies_out AFTER DELETE ON access_tokens
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION token_tallies_out();
CREATE TRIGGER access_tokens_tallies_moved AFTER UPDATE ON access_tokens
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION token_tallies_moved();

-- What the row triggers left behind, written again without it (rows that count nothing
-- are left out; the views read only rows that count).
CREATE TEMPORARY TABLE kept_token_tallies ON COMMIT DROP AS SELECT * FROM token_tallies WHERE n <> 0;
CREATE TEMPORARY TABLE kept_activity_tallies ON COMMIT DROP AS
    SELECT * FROM token_activity_tallies WHERE n <> 0;
CREATE TEMPORARY TABLE kept_weekly_activity ON COMMIT DROP AS SELECT * FROM token_weekly_activity;
TRUNCATE token_tallies, token_activity_tallies, token_weekly_activity;
INSERT INTO token_tallies SELECT * FROM kept_token_tallies;
INSERT INTO token_activity_tallies SELECT * FROM kept_activity_tallies;
INSERT INTO token_weekly_activity SELECT * FROM kept_weekly_activity;

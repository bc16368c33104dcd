DROP TRIGGER access_tokens_tallies_in ON access_tokens;
DROP TRIGGER access_tokens_tallies_out ON access_tokens;
DROP TRIGGER access_tokens_tallies_moved ON access_tokens;
DROP FUNCTION token_tallies_in();
DROP FUNCTION token_tallies_out();
DROP FUNCTION token_tallies_moved();
DROP FUNCTION token_tallies_apply(TEXT, token_tally_change[]);
DROP TYPE token_tally_change;

-- As migration 2026-12-03-000010 made them: one row at a time.
CREATE FUNCTION token_tallies_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mark TIMESTAMP;
BEGIN
    SELECT swept_to INTO mark FROM tally_sweep WHERE id = 1 FOR SHARE;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE token_tallies SET n = n - 1
        WHERE expires_on = coalesce(OLD.expires_at::date, DATE '9999-12-31')
          AND owner_roles = OLD.owner_roles AND pending = (OLD.workflow_state = 'pending');
        IF OLD.expires_at IS NULL OR OLD.expires_at > mark THEN
            UPDATE token_activity_tallies SET n = n - 1
            WHERE active_on = coalesce(OLD.last_used_at, OLD.created_at)::date;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
        VALUES (coalesce(NEW.expires_at::date, DATE '9999-12-31'), NEW.owner_roles, NEW.workflow_state = 'pending', 1)
        ON CONFLICT (expires_on, owner_roles, pending) DO UPDATE SET n = token_tallies.n + 1;
        IF NEW.expires_at IS NULL OR NEW.expires_at > mark THEN
            INSERT INTO token_activity_tallies (active_on, n)
            VALUES (coalesce(NEW.last_used_at, NEW.created_at)::date, 1)
            ON CONFLICT (active_on) DO UPDATE SET n = token_activity_tallies.n + 1;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO token_weekly_activity (week_of, created) VALUES (date_trunc('week', NEW.created_at)::date, 1)
        ON CONFLICT (week_of) DO UPDATE SET created = token_weekly_activity.created + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO token_weekly_activity (week_of, revoked)
        VALUES (date_trunc('week', now() AT TIME ZONE 'UTC')::date, 1)
        ON CONFLICT (week_of) DO UPDATE SET revoked = token_weekly_activity.revoked + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER access_tokens_tallies_in AFTER INSERT OR DELETE ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION token_tallies_follow();
CREATE TRIGGER access_tokens_tallies_moved AFTER UPDATE OF expires_at, workflow_state, owner_roles, last_used_at, created_at
    ON access_tokens FOR EACH ROW
    WHEN (OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.workflow_state <> NEW.workflow_state
          OR OLD.owner_roles <> NEW.owner_roles
          OR coalesce(OLD.last_used_at, OLD.created_at)::date <> coalesce(NEW.last_used_at, NEW.created_at)::date)
    EXECUTE FUNCTION token_tallies_follow();

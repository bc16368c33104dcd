-- The account-wide views at a million tokens (issue 16): who holds each token as a column
-- the views can index, and the dashboard's figures as tallies kept by the database itself
-- in the same transaction as every change, whichever path wrote it.

-- A token's owner's roles as bits: student 1, teacher 2, ta 4, designer 8, observer 16,
-- and 32 for any account role. A student-only owner is exactly 1 (SPEC 1).
ALTER TABLE access_tokens ADD COLUMN owner_roles INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION owner_roles_of(uid BIGINT) RETURNS INTEGER LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(bit), 0)::INTEGER FROM (
        SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                         WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = uid
        UNION SELECT 32 FROM user_account_roles WHERE user_id = uid
    ) AS bits
$$;

UPDATE access_tokens SET owner_roles = m.mask
FROM (
    SELECT user_id, sum(bit)::INTEGER AS mask FROM (
        SELECT user_id, CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                                  WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles
        UNION
        SELECT user_id, 32 FROM user_account_roles
    ) AS bits GROUP BY user_id
) AS m
WHERE m.user_id = access_tokens.user_id;

CREATE INDEX access_tokens_owner_idx ON access_tokens (owner_roles, id);
CREATE INDEX access_tokens_owner_expiry_idx ON access_tokens (owner_roles, expires_at, id);
CREATE INDEX access_tokens_expiry_id_idx ON access_tokens (expires_at, id);
-- "Unused for N days": the last use, or the creation of a token never used.
CREATE INDEX access_tokens_activity_idx ON access_tokens ((coalesce(last_used_at, created_at)), id);
CREATE INDEX access_tokens_owner_activity_idx ON access_tokens (owner_roles, (coalesce(last_used_at, created_at)), id);

CREATE FUNCTION owner_roles_follow_roles() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE uid BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN uid := OLD.user_id; ELSE uid := NEW.user_id; END IF;
    UPDATE access_tokens SET owner_roles = owner_roles_of(uid)
    WHERE user_id = uid AND owner_roles <> owner_roles_of(uid);
    RETURN NULL;
END $$;
CREATE TRIGGER user_roles_owner_roles AFTER INSERT OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION owner_roles_follow_roles();
CREATE TRIGGER user_account_roles_owner_roles AFTER INSERT OR DELETE ON user_account_roles
    FOR EACH ROW EXECUTE FUNCTION owner_roles_follow_roles();

CREATE FUNCTION owner_roles_of_new_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner_roles := owner_roles_of(NEW.user_id);
    RETURN NEW;
END $$;
CREATE TRIGGER access_tokens_owner_roles BEFORE INSERT ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION owner_roles_of_new_token();

-- The dashboard's tally: how many tokens expire on each day ('9999-12-31': never), by
-- their owner's roles and whether they are pending.
CREATE TABLE token_tallies (
    expires_on  DATE NOT NULL,
    owner_roles INTEGER NOT NULL,
    pending     BOOLEAN NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (expires_on, owner_roles, pending)
);
INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
SELECT coalesce(expires_at::date, DATE '9999-12-31'), owner_roles, workflow_state = 'pending', count(*)
FROM access_tokens GROUP BY 1, 2, 3;

-- The tokens that were unexpired when the tally was last swept, by the day of their last
-- use (or creation): "unused for 90 days" among live tokens. The server's housekeeping
-- sweeps every minute, taking out the tokens that expired since; a count corrects for the
-- minute since the last sweep.
CREATE TABLE token_activity_tallies (
    active_on DATE PRIMARY KEY NOT NULL,
    n         BIGINT NOT NULL
);
CREATE TABLE tally_sweep (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    swept_to TIMESTAMP NOT NULL
);
INSERT INTO tally_sweep (id, swept_to) VALUES (1, now() AT TIME ZONE 'UTC');
INSERT INTO token_activity_tallies (active_on, n)
SELECT coalesce(last_used_at, created_at)::date, count(*) FROM access_tokens
WHERE expires_at IS NULL OR expires_at > (SELECT swept_to FROM tally_sweep)
GROUP BY 1;

CREATE TABLE token_weekly_activity (
    week_of DATE PRIMARY KEY NOT NULL,
    created BIGINT NOT NULL DEFAULT 0,
    revoked BIGINT NOT NULL DEFAULT 0
);
INSERT INTO token_weekly_activity (week_of, created)
SELECT date_trunc('week', created_at)::date, count(*) FROM access_tokens GROUP BY 1;

CREATE FUNCTION token_tallies_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mark TIMESTAMP;
BEGIN
    -- Shared with other writers, exclusive with the sweep: which tokens are "live as of
    -- the mark" is decided against the mark the sweep leaves.
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

-- Users by login, name or email: a trigram index for substring search.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_idx ON users
    USING gin ((lower(login || chr(31) || name || chr(31) || email)) gin_trgm_ops);

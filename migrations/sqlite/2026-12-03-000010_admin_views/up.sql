-- The account-wide views at a million tokens (issue 16): who holds each token as a column
-- the views can index, and the dashboard's figures as tallies kept by the database itself
-- in the same transaction as every change, whichever path wrote it.

-- A token's owner's roles as bits: student 1, teacher 2, ta 4, designer 8, observer 16,
-- and 32 for any account role. A student-only owner is exactly 1 (SPEC 1). Kept by the
-- triggers below whenever a role is given or taken away, or a token is created.
ALTER TABLE access_tokens ADD COLUMN owner_roles INTEGER NOT NULL DEFAULT 0;

UPDATE access_tokens SET owner_roles = m.mask
FROM (
    SELECT user_id, sum(bit) AS mask FROM (
        SELECT user_id, CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                                  WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles
        UNION
        SELECT user_id, 32 FROM user_account_roles
    ) GROUP BY user_id
) AS m
WHERE m.user_id = access_tokens.user_id;

CREATE INDEX access_tokens_owner_idx ON access_tokens (owner_roles, id);
CREATE INDEX access_tokens_owner_expiry_idx ON access_tokens (owner_roles, expires_at);
-- "Unused for N days": the last use, or the creation of a token never used.
CREATE INDEX access_tokens_activity_idx ON access_tokens (coalesce(last_used_at, created_at));
CREATE INDEX access_tokens_owner_activity_idx ON access_tokens (owner_roles, coalesce(last_used_at, created_at));

CREATE TRIGGER user_roles_owner_roles_in AFTER INSERT ON user_roles BEGIN
    UPDATE access_tokens SET owner_roles = (
        SELECT coalesce(sum(bit), 0) FROM (
            SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                             WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = NEW.user_id
            UNION SELECT 32 FROM user_account_roles WHERE user_id = NEW.user_id))
    WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER user_roles_owner_roles_out AFTER DELETE ON user_roles BEGIN
    UPDATE access_tokens SET owner_roles = (
        SELECT coalesce(sum(bit), 0) FROM (
            SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                             WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = OLD.user_id
            UNION SELECT 32 FROM user_account_roles WHERE user_id = OLD.user_id))
    WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER user_account_roles_owner_roles_in AFTER INSERT ON user_account_roles BEGIN
    UPDATE access_tokens SET owner_roles = owner_roles | 32 WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER user_account_roles_owner_roles_out AFTER DELETE ON user_account_roles
WHEN NOT EXISTS (SELECT 1 FROM user_account_roles WHERE user_id = OLD.user_id) BEGIN
    UPDATE access_tokens SET owner_roles = owner_roles & ~32 WHERE user_id = OLD.user_id;
END;

-- The dashboard's tally: how many tokens expire on each day ('9999-12-31': never), by
-- their owner's roles and whether they are pending.
CREATE TABLE token_tallies (
    expires_on  DATE NOT NULL,
    owner_roles INTEGER NOT NULL,
    pending     BOOLEAN NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (expires_on, owner_roles, pending)
) WITHOUT ROWID;

INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
SELECT coalesce(date(expires_at), '9999-12-31'), owner_roles, workflow_state = 'pending', count(*)
FROM access_tokens GROUP BY 1, 2, 3;

-- The tokens that were unexpired when the tally was last swept, by the day of their last
-- use (or creation): "unused for 90 days" among live tokens. The server's housekeeping
-- sweeps every minute, taking out the tokens that expired since; a count corrects for the
-- minute since the last sweep.
CREATE TABLE token_activity_tallies (
    active_on DATE PRIMARY KEY NOT NULL,
    n         BIGINT NOT NULL
) WITHOUT ROWID;
CREATE TABLE tally_sweep (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    swept_to TIMESTAMP NOT NULL
);
INSERT INTO tally_sweep (id, swept_to) VALUES (1, strftime('%Y-%m-%d %H:%M:%f', 'now'));

INSERT INTO token_activity_tallies (active_on, n)
SELECT date(coalesce(last_used_at, created_at)), count(*) FROM access_tokens
WHERE expires_at IS NULL OR expires_at > (SELECT swept_to FROM tally_sweep)
GROUP BY 1;

CREATE TRIGGER access_tokens_tally_in AFTER INSERT ON access_tokens BEGIN
    INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
    VALUES (coalesce(date(NEW.expires_at), '9999-12-31'), NEW.owner_roles, NEW.workflow_state = 'pending', 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO token_activity_tallies (active_on, n)
    SELECT date(coalesce(NEW.last_used_at, NEW.created_at)), 1
    WHERE NEW.expires_at IS NULL OR NEW.expires_at > (SELECT swept_to FROM tally_sweep)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- A token is written with its owner's roles (the app knows them); the database corrects a
-- wrong value (the update moves the token in the tally).
CREATE TRIGGER access_tokens_owner_roles_in AFTER INSERT ON access_tokens
WHEN NEW.owner_roles IS NOT (
    SELECT coalesce(sum(bit), 0) FROM (
        SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                         WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = NEW.user_id
        UNION SELECT 32 FROM user_account_roles WHERE user_id = NEW.user_id)) BEGIN
    UPDATE access_tokens SET owner_roles = (
        SELECT coalesce(sum(bit), 0) FROM (
            SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                             WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = NEW.user_id
            UNION SELECT 32 FROM user_account_roles WHERE user_id = NEW.user_id))
    WHERE id = NEW.id;
END;

CREATE TRIGGER access_tokens_tally_out AFTER DELETE ON access_tokens BEGIN
    UPDATE token_tallies SET n = n - 1
    WHERE expires_on = coalesce(date(OLD.expires_at), '9999-12-31') AND owner_roles = OLD.owner_roles
      AND pending = (OLD.workflow_state = 'pending');
    UPDATE token_activity_tallies SET n = n - 1
    WHERE active_on = date(coalesce(OLD.last_used_at, OLD.created_at))
      AND (OLD.expires_at IS NULL OR OLD.expires_at > (SELECT swept_to FROM tally_sweep));
END;

CREATE TRIGGER access_tokens_tally_moved AFTER UPDATE OF expires_at, workflow_state, owner_roles ON access_tokens
WHEN coalesce(date(OLD.expires_at), '9999-12-31') <> coalesce(date(NEW.expires_at), '9999-12-31')
  OR OLD.workflow_state <> NEW.workflow_state OR OLD.owner_roles <> NEW.owner_roles BEGIN
    UPDATE token_tallies SET n = n - 1
    WHERE expires_on = coalesce(date(OLD.expires_at), '9999-12-31') AND owner_roles = OLD.owner_roles
      AND pending = (OLD.workflow_state = 'pending');
    INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
    VALUES (coalesce(date(NEW.expires_at), '9999-12-31'), NEW.owner_roles, NEW.workflow_state = 'pending', 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER access_tokens_activity_moved AFTER UPDATE OF expires_at, last_used_at, created_at ON access_tokens
WHEN date(coalesce(OLD.last_used_at, OLD.created_at)) <> date(coalesce(NEW.last_used_at, NEW.created_at))
  OR OLD.expires_at IS NOT NEW.expires_at BEGIN
    UPDATE token_activity_tallies SET n = n - 1
    WHERE active_on = date(coalesce(OLD.last_used_at, OLD.created_at))
      AND (OLD.expires_at IS NULL OR OLD.expires_at > (SELECT swept_to FROM tally_sweep));
    INSERT INTO token_activity_tallies (active_on, n)
    SELECT date(coalesce(NEW.last_used_at, NEW.created_at)), 1
    WHERE NEW.expires_at IS NULL OR NEW.expires_at > (SELECT swept_to FROM tally_sweep)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

-- Creations and revocations per week, for the dashboard's chart (deleted tokens are gone,
-- so they are counted as they go).
CREATE TABLE token_weekly_activity (
    week_of DATE PRIMARY KEY NOT NULL,
    created BIGINT NOT NULL DEFAULT 0,
    revoked BIGINT NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO token_weekly_activity (week_of, created)
SELECT date(created_at, '-6 days', 'weekday 1'), count(*) FROM access_tokens GROUP BY 1;
CREATE TRIGGER access_tokens_week_in AFTER INSERT ON access_tokens BEGIN
    INSERT INTO token_weekly_activity (week_of, created) VALUES (date(NEW.created_at, '-6 days', 'weekday 1'), 1)
    ON CONFLICT DO UPDATE SET created = created + 1;
END;
CREATE TRIGGER access_tokens_week_out AFTER DELETE ON access_tokens BEGIN
    INSERT INTO token_weekly_activity (week_of, revoked) VALUES (date('now', '-6 days', 'weekday 1'), 1)
    ON CONFLICT DO UPDATE SET revoked = revoked + 1;
END;

-- Users by login, name or email: a trigram index for substring search.
CREATE VIRTUAL TABLE users_search USING fts5 (
    login, name, email, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
CREATE TRIGGER users_search_in AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, login, name, email) VALUES (NEW.id, NEW.login, NEW.name, NEW.email);
END;
CREATE TRIGGER users_search_out AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, login, name, email) VALUES ('delete', OLD.id, OLD.login, OLD.name, OLD.email);
END;
CREATE TRIGGER users_search_changed AFTER UPDATE OF login, name, email ON users BEGIN
    INSERT INTO users_search (users_search, rowid, login, name, email) VALUES ('delete', OLD.id, OLD.login, OLD.name, OLD.email);
    INSERT INTO users_search (rowid, login, name, email) VALUES (NEW.id, NEW.login, NEW.name, NEW.email);
END;

-- SQLite runs a statement's AFTER INSERT triggers newest first. The correction of a
-- token's owner_roles ran before the tally's insert: it moved a tally row that did not
-- exist yet, and the token was then tallied under its wrong roles as well — counted twice.
-- One trigger now does both, in order: tally the token as written, then correct it (the
-- update's own trigger moves it in the tally).
DROP TRIGGER access_tokens_owner_roles_in;
DROP TRIGGER access_tokens_tally_in;

CREATE TRIGGER access_tokens_tally_in AFTER INSERT ON access_tokens BEGIN
    INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
    VALUES (coalesce(date(NEW.expires_at), '9999-12-31'), NEW.owner_roles, NEW.workflow_state = 'pending', 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO token_activity_tallies (active_on, n)
    SELECT date(coalesce(NEW.last_used_at, NEW.created_at)), 1
    WHERE NEW.expires_at IS NULL OR NEW.expires_at > (SELECT swept_to FROM tally_sweep)
    ON CONFLICT DO UPDATE SET n = n + 1;
    -- The app writes the owner's roles; the database corrects a wrong value.
    UPDATE access_tokens SET owner_roles = (
        SELECT coalesce(sum(bit), 0) FROM (
            SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                             WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = NEW.user_id
            UNION SELECT 32 FROM user_account_roles WHERE user_id = NEW.user_id))
    WHERE id = NEW.id AND NEW.owner_roles IS NOT (
        SELECT coalesce(sum(bit), 0) FROM (
            SELECT CASE role WHEN 'student' THEN 1 WHEN 'teacher' THEN 2 WHEN 'ta' THEN 4
                             WHEN 'designer' THEN 8 ELSE 16 END AS bit FROM user_roles WHERE user_id = NEW.user_id
            UNION SELECT 32 FROM user_account_roles WHERE user_id = NEW.user_id));
END;

-- Any token counted twice before this: the tally again from the tokens themselves.
DELETE FROM token_tallies;
INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
SELECT coalesce(date(expires_at), '9999-12-31'), owner_roles, workflow_state = 'pending', count(*)
FROM access_tokens GROUP BY 1, 2, 3;

DROP TRIGGER access_tokens_tally_in;

CREATE TRIGGER access_tokens_tally_in AFTER INSERT ON access_tokens BEGIN
    INSERT INTO token_tallies (expires_on, owner_roles, pending, n)
    VALUES (coalesce(date(NEW.expires_at), '9999-12-31'), NEW.owner_roles, NEW.workflow_state = 'pending', 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO token_activity_tallies (active_on, n)
    SELECT date(coalesce(NEW.last_used_at, NEW.created_at)), 1
    WHERE NEW.expires_at IS NULL OR NEW.expires_at > (SELECT swept_to FROM tally_sweep)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;

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

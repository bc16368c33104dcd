-- One kind of event about or by one user, newest first. A student's own Access Tokens page
-- names their latest tokens revoked as leaked on every view, and the audit log is filtered
-- by subject or actor and action. By the subject's or actor's index alone, each read every
-- event about or by the user to keep the few of that kind: thousands for a user whose
-- tokens a script churns through, 200,000 for an administrator's script.
CREATE INDEX audit_events_subject_action_idx ON audit_events (subject_user_id, action, id);
CREATE INDEX audit_events_actor_action_idx ON audit_events (actor_id, action, id);

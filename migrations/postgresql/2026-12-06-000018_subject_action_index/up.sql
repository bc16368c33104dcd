-- One kind of event about one user, newest first: a student's own Access Tokens page names
-- their latest tokens revoked as leaked on every view, and the audit log is filtered by
-- subject and action. By the subject's index alone, both read every event about the user
-- and keep the few of that kind: thousands for a user whose tokens a script churns through.
CREATE INDEX audit_events_subject_action_idx ON audit_events (subject_user_id, action, id);

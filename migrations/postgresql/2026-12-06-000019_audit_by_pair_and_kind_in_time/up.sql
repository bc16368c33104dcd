-- What one user did to another, newest first: the audit log filtered by actor and subject.
-- By the actor's index alone it read every event of the actor to keep those about the
-- subject: hundreds of milliseconds for an administrator's script that had acted 200,000
-- times.
CREATE INDEX audit_events_subject_actor_idx ON audit_events (subject_user_id, actor_id, id);

-- One kind of event by or about one user (000018) in time order: with dates too (the
-- revocations an administrator made in the last year), the id-ordered index walked every
-- one of the kind newer than the period. Such a view is now in time order, dated or not,
-- as the leak notes of a tokens page are.
DROP INDEX audit_events_actor_action_idx;
DROP INDEX audit_events_subject_action_idx;
CREATE INDEX audit_events_actor_action_time_idx ON audit_events (actor_id, action, occurred_at, id);
CREATE INDEX audit_events_subject_action_time_idx ON audit_events (subject_user_id, action, occurred_at, id);

-- What one user did to another, newest first: the audit log filtered by actor and subject.
-- By the actor's index alone it read every event of the actor to keep those about the
-- subject: 280–370 ms for an administrator's script that had acted 200,000 times. The
-- subject comes first: with dates too, the subject's (subject, time) index is then taken,
-- which holds what happened to one user, not what a script did to everyone. The rowid ends
-- each key, so `ORDER BY id DESC` within one pair needs no sort.
CREATE INDEX audit_events_subject_actor_idx ON audit_events (subject_user_id, actor_id);

-- One kind of event by or about one user (000018) in time order: with dates too (the
-- revocations an administrator made in the last year), the id-ordered index walked every
-- one of the kind newer than the period, and the (actor, time) index every event of the
-- actor in it: 340 ms for the script's revocations of a year, of which it made none. Such
-- a view is now in time order, dated or not, as the leak notes of a tokens page are.
DROP INDEX audit_events_actor_action_idx;
DROP INDEX audit_events_subject_action_idx;
CREATE INDEX audit_events_actor_action_time_idx ON audit_events (actor_id, action, occurred_at);
CREATE INDEX audit_events_subject_action_time_idx ON audit_events (subject_user_id, action, occurred_at);

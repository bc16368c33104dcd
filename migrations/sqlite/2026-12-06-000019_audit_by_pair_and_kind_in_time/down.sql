DROP INDEX audit_events_subject_action_time_idx;
DROP INDEX audit_events_actor_action_time_idx;
CREATE INDEX audit_events_subject_action_idx ON audit_events (subject_user_id, action);
CREATE INDEX audit_events_actor_action_idx ON audit_events (actor_id, action);
DROP INDEX audit_events_subject_actor_idx;

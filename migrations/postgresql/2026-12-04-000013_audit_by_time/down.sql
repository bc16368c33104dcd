DROP INDEX audit_events_subject_time_idx;
DROP INDEX audit_events_actor_time_idx;
DROP INDEX audit_events_action_time_idx;
DROP INDEX audit_events_time_idx;

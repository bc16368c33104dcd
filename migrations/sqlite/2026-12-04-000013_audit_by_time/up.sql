-- The audit log between two dates (the dashboard's weekly bars open their own week): an
-- index walk in time order, alone or within one action, actor or subject. The rowid ends
-- each key, so `ORDER BY occurred_at DESC, id DESC` needs no sort.
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at);
CREATE INDEX audit_events_action_time_idx ON audit_events (action, occurred_at);
CREATE INDEX audit_events_actor_time_idx ON audit_events (actor_id, occurred_at);
CREATE INDEX audit_events_subject_time_idx ON audit_events (subject_user_id, occurred_at);

DROP INDEX access_tokens_pending_idx;
DROP INDEX access_tokens_owner_pending_idx;
CREATE INDEX access_tokens_pending_idx ON access_tokens (id) WHERE workflow_state = 'pending';
CREATE INDEX access_tokens_owner_pending_idx ON access_tokens (owner_roles, id) WHERE workflow_state = 'pending';

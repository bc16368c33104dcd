-- All tokens says how many tokens match its filters, counting up to a thousand (issue 16).
-- The tokens waiting for activation are listed only while unexpired, and their indexes
-- held the id alone: each one counted was a read of its row for the expiry. With the
-- expiry carried in the index, the count can be an index-only scan.
DROP INDEX access_tokens_pending_idx;
DROP INDEX access_tokens_owner_pending_idx;
CREATE INDEX access_tokens_pending_idx ON access_tokens (id) INCLUDE (expires_at)
WHERE workflow_state = 'pending';
CREATE INDEX access_tokens_owner_pending_idx ON access_tokens (owner_roles, id) INCLUDE (expires_at)
WHERE workflow_state = 'pending';

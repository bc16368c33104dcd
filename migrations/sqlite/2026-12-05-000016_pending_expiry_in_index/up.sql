-- All tokens says how many tokens match its filters, counting up to a thousand (issue 16).
-- The tokens waiting for activation are listed only while unexpired, and their indexes
-- hold the id alone: each one counted was a read of its row for the expiry, a thousand
-- random reads of the table (190 ms cold at a million tokens). These carry the expiry, so
-- the count reads them alone. They are beside the narrower ones, not in their place: for
-- the page, which reads the rows anyway, SQLite's planner (without statistics) takes a
-- wider index for costlier than the owner index, and would walk every token of the owner.
-- One token in a hundred is pending, so each is small.
CREATE INDEX access_tokens_pending_expiry_idx ON access_tokens (id, expires_at)
WHERE workflow_state = 'pending';
CREATE INDEX access_tokens_owner_pending_expiry_idx ON access_tokens (owner_roles, id, expires_at)
WHERE workflow_state = 'pending';

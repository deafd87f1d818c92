-- The console overview's fallback counts per hour: an account's fallbacks by the time their
-- message was created, with their state, so the count can be answered from the index alone.
-- Only messages that name a FallBackId have a fallback, so most sends never write to it; and a
-- fallback's state change already touches fallbacks_active, so this index costs no HOT update.
CREATE INDEX fallbacks_account_time ON fallbacks(account_id, created_at, state);

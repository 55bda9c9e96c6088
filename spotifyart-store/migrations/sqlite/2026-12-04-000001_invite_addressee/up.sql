-- Invites for someone at a listening service, by name (keep in step with
-- ../../postgres): only that account may accept them.
ALTER TABLE invites ADD COLUMN for_provider TEXT;
ALTER TABLE invites ADD COLUMN for_name TEXT;

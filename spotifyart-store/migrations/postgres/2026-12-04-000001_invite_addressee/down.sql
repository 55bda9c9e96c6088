ALTER TABLE invites DROP COLUMN for_name;
ALTER TABLE invites DROP COLUMN for_provider;

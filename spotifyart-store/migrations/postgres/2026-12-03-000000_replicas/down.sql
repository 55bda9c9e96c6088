DROP TABLE sign_ins;
ALTER TABLE oauth_tokens DROP COLUMN refresh_lease_until;
ALTER TABLE oauth_tokens DROP COLUMN refresh_lease_owner;

-- Several servers on one database (keep in step with ../../sqlite).

-- One refresh of a user's tokens at a time across every process: the
-- provider rotates refresh tokens, so a second concurrent refresh would
-- fail and look like a revoked grant.
ALTER TABLE oauth_tokens ADD COLUMN refresh_lease_owner TEXT;
ALTER TABLE oauth_tokens ADD COLUMN refresh_lease_until BIGINT;

-- Sign-ins in progress, under the SHA-256 of their OAuth state, so any
-- server can finish one, once. The PKCE verifier is AES-256-GCM ciphertext.
CREATE TABLE sign_ins (
    state_hash TEXT PRIMARY KEY NOT NULL,
    key_id TEXT NOT NULL,
    verifier_nonce BYTEA NOT NULL,
    verifier_ciphertext BYTEA NOT NULL,
    next_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_ins_expiry ON sign_ins (expires_at);

-- SpotifyArt schema (SQLite). Keep in step with ../../postgres: the same
-- tables, columns and indexes; only type names differ.
-- Times are microseconds since the Unix epoch (BIGINT), ids are UUID text,
-- structured values are JSON text.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    provider TEXT NOT NULL,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (provider, account_id)
);
CREATE INDEX accounts_user ON accounts (user_id);

-- Token values are AES-256-GCM ciphertext; key_id names the key.
CREATE TABLE oauth_tokens (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    key_id TEXT NOT NULL,
    access_nonce BLOB NOT NULL,
    access_ciphertext BLOB NOT NULL,
    refresh_nonce BLOB,
    refresh_ciphertext BLOB,
    expires_at BIGINT NOT NULL,
    scopes TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider)
);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE mood_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    time_range TEXT NOT NULL,
    mood TEXT NOT NULL,
    computed_at BIGINT NOT NULL
);
CREATE INDEX mood_snapshots_latest ON mood_snapshots (user_id, time_range, computed_at);

CREATE TABLE matches (
    id TEXT PRIMARY KEY NOT NULL,
    user_a TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_b TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX matches_user_a ON matches (user_a, created_at);
CREATE INDEX matches_user_b ON matches (user_b, created_at);

-- Only the SHA-256 of an invite code is stored.
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY NOT NULL,
    inviter TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    match_id TEXT REFERENCES matches (id) ON DELETE SET NULL
);

CREATE TABLE artworks (
    id TEXT PRIMARY KEY NOT NULL,
    content_key TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    request TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    generation_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    png BLOB NOT NULL
);

-- Who is in each artwork (and may see it); created_at is copied for the
-- per-user gallery order.
CREATE TABLE artwork_subjects (
    artwork_id TEXT NOT NULL REFERENCES artworks (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (artwork_id, user_id)
);
CREATE INDEX artwork_subjects_gallery ON artwork_subjects (user_id, created_at);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    content_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    owner TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
    progress DOUBLE NOT NULL,
    last_error TEXT,
    artwork_id TEXT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    run_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One live (queued, running) or succeeded job per artwork: duplicate
-- requests find the existing job.
CREATE UNIQUE INDEX jobs_one_per_key ON jobs (content_key) WHERE state <> 'failed';
CREATE INDEX jobs_queued ON jobs (state, run_after, created_at);
CREATE INDEX jobs_leased ON jobs (state, lease_expires_at);

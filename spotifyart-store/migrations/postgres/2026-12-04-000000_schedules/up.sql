-- Users' recurring playlist tasks (keep in step with ../../sqlite).

-- One row per user and task (the task as JSON, e.g. {"kind":"cover",
-- "playlist":"…"}). A worker claims a due row with a lease by a guarded
-- update; finishing moves next_run_at to the next slot of the grid.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    period_secs BIGINT NOT NULL CHECK (period_secs >= 60),
    next_run_at BIGINT NOT NULL,
    paused TEXT,
    runs INTEGER NOT NULL,
    failures INTEGER NOT NULL,
    last_run_at BIGINT,
    last_result TEXT,
    last_error TEXT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, task)
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused IS NULL;

-- +goose Up
-- Scheduled jobs: one row per run. A scheduled run is keyed by (job, tick): inserting it
-- is how a process claims the tick, so a tick runs once across processes. Manual runs
-- (POST /jobs/{name}/trigger) are outside the schedule and not keyed by their tick.

CREATE TABLE job_runs (
    id          TEXT    NOT NULL PRIMARY KEY,
    job         TEXT    NOT NULL,
    tick        TEXT    NOT NULL,
    manual      INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    status      TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error       TEXT    NOT NULL DEFAULT '',
    owner       TEXT    NOT NULL DEFAULT '',
    lease_until TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT
) STRICT;

CREATE UNIQUE INDEX job_runs_tick ON job_runs (job, tick) WHERE manual = 0;
CREATE INDEX job_runs_job ON job_runs (job, tick, id);

-- +goose Down
DROP TABLE job_runs;

-- +goose Up
-- Scheduled jobs: one row per run. A scheduled run is keyed by (job, tick): inserting it
-- is how a process claims the tick, so a tick runs once across processes. Manual runs
-- (POST /jobs/{name}/trigger) are outside the schedule and not keyed by their tick.

CREATE TABLE job_runs (
    id          text        NOT NULL PRIMARY KEY,
    job         text        NOT NULL,
    tick        timestamptz NOT NULL,
    manual      boolean     NOT NULL DEFAULT false,
    status      text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    attempts    integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error       text        NOT NULL DEFAULT '',
    owner       text        NOT NULL DEFAULT '',
    lease_until timestamptz NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);

CREATE UNIQUE INDEX job_runs_tick ON job_runs (job, tick) WHERE NOT manual;
CREATE INDEX job_runs_job ON job_runs (job, tick, id);

-- +goose Down
DROP TABLE job_runs;

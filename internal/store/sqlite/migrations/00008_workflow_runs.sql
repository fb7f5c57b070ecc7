-- +goose Up
-- Workflows (`workflow NAME { … }`): one row per run and one per step outcome. A run is
-- executed by the process holding its lease (owner, lease_until); a live run whose lease
-- lapsed is claimed again once due (next_at). Same conventions as 00002: fixed-width UTC
-- TEXT times, STRICT. JSON values are BLOBs, so the exact bytes come back unchanged.

CREATE TABLE workflow_runs (
    id               TEXT    NOT NULL PRIMARY KEY,
    workflow         TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN
                     ('pending', 'running', 'waiting', 'completed', 'stopped', 'failed', 'cancelled')),
    input            BLOB    NOT NULL,
    output           BLOB,
    error            TEXT    NOT NULL DEFAULT '',
    failed_step      TEXT    NOT NULL DEFAULT '',
    parent_id        TEXT    NOT NULL DEFAULT '',
    parent_step      TEXT    NOT NULL DEFAULT '',
    triggered_by     TEXT    NOT NULL DEFAULT '',
    -- The lease: '' and NULL when no process holds the run; an expired lease counts as none.
    owner            TEXT    NOT NULL DEFAULT '',
    lease_until      TEXT,
    next_at          TEXT,
    deadline         TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    started_at       TEXT,
    finished_at      TEXT
) STRICT;

-- The claim: live runs in due order (partial: only runs with work left). The claim
-- repeats the WHERE term exactly and names the index (INDEXED BY), as for deliveries.
CREATE INDEX workflow_runs_due ON workflow_runs (next_at, id)
    WHERE status IN ('pending', 'running', 'waiting');
-- Listing, newest first, by workflow (and status), which counts use too; by status; by
-- parent (a run's children); and unfiltered.
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, status, created_at, id);
CREATE INDEX workflow_runs_status ON workflow_runs (status, created_at, id);
CREATE INDEX workflow_runs_parent ON workflow_runs (parent_id, created_at, id);
CREATE INDEX workflow_runs_created ON workflow_runs (created_at, id);

-- seq is the rowid: it orders a run's steps as they were first stored, and an upsert
-- keeps it. Declared, so VACUUM cannot renumber it. run_id has no foreign key, as in
-- PostgreSQL: steps are written only right after their run's update in the same
-- transaction (WorkflowSave), and whatever deletes runs deletes their steps with them.
CREATE TABLE workflow_steps (
    seq         INTEGER NOT NULL PRIMARY KEY,
    run_id      TEXT    NOT NULL,
    step_id     TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('waiting', 'completed', 'skipped', 'failed', 'compensated')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    input       BLOB,
    output      BLOB,
    error       TEXT    NOT NULL DEFAULT '',
    state       BLOB,
    started_at  TEXT,
    finished_at TEXT,
    UNIQUE (run_id, step_id)
) STRICT;

-- What a step waiting for an event looks through: events of one type since a time.
CREATE INDEX events_type_created ON events (type, created_at, id);

-- +goose Down
DROP INDEX events_type_created;
DROP TABLE workflow_steps;
DROP TABLE workflow_runs;

-- +goose Up
-- Workflows (`workflow NAME { … }`): one row per run and one per step outcome. A run is
-- executed by the process holding its lease (owner, lease_until); a live run whose lease
-- lapsed is claimed again once due (next_at), with FOR UPDATE SKIP LOCKED. JSON values
-- are bytea, as event payloads: the exact bytes come back unchanged (jsonb would reorder
-- keys), and nothing is parsed on the hot path.

CREATE TABLE workflow_runs (
    id               text        NOT NULL PRIMARY KEY,
    workflow         text        NOT NULL,
    status           text        NOT NULL CHECK (status IN
                     ('pending', 'running', 'waiting', 'completed', 'stopped', 'failed', 'cancelled')),
    input            bytea       NOT NULL,
    output           bytea,
    error            text        NOT NULL DEFAULT '',
    failed_step      text        NOT NULL DEFAULT '',
    parent_id        text        NOT NULL DEFAULT '',
    parent_step      text        NOT NULL DEFAULT '',
    triggered_by     text        NOT NULL DEFAULT '',
    -- The lease: '' and NULL when no process holds the run; an expired lease counts as none.
    owner            text        NOT NULL DEFAULT '',
    lease_until      timestamptz,
    next_at          timestamptz,
    deadline         timestamptz,
    cancel_requested boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz
-- Every step boundary updates the run's row; while it runs, only unindexed columns (the
-- lease, updated_at) change, and free room in the page lets those updates be HOT.
) WITH (fillfactor = 80);

-- The claim: live runs in due order (partial: only runs with work left).
CREATE INDEX workflow_runs_due ON workflow_runs (next_at, id)
    WHERE status IN ('pending', 'running', 'waiting');
-- Listing, newest first, by workflow (and status), which counts use too; by status; by
-- parent (a run's children); and unfiltered.
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow, status, created_at, id);
CREATE INDEX workflow_runs_status ON workflow_runs (status, created_at, id);
CREATE INDEX workflow_runs_parent ON workflow_runs (parent_id, created_at, id);
CREATE INDEX workflow_runs_created ON workflow_runs (created_at, id);

-- seq orders a run's steps as they were first stored; an upsert keeps it. run_id has no
-- foreign key on purpose: steps are written only by the statement that has just updated
-- their run (WorkflowSave), and the key's check on every step row cost an eighth of the
-- hot path. Whatever deletes runs deletes their steps with them.
CREATE TABLE workflow_steps (
    run_id      text        NOT NULL,
    step_id     text        NOT NULL,
    seq         bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    status      text        NOT NULL CHECK (status IN ('waiting', 'completed', 'skipped', 'failed', 'compensated')),
    attempts    integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    input       bytea,
    output      bytea,
    error       text        NOT NULL DEFAULT '',
    state       bytea,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, step_id)
);

-- What a step waiting for an event looks through: events of one type since a time.
CREATE INDEX events_type_created ON events (type, created_at, id);

-- +goose Down
DROP INDEX events_type_created;
DROP TABLE workflow_steps;
DROP TABLE workflow_runs;

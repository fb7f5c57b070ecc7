-- +goose Up
-- Event handlers (`on "user.created" do …`): one execution per matching handler, written
-- in the event's transaction, claimed with a lease like a delivery. Same conventions as
-- 00002: fixed-width UTC TEXT times, STRICT.

CREATE TABLE handler_executions (
    id           TEXT    NOT NULL PRIMARY KEY,
    handler      TEXT    NOT NULL,
    event_id     TEXT    NOT NULL REFERENCES events (id),
    event_type   TEXT    NOT NULL,
    depth        INTEGER NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'failed', 'done', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    next_run_at  TEXT,
    last_error   TEXT    NOT NULL DEFAULT '',
    -- The lease of a claimed execution; an expired lease counts as none.
    locked_until TEXT,
    locked_by    TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
) STRICT;

-- The claim: waiting executions in due order (partial: only the queue).
CREATE INDEX handler_executions_due ON handler_executions (next_run_at, id)
    WHERE status IN ('pending', 'failed');
-- Listing, newest first, by status or event type; counts by handler.
CREATE INDEX handler_executions_status ON handler_executions (status, created_at, id);
CREATE INDEX handler_executions_created ON handler_executions (created_at, id);
CREATE INDEX handler_executions_handler ON handler_executions (handler, status);
CREATE INDEX handler_executions_event ON handler_executions (event_id);

-- +goose Down
DROP TABLE handler_executions;

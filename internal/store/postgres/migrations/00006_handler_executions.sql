-- +goose Up
-- Event handlers (`on "user.created" do …`): one execution per matching handler, written
-- in the event's transaction, claimed with a lease (FOR UPDATE SKIP LOCKED) like a
-- delivery.

CREATE TABLE handler_executions (
    id           text        NOT NULL PRIMARY KEY,
    handler      text        NOT NULL,
    event_id     text        NOT NULL REFERENCES events (id),
    event_type   text        NOT NULL,
    depth        integer     NOT NULL DEFAULT 0,
    status       text        NOT NULL CHECK (status IN ('pending', 'failed', 'done', 'dead')),
    attempts     integer     NOT NULL DEFAULT 0,
    max_attempts integer     NOT NULL,
    next_run_at  timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    -- The lease of a claimed execution; an expired lease counts as none.
    locked_until timestamptz,
    locked_by    text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

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

-- +goose Up
-- Flows: the dead-letter queues, messages a flow gave up on after its retries. The body
-- is bytea so the message comes back exactly as the source delivered it; the headers are
-- a JSON object of strings (jsonb: a map has no key order to keep).

CREATE TABLE flow_dead_letters (
    id         text        NOT NULL PRIMARY KEY,
    flow       text        NOT NULL,
    queue      text        NOT NULL DEFAULT '',
    step       text        NOT NULL DEFAULT '',
    error      text        NOT NULL DEFAULT '',
    body       bytea       NOT NULL,
    headers    jsonb       NOT NULL DEFAULT '{}'
               CHECK (jsonb_typeof(headers) = 'object'),
    source_id  text        NOT NULL DEFAULT '',
    attempts   integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at timestamptz NOT NULL
);

-- Listing, newest first (created_at DESC, id DESC): by flow, which also counts by flow,
-- and across flows.
CREATE INDEX flow_dead_letters_flow ON flow_dead_letters (flow, created_at, id);
CREATE INDEX flow_dead_letters_created ON flow_dead_letters (created_at, id);

-- +goose Down
DROP TABLE flow_dead_letters;

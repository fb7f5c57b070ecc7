-- +goose Up
-- Flows: the dead-letter queues, messages a flow gave up on after its retries. Same
-- conventions as 00001 and 00002: times are fixed-width UTC TEXT, STRICT enforces the
-- declared types. The body is a BLOB so the message comes back exactly as the source
-- delivered it; the headers are a JSON object of strings.

CREATE TABLE flow_dead_letters (
    id         TEXT    NOT NULL PRIMARY KEY,
    flow       TEXT    NOT NULL,
    queue      TEXT    NOT NULL DEFAULT '',
    step       TEXT    NOT NULL DEFAULT '',
    error      TEXT    NOT NULL DEFAULT '',
    body       BLOB    NOT NULL,
    headers    TEXT    NOT NULL DEFAULT '{}'
               CHECK (json_valid(headers) AND json_type(headers) = 'object'),
    source_id  TEXT    NOT NULL DEFAULT '',
    attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at TEXT    NOT NULL
) STRICT;

-- Listing, newest first (created_at DESC, id DESC): by flow, which also counts by flow,
-- and across flows.
CREATE INDEX flow_dead_letters_flow ON flow_dead_letters (flow, created_at, id);
CREATE INDEX flow_dead_letters_created ON flow_dead_letters (created_at, id);

-- +goose Down
DROP TABLE flow_dead_letters;

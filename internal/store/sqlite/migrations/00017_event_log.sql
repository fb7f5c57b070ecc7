-- +goose Up
-- The event log read by flows' events sources: each stored event gets seq, drawn from
-- event_sequence in the transaction that stores it (under SQLite's one write lock, so
-- seq is the commit order and dense), and each flow keeps its cursor, the position of
-- the last event it acknowledged. A counter row rather than max(seq) + 1, so deleting
-- the newest events never hands their numbers out again behind a cursor. Events stored
-- before this migration keep seq 0: flows start after them.

ALTER TABLE events ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_seq ON events (seq, id);

CREATE TABLE event_sequence (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
) STRICT;
INSERT INTO event_sequence (id, n) VALUES (1, 0);

CREATE TABLE flow_event_cursors (
    flow       TEXT    NOT NULL PRIMARY KEY,
    seq        INTEGER NOT NULL,
    event_id   TEXT    NOT NULL DEFAULT '',
    updated_at TEXT    NOT NULL
) STRICT;

-- +goose Down
DROP TABLE flow_event_cursors;
DROP TABLE event_sequence;
DROP INDEX events_seq;
ALTER TABLE events DROP COLUMN seq;

-- +goose Up
-- The event log read by flows' events sources: each stored event records the id of the
-- transaction that stored it (xid8, 64 bits, no wraparound), and reads return only
-- events of transactions older than every one still running, ordered by (xid, id), so
-- no event can commit behind a flow's cursor. Each flow keeps its cursor, the position
-- of the last event it acknowledged. Events stored before this migration get xid 0:
-- flows start after them. Ids compare bytewise (COLLATE "C"), as Go compares them.
-- Needs PostgreSQL 13 or later.

ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_xid ON events (xid, id COLLATE "C");

CREATE TABLE flow_event_cursors (
    flow       text        NOT NULL PRIMARY KEY,
    seq        bigint      NOT NULL,
    event_id   text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE flow_event_cursors;
DROP INDEX events_xid;
ALTER TABLE events DROP COLUMN xid;

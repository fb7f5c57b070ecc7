-- +goose Up
-- The event stream's resumption (GET /events/stream with Last-Event-ID) lists the events
-- after one in the order they are kept: a range scan on this index.
CREATE INDEX events_created ON events (created_at, id);

-- +goose Down
DROP INDEX events_created;

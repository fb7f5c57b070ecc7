-- +goose Up
-- The W3C traceparent of the publish that made a delivery ('' when it was not traced), so
-- an attempt made later, after a restart or by another process, joins the publish's trace.
ALTER TABLE deliveries ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN trace_parent;

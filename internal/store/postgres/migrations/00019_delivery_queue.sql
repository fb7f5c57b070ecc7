-- +goose Up
-- The delivery queue moves out of deliveries into a table of its own. Before, each
-- delivery row was written with six index entries when published and six again when
-- its outcome was recorded (status is indexed, so that update could not be HOT), and
-- every claim read past the leased rows still in the due index. Now:
--
--   - delivery_queue holds one small row per waiting delivery (pending or retrying)
--     with two indexes. due_at is when a claim may take it: its next attempt, or the
--     end of its lease while a worker holds it, so a claim's index scan meets only
--     deliveries it can take, and an expired lease is simply due again. A recorded
--     outcome deletes the row (delivered, failed) or moves due_at (retrying).
--   - deliveries keeps every delivery, its status and outcome, for listing and the
--     dead-letter queue. None of its indexes names a column an outcome changes except
--     dead_lettered_at, so recording an outcome is a HOT update that adds no index
--     entry.
-- A delivery is waiting exactly when it has a queue row; its status says pending or
-- retrying then, and both change in the same statements.
--
-- The foreign key from deliveries to events goes: its check cost a lookup and a row lock
-- per inserted delivery, and the one statement that inserts deliveries inserts their
-- event with them (EventPublish); events are deleted only when no delivery refers to
-- them (EventPurge).

CREATE TABLE delivery_queue (
    id          text        NOT NULL PRIMARY KEY,
    endpoint_id text        NOT NULL,
    due_at      timestamptz NOT NULL,
    -- The worker holding the lease (for diagnosis); NULL when not leased.
    leased_by   text
-- Every row is inserted, updated and deleted within seconds: vacuum it often, whatever
-- its size, so the due index does not fill with dead entries the claim walks past.
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000,
        autovacuum_vacuum_cost_delay = 0);

CREATE INDEX delivery_queue_due ON delivery_queue (due_at, id);

INSERT INTO delivery_queue (id, endpoint_id, due_at, leased_by)
SELECT id, endpoint_id,
    GREATEST(COALESCE(next_retry_at, created_at), COALESCE(locked_until, '-infinity')),
    CASE WHEN locked_until > COALESCE(next_retry_at, created_at) THEN locked_by END
FROM deliveries WHERE status IN ('pending', 'retrying');

DROP INDEX deliveries_due;
DROP INDEX deliveries_status;
DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at, id);
ALTER TABLE deliveries DROP COLUMN locked_until, DROP COLUMN locked_by;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;

-- +goose Down
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES events (id);
ALTER TABLE deliveries ADD COLUMN locked_until timestamptz, ADD COLUMN locked_by text;
UPDATE deliveries d SET locked_until = q.due_at, locked_by = q.leased_by
FROM delivery_queue q WHERE q.id = d.id AND q.leased_by IS NOT NULL;
DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, created_at, id);
CREATE INDEX deliveries_status ON deliveries (status, created_at, id);
CREATE INDEX deliveries_due ON deliveries (next_retry_at, id)
    WHERE status IN ('pending', 'retrying');
DROP TABLE delivery_queue;

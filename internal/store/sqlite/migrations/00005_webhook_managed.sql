-- +goose Up
-- Endpoints owned by the configuration (`webhook NAME { … }` blocks): the sync of
-- declared webhooks creates, changes and deletes them on start and reload, and the API
-- refuses to change them. A declared webhook is matched by name, so no two managed
-- endpoints share one (two processes starting at once cannot both create it).

ALTER TABLE webhook_endpoints ADD COLUMN managed INTEGER NOT NULL DEFAULT 0
    CHECK (managed IN (0, 1));
CREATE UNIQUE INDEX webhook_endpoints_managed_name ON webhook_endpoints (name) WHERE managed;

-- +goose Down
DROP INDEX webhook_endpoints_managed_name;
ALTER TABLE webhook_endpoints DROP COLUMN managed;

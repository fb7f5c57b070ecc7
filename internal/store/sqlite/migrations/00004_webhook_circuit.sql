-- +goose Up
-- The endpoint circuit breaker's state beside circuit_open_until (store.Endpoint):
-- whether a half-open probe is out, the generation that tells an outcome from before
-- the last transition apart, and the failures counted in a breaker window (a JSON array
-- of times, oldest first).

ALTER TABLE webhook_endpoints ADD COLUMN circuit_probing INTEGER NOT NULL DEFAULT 0
    CHECK (circuit_probing IN (0, 1));
ALTER TABLE webhook_endpoints ADD COLUMN circuit_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN recent_failures TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(recent_failures) AND json_type(recent_failures) = 'array');

-- +goose Down
ALTER TABLE webhook_endpoints DROP COLUMN recent_failures;
ALTER TABLE webhook_endpoints DROP COLUMN circuit_generation;
ALTER TABLE webhook_endpoints DROP COLUMN circuit_probing;

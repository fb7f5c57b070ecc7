-- +goose Up
-- The endpoint circuit breaker's state beside circuit_open_until (store.Endpoint):
-- whether a half-open probe is out, the generation that tells an outcome from before
-- the last transition apart, and the failures counted in a breaker window, oldest
-- first. None is indexed, so recording outcomes keeps updating endpoints in place (HOT).

ALTER TABLE webhook_endpoints
    ADD COLUMN circuit_probing    boolean       NOT NULL DEFAULT false,
    ADD COLUMN circuit_generation bigint        NOT NULL DEFAULT 0,
    ADD COLUMN recent_failures    timestamptz[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE webhook_endpoints
    DROP COLUMN recent_failures,
    DROP COLUMN circuit_generation,
    DROP COLUMN circuit_probing;

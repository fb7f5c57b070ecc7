-- +goose Up
-- Webhooks: endpoints, published events, the delivery queue (with its dead letters) and
-- received inbound messages. Payloads are bytea, not json/jsonb, so the exact bytes that
-- are signed and sent come back unchanged (jsonb would reorder keys and drop whitespace).

CREATE TABLE webhook_endpoints (
    id                    text        NOT NULL PRIMARY KEY,
    name                  text        NOT NULL DEFAULT '',
    url                   text        NOT NULL,
    secret                text        NOT NULL,
    previous_secret       text        NOT NULL DEFAULT '',
    previous_secret_until timestamptz,
    -- Event type patterns as a JSON array of strings, e.g. ["order.*"].
    events                jsonb       NOT NULL DEFAULT '[]'
                          CHECK (jsonb_typeof(events) = 'array'),
    is_active             boolean     NOT NULL DEFAULT true,
    is_healthy            boolean     NOT NULL DEFAULT true,
    consecutive_failures  integer     NOT NULL DEFAULT 0,
    circuit_open_until    timestamptz,
    disabled_reason       text        NOT NULL DEFAULT '',
    last_delivery_at      timestamptz,
    last_failure_at       timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
-- Every recorded attempt updates its endpoint's health columns, none of them indexed:
-- free room in each page lets PostgreSQL update in place (HOT) instead of adding
-- index entries for each new row version.
) WITH (fillfactor = 50);

CREATE TABLE events (
    id         text        NOT NULL PRIMARY KEY,
    type       text        NOT NULL,
    data       bytea       NOT NULL,
    source     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);

-- endpoint_id has no foreign key on purpose: deleting an endpoint keeps its deliveries as
-- history (EndpointDelete fails the waiting ones), so the reference may dangle.
CREATE TABLE deliveries (
    id                   text        NOT NULL PRIMARY KEY,
    endpoint_id          text        NOT NULL,
    event_id             text        NOT NULL REFERENCES events (id),
    event_type           text        NOT NULL,
    payload              bytea       NOT NULL,
    status               text        NOT NULL
                         CHECK (status IN ('pending', 'retrying', 'delivered', 'failed')),
    attempt_count        integer     NOT NULL DEFAULT 0,
    max_attempts         integer     NOT NULL,
    next_retry_at        timestamptz,
    response_status_code integer,
    response_body        text        NOT NULL DEFAULT '',
    error_message        text        NOT NULL DEFAULT '',
    delivered_at         timestamptz,
    duration_ms          integer,
    dead_lettered_at     timestamptz,
    -- The lease of a claimed delivery: until when, and by which worker (for diagnosis).
    -- An expired lease counts as no lease, so a dead worker's deliveries come back.
    locked_until         timestamptz,
    locked_by            text,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
-- A claim sets only the unindexed lease columns: with room left in the page that update
-- is HOT and adds nothing to the six indexes.
) WITH (fillfactor = 80);

-- The claim: waiting deliveries in due order. Partial, so the index holds only the queue,
-- not the delivered history.
CREATE INDEX deliveries_due ON deliveries (next_retry_at, id)
    WHERE status IN ('pending', 'retrying');
-- Listing, newest first (created_at DESC, id DESC): by endpoint (and status), which
-- EndpointDelete's update uses too; by status across endpoints, which also counts by
-- status; and unfiltered.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, status, created_at, id);
CREATE INDEX deliveries_status ON deliveries (status, created_at, id);
CREATE INDEX deliveries_created ON deliveries (created_at, id);
-- A republished event's delivery count, and the foreign key to events.
CREATE INDEX deliveries_event ON deliveries (event_id);
-- The dead-letter queue, newest first, and its purge by retention.
CREATE INDEX deliveries_dead_letter ON deliveries (dead_lettered_at)
    WHERE dead_lettered_at IS NOT NULL;

CREATE TABLE inbound_messages (
    id          text        NOT NULL PRIMARY KEY,
    source      text        NOT NULL,
    provider_id text        NOT NULL,
    event_type  text        NOT NULL DEFAULT '',
    payload     bytea       NOT NULL,
    headers     bytea       NOT NULL,
    received_at timestamptz NOT NULL,
    -- A provider that redelivers a message is answered without storing it twice.
    UNIQUE (source, provider_id)
);

-- +goose Down
DROP TABLE inbound_messages;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE webhook_endpoints;

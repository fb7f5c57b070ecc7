-- +goose Up
-- Webhooks: endpoints, published events, the delivery queue (with its dead letters) and
-- received inbound messages. Same conventions as 00001: times are fixed-width UTC TEXT,
-- booleans are INTEGER 0/1, STRICT enforces the declared types. Payloads are BLOBs so the
-- exact bytes that are signed and sent come back unchanged.

CREATE TABLE webhook_endpoints (
    id                    TEXT    NOT NULL PRIMARY KEY,
    name                  TEXT    NOT NULL DEFAULT '',
    url                   TEXT    NOT NULL,
    secret                TEXT    NOT NULL,
    previous_secret       TEXT    NOT NULL DEFAULT '',
    previous_secret_until TEXT,
    -- Event type patterns as a JSON array of strings, e.g. ["order.*"].
    events                TEXT    NOT NULL DEFAULT '[]'
                          CHECK (json_valid(events) AND json_type(events) = 'array'),
    is_active             INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_healthy            INTEGER NOT NULL DEFAULT 1 CHECK (is_healthy IN (0, 1)),
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    circuit_open_until    TEXT,
    disabled_reason       TEXT    NOT NULL DEFAULT '',
    last_delivery_at      TEXT,
    last_failure_at       TEXT,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL
) STRICT;

CREATE TABLE events (
    id         TEXT NOT NULL PRIMARY KEY,
    type       TEXT NOT NULL,
    data       BLOB NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
) STRICT;

-- endpoint_id has no foreign key on purpose: deleting an endpoint keeps its deliveries as
-- history (EndpointDelete fails the waiting ones), so the reference may dangle.
CREATE TABLE deliveries (
    id                   TEXT    NOT NULL PRIMARY KEY,
    endpoint_id          TEXT    NOT NULL,
    event_id             TEXT    NOT NULL REFERENCES events (id),
    event_type           TEXT    NOT NULL,
    payload              BLOB    NOT NULL,
    status               TEXT    NOT NULL
                         CHECK (status IN ('pending', 'retrying', 'delivered', 'failed')),
    attempt_count        INTEGER NOT NULL DEFAULT 0,
    max_attempts         INTEGER NOT NULL,
    next_retry_at        TEXT,
    response_status_code INTEGER,
    response_body        TEXT    NOT NULL DEFAULT '',
    error_message        TEXT    NOT NULL DEFAULT '',
    delivered_at         TEXT,
    duration_ms          INTEGER,
    dead_lettered_at     TEXT,
    -- The lease of a claimed delivery: until when, and by which worker (for diagnosis).
    -- An expired lease counts as no lease, so a dead worker's deliveries come back.
    locked_until         TEXT,
    locked_by            TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
) STRICT;

-- The claim: waiting deliveries in due order. Partial, so the index holds only the queue,
-- not the delivered history. Queries must repeat the WHERE term exactly for SQLite to use
-- it, and the claim names it (INDEXED BY): without statistics SQLite would rather use
-- deliveries_status and sort the whole queue on every claim.
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
    id          TEXT NOT NULL PRIMARY KEY,
    source      TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    event_type  TEXT NOT NULL DEFAULT '',
    payload     BLOB NOT NULL,
    headers     BLOB NOT NULL,
    received_at TEXT NOT NULL,
    -- A provider that redelivers a message is answered without storing it twice.
    UNIQUE (source, provider_id)
) STRICT;

-- +goose Down
DROP TABLE inbound_messages;
DROP TABLE deliveries;
DROP TABLE events;
DROP TABLE webhook_endpoints;

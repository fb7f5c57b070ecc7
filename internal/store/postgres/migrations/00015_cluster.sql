-- +goose Up
-- Cluster mode: the `junction serve` processes sharing this database (nodes), and the
-- leases through which one node at a time holds a duty that must run once. A lease row
-- is taken with one conditional upsert (free, expired, or already the caller's), which
-- PostgreSQL runs atomically under the row's lock.

CREATE TABLE cluster_nodes (
    id             text        NOT NULL PRIMARY KEY,
    address        text        NOT NULL DEFAULT '',
    version        text        NOT NULL DEFAULT '',
    config_version text        NOT NULL DEFAULT '',
    started_at     timestamptz NOT NULL,
    heartbeat_at   timestamptz NOT NULL,
    stopped_at     timestamptz
);

CREATE TABLE cluster_leases (
    name        text        NOT NULL PRIMARY KEY,
    holder      text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE cluster_leases;
DROP TABLE cluster_nodes;

-- +goose Up
-- Cluster mode: the `junction serve` processes sharing this database (nodes), and the
-- leases through which one node at a time holds a duty that must run once. A lease row
-- is taken with one conditional upsert (free, expired, or already the caller's).

CREATE TABLE cluster_nodes (
    id             TEXT NOT NULL PRIMARY KEY,
    address        TEXT NOT NULL DEFAULT '',
    version        TEXT NOT NULL DEFAULT '',
    config_version TEXT NOT NULL DEFAULT '',
    started_at     TEXT NOT NULL,
    heartbeat_at   TEXT NOT NULL,
    stopped_at     TEXT
) STRICT;

CREATE TABLE cluster_leases (
    name        TEXT NOT NULL PRIMARY KEY,
    holder      TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE cluster_leases;
DROP TABLE cluster_nodes;

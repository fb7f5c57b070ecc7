-- +goose Up
-- Times are TEXT in one fixed-width UTC layout, 2006-01-02T15:04:05.000000Z, so they
-- round-trip exactly to the microsecond and sort as text in time order. STRICT makes
-- SQLite enforce the declared types, as PostgreSQL does.
CREATE TABLE tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;

-- +goose Down
DROP TABLE tokens;

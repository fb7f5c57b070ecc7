-- +goose Up
-- timestamptz stores microseconds since the epoch, independent of the session time zone.
CREATE TABLE tokens (
    id         text NOT NULL PRIMARY KEY,
    name       text NOT NULL DEFAULT '',
    role       text NOT NULL CHECK (role IN ('admin', 'user')),
    hash       bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- +goose Down
DROP TABLE tokens;

-- +goose Up
-- Plugins registered through the API: the manifest's JSON and the module, by name.
CREATE TABLE plugins (
    name       TEXT NOT NULL PRIMARY KEY,
    manifest   BLOB NOT NULL,
    module     BLOB NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE plugins;

-- +goose Up
-- Plugins registered through the API: the manifest's JSON and the module, by name.
CREATE TABLE plugins (
    name       text        NOT NULL PRIMARY KEY,
    manifest   bytea       NOT NULL,
    module     bytea       NOT NULL,
    sha256     text        NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE plugins;

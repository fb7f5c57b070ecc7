-- +goose Up
-- Usage reports: per-minute rollups of integration calls, one row per minute,
-- integration and operation. Every process adds its minute to the row (an upsert that
-- adds), so processes sharing the database merge. The latency histogram has a row per
-- non-empty bucket, added up the same way.

CREATE TABLE report_minutes (
    minute      TEXT    NOT NULL,
    integration TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    requests    INTEGER NOT NULL CHECK (requests >= 0),
    errors      INTEGER NOT NULL CHECK (errors >= 0),
    upstream    INTEGER NOT NULL CHECK (upstream >= 0),
    latency_sum INTEGER NOT NULL CHECK (latency_sum >= 0),
    cost        REAL    NOT NULL DEFAULT 0,
    objective   REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, integration, operation)
) STRICT;

CREATE TABLE report_latency (
    minute      TEXT    NOT NULL,
    integration TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    bucket      INTEGER NOT NULL CHECK (bucket >= 0),
    count       INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (minute, integration, operation, bucket)
) STRICT;

-- +goose Down
DROP TABLE report_latency;
DROP TABLE report_minutes;

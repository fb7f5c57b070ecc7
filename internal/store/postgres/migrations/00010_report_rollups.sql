-- +goose Up
-- Usage reports: per-minute rollups of integration calls, one row per minute,
-- integration and operation. Every process adds its minute to the row (an upsert that
-- adds), so processes sharing the database merge. The latency histogram has a row per
-- non-empty bucket, added up the same way.

CREATE TABLE report_minutes (
    minute      timestamptz      NOT NULL,
    integration text             NOT NULL,
    operation   text             NOT NULL,
    requests    bigint           NOT NULL CHECK (requests >= 0),
    errors      bigint           NOT NULL CHECK (errors >= 0),
    upstream    bigint           NOT NULL CHECK (upstream >= 0),
    latency_sum bigint           NOT NULL CHECK (latency_sum >= 0),
    cost        double precision NOT NULL DEFAULT 0,
    objective   double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, integration, operation)
);

CREATE TABLE report_latency (
    minute      timestamptz NOT NULL,
    integration text        NOT NULL,
    operation   text        NOT NULL,
    bucket      integer     NOT NULL CHECK (bucket >= 0),
    count       bigint      NOT NULL CHECK (count >= 0),
    PRIMARY KEY (minute, integration, operation, bucket)
);

-- +goose Down
DROP TABLE report_latency;
DROP TABLE report_minutes;

-- +goose Up
-- Hourly sums of the per-minute report rollups, kept alongside them: a row per hour,
-- integration and operation, and one per hour and integration with operation '' (every
-- operation: its minute is available when every operation held to an objective met its
-- own). A report whose steps are whole hours reads these instead of 60 minute rows and
-- their bucket rows each. Adding minutes sums their hours again in the same transaction
-- (from the minutes, under a transaction-scoped advisory lock, so several processes' adds
-- merge as the minutes do). latency is the summed histogram as "bucket:count" pairs.
-- minutes_measured and minutes_met count the minutes with calls held to an objective and
-- those whose success rate met it.

CREATE TABLE report_hours (
    hour             timestamptz      NOT NULL,
    integration      text             NOT NULL,
    operation        text             NOT NULL,
    requests         bigint           NOT NULL,
    errors           bigint           NOT NULL,
    upstream         bigint           NOT NULL,
    latency_sum      bigint           NOT NULL,
    cost             double precision NOT NULL,
    objective        double precision NOT NULL,
    minutes_measured bigint           NOT NULL,
    minutes_met      bigint           NOT NULL,
    latency          text             NOT NULL,
    PRIMARY KEY (hour, integration, operation)
);

-- The hours of the minutes already stored.
WITH
m AS (
    SELECT date_trunc('hour', minute, 'UTC') AS hour, minute, integration, operation,
        requests, errors, upstream, latency_sum, cost,
        first_value(objective) OVER (PARTITION BY date_trunc('hour', minute, 'UTC'), integration, operation ORDER BY minute DESC) AS objective,
        objective > 0 AND requests > 0 AS measured,
        objective > 0 AND requests > 0 AND (requests - errors)::double precision >= objective * requests - 1e-9 AS met
    FROM report_minutes WHERE true
),
b AS (
    SELECT date_trunc('hour', minute, 'UTC') AS hour, integration, operation, bucket, count
    FROM report_latency WHERE true
),
sums AS (
    SELECT hour, integration, operation, sum(requests) AS requests, sum(errors) AS errors, sum(upstream) AS upstream,
        sum(latency_sum) AS latency_sum, sum(cost) AS cost, max(objective) AS objective,
        count(*) FILTER (WHERE measured) AS measured, count(*) FILTER (WHERE met) AS met
    FROM m GROUP BY hour, integration, operation
    UNION ALL
    SELECT hour, integration, '', sum(requests), sum(errors), sum(upstream), sum(latency_sum), sum(cost), 0,
        count(*) FILTER (WHERE measured), count(*) FILTER (WHERE met)
    FROM (
        SELECT hour, minute, integration, sum(requests) AS requests, sum(errors) AS errors, sum(upstream) AS upstream,
            sum(latency_sum) AS latency_sum, sum(cost) AS cost,
            bool_or(measured) AS measured, bool_or(measured) AND NOT bool_or(measured AND NOT met) AS met
        FROM m GROUP BY hour, minute, integration
    ) AS whole GROUP BY hour, integration
),
latency AS (
    SELECT hour, integration, operation, string_agg(bucket || ':' || n, ',') AS latency
    FROM (SELECT hour, integration, operation, bucket, sum(count) AS n FROM b GROUP BY hour, integration, operation, bucket) AS ops
    GROUP BY hour, integration, operation
    UNION ALL
    SELECT hour, integration, '', string_agg(bucket || ':' || n, ',')
    FROM (SELECT hour, integration, bucket, sum(count) AS n FROM b GROUP BY hour, integration, bucket) AS whole
    GROUP BY hour, integration
)
INSERT INTO report_hours (hour, integration, operation, requests, errors, upstream, latency_sum, cost, objective,
    minutes_measured, minutes_met, latency)
SELECT s.hour, s.integration, s.operation, s.requests, s.errors, s.upstream, s.latency_sum, s.cost, s.objective,
    s.measured, s.met, coalesce(l.latency, '')
FROM sums AS s LEFT JOIN latency AS l ON l.hour = s.hour AND l.integration = s.integration AND l.operation = s.operation;

-- +goose Down
DROP TABLE report_hours;

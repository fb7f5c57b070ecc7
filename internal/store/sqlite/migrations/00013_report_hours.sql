-- +goose Up
-- Hourly sums of the per-minute report rollups, kept alongside them: a row per hour,
-- integration and operation, and one per hour and integration with operation '' (every
-- operation: its minute is available when every operation held to an objective met its
-- own). A report whose steps are whole hours reads these instead of 60 minute rows and
-- their bucket rows each. Adding minutes sums their hours again in the same transaction
-- (from the minutes, so several processes' adds merge as the minutes do). latency is the
-- summed histogram as "bucket:count" pairs. minutes_measured and minutes_met count the
-- minutes with calls held to an objective and those whose success rate met it.

CREATE TABLE report_hours (
    hour             TEXT    NOT NULL,
    integration      TEXT    NOT NULL,
    operation        TEXT    NOT NULL,
    requests         INTEGER NOT NULL,
    errors           INTEGER NOT NULL,
    upstream         INTEGER NOT NULL,
    latency_sum      INTEGER NOT NULL,
    cost             REAL    NOT NULL,
    objective        REAL    NOT NULL,
    minutes_measured INTEGER NOT NULL,
    minutes_met      INTEGER NOT NULL,
    latency          TEXT    NOT NULL,
    PRIMARY KEY (hour, integration, operation)
) STRICT, WITHOUT ROWID;

-- The hours of the minutes already stored.
WITH
m AS (
    SELECT substr(minute, 1, 13) || ':00:00.000000Z' AS hour, minute, integration, operation,
        requests, errors, upstream, latency_sum, cost,
        first_value(objective) OVER (PARTITION BY substr(minute, 1, 13), integration, operation ORDER BY minute DESC) AS objective,
        objective > 0 AND requests > 0 AS measured,
        objective > 0 AND requests > 0 AND requests - errors >= objective * requests - 1e-9 AS met
    FROM report_minutes WHERE true
),
b AS (
    SELECT substr(minute, 1, 13) || ':00:00.000000Z' AS hour, integration, operation, bucket, count
    FROM report_latency WHERE true
),
sums AS (
    SELECT hour, integration, operation, sum(requests) AS requests, sum(errors) AS errors, sum(upstream) AS upstream,
        sum(latency_sum) AS latency_sum, sum(cost) AS cost, max(objective) AS objective,
        sum(measured) AS measured, sum(met) AS met
    FROM m GROUP BY hour, integration, operation
    UNION ALL
    SELECT hour, integration, '', sum(requests), sum(errors), sum(upstream), sum(latency_sum), sum(cost), 0.0,
        sum(measured), sum(met)
    FROM (
        SELECT hour, minute, integration, sum(requests) AS requests, sum(errors) AS errors, sum(upstream) AS upstream,
            sum(latency_sum) AS latency_sum, sum(cost) AS cost,
            max(measured) AS measured, max(measured) AND NOT max(measured AND NOT met) AS met
        FROM m GROUP BY hour, minute, integration
    ) GROUP BY hour, integration
),
latency AS (
    SELECT hour, integration, operation, group_concat(bucket || ':' || n, ',') AS latency
    FROM (SELECT hour, integration, operation, bucket, sum(count) AS n FROM b GROUP BY hour, integration, operation, bucket)
    GROUP BY hour, integration, operation
    UNION ALL
    SELECT hour, integration, '', group_concat(bucket || ':' || n, ',')
    FROM (SELECT hour, integration, bucket, sum(count) AS n FROM b GROUP BY hour, integration, bucket)
    GROUP BY hour, integration
)
INSERT INTO report_hours (hour, integration, operation, requests, errors, upstream, latency_sum, cost, objective,
    minutes_measured, minutes_met, latency)
SELECT s.hour, s.integration, s.operation, s.requests, s.errors, s.upstream, s.latency_sum, s.cost, s.objective,
    s.measured, s.met, coalesce(l.latency, '')
FROM sums AS s LEFT JOIN latency AS l ON l.hour = s.hour AND l.integration = s.integration AND l.operation = s.operation;

-- +goose Down
DROP TABLE report_hours;

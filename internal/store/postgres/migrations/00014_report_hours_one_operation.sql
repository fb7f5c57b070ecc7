-- +goose Up
-- An integration's every-operation hour (operation '') is kept only when the hour has rows
-- of more than one of its operations. With one, it would be a copy of that operation's row
-- with objective 0 (its minutes' availability is the operation's), which the store gives
-- in its place when it lists hours: a month's report of integrations with one operation
-- each reads half the rows, and adding minutes writes half.
DELETE FROM report_hours WHERE operation = '' AND (hour, integration) IN (
    SELECT hour, integration FROM report_hours WHERE operation <> '' GROUP BY hour, integration HAVING count(*) = 1);

-- +goose Down
INSERT INTO report_hours (hour, integration, operation, requests, errors, upstream, latency_sum, cost, objective,
    minutes_measured, minutes_met, latency)
SELECT hour, integration, '', requests, errors, upstream, latency_sum, cost, 0, minutes_measured, minutes_met, latency
FROM report_hours AS h WHERE operation <> '' AND NOT EXISTS (
    SELECT 1 FROM report_hours AS o WHERE o.hour = h.hour AND o.integration = h.integration AND o.operation <> h.operation);

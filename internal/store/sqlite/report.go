package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Report storage (store.ReportStore): per-minute rollups, added to in one write
// transaction per batch on the single write connection.

// ReportRollupAdd implements store.Store.
func (s *Store) ReportRollupAdd(ctx context.Context, rs []store.ReportRollup) error {
	rs, err := storeinput.NormalizeReportRollups(rs)
	if err != nil {
		return fmt.Errorf("sqlite: report rollup add: %w", err)
	}
	if len(rs) == 0 {
		return nil
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rs {
			minute := formatTime(r.Minute)
			_, err := tx.ExecContext(ctx, `INSERT INTO report_minutes
				(minute, integration, operation, requests, errors, upstream, latency_sum, cost, objective)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (minute, integration, operation) DO UPDATE SET
					requests = requests + excluded.requests, errors = errors + excluded.errors,
					upstream = upstream + excluded.upstream, latency_sum = latency_sum + excluded.latency_sum,
					cost = cost + excluded.cost, objective = excluded.objective`,
				minute, r.Integration, r.Operation, r.Requests, r.Errors, r.Upstream, r.LatencySum, r.Cost, r.Objective)
			if err != nil {
				return err
			}
			for b, n := range r.Latency {
				if n == 0 {
					continue
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO report_latency (minute, integration, operation, bucket, count)
					VALUES (?, ?, ?, ?, ?)
					ON CONFLICT (minute, integration, operation, bucket) DO UPDATE SET count = count + excluded.count`,
					minute, r.Integration, r.Operation, b, n)
				if err != nil {
					return err
				}
			}
		}
		for _, h := range storeinput.ReportHours(rs) {
			if err := sumReportHour(ctx, tx, h.Hour, h.Integrations); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: report rollup add: %w", err)
	}
	return nil
}

// sumReportHour writes the report_hours rows of hour again from its minutes, of the
// integrations given (all when none are).
func sumReportHour(ctx context.Context, tx *sql.Tx, hour time.Time, integrations []string) error {
	var minutes, hours where
	minutes.add("minute >= ? AND minute < ?", formatTime(hour), formatTime(hour.Add(time.Hour)))
	hours.add("hour = ?", formatTime(hour))
	if len(integrations) > 0 {
		in := make([]any, len(integrations))
		for i, name := range integrations {
			in[i] = name
		}
		cond := "integration IN (?" + strings.Repeat(", ?", len(in)-1) + ")"
		minutes.add(cond, in...)
		hours.add(cond, in...)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM report_hours"+hours.String(), hours.args...); err != nil {
		return err
	}
	// The condition is in the query twice: once for the minutes, once for their buckets.
	cond := strings.Join(minutes.conds, " AND ")
	_, err := tx.ExecContext(ctx, fmt.Sprintf(reportHourSums, cond), append(slices.Clone(minutes.args), minutes.args...)...)
	return err
}

// reportHourSums writes the report_hours rows of the minutes that match %[1]s (a
// condition on minute and integration, applied to report_minutes and report_latency):
// a row per hour, integration and operation, and an every-operation row (operation "")
// per hour of an integration with more than one operation that hour (ReportHourList
// gives the others'; migration 00014). Migration 00013 ran its first version, which
// wrote every integration's, on the minutes stored then.
const reportHourSums = `WITH
m AS (
	SELECT substr(minute, 1, 13) || ':00:00.000000Z' AS hour, minute, integration, operation,
		requests, errors, upstream, latency_sum, cost,
		first_value(objective) OVER (PARTITION BY substr(minute, 1, 13), integration, operation ORDER BY minute DESC) AS objective,
		objective > 0 AND requests > 0 AS measured,
		objective > 0 AND requests > 0 AND requests - errors >= objective * requests - 1e-9 AS met
	FROM report_minutes WHERE %[1]s
),
-- The integrations with more than one operation in an hour: only theirs get an
-- every-operation row (operation ''), as with one it would copy the operation's.
several AS (
	SELECT hour, integration FROM m GROUP BY hour, integration HAVING count(DISTINCT operation) > 1
),
b AS (
	SELECT substr(minute, 1, 13) || ':00:00.000000Z' AS hour, integration, operation, bucket, count
	FROM report_latency WHERE %[1]s
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
		FROM m WHERE (hour, integration) IN (SELECT hour, integration FROM several)
		GROUP BY hour, minute, integration
	) GROUP BY hour, integration
),
latency AS (
	SELECT hour, integration, operation, group_concat(bucket || ':' || n, ',') AS latency
	FROM (SELECT hour, integration, operation, bucket, sum(count) AS n FROM b GROUP BY hour, integration, operation, bucket)
	GROUP BY hour, integration, operation
	UNION ALL
	SELECT hour, integration, '', group_concat(bucket || ':' || n, ',')
	FROM (SELECT hour, integration, bucket, sum(count) AS n FROM b WHERE (hour, integration) IN (SELECT hour, integration FROM several)
		GROUP BY hour, integration, bucket)
	GROUP BY hour, integration
)
INSERT INTO report_hours (hour, integration, operation, requests, errors, upstream, latency_sum, cost, objective,
	minutes_measured, minutes_met, latency)
SELECT s.hour, s.integration, s.operation, s.requests, s.errors, s.upstream, s.latency_sum, s.cost, s.objective,
	s.measured, s.met, coalesce(l.latency, '')
FROM sums AS s LEFT JOIN latency AS l ON l.hour = s.hour AND l.integration = s.integration AND l.operation = s.operation`

// ReportRollupList implements store.Store.
func (s *Store) ReportRollupList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportRollup, error) {
	if err := storeinput.CheckReportRange(f.From, f.To); err != nil {
		return nil, fmt.Errorf("sqlite: report rollup list: %w", err)
	}
	var w where
	w.add("minute >= ? AND minute < ?", formatTime(f.From), formatTime(f.To))
	if f.Integration != "" {
		w.add("integration = ?", f.Integration)
	}
	if f.Operation != "" {
		w.add("operation = ?", f.Operation)
	}
	out, err := s.reportRollups(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("sqlite: report rollup list: %w", err)
	}
	return out, nil
}

// reportRollups reads the minute rows, then their histogram buckets, in one read
// transaction so that both see the same data.
func (s *Store) reportRollups(ctx context.Context, w where) ([]store.ReportRollup, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT minute, integration, operation, requests, errors, upstream, latency_sum, cost, objective
		FROM report_minutes`+w.String()+` ORDER BY minute, integration, operation`, w.args...)
	if err != nil {
		return nil, err
	}
	var out []store.ReportRollup
	for rows.Next() {
		var r store.ReportRollup
		if err := rows.Scan(textTime{&r.Minute}, &r.Integration, &r.Operation, &r.Requests, &r.Errors, &r.Upstream,
			&r.LatencySum, &r.Cost, &r.Objective); err != nil {
			_ = rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	idx := storeinput.NewReportLatencyIndex(out)
	rows, err = tx.QueryContext(ctx, `SELECT minute, integration, operation, bucket, count FROM report_latency`+w.String(), w.args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var (
			minute                 time.Time
			integration, operation string
			bucket                 int
			n                      int64
		)
		if err := rows.Scan(textTime{&minute}, &integration, &operation, &bucket, &n); err != nil {
			return nil, err
		}
		idx.Add(minute, integration, operation, bucket, n)
	}
	return out, rows.Err()
}

// ReportHourList implements store.Store.
func (s *Store) ReportHourList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportHour, error) {
	if err := storeinput.CheckReportHourRange(f.From, f.To); err != nil {
		return nil, fmt.Errorf("sqlite: report hour list: %w", err)
	}
	var w where
	w.add("hour >= ? AND hour < ?", formatTime(f.From), formatTime(f.To))
	if f.Integration != "" {
		w.add("integration = ?", f.Integration)
	}
	if f.Operation != "" {
		w.add("operation = ?", f.Operation)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT hour, integration, operation, requests, errors, upstream, latency_sum, cost,
		objective, minutes_measured, minutes_met, latency FROM report_hours`+w.String()+` ORDER BY hour, integration, operation`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: report hour list: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var (
		out                         = storeinput.NewReportHourRows(f)
		hourText, lastText, latency string
		hour                        time.Time
		h                           store.ReportHour // scanned into: one for every row, not one each
	)
	for rows.Next() {
		h = store.ReportHour{}
		if err := rows.Scan(&hourText, &h.Integration, &h.Operation, &h.Requests, &h.Errors, &h.Upstream, &h.LatencySum,
			&h.Cost, &h.Objective, &h.MinutesMeasured, &h.MinutesMet, &latency); err != nil {
			return nil, fmt.Errorf("sqlite: report hour list: %w", err)
		}
		if hourText != lastText { // rows come by hour: parse each hour once
			if hour, err = parseTime(hourText); err != nil {
				return nil, fmt.Errorf("sqlite: report hour list: %w", err)
			}
			lastText = hourText
		}
		h.Hour = hour
		if err := out.Add(h, latency); err != nil {
			return nil, fmt.Errorf("sqlite: report hour list: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: report hour list: %w", err)
	}
	return out.Hours(), nil
}

// ReportRollupPurge implements store.Store. Hours before before's go whole; the hour
// before is in, when it is not a whole hour, is summed again from the minutes left.
func (s *Store) ReportRollupPurge(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("sqlite: report rollup purge: %w", err)
	}
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_latency WHERE minute < ?`, formatTime(before)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM report_minutes WHERE minute < ?`, formatTime(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		hour := before.UTC().Truncate(time.Hour)
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_hours WHERE hour < ?`, formatTime(hour)); err != nil {
			return err
		}
		if hour.Before(before) {
			return sumReportHour(ctx, tx, hour, nil)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: report rollup purge: %w", err)
	}
	return int(n), nil
}

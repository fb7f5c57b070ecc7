package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storeinput"
)

// Report storage (store.ReportStore): per-minute rollups, added to by upserts that add.
// A batch is one transaction, its rows in one order (storeinput sorts them), so two
// processes adding the same minutes wait for each other rather than deadlock.

// ReportRollupAdd implements store.Store.
func (s *Store) ReportRollupAdd(ctx context.Context, rs []store.ReportRollup) error {
	rs, err := storeinput.NormalizeReportRollups(rs)
	if err != nil {
		return fmt.Errorf("postgres: report rollup add: %w", err)
	}
	if len(rs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	batch.Queue(reportHoursLock)
	for _, r := range rs {
		batch.Queue(`INSERT INTO report_minutes
			(minute, integration, operation, requests, errors, upstream, latency_sum, cost, objective)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (minute, integration, operation) DO UPDATE SET
				requests = report_minutes.requests + excluded.requests, errors = report_minutes.errors + excluded.errors,
				upstream = report_minutes.upstream + excluded.upstream,
				latency_sum = report_minutes.latency_sum + excluded.latency_sum,
				cost = report_minutes.cost + excluded.cost, objective = excluded.objective`,
			r.Minute, r.Integration, r.Operation, r.Requests, r.Errors, r.Upstream, r.LatencySum, r.Cost, r.Objective)
		for b, n := range r.Latency {
			if n == 0 {
				continue
			}
			batch.Queue(`INSERT INTO report_latency (minute, integration, operation, bucket, count)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (minute, integration, operation, bucket) DO UPDATE SET count = report_latency.count + excluded.count`,
				r.Minute, r.Integration, r.Operation, b, n)
		}
	}
	for _, h := range storeinput.ReportHours(rs) {
		queueReportHourSums(batch, h.Hour, h.Integrations)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
	if err != nil {
		return fmt.Errorf("postgres: report rollup add: %w", mapError(err))
	}
	return nil
}

// reportHoursLock serializes the transactions that sum hours again (adds and purges) in
// the schema. Without it, two processes adding different minutes of one hour would each
// sum the hour without the other's uncommitted minutes, and the later write would lose
// the earlier's. Taken first, in read committed, the statements after it see what the
// previous holder committed.
const reportHoursLock = `SELECT pg_advisory_xact_lock(hashtextextended('junction report_hours ' || current_schema(), 0))`

// queueReportHourSums queues writing the report_hours rows of hour again from its
// minutes, of the integrations given (all when none are).
func queueReportHourSums(batch *pgx.Batch, hour time.Time, integrations []string) {
	if len(integrations) == 0 {
		batch.Queue(`DELETE FROM report_hours WHERE hour = $1`, hour)
		batch.Queue(fmt.Sprintf(reportHourSums, "minute >= $1 AND minute < $2"), hour, hour.Add(time.Hour))
		return
	}
	batch.Queue(`DELETE FROM report_hours WHERE hour = $1 AND integration = ANY($2)`, hour, integrations)
	batch.Queue(fmt.Sprintf(reportHourSums, "minute >= $1 AND minute < $2 AND integration = ANY($3)"), hour, hour.Add(time.Hour), integrations)
}

// reportHourSums writes the report_hours rows of the minutes that match %[1]s (a
// condition on minute and integration, applied to report_minutes and report_latency):
// a row per hour, integration and operation, and an every-operation row (operation "")
// per hour of an integration with more than one operation that hour (ReportHourList
// gives the others'; migration 00014). Migration 00013 ran its first version, which
// wrote every integration's, on the minutes stored then.
const reportHourSums = `WITH
m AS (
	SELECT date_trunc('hour', minute, 'UTC') AS hour, minute, integration, operation,
		requests, errors, upstream, latency_sum, cost,
		first_value(objective) OVER (PARTITION BY date_trunc('hour', minute, 'UTC'), integration, operation ORDER BY minute DESC) AS objective,
		objective > 0 AND requests > 0 AS measured,
		objective > 0 AND requests > 0 AND (requests - errors)::double precision >= objective * requests - 1e-9 AS met
	FROM report_minutes WHERE %[1]s
),
-- The integrations with more than one operation in an hour: only theirs get an
-- every-operation row (operation ''), as with one it would copy the operation's.
several AS (
	SELECT hour, integration FROM m GROUP BY hour, integration HAVING count(DISTINCT operation) > 1
),
b AS (
	SELECT date_trunc('hour', minute, 'UTC') AS hour, integration, operation, bucket, count
	FROM report_latency WHERE %[1]s
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
		FROM m WHERE (hour, integration) IN (SELECT hour, integration FROM several)
		GROUP BY hour, minute, integration
	) AS whole GROUP BY hour, integration
),
latency AS (
	SELECT hour, integration, operation, string_agg(bucket || ':' || n, ',') AS latency
	FROM (SELECT hour, integration, operation, bucket, sum(count) AS n FROM b GROUP BY hour, integration, operation, bucket) AS ops
	GROUP BY hour, integration, operation
	UNION ALL
	SELECT hour, integration, '', string_agg(bucket || ':' || n, ',')
	FROM (SELECT hour, integration, bucket, sum(count) AS n FROM b WHERE (hour, integration) IN (SELECT hour, integration FROM several)
		GROUP BY hour, integration, bucket) AS whole
	GROUP BY hour, integration
)
INSERT INTO report_hours (hour, integration, operation, requests, errors, upstream, latency_sum, cost, objective,
	minutes_measured, minutes_met, latency)
SELECT s.hour, s.integration, s.operation, s.requests, s.errors, s.upstream, s.latency_sum, s.cost, s.objective,
	s.measured, s.met, coalesce(l.latency, '')
FROM sums AS s LEFT JOIN latency AS l ON l.hour = s.hour AND l.integration = s.integration AND l.operation = s.operation`

// ReportRollupList implements store.Store. Both queries run in one repeatable-read
// transaction, so the buckets belong to the minute rows read.
func (s *Store) ReportRollupList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportRollup, error) {
	if err := storeinput.CheckReportRange(f.From, f.To); err != nil {
		return nil, fmt.Errorf("postgres: report rollup list: %w", err)
	}
	var w where
	w.add("minute >= $%d", f.From)
	w.add("minute < $%d", f.To)
	if f.Integration != "" {
		w.add("integration = $%d", f.Integration)
	}
	if f.Operation != "" {
		w.add("operation = $%d", f.Operation)
	}
	var out []store.ReportRollup
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT minute, integration, operation, requests, errors, upstream, latency_sum, cost, objective
			FROM report_minutes`+w.String()+` ORDER BY minute, integration, operation`, w.args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (r store.ReportRollup, err error) {
			err = row.Scan(&r.Minute, &r.Integration, &r.Operation, &r.Requests, &r.Errors, &r.Upstream, &r.LatencySum, &r.Cost, &r.Objective)
			r.Minute = r.Minute.UTC()
			return r, err
		})
		if err != nil || len(out) == 0 {
			return err
		}
		idx := storeinput.NewReportLatencyIndex(out)
		rows, err = tx.Query(ctx, `SELECT minute, integration, operation, bucket, count FROM report_latency`+w.String(), w.args...)
		if err != nil {
			return err
		}
		var (
			minute                 time.Time
			integration, operation string
			bucket                 int
			n                      int64
		)
		_, err = pgx.ForEachRow(rows, []any{&minute, &integration, &operation, &bucket, &n}, func() error {
			idx.Add(minute, integration, operation, bucket, n)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: report rollup list: %w", mapError(err))
	}
	return out, nil
}

// ReportHourList implements store.Store.
func (s *Store) ReportHourList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportHour, error) {
	if err := storeinput.CheckReportHourRange(f.From, f.To); err != nil {
		return nil, fmt.Errorf("postgres: report hour list: %w", err)
	}
	var w where
	w.add("hour >= $%d", f.From)
	w.add("hour < $%d", f.To)
	if f.Integration != "" {
		w.add("integration = $%d", f.Integration)
	}
	if f.Operation != "" {
		w.add("operation = $%d", f.Operation)
	}
	rows, err := s.pool.Query(ctx, `SELECT hour, integration, operation, requests, errors, upstream, latency_sum, cost,
		objective, minutes_measured, minutes_met, latency FROM report_hours`+w.String()+` ORDER BY hour, integration, operation`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: report hour list: %w", mapError(err))
	}
	out := storeinput.NewReportHourRows(f)
	var (
		h       store.ReportHour
		latency string
	)
	_, err = pgx.ForEachRow(rows, []any{&h.Hour, &h.Integration, &h.Operation, &h.Requests, &h.Errors, &h.Upstream, &h.LatencySum,
		&h.Cost, &h.Objective, &h.MinutesMeasured, &h.MinutesMet, &latency}, func() error {
		h.Hour = h.Hour.UTC()
		return out.Add(h, latency)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: report hour list: %w", mapError(err))
	}
	return out.Hours(), nil
}

// ReportRollupPurge implements store.Store. Hours before before's go whole; the hour
// before is in, when it is not a whole hour, is summed again from the minutes left.
func (s *Store) ReportRollupPurge(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("postgres: report rollup purge: %w", err)
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, reportHoursLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM report_latency WHERE minute < $1`, before); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM report_minutes WHERE minute < $1`, before)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		hour := before.UTC().Truncate(time.Hour)
		batch := &pgx.Batch{}
		batch.Queue(`DELETE FROM report_hours WHERE hour < $1`, hour)
		if hour.Before(before) {
			queueReportHourSums(batch, hour, nil)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: report rollup purge: %w", mapError(err))
	}
	return int(n), nil
}

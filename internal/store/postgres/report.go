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
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
	if err != nil {
		return fmt.Errorf("postgres: report rollup add: %w", mapError(err))
	}
	return nil
}

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

// ReportRollupPurge implements store.Store.
func (s *Store) ReportRollupPurge(ctx context.Context, before time.Time) (int, error) {
	if err := store.CheckTime(before); err != nil {
		return 0, fmt.Errorf("postgres: report rollup purge: %w", err)
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM report_latency WHERE minute < $1`, before); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM report_minutes WHERE minute < $1`, before)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: report rollup purge: %w", mapError(err))
	}
	return int(n), nil
}

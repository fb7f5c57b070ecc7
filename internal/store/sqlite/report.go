package sqlite

import (
	"context"
	"database/sql"
	"fmt"
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
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: report rollup add: %w", err)
	}
	return nil
}

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

// ReportRollupPurge implements store.Store.
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
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: report rollup purge: %w", err)
	}
	return int(n), nil
}

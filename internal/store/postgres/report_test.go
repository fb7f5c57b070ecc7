package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storetest"
)

// BenchmarkReportQuery30Days makes a 30-day report in steps of 1h from a month of
// minutes of 50 integrations (storetest.BenchReportQuery), in a schema of its own that
// is dropped at the end.
func BenchmarkReportQuery30Days(b *testing.B) {
	storetest.BenchReportQuery(b, openBench, seedReportMonth)
}

// seedReportMonth writes storetest.BenchReportQuery's month with one statement per
// table (generate_series) and the hours as migration 00013 does, in one transaction,
// then refreshes the planner's statistics.
func seedReportMonth(tb testing.TB, st store.Store) {
	s := st.(analyzedStore)
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `INSERT INTO report_minutes (minute, integration, operation, requests, errors, upstream, latency_sum, cost, objective)
		SELECT $1::timestamptz + i * interval '1 minute', 'integration-' || lpad(k::text, 2, '0'), 'call',
			r, e, r + e, r * 40000, (r + e) * 0.002, 0.99
		FROM generate_series(0, $2::int - 1) i, generate_series(0, $3::int - 1) k,
			LATERAL (SELECT 20 + (i + k) % 10 AS r, CASE WHEN (i + k) % 50 = 0 THEN 1 ELSE 0 END AS e) v
		ORDER BY i, k`,
		storetest.BenchReportStart, storetest.BenchReportMinutes, storetest.BenchReportIntegrations)
	if err != nil {
		tb.Fatalf("seed report_minutes: %v", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO report_latency (minute, integration, operation, bucket, count)
		SELECT minute, integration, operation, 36 + requests % 4 + j,
			CASE j WHEN 0 THEN requests - 6 WHEN 1 THEN 3 WHEN 2 THEN 2 ELSE 1 END
		FROM report_minutes, generate_series(0, $1::int - 1) j`, storetest.BenchReportBuckets)
	if err != nil {
		tb.Fatalf("seed report_latency: %v", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(reportHourSums, "true")); err != nil {
		tb.Fatalf("seed report_hours: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := s.Analyze(ctx); err != nil {
		tb.Fatal(err)
	}
}

func TestReportHoursOneOperationMigration(t *testing.T) {
	s := openDSN(t, servicetest.PostgresDSN(t))
	ctx := context.Background()
	storetest.CheckReportHoursOneOperationMigration(t, s, storetest.MigrationAccess{
		MigrateTo: func(t *testing.T, version int64) {
			t.Helper()
			err := s.withMigrator(ctx, func(p *goose.Provider) error {
				current, err := p.GetDBVersion(ctx)
				if err == nil && version >= current {
					_, err = p.UpTo(ctx, version)
				} else if err == nil {
					_, err = p.DownTo(ctx, version)
				}
				return err
			})
			if err != nil {
				t.Fatalf("migrate to %d: %v", version, err)
			}
		},
		Exec: func(t *testing.T, query string) {
			t.Helper()
			if _, err := s.pool.Exec(ctx, query); err != nil {
				t.Fatal(err)
			}
		},
		Count: func(t *testing.T, query string) (n int64) {
			t.Helper()
			if err := s.pool.QueryRow(ctx, query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}

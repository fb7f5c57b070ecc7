package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storetest"
)

// BenchmarkReportQuery30Days makes a 30-day report in steps of 1h from a month of
// minutes of 50 integrations (storetest.BenchReportQuery), on a database file.
func BenchmarkReportQuery30Days(b *testing.B) {
	storetest.BenchReportQuery(b, openTempTB, seedReportMonth)
}

// seedReportMonth writes storetest.BenchReportQuery's month with one statement per
// table, in one transaction, the rows in key order; the hours as migration 00013 does.
func seedReportMonth(tb testing.TB, st store.Store) {
	s := st.(*Store)
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `WITH RECURSIVE
			n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1),
			k(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM k WHERE k < ? - 1),
			m AS (SELECT i, k, 20 + (i + k) % 10 AS r, CASE WHEN (i + k) % 50 = 0 THEN 1 ELSE 0 END AS e FROM n, k)
		INSERT INTO report_minutes (minute, integration, operation, requests, errors, upstream, latency_sum, cost, objective)
		SELECT strftime('%Y-%m-%dT%H:%M:%S.000000Z', ?, '+' || i || ' minutes'), printf('integration-%02d', k), 'call',
			r, e, r + e, r * 40000, (r + e) * 0.002, 0.99
		FROM m`,
		storetest.BenchReportMinutes, storetest.BenchReportIntegrations, storetest.BenchReportStart.Format("2006-01-02 15:04:05"))
	if err != nil {
		tb.Fatalf("seed report_minutes: %v", err)
	}
	_, err = tx.ExecContext(ctx, `WITH RECURSIVE j(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM j WHERE j < ? - 1)
		INSERT INTO report_latency (minute, integration, operation, bucket, count)
		SELECT minute, integration, operation, 36 + requests % 4 + j,
			CASE j WHEN 0 THEN requests - 6 WHEN 1 THEN 3 WHEN 2 THEN 2 ELSE 1 END
		FROM report_minutes, j ORDER BY minute, integration, operation, j`, storetest.BenchReportBuckets)
	if err != nil {
		tb.Fatalf("seed report_latency: %v", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(reportHourSums, "true")); err != nil {
		tb.Fatalf("seed report_hours: %v", err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "ANALYZE"); err != nil {
		tb.Fatal(err)
	}
}

func TestReportHoursOneOperationMigration(t *testing.T) {
	s := openTempTB(t).(*Store)
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	storetest.CheckReportHoursOneOperationMigration(t, s, storetest.MigrationAccess{
		MigrateTo: func(t *testing.T, version int64) {
			t.Helper()
			current, err := s.migrator.GetDBVersion(ctx)
			if err == nil && version >= current {
				_, err = s.migrator.UpTo(ctx, version)
			} else if err == nil {
				_, err = s.migrator.DownTo(ctx, version)
			}
			if err != nil {
				t.Fatalf("migrate to %d: %v", version, err)
			}
		},
		Exec: func(t *testing.T, query string) {
			t.Helper()
			if _, err := s.write.ExecContext(ctx, query); err != nil {
				t.Fatal(err)
			}
		},
		Count: func(t *testing.T, query string) (n int64) {
			t.Helper()
			if err := s.write.QueryRowContext(ctx, query).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
	})
}

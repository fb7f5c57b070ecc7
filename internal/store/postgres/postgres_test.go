package postgres

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	// Skips the whole suite at once, not subtest by subtest, when PostgreSQL is down.
	servicetest.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), servicetest.PostgresDSN(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestBackend(t *testing.T) {
	if got := openDSN(t, servicetest.PostgresDSN(t)).Backend(); got != "postgres" {
		t.Errorf("Backend() = %q, want postgres", got)
	}
}

// TestSessionTimeZone checks that applied times are right whatever TimeZone a DSN or the
// server sets: goose stores them as timestamp without time zone.
func TestSessionTimeZone(t *testing.T) {
	s := openDSN(t, servicetest.PostgresDSN(t)+"&TimeZone=Pacific/Kiritimati") // UTC+14
	ctx := context.Background()
	before := time.Now()
	applied, err := s.MigrateUp(ctx)
	if err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	if len(applied) == 0 {
		t.Fatal("MigrateUp applied nothing")
	}
	for _, m := range applied {
		if d := m.AppliedAt.Sub(before); d < -time.Minute || d > time.Minute {
			t.Errorf("migration %d applied at %v, %v away from now", m.Version, m.AppliedAt, d)
		}
	}
}

// TestConcurrentMigrateUp stands in for several Junction processes starting at once on
// one database: the advisory lock must let exactly one of them apply each migration.
func TestConcurrentMigrateUp(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	const processes = 4
	stores := make([]*Store, processes)
	for i := range stores {
		stores[i] = openDSN(t, dsn)
	}
	status, err := stores[0].MigrateStatus(context.Background())
	if err != nil {
		t.Fatalf("MigrateStatus: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for _, s := range stores {
		wg.Go(func() {
			applied, err := s.MigrateUp(context.Background())
			if err != nil {
				t.Errorf("MigrateUp: %v", err)
			}
			mu.Lock()
			total += len(applied)
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != len(status) {
		t.Errorf("%d concurrent MigrateUp calls applied %d migrations in all, want %d", processes, total, len(status))
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://junction:hunter2@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
		"postgres://junction:hunter2@127.0.0.1:5432/test?sslmode=bogus",
		"postgres://junction:hunter2@[::1/test",
	} {
		s, err := Open(ctx, dsn)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open succeeded, want an error")
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
}

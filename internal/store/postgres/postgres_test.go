package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/event"
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

// migrated opens a store on a schema of its own, migrated to the latest version.
func migrated(t *testing.T) *Store {
	t.Helper()
	s := openDSN(t, servicetest.PostgresDSN(t))
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return s
}

// createEndpoint stores the active, healthy endpoint "ep" that the queue tests deliver to.
func createEndpoint(t *testing.T, s *Store, at time.Time) {
	t.Helper()
	if _, err := s.EndpointCreate(context.Background(), store.Endpoint{ID: "ep", URL: "https://example.com", Secret: "whsec_x", IsActive: true, IsHealthy: true, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
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

// openBench opens a store in a new schema of the test PostgreSQL for a benchmark.
func openBench(tb testing.TB) store.Store {
	s, err := Open(context.Background(), servicetest.PostgresDSN(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return analyzedStore{s}
}

// analyzedStore is a Store whose benchmarks may refresh the planner's statistics
// (storetest.Analyzer).
type analyzedStore struct{ *Store }

func (s analyzedStore) Analyze(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "ANALYZE")
	return err
}

// BenchmarkEventPublish publishes one event to four endpoints per operation: one
// statement, one round trip, one commit.
func BenchmarkEventPublish(b *testing.B) { storetest.BenchEventPublish(b, openBench) }

// BenchmarkClaimRecord claims 100 deliveries (one statement) and records 100 outcomes
// (one transaction, one pgx.Batch) per operation.
func BenchmarkClaimRecord(b *testing.B) { storetest.BenchClaimRecord(b, openBench) }

// BenchmarkEventPurge purges 10,000 events past the retention, each with two delivered
// deliveries, per operation: 1,000 events a transaction of four statements.
func BenchmarkEventPurge(b *testing.B) { storetest.BenchEventPurge(b, openBench) }

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

// TestEndpointDeleteDuringPublish runs EventPublish's statement and EndpointDelete at
// the same time, in both orders, holding the first one's transaction open. Whichever
// commits first, the delivery must end up failed ("endpoint deleted") rather than
// waiting forever for a claim that can no longer join it with its endpoint.
func TestEndpointDeleteDuringPublish(t *testing.T) {
	ctx := context.Background()
	s := migrated(t)
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	newPublication := func(n int) (event.Event, []store.Delivery) {
		id := fmt.Sprintf("ev-%d", n)
		e := event.Event{ID: id, Type: "t", Data: []byte("{}"), Time: now}
		ds := []store.Delivery{{ID: fmt.Sprintf("d-%d", n), EndpointID: fmt.Sprintf("ep-%d", n), EventID: id, EventType: "t",
			Payload: []byte("{}"), Status: store.DeliveryPending, MaxAttempts: 1, NextRetryAt: &now, CreatedAt: now, UpdatedAt: now}}
		return e, ds
	}
	for n := range 2 {
		if _, err := s.EndpointCreate(ctx, store.Endpoint{ID: fmt.Sprintf("ep-%d", n), URL: "https://example.com", IsActive: true, CreatedAt: now}); err != nil {
			t.Fatalf("EndpointCreate: %v", err)
		}
	}
	// blocked runs f and checks that it waits for the transaction tx until tx commits.
	blocked := func(tx pgx.Tx, what string, f func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			t.Fatalf("%s returned %v while the other transaction was open", what, err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	checkFailed := func(id string) {
		t.Helper()
		got, err := s.DeliveryGet(ctx, id)
		if err != nil {
			t.Fatalf("DeliveryGet(%s): %v", id, err)
		}
		if got.Status != store.DeliveryFailed || got.ErrorMessage != "endpoint deleted" {
			t.Errorf("delivery %s = %s %q, want failed \"endpoint deleted\"", id, got.Status, got.ErrorMessage)
		}
	}

	// Publication first: the delete waits for it (KEY SHARE against DELETE) and must then
	// fail the delivery it inserted.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	e, ds := newPublication(0)
	if _, err := publish(ctx, tx, publication{event: e, deliveries: ds}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	blocked(tx, "EndpointDelete", func() error { return s.EndpointDelete(ctx, "ep-0", now) })
	checkFailed("d-0")

	// Delete first: the publication waits for it and must find the endpoint gone.
	tx, err = s.pool.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = 'ep-1'`); err != nil {
		t.Fatalf("delete: %v", err)
	}
	e, ds = newPublication(1)
	blocked(tx, "EventPublish", func() error { _, _, err := s.EventPublish(ctx, e, ds); return err })
	checkFailed("d-1")
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

// BenchmarkWorkflowSave saves a step boundary of 64 runs per operation: one pgx.Batch,
// one round trip, one statement.
func BenchmarkWorkflowSave(b *testing.B) { storetest.BenchWorkflowSave(b, openBench) }

// TestConnectErrorSaysItOnce: pgx tries with TLS and again without (sslmode=prefer),
// and reports both identical refusals; Open says it once, with who it connected as.
func TestConnectErrorSaysItOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://someone@127.0.0.1:1/somedb?connect_timeout=5")
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	msg := err.Error()
	if strings.Count(msg, "connection refused") != 1 || !strings.Contains(msg, "cannot connect as user=someone database=somedb") || strings.Contains(msg, "\n") {
		t.Errorf("error = %q", msg)
	}
}

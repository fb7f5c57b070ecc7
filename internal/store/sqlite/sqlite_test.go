package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "junction.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), ":memory:")
		if err != nil {
			t.Fatalf("Open(:memory:): %v", err)
		}
		return s
	})
}

// openTempTB is openTemp for benchmarks: a database file in a temporary directory,
// with the production pragmas (synchronous=FULL: every commit is an fsync).
func openTempTB(tb testing.TB) store.Store {
	s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "junction.db"))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

// BenchmarkEventPublish publishes one event to four endpoints per operation. On SQLite
// every publication is one transaction, so the serial number is bounded by the fsync
// of the disk under the test's temporary directory.
func BenchmarkEventPublish(b *testing.B) { storetest.BenchEventPublish(b, openTempTB) }

// BenchmarkEventPurge purges 10,000 events past the retention, each with two delivered
// deliveries, per operation, on a database file.
func BenchmarkEventPurge(b *testing.B) { storetest.BenchEventPurge(b, openTempTB) }

// BenchmarkClaimRecord claims 100 deliveries and records 100 outcomes per operation:
// two transactions (two fsyncs) per hundred deliveries.
func BenchmarkClaimRecord(b *testing.B) { storetest.BenchClaimRecord(b, openTempTB) }

// BenchmarkWorkflowSave saves a step boundary of 64 runs per operation: one
// transaction (one fsync), 128 statements.
func BenchmarkWorkflowSave(b *testing.B) { storetest.BenchWorkflowSave(b, openTempTB) }

func TestBackend(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	if got := s.Backend(); got != "sqlite" {
		t.Errorf("Backend() = %q, want sqlite", got)
	}
}

// TestPragmas checks the settings durability and the one-writer design rely on, on the
// connections that actually run the statements.
func TestPragmas(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	for _, c := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.write, "journal_mode", "wal"},
		{s.write, "synchronous", "2"}, // FULL
		{s.write, "foreign_keys", "1"},
		{s.write, "busy_timeout", "5000"},
		{s.write, "query_only", "0"},
		{s.read, "journal_mode", "wal"},
		{s.read, "busy_timeout", "5000"},
		{s.read, "query_only", "1"},
		{s.read, "mmap_size", "268435456"},
	} {
		var got string
		if err := c.db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			pool := "write"
			if c.db == s.read {
				pool = "read"
			}
			t.Errorf("%s pool: PRAGMA %s = %s, want %s", pool, c.pragma, got, c.want)
		}
	}
	if got := s.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool allows %d connections, want 1", got)
	}
}

// TestTwoProcesses stands in for the server and the CLI sharing one file: two Stores
// have separate write connections, so only SQLite's file lock orders them. Without
// BEGIN IMMEDIATE, a transaction that read first would fail with SQLITE_BUSY.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer s.Close()
		if _, err := s.MigrateUp(ctx); err != nil {
			t.Fatalf("MigrateUp #%d: %v", i, err)
		}
		stores[i] = s
	}

	const perStore = 10
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		start   = make(chan struct{})
	)
	for i := range 2 * perStore {
		s := stores[i%2]
		wg.Go(func() {
			<-start
			id := fmt.Sprintf("tok-%02d", i)
			sum := sha256.Sum256([]byte(id))
			p := store.TokenCreateParams{ID: id, Role: store.RoleAdmin, Hash: sum[:], CreatedAt: time.Now()}
			ok, err := s.TokenCreateIfNone(ctx, p)
			if err != nil {
				t.Errorf("TokenCreateIfNone(%s): %v", id, err)
			}
			if _, err := s.TokenCreate(ctx, store.TokenCreateParams{
				ID: id + "-extra", Role: store.RoleUser, Hash: append(sum[:], 'x'), CreatedAt: time.Now(),
			}); err != nil {
				t.Errorf("TokenCreate(%s-extra): %v", id, err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if created != 1 {
		t.Errorf("TokenCreateIfNone created %d tokens across two stores, want 1", created)
	}
	tokens, err := stores[1].TokenList(ctx)
	if err != nil {
		t.Fatalf("TokenList: %v", err)
	}
	if want := 1 + 2*perStore; len(tokens) != want {
		t.Errorf("TokenList has %d tokens, want %d", len(tokens), want)
	}
}

// TestTwoProcessesClaim has two Stores on one file, standing in for two Junction
// processes, drain one queue. Only SQLite's file lock orders their claims, and with
// BEGIN IMMEDIATE no delivery may be handed to both.
func TestTwoProcessesClaim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		defer s.Close()
		if _, err := s.MigrateUp(ctx); err != nil {
			t.Fatalf("MigrateUp #%d: %v", i, err)
		}
		stores[i] = s
	}
	if _, err := stores[0].EndpointCreate(ctx, store.Endpoint{ID: "ep", URL: "https://example.com", IsActive: true, CreatedAt: now}); err != nil {
		t.Fatalf("EndpointCreate: %v", err)
	}
	const deliveries = 300
	ds := make([]store.Delivery, deliveries)
	for i := range ds {
		ds[i] = store.Delivery{ID: fmt.Sprintf("d-%03d", i), EndpointID: "ep", MaxAttempts: 1}
	}
	if _, _, err := stores[0].EventPublish(ctx, event.Event{ID: "ev", Type: "t", Time: now}, ds); err != nil {
		t.Fatalf("EventPublish: %v", err)
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = make(map[string]int)
	)
	for w := range 6 {
		s := stores[w%2]
		wg.Go(func() {
			for range deliveries {
				got, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: 5, Lease: time.Hour, Owner: fmt.Sprint(w)})
				if err != nil {
					t.Errorf("DeliveryClaim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					claimed[c.Delivery.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, d := range ds {
		if n := claimed[d.ID]; n != 1 {
			t.Errorf("delivery %s claimed %d times across two stores, want once", d.ID, n)
		}
	}
}

// TestPathIsLiteral checks that characters a URI would interpret stay part of the name.
func TestPathIsLiteral(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "odd ?name#with%41.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("database not at %q: %v (directory holds %q)", path, err, names)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{"", filepath.Join(t.TempDir(), "missing-dir", "junction.db")} {
		if s, err := Open(ctx, path); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

// TestTimeStorage pins the on-disk format documented in the migration: fixed-width UTC
// text, so that other tools reading the file see what the docs describe.
func TestTimeStorage(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	at := time.Date(2025, 6, 1, 2, 3, 4, 5000, time.FixedZone("", 3600))
	if _, err := s.TokenCreate(ctx, store.TokenCreateParams{ID: "t", Role: store.RoleUser, Hash: []byte{1}, CreatedAt: at}); err != nil {
		t.Fatalf("TokenCreate: %v", err)
	}
	var raw, typ string
	if err := s.read.QueryRow(`SELECT created_at, typeof(created_at) FROM tokens`).Scan(&raw, &typ); err != nil {
		t.Fatalf("select: %v", err)
	}
	if want := "2025-06-01T01:03:04.000005Z"; raw != want || typ != "text" {
		t.Errorf("created_at stored as %s %q, want text %q", typ, raw, want)
	}
}

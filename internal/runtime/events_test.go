package runtime

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/postgres"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
)

// The events source reads the store's event log: these tests run whole runtimes (the
// flow engine, the bridge, the lease of a cluster node) on real SQLite and PostgreSQL
// stores, with a flow whose sink calls an HTTP server that records every message.

// recorder is the flow's sink: an HTTP server that keeps the order ids it is sent.
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids []string
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.ids = append(r.ids, string(b))
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// until waits for the recorder to have received last, and returns everything received.
func (r *recorder) until(t *testing.T, last string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(r.got(), body(last)) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for event %s at the sink; it received %q", last, r.got())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.got()
}

func body(id string) string { return `{"id":"` + id + `"}` }

func bodies(ids ...string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = body(id)
	}
	return out
}

// eventsConfig is a flow reading order.* events into the recorder, one at a time so
// the sink sees the order in which the source delivers.
func eventsConfig(t *testing.T, rec *recorder) string {
	return fmt.Sprintf(`integration Rec { base_url: %q
    operation post { method: POST  path: "/rec"  body_type: binary } }
connector ev { type: events  events: ["order.*"] }
connector rec { type: integration  integration: Rec  operation: post  body: "$" }
flow orders { source: ev  max_in_flight: 1  sink s { connector: rec } }`, rec.srv.URL)
}

// backend is a store to run the tests on, and how to delete events behind the store's
// back (as a retention purge would).
type backend struct {
	name   string
	open   func(t testing.TB) store.Store
	delete func(t testing.TB, ids ...string)
}

func backends(t testing.TB) []backend {
	path := filepath.Join(t.TempDir(), "j.db")
	// One schema per test (or benchmark run), shared by its open and delete.
	dsns := map[testing.TB]string{}
	pg := func(t testing.TB) string {
		if dsns[t] == "" {
			dsns[t] = servicetest.PostgresDSN(t)
		}
		return dsns[t]
	}
	return []backend{{
		name: "sqlite",
		open: func(t testing.TB) store.Store {
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		delete: func(t testing.TB, ids ...string) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, id := range ids {
				if _, err := db.Exec(`DELETE FROM events WHERE id = ?`, id); err != nil {
					t.Fatal(err)
				}
			}
		},
	}, {
		name: "postgres",
		open: func(t testing.TB) store.Store {
			st, err := postgres.Open(context.Background(), pg(t))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		delete: func(t testing.TB, ids ...string) {
			conn, err := pgx.Connect(context.Background(), pg(t))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), `DELETE FROM events WHERE id = ANY($1)`, ids); err != nil {
				t.Fatal(err)
			}
		},
	}}
}

// openMigrated opens b's store (closed when t ends) and migrates it.
func openMigrated(t testing.TB, b backend) store.Store {
	st := b.open(t)
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// node is one `serve` process on st: a cluster node and a runtime running cfg.
type node struct {
	host *Host
	node *cluster.Node
}

func startNode(t testing.TB, st store.Store, id, cfg string, log *slog.Logger) *node {
	t.Helper()
	deps := testDeps(t)
	deps.Store = st
	if log != nil {
		deps.Logger = log
	}
	n, err := cluster.New(cluster.Options{Store: st, ID: id, TTL: 3 * time.Second, Solo: st.Backend() == "sqlite", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deps.Node = n
	h, err := Start(context.Background(), decode(t, cfg), deps)
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{host: h, node: n}
	t.Cleanup(func() { nd.stop(t) })
	return nd
}

func (n *node) stop(t testing.TB) {
	if n.host == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.host.Stop(ctx); err != nil {
		t.Errorf("host stop: %v", err)
	}
	if err := n.node.Stop(ctx); err != nil {
		t.Errorf("node stop: %v", err)
	}
	n.host = nil
}

// publish stores events as POST /events does, without any runtime running.
func publish(t testing.TB, st store.Store, typ string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		e := event.Event{ID: id, Type: typ, Data: []byte(body(id)), Source: event.SourceAPI, Time: time.Now()}
		if _, _, err := st.EventPublish(context.Background(), e, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// publishThrough publishes through a running node, as POST /events there does.
func publishThrough(t *testing.T, n *node, typ, id string) {
	t.Helper()
	if _, err := n.host.Webhooks().Publish(context.Background(), event.Event{ID: id, Type: typ, Data: []byte(body(id))}); err != nil {
		t.Fatal(err)
	}
}

// flowRunning waits until the flow's source is open (its cursor exists from then on).
func flowRunning(t testing.TB, n *node) {
	t.Helper()
	testkit.WaitFor(t, "the flow to run", func() bool {
		st, err := n.host.Flows().Status(context.Background(), "orders")
		return err == nil && st.State == "running"
	})
}

// TestEventsSourceResumesFromTheStore: events published while the flow is stopped
// reach it when it runs again, in publish order and once each; other types are not
// delivered; events published before the flow first ran are not replayed.
func TestEventsSourceResumesFromTheStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := openMigrated(t, b)
			rec := newRecorder(t)
			publish(t, st, "order.created", "before-first-run")

			n := startNode(t, st, "a", eventsConfig(t, rec), nil)
			flowRunning(t, n)
			publishThrough(t, n, "order.created", "live-1")
			rec.until(t, "live-1")
			n.stop(t)

			var stopped []string
			for i := range 20 {
				id := fmt.Sprintf("while-stopped-%02d", i)
				stopped = append(stopped, id)
				publish(t, st, "order.created", id)
				publish(t, st, "user.created", "other-"+id)
			}
			n = startNode(t, st, "a", eventsConfig(t, rec), nil)
			flowRunning(t, n)
			publishThrough(t, n, "order.paid", "live-2")
			got := rec.until(t, "live-2")
			want := bodies(append(append([]string{"live-1"}, stopped...), "live-2")...)
			if !slices.Equal(got, want) {
				t.Fatalf("the sink received\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// TestEventsSourceOneNodeAtATime: two nodes on one PostgreSQL store run the flow; only
// the holder of its source lease reads, so each event is processed once, wherever it
// was published. When the holder stops, the other node takes over from the cursor.
func TestEventsSourceOneNodeAtATime(t *testing.T) {
	b := backends(t)[1]
	st := openMigrated(t, b)
	rec := newRecorder(t)
	cfg := eventsConfig(t, rec)
	a := startNode(t, st, "node-a", cfg, nil)
	c := startNode(t, st, "node-b", cfg, nil)
	flowRunningSomewhere := func() {
		testkit.WaitFor(t, "a node to run the flow", func() bool {
			for _, n := range []*node{a, c} {
				if s, err := n.host.Flows().Status(context.Background(), "orders"); err == nil && s.State == "running" {
					return true
				}
			}
			return false
		})
	}
	flowRunningSomewhere()

	var want []string
	for i := range 10 {
		id := fmt.Sprintf("first-%02d", i)
		want = append(want, id)
		// Half on each node: the holder hears of the others' through the store.
		publishThrough(t, []*node{a, c}[i%2], "order.created", id)
	}
	if got := rec.until(t, "first-09"); !slices.Equal(got, bodies(want...)) {
		t.Fatalf("with two nodes the sink received\n%q\nwant\n%q", got, bodies(want...))
	}

	// Stop the holder; events published meanwhile reach the flow on the other node.
	leases, err := st.LeaseList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	holder := ""
	for _, l := range leases {
		if l.Name == "flow-source:orders" {
			holder = l.Holder
		}
	}
	stay := c
	switch holder {
	case "node-a":
		a.stop(t)
	case "node-b":
		c.stop(t)
		stay = a
	default:
		t.Fatalf("no node holds flow-source:orders: %+v", leases)
	}
	for i := range 10 {
		id := fmt.Sprintf("second-%02d", i)
		want = append(want, id)
		publish(t, st, "order.created", id)
	}
	publishThrough(t, stay, "order.created", "last")
	want = append(want, "last")
	if got := rec.until(t, "last"); !slices.Equal(got, bodies(want...)) {
		t.Fatalf("after the holder (%s) stopped the sink received\n%q\nwant\n%q", holder, got, bodies(want...))
	}
}

// logRecorder keeps the records logged.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// has reports whether a record with that message was logged.
func (l *logRecorder) has(message string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.records, func(r slog.Record) bool { return r.Message == message })
}

// skippedWarning returns the value of "skipped" of the warning about purged events, and
// whether there was one.
func (l *logRecorder) skippedWarning() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.Level != slog.LevelWarn || !strings.Contains(r.Message, "deleted from the store") {
			continue
		}
		skipped := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "skipped" {
				skipped = a.Value.String()
			}
			return true
		})
		return skipped, true
	}
	return "", false
}

// TestEventsSourceCursorBeforeRetention: events purged before the flow read them are
// skipped with a warning (with their number on SQLite); the flow continues with the
// oldest event kept.
func TestEventsSourceCursorBeforeRetention(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := openMigrated(t, b)
			rec := newRecorder(t)
			n := startNode(t, st, "a", eventsConfig(t, rec), nil)
			flowRunning(t, n)
			publishThrough(t, n, "order.created", "seen")
			rec.until(t, "seen")
			n.stop(t)

			publish(t, st, "order.created", "purged-1", "purged-2", "purged-3", "kept-1", "kept-2")
			// The event at the cursor goes too, as it would in a purge by age.
			b.delete(t, "seen", "purged-1", "purged-2", "purged-3")

			logs := &logRecorder{}
			startNode(t, st, "a", eventsConfig(t, rec), slog.New(logs))
			got := rec.until(t, "kept-2")
			if want := bodies("seen", "kept-1", "kept-2"); !slices.Equal(got, want) {
				t.Fatalf("the sink received %q, want %q", got, want)
			}
			skipped, warned := logs.skippedWarning()
			switch {
			case !warned:
				t.Error("no warning about the purged events")
			case b.name == "sqlite" && skipped != "3":
				t.Errorf("warning says %q skipped, want 3", skipped)
			}
		})
	}
}

// TestCircuitEventsAreStored: the integrations' circuit events, announced on the bus
// only, are stored for events sources, once even while two runtimes' recorders (a
// reload) hear them.
func TestCircuitEventsAreStored(t *testing.T) {
	deps := testDeps(t)
	ctx := context.Background()
	start, _, err := deps.Store.FlowEventCursorStart(ctx, "f", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var recorders []*circuitRecorder
	for range 2 {
		r := &circuitRecorder{store: deps.Store, bus: deps.Bus, log: quiet()}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		recorders = append(recorders, r)
	}
	at := time.Now()
	deps.Bus.Publish(event.Make(event.IntegrationCircuitOpened, event.SourceJunction, at, map[string]any{"integration": "GitHub"}))
	deps.Bus.Publish(event.Make("order.created", event.SourceAPI, at, map[string]any{"n": 1}))
	deps.Bus.Publish(event.Make(event.IntegrationCircuitClosed, event.SourceJunction, at, map[string]any{"integration": "GitHub"}))
	var got []string
	testkit.WaitFor(t, "the circuit events in the store", func() bool {
		page, err := deps.Store.EventLogRead(ctx, store.EventLogQuery{After: start, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range page.Events {
			got = append(got, e.Type)
		}
		return len(got) >= 2
	})
	for _, r := range recorders {
		if err := r.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	page, err := deps.Store.EventLogRead(ctx, store.EventLogQuery{After: start, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range page.Events {
		got = append(got, e.Type)
	}
	if want := []string{event.IntegrationCircuitOpened, event.IntegrationCircuitClosed}; !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
}

// BenchmarkEventsSourceBacklog measures how fast a flow works through a backlog of stored
// events (reads, deliveries and a cursor write per acknowledgement; the sink is the log,
// discarded): b.N events published while the flow is stopped, then the time until the
// flow has delivered them all.
func BenchmarkEventsSourceBacklog(b *testing.B) {
	for i, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			// Afresh for each run: a run's cleanups drop its database.
			st := openMigrated(b, backends(b)[i])
			cfg := `connector ev { type: events  events: ["order.*"] }
connector out { type: log  level: debug }
flow orders { source: ev  sink s { connector: out } }`
			n := startNode(b, st, "a", cfg, nil)
			flowRunning(b, n)
			n.stop(b)
			run := time.Now().UnixNano() // the store is reused between runs: ids of their own
			for i := range b.N {
				publish(b, st, "order.created", fmt.Sprintf("bench-%d-%d", run, i))
			}
			b.ResetTimer()
			n = startNode(b, st, "a", cfg, nil)
			testkit.WaitFor(b, "the backlog to be delivered", func() bool {
				s, err := n.host.Flows().Status(context.Background(), "orders")
				return err == nil && s.Counters.Delivered >= int64(b.N)
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			n.stop(b)
		})
	}
}

// TestRemovedFlowsCursorsArePruned: at its start a node deletes the events cursors of
// the flows its configuration no longer declares that have not moved for the event
// retention; a declared flow's cursor, a recently moved one and, in a cluster, one of a
// flow whose events source another node holds (it runs a configuration that declares
// it) stay.
func TestRemovedFlowsCursorsArePruned(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := openMigrated(t, b)
			ctx := context.Background()
			now := time.Now()
			longAgo := now.Add(-8 * 24 * time.Hour)
			for name, at := range map[string]time.Time{"orders": longAgo, "gone": longAgo, "gone-lately": now.Add(-time.Hour), "elsewhere": longAgo} {
				if _, _, err := st.FlowEventCursorStart(ctx, name, at); err != nil {
					t.Fatal(err)
				}
			}
			if _, held, err := st.LeaseAcquire(ctx, store.LeaseAcquireParams{Name: flow.SourceLeasePrefix + "elsewhere", Holder: "node-b", Now: now, TTL: time.Hour}); err != nil || !held {
				t.Fatalf("LeaseAcquire = %v, %v", held, err)
			}

			logs := &logRecorder{}
			startNode(t, st, "a", eventsConfig(t, newRecorder(t)), slog.New(logs))
			testkit.WaitFor(t, "the cursors to be pruned", func() bool { return logs.has("events cursors of flows no longer declared deleted") })
			// On SQLite there is one node: a lease of another node id is an earlier run's,
			// freed at the start.
			gone, kept := []string{"gone"}, []string{"orders", "gone-lately", "elsewhere"}
			if b.name == "sqlite" {
				gone, kept = []string{"gone", "elsewhere"}, []string{"orders", "gone-lately"}
			}
			for _, gone := range gone {
				if _, created, err := st.FlowEventCursorStart(ctx, gone, now); err != nil || !created {
					t.Errorf("cursor %s was kept (created again = %v, %v)", gone, created, err)
				}
			}
			for _, kept := range kept {
				if _, created, err := st.FlowEventCursorStart(ctx, kept, now); err != nil || created {
					t.Errorf("cursor %s was deleted (created again = %v, %v)", kept, created, err)
				}
			}
		})
	}
}

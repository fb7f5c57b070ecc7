package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/postgres"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
)

// eachStore runs test as subtests on a fresh, migrated SQLite store and on one in a new
// PostgreSQL schema (skipped when PostgreSQL is not running, failed under
// JUNCTION_REQUIRE_SERVICES=1).
func eachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "j.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		migrate(t, st)
		test(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), servicetest.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		migrate(t, st)
		test(t, st)
	})
}

func migrate(t *testing.T, st store.Store) {
	t.Helper()
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// publishN publishes n order.created events.
func publishN(t *testing.T, svc *webhook.Service, n int) {
	t.Helper()
	for i := range n {
		if _, err := svc.Publish(context.Background(), event.Event{Type: "order.created", Data: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

// countingStore counts the dispatcher's claims, so a test can wait until the service
// has looked for work again instead of sleeping.
type countingStore struct {
	store.Store
	claims atomic.Int64
	purges atomic.Int64 // dead-letter purges: one per retention run
}

func (c *countingStore) DeadLetterPurge(ctx context.Context, before time.Time) (int, error) {
	n, err := c.Store.DeadLetterPurge(ctx, before)
	c.purges.Add(1)
	return n, err
}

// waitPurges waits until the retention has run n more times.
func (c *countingStore) waitPurges(t *testing.T, n int64) {
	t.Helper()
	target := c.purges.Load() + n
	testkit.WaitFor(t, "the retention to run again", func() bool { return c.purges.Load() >= target })
}

func (c *countingStore) DeliveryClaim(ctx context.Context, p store.ClaimParams) ([]store.ClaimedDelivery, error) {
	got, err := c.Store.DeliveryClaim(ctx, p)
	c.claims.Add(1)
	return got, err
}

// waitClaims waits until the dispatcher has claimed n more times.
func (c *countingStore) waitClaims(t *testing.T, n int64) {
	t.Helper()
	target := c.claims.Load() + n
	testkit.WaitFor(t, "the dispatcher to look for deliveries again", func() bool { return c.claims.Load() >= target })
}

// hookEnv is a webhook service on a given store, with its logs, registry and the
// WebhookDeliveryFailed events it published.
type hookEnv struct {
	svc    *webhook.Service
	store  *countingStore
	logs   *testkit.SyncBuffer
	reg    *prometheus.Registry
	events chan event.Event
	bus    *event.Bus
}

func newHookEnv(t *testing.T, st store.Store, s webhook.Settings, o webhook.Options) *hookEnv {
	t.Helper()
	e := &hookEnv{store: &countingStore{Store: st}, logs: &testkit.SyncBuffer{}, reg: prometheus.NewRegistry(), events: make(chan event.Event, 1000)}
	bus := event.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(bus.Close)
	bus.Subscribe(func(ev event.Event) bool { return ev.Type == webhook.WebhookDeliveryFailed }, func(ev event.Event) { e.events <- ev })
	m, err := webhook.NewMetrics(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	o.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Metrics, o.Bus, e.bus = m, bus, bus
	if e.svc, err = webhook.New(e.store, s, o); err != nil {
		t.Fatal(err)
	}
	return e
}

// run delivers until the test ends.
func (e *hookEnv) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func (e *hookEnv) endpoint(t *testing.T, url string) store.Endpoint {
	t.Helper()
	ep, err := e.svc.CreateEndpoint(context.Background(), webhook.EndpointInput{Name: "ep", URL: url, Events: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (e *hookEnv) getEndpoint(t *testing.T, id string) store.Endpoint {
	t.Helper()
	ep, err := e.svc.GetEndpoint(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// deliveries lists every delivery of an endpoint.
func (e *hookEnv) deliveries(t *testing.T, endpointID string) []store.Delivery {
	t.Helper()
	var all []store.Delivery
	for p := 1; ; p++ {
		ds, total, err := e.store.DeliveryList(context.Background(), store.DeliveryFilter{EndpointID: endpointID, Page: store.Page{Page: p, Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ds...)
		if len(all) >= total || len(ds) == 0 {
			return all
		}
	}
}

// attemptsRecorded is the number of attempts the store has recorded for an endpoint.
func (e *hookEnv) attemptsRecorded(t *testing.T, endpointID string) int {
	n := 0
	for _, d := range e.deliveries(t, endpointID) {
		n += d.AttemptCount
	}
	return n
}

// countingReceiver counts requests per webhook-id; with delay set it takes that long to
// answer; with hang set it answers only when the test ends.
type countingReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	byID    map[string]int
	total   int
	release chan struct{}
}

func newCountingReceiver(t *testing.T, delay time.Duration, hang bool) *countingReceiver {
	t.Helper()
	r := &countingReceiver{byID: map[string]int{}, release: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.byID[req.Header.Get("webhook-id")]++
		r.total++
		r.mu.Unlock()
		if hang {
			<-r.release
			return
		}
		select {
		case <-time.After(delay):
		case <-r.release:
		}
		w.WriteHeader(http.StatusOK)
	}))
	// Cleanups run last first: the handlers are released, then the server closes.
	t.Cleanup(r.Close)
	t.Cleanup(func() { close(r.release) })
	return r
}

func (r *countingReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// duplicates returns how many requests repeated a webhook-id, and how many ids were seen.
func (r *countingReceiver) duplicates() (dup, distinct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.byID {
		dup += n - 1
	}
	return dup, len(r.byID)
}

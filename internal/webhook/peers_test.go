package webhook_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/webhook/inflight"
)

// holdingReceiver holds every request until released, counting those it holds.
type holdingReceiver struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	now     int
	most    int
	served  int
}

func newHoldingReceiver(t *testing.T) *holdingReceiver {
	r := &holdingReceiver{release: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.now++
		r.most = max(r.most, r.now)
		r.mu.Unlock()
		<-r.release
		r.mu.Lock()
		r.now--
		r.served++
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	t.Cleanup(r.open) // before Close, so no handler is left waiting
	return r
}

func (r *holdingReceiver) open() {
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

func (r *holdingReceiver) counts() (now, most, served int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now, r.most, r.served
}

// TestPerEndpointConcurrencyAcrossNodes: two delivery services ("nodes") on one store,
// sharing their attempts in flight through Redis. While node A holds an endpoint's
// per_endpoint_concurrency attempts, node B — started then, and busy delivering to
// another endpoint — starts none to it; without the shared counts B would take its own
// two and the endpoint would see four at once.
func TestPerEndpointConcurrencyAcrossNodes(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	id := rand.Text()[:8]
	st := newEnv(t, fastSettings(), false).store
	nodeA := startNode(t, st, 2, inflight.New(rdb, "a-"+id, quiet())) // A can hold only the slow endpoint's two
	slow, fast := newHoldingReceiver(t), newReceiver(t)
	slowEP, err := nodeA.CreateEndpoint(context.Background(), webhook.EndpointInput{Name: "slow", URL: slow.URL, Events: []string{"slow.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodeA.CreateEndpoint(context.Background(), webhook.EndpointInput{Name: "fast", URL: fast.URL, Events: []string{"fast.*"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 6 {
		if _, err := nodeA.Publish(ctx, event.Event{Type: "slow.x", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, "node A to hold two attempts to the slow endpoint", func() bool { now, _, _ := slow.counts(); return now == 2 })
	// A shares its counts within inflight.Interval: the bound is only that exact, so B
	// starts once they are in Redis (an observer node reads them).
	observer := inflight.New(rdb, "observer-"+id, quiet())
	testkit.WaitFor(t, "node A's attempts to be shared", func() bool {
		observer.Sync(ctx)
		seen := map[string]int{}
		observer.AddOthers(seen)
		return seen[slowEP.ID] == 2
	})

	nodeB := startNode(t, st, 8, inflight.New(rdb, "b-"+id, quiet()))
	if _, err := nodeB.Publish(ctx, event.Event{Type: "fast.x", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "node B to deliver to the other endpoint", func() bool { return len(fast.all()) == 1 })
	if _, most, _ := slow.counts(); most != 2 {
		t.Fatalf("the slow endpoint had %d attempts at once across the two nodes, want per_endpoint_concurrency 2", most)
	}
	slow.open()
	testkit.WaitFor(t, "every slow delivery", func() bool { _, _, served := slow.counts(); return served == 6 })
}

// startNode runs a delivery service on st with per_endpoint_concurrency 2, workers
// attempts at most, and peers, until the test ends.
func startNode(t *testing.T, st store.Store, workers int, peers *inflight.Board) *webhook.Service {
	t.Helper()
	s := fastSettings()
	s.Workers, s.PerEndpointConcurrency = workers, 2
	m, err := webhook.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := webhook.New(st, s, webhook.Options{Logger: quiet(), Metrics: m, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return svc
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

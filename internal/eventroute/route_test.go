package eventroute

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder stands in for the webhook service and the runtime: what matters here is what
// the router asks of them.
type recorder struct {
	mu        sync.Mutex
	published []event.Event
	calls     []string
	params    []map[string]any
	got       chan struct{}
}

func (r *recorder) Publish(_ context.Context, in event.Event) (webhook.PublishResult, error) {
	r.mu.Lock()
	r.published = append(r.published, in)
	r.mu.Unlock()
	r.got <- struct{}{}
	return webhook.PublishResult{}, nil
}

func (r *recorder) Call(_ context.Context, in, op string, params map[string]any, _ integration.CallOptions) (*integration.Result, error) {
	r.mu.Lock()
	r.calls = append(r.calls, in+"."+op)
	r.params = append(r.params, params)
	r.mu.Unlock()
	r.got <- struct{}{}
	return &integration.Result{Status: 200}, nil
}

func TestRoutesConfiguredEvents(t *testing.T) {
	cfg, diags := config.Decode("t.cai", []byte(`
integration Alerts { base_url: "https://alerts.example.com"  operation notify { method: POST  path: "/notify"  body: { integration: string, failures: integer, opened_at: timestamp } } }
event IntegrationCircuitOpened {
    payload { integration: string  failures: integer  opened_at: timestamp }
    publish_to: [webhook("monitoring"), integration("Alerts.notify"), slack("#ops")]
}
event Quiet { payload { x: string } }
`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	bus := event.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer bus.Close()
	rec := &recorder{got: make(chan struct{}, 10)}
	router := New(bus, cfg, rec, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := router.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer router.Stop(context.Background())

	opened := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	bus.Publish(event.Make(event.IntegrationCircuitOpened, event.SourceJunction, opened, map[string]any{"integration": "GitHub", "failures": 5, "opened_at": opened}))
	bus.Publish(event.Make("Quiet", event.SourceJunction, opened, map[string]any{"x": "y"}))
	for range 2 {
		select {
		case <-rec.got:
		case <-time.After(30 * time.Second):
			t.Fatal("event not routed")
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.published) != 1 || rec.published[0].Type != "monitoring" {
		t.Fatalf("published %+v", rec.published)
	}
	var data struct {
		Event   string
		Payload map[string]any
	}
	if err := json.Unmarshal(rec.published[0].Data, &data); err != nil || data.Event != "IntegrationCircuitOpened" || data.Payload["integration"] != "GitHub" {
		t.Errorf("webhook data %s", rec.published[0].Data)
	}
	if len(rec.calls) != 1 || rec.calls[0] != "Alerts.notify" || rec.params[0]["opened_at"] != "2026-11-23T12:00:00Z" || rec.params[0]["failures"] != json.Number("5") {
		t.Errorf("calls %v %v", rec.calls, rec.params)
	}
	select {
	case <-rec.got:
		t.Error("an event without publish_to was routed")
	case <-time.After(20 * time.Millisecond):
	}
}

// Routes that lead into each other do not loop: what a route published is not routed
// again, even when the pub/sub it went through puts it back on the bus.
func TestRoutedEventsAreNotRoutedAgain(t *testing.T) {
	cfg, diags := config.Decode("t.cai", []byte(`
event Ping { payload { n: integer } publish_to: [webhook("Pong")] }
event Pong { payload { n: integer } publish_to: [webhook("Ping")] }
`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := event.New(log)
	defer bus.Close()
	// Like the webhook service: every published event goes back onto the bus.
	rec := &recorder{got: make(chan struct{}, 10)}
	echo := publisherFunc(func(ctx context.Context, e event.Event) (webhook.PublishResult, error) {
		bus.Publish(e)
		return rec.Publish(ctx, e)
	})
	router := New(bus, cfg, echo, rec, log)
	if err := router.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer router.Stop(context.Background())
	bus.Publish(event.Make("Ping", event.SourceAPI, time.Now(), map[string]any{"n": 1}))
	select {
	case <-rec.got:
	case <-time.After(30 * time.Second):
		t.Fatal("Ping not routed")
	}
	select {
	case <-rec.got:
		t.Fatal("the routed Pong was routed again")
	case <-time.After(100 * time.Millisecond):
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.published) != 1 || rec.published[0].Type != "Pong" || rec.published[0].Source != event.SourceRoutePrefix+"Ping" {
		t.Fatalf("published %+v", rec.published)
	}
}

type publisherFunc func(context.Context, event.Event) (webhook.PublishResult, error)

func (f publisherFunc) Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error) {
	return f(ctx, e)
}

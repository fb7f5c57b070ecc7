package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// TestFlowBridgeEvents: an events source sees bus events (inbound webhooks, circuit
// events) and API-published events, each matching its pattern, and nothing after it
// unsubscribed.
func TestFlowBridgeEvents(t *testing.T) {
	bus := event.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer bus.Close()
	b := newFlowBridge(slog.New(slog.NewTextHandler(io.Discard, nil)), bus, nil, nil)
	got := make(chan string, 10)
	unsubscribe := b.Subscribe("github.*", func(eventType string, data []byte) { got <- eventType + " " + string(data) })

	bus.Publish(event.Event{Type: "github.push", Time: time.Now(), Data: map[string]any{"source": "github", "payload": map[string]any{"ref": "main"}}})
	bus.Publish(event.Event{Type: "stripe.charge", Time: time.Now(), Data: map[string]any{}})
	b.eventPublished(store.Event{ID: "e1", Type: "github.issue", Data: []byte(`{"n":1}`)})
	b.eventPublished(store.Event{ID: "e2", Type: "other", Data: []byte(`{}`)})

	want := map[string]bool{
		`github.push {"payload":{"ref":"main"},"source":"github"}`: true,
		`github.issue {"n":1}`: true,
	}
	for len(want) > 0 {
		select {
		case g := <-got:
			if !want[g] {
				t.Errorf("unexpected %s", g)
			}
			delete(want, g)
		case <-time.After(30 * time.Second):
			t.Fatalf("missing %v", want)
		}
	}
	unsubscribe()
	bus.Publish(event.Event{Type: "github.push", Time: time.Now(), Data: map[string]any{}})
	b.eventPublished(store.Event{ID: "e3", Type: "github.issue", Data: []byte(`{}`)})
	select {
	case g := <-got:
		t.Errorf("after unsubscribe: %s", g)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestFlowBridgeInbound: one flow per path; a path nobody receives is reported as such.
func TestFlowBridgeInbound(t *testing.T) {
	b := newFlowBridge(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, nil)
	stop, err := b.HandleHTTP("orders", func(context.Context, connector.Message) error { return errors.New("busy") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.HandleHTTP("orders", nil); err == nil {
		t.Error("a second flow took the same path")
	}
	if ok, err := b.Inbound(context.Background(), "orders", connector.Message{}); !ok || err == nil || err.Error() != "busy" {
		t.Errorf("Inbound: %v %v", ok, err)
	}
	stop()
	if ok, _ := b.Inbound(context.Background(), "orders", connector.Message{}); ok {
		t.Error("path still routed after stop")
	}
}

// TestValidateFlows: `junction validate` builds each flow's connectors (without
// connecting) and compiles its steps: wrong options are errors with positions, unset
// variables warnings.
func TestValidateFlows(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.cai", `connector q { type: rabbitmq  url: "amqp://127.0.0.1/"  queue: "q"  prefetchh: 5 }
connector db { type: postgres  url: env(DB_URL) }
flow f {
    source: q
    step big { filter: "total >=" }
    sink out { connector: db, table: "t", mode: upsert, columns: { id: "$.id" } }
}`)
	var out strings.Builder
	if Validate(&out, []string{bad}, func(string) (string, bool) { return "postgres://x@127.0.0.1/test", true }) {
		t.Fatalf("accepted:\n%s", out.String())
	}
	for _, want := range []string{
		"bad.cai:1:69: rabbitmq connector q: unknown setting prefetchh; did you mean prefetch?",
		"bad.cai:5:5: step big:",
		"bad.cai:6:5: postgres connector db: missing key: an upsert needs the conflict columns",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	good := write("good.cai", `connector db { type: postgres  url: env(DB_URL) }
connector tick { type: schedule  every: 1m }
flow f { source: tick  sink out { connector: db, table: "t", columns: { id: "$.id" } } }`)
	out.Reset()
	if !Validate(&out, []string{good}, func(string) (string, bool) { return "", false }) {
		t.Fatalf("rejected:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "good.cai:1:37: warning: connector db url: DB_URL is not set") {
		t.Errorf("no warning for the unset variable:\n%s", out.String())
	}
}

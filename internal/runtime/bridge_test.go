package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestBridgeEvents: an events source sees every event on the bus whose type matches its
// pattern (inbound webhooks, circuit events, API-published events alike), as its
// payload, and nothing after it unsubscribed.
func TestBridgeEvents(t *testing.T) {
	bus := event.New(quiet())
	defer bus.Close()
	b := newBridge(quiet(), bus, nil, nil, nil, eventLog{})
	got := make(chan string, 10)
	unsubscribe := b.Subscribe("github.*", func(eventType string, data []byte) { got <- eventType + " " + string(data) })

	bus.Publish(event.Make("github.push", event.SourceIngestPrefix+"github", time.Now(), map[string]any{"source": "github", "payload": map[string]any{"ref": "main"}}))
	bus.Publish(event.Make("stripe.charge", event.SourceIngestPrefix+"stripe", time.Now(), map[string]any{}))
	bus.Publish(event.Event{ID: "e1", Type: "github.issue", Source: event.SourceAPI, Data: []byte(`{"n":1}`)})
	bus.Publish(event.Event{ID: "e2", Type: "other", Source: event.SourceAPI, Data: []byte(`{}`)})

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
	bus.Publish(event.Event{ID: "e3", Type: "github.issue", Source: event.SourceAPI, Data: []byte(`{}`)})
	select {
	case g := <-got:
		t.Errorf("after unsubscribe: %s", g)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestBridgeInbound: one flow per path; a path nobody receives is reported as such.
func TestBridgeInbound(t *testing.T) {
	b := newBridge(quiet(), nil, nil, nil, nil, eventLog{})
	stop, err := b.HandleHTTP("orders", "orders-flow", func(context.Context, connector.Message) error { return errors.New("busy") })
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := b.inboundFlow("orders"); !ok || name != "orders-flow" {
		t.Errorf("inboundFlow = %q, %v", name, ok)
	}
	if _, err := b.HandleHTTP("orders", "other", nil); err == nil {
		t.Error("a second flow took the same path")
	}
	if ok, err := b.Inbound(context.Background(), "orders", connector.Message{}); !ok || err == nil || err.Error() != "busy" {
		t.Errorf("Inbound: %v %v", ok, err)
	}
	stop()
	if ok, _ := b.Inbound(context.Background(), "orders", connector.Message{}); ok {
		t.Error("path still routed after stop")
	}
	if _, ok := b.inboundFlow("orders"); ok {
		t.Error("path still has a flow after stop")
	}
}

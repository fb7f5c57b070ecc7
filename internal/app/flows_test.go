package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
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
		case <-time.After(5 * time.Second):
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

package event

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPublishReachesMatchingSubscribers(t *testing.T) {
	b := New(quiet())
	defer b.Close()
	var mu sync.Mutex
	var all, opened []string
	done := make(chan struct{}, 10)
	unsubAll := b.Subscribe(nil, func(e Event) {
		mu.Lock()
		all = append(all, e.Type)
		mu.Unlock()
		done <- struct{}{}
	})
	defer unsubAll()
	b.Subscribe(func(e Event) bool { return e.Type == IntegrationCircuitOpened }, func(e Event) {
		mu.Lock()
		opened = append(opened, e.Fields()["integration"].(string))
		mu.Unlock()
		done <- struct{}{}
	})
	b.Publish(Make(IntegrationCircuitOpened, SourceJunction, time.Now(), map[string]any{"integration": "GitHub"}))
	b.Publish(Make(IntegrationCircuitClosed, SourceJunction, time.Now(), map[string]any{"integration": "GitHub"}))
	for range 3 {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("events not delivered")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(all) != 2 || all[0] != IntegrationCircuitOpened || all[1] != IntegrationCircuitClosed {
		t.Errorf("all = %v (order must be kept per subscriber)", all)
	}
	if len(opened) != 1 || opened[0] != "GitHub" {
		t.Errorf("opened = %v", opened)
	}
}

func TestSlowSubscriberDoesNotBlockPublisher(t *testing.T) {
	b := New(quiet())
	defer b.Close()
	release := make(chan struct{})
	b.Subscribe(nil, func(Event) { <-release })
	for range QueueSizeDefault + 10 {
		b.Publish(Event{Type: "x"}) // must return although the handler is stuck
	}
	if b.Dropped() < 9 {
		t.Errorf("dropped = %d, want the overflow counted", b.Dropped())
	}
	close(release)
}

func TestUnsubscribeAndClose(t *testing.T) {
	b := New(quiet())
	got := make(chan Event, 1)
	unsub := b.Subscribe(nil, func(e Event) { got <- e })
	unsub()
	unsub() // idempotent
	b.Publish(Event{Type: "x"})
	select {
	case <-got:
		t.Fatal("delivered after unsubscribe")
	case <-time.After(20 * time.Millisecond):
	}
	b.Close()
	b.Publish(Event{Type: "y"})
	b.Subscribe(nil, func(Event) {})()
}

// TestUnsubscribeAfterClose: a component that unsubscribes after the bus was closed
// (its stop racing the process's shutdown) does not panic.
func TestUnsubscribeAfterClose(t *testing.T) {
	b := New(quiet())
	unsub := b.Subscribe(nil, func(Event) {})
	b.Close()
	unsub()
}

func TestMakeEncodesFields(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	e := Make("a.b", SourceJunction, at, map[string]any{"n": 1, "at": at})
	if e.Time != at.UTC() || string(e.Data) != `{"at":"2026-01-02T03:04:05+01:00","n":1}` {
		t.Fatalf("event %+v data %s", e, e.Data)
	}
	if f := e.Fields(); f["n"] != json.Number("1") {
		t.Fatalf("fields %v", f)
	}
	bad := Make("a.b", SourceJunction, at, map[string]any{"ch": make(chan int)})
	if f := bad.Fields(); f["error"] == nil {
		t.Fatalf("an unencodable payload should become an error text: %s", bad.Data)
	}
	if (Event{Data: []byte(`[1]`)}).Fields() != nil {
		t.Fatal("a non-object payload has no fields")
	}
}

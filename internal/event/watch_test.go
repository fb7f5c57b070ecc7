package event

import (
	"strings"
	"testing"
	"time"
)

// next reads one event from w, failing after a deadline.
func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case e := <-w.Events():
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
		return Event{}
	}
}

func TestWatcherGetsPublishedAndWatchOnlyEvents(t *testing.T) {
	b := New(quiet())
	defer b.Close()
	subscribed := make(chan string, 10)
	defer b.Subscribe(nil, func(e Event) { subscribed <- e.Type })()
	if b.Watched() {
		t.Fatal("Watched before any watch")
	}
	w := b.Watch(func(e Event) bool { return e.Type != "skip.me" }, 10)
	defer w.Stop()
	if !b.Watched() {
		t.Fatal("not Watched with a watcher")
	}
	b.Publish(Event{Type: "order.created"})
	b.Publish(Event{Type: "skip.me"})
	b.PublishWatched(Event{Type: "junction.flow.message"})
	b.Publish(Event{Type: "order.paid"})
	var got []string
	for range 3 {
		e := next(t, w)
		if e.ID == "" || e.Time.IsZero() {
			t.Errorf("event not filled in: %+v", e)
		}
		got = append(got, e.Type)
	}
	if want := "order.created junction.flow.message order.paid"; strings.Join(got, " ") != want {
		t.Errorf("watched %q, want %q", strings.Join(got, " "), want)
	}
	// Subscribers get the published events only, never the watch-only ones.
	var subs []string
	for range 3 {
		select {
		case typ := <-subscribed:
			subs = append(subs, typ)
		case <-time.After(30 * time.Second):
			t.Fatal("subscriber starved")
		}
	}
	if want := "order.created skip.me order.paid"; strings.Join(subs, " ") != want {
		t.Errorf("subscribed %q, want %q", strings.Join(subs, " "), want)
	}
	w.Stop()
	w.Stop() // again: no effect
	if b.Watched() {
		t.Error("still Watched after Stop")
	}
	select {
	case <-w.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if w.Overflowed() {
		t.Error("Overflowed after a plain Stop")
	}
}

func TestWatcherThatFallsBehindIsDropped(t *testing.T) {
	b := New(quiet())
	defer b.Close()
	w := b.Watch(nil, 2)
	defer w.Stop()
	for i := range 3 {
		b.Publish(Event{Type: "e", ID: string(rune('a' + i))})
	}
	select {
	case <-w.Done():
	default:
		t.Fatal("a full queue did not end the watch")
	}
	if !w.Overflowed() || b.Watched() {
		t.Errorf("Overflowed = %v, Watched = %v", w.Overflowed(), b.Watched())
	}
	// What was queued before the overflow can still be read, and nothing after it came.
	if a, bb := next(t, w), next(t, w); a.ID != "a" || bb.ID != "b" {
		t.Errorf("queued = %q %q", a.ID, bb.ID)
	}
	b.Publish(Event{Type: "e"})
	select {
	case e := <-w.Events():
		t.Errorf("event %+v after the watch ended", e)
	default:
	}
}

func TestCloseEndsWatches(t *testing.T) {
	b := New(quiet())
	w := b.Watch(nil, 1)
	b.Close()
	<-w.Done()
	w.Stop()
	late := b.Watch(nil, 1)
	select {
	case <-late.Done():
	default:
		t.Error("a watch of a closed bus is not done")
	}
}

// Flows and deliveries ask Watched on every message: while nobody watches, publishing a
// watch-only event must not allocate.
func TestPublishWatchedUnwatchedDoesNotAllocate(t *testing.T) {
	b := New(quiet())
	defer b.Close()
	e := Event{Type: "junction.flow.message"}
	if n := testing.AllocsPerRun(100, func() { b.PublishWatched(e) }); n != 0 {
		t.Errorf("PublishWatched with nobody watching: %v allocations", n)
	}
}

func BenchmarkPublishWatchedUnwatched(b *testing.B) {
	bus := New(quiet())
	defer bus.Close()
	for b.Loop() {
		if bus.Watched() {
			bus.PublishWatched(Event{Type: "junction.flow.message"})
		}
	}
}

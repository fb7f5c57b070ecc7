package event

import "sync/atomic"

// Watching is for people, not for components: `junction tail` and GET /events/stream
// show what happens as it happens. A watcher receives every published event, and
// besides those the watch-only events (PublishWatched): one per flow message or
// delivery attempt, which no subscriber gets, so that routes, flow sources and
// workflows never see them (a flow fed by its own message events would loop) and their
// volume never crowds a subscriber's queue. Publishers of watch-only events first ask
// Watched, one atomic load, so they cost nothing while nobody watches.
//
// A watcher's queue is bounded and never drops silently: a watcher that falls behind is
// dropped as a whole (Overflowed), so what it showed has no holes it does not know of.

// Watcher is one watch of the bus. Read Events until Done is closed; call Stop when done.
type Watcher struct {
	bus        *Bus
	match      func(Event) bool
	events     chan Event
	done       chan struct{}
	overflowed atomic.Bool
}

// Watch starts a watch of the events for which match returns true (nil matches
// everything), with a queue of size events (at least 1).
func (b *Bus) Watch(match func(Event) bool, size int) *Watcher {
	if match == nil {
		match = func(Event) bool { return true }
	}
	w := &Watcher{bus: b, match: match, events: make(chan Event, max(size, 1)), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(w.done)
		return w
	}
	b.watchers[w] = struct{}{}
	b.watching.Add(1)
	return w
}

// Watched reports whether anyone watches: a publisher of watch-only events checks it
// before it builds one.
func (b *Bus) Watched() bool { return b.watching.Load() > 0 }

// PublishWatched hands e to the matching watchers only (see Watching above); it does
// nothing while nobody watches. A zero Time is set to now, an empty ID to a new one.
func (b *Bus) PublishWatched(e Event) {
	if !b.Watched() {
		return
	}
	e = e.filled()
	b.mu.Lock()
	b.offer(e)
	b.mu.Unlock()
}

// offer queues e for every matching watcher, ending the watch of one whose queue is
// full. The caller holds b.mu.
func (b *Bus) offer(e Event) {
	for w := range b.watchers {
		if !w.match(e) {
			continue
		}
		select {
		case w.events <- e:
		default:
			w.overflowed.Store(true)
			b.unwatch(w)
		}
	}
}

// unwatch ends w's watch. The caller holds b.mu, and w is watching.
func (b *Bus) unwatch(w *Watcher) {
	delete(b.watchers, w)
	b.watching.Add(-1)
	close(w.done)
}

// Events are the watched events, oldest first.
func (w *Watcher) Events() <-chan Event { return w.events }

// Done is closed when the watch ends: by Stop, by an overflow, or when the bus closes.
// Events still queued may be read after it.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Overflowed reports whether the watch ended because its queue was full: the watcher
// missed events from then on.
func (w *Watcher) Overflowed() bool { return w.overflowed.Load() }

// Stop ends the watch; it may be called more than once and after the watch has ended.
func (w *Watcher) Stop() {
	b := w.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.watchers[w]; ok {
		b.unwatch(w)
	}
}

package event

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one occurrence, and the one type that carries it everywhere: from where it
// happens (an API call, an inbound webhook, a circuit opening) through the bus, storage,
// webhook fan-out, event routes and flows. Data is the payload as JSON, so an event is
// stored and delivered byte for byte as it was published.
type Event struct {
	ID     string          // unique per event; "" until its publisher assigns one
	Type   string          // such as order.created or IntegrationCircuitOpened
	Source string          // who published it: see the Source constants
	Time   time.Time       // when it happened, UTC
	Data   json.RawMessage // the payload: a JSON value
}

// Where events come from (Event.Source).
const (
	SourceAPI      = "api"      // POST /events, or a Go caller of the webhook service
	SourceJunction = "junction" // Junction itself: circuit events, delivery failures
	SourceTest     = "test"     // POST /webhooks/{id}/test
	// SourceIngestPrefix + the source's name: a verified inbound webhook.
	SourceIngestPrefix = "ingest:"
	// SourceRoutePrefix + the routed event's type: published by an event route
	// (publish_to). Routes never route such events again, so routes cannot loop.
	SourceRoutePrefix = "route:"
)

// Make returns an event with the given payload fields. The fields are
// plain values (strings, numbers, times, JSON raw messages); one that cannot be encoded
// is replaced by its text so the event is never lost.
func Make(typ, source string, at time.Time, fields map[string]any) Event {
	data, err := json.Marshal(fields)
	if err != nil {
		data, _ = json.Marshal(map[string]string{"error": "payload not encodable: " + err.Error()})
	}
	return Event{Type: typ, Source: source, Time: at.UTC(), Data: data}
}

// NewID returns a new event id: "evt_" and 24 random hex digits.
func NewID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "evt_" + hex.EncodeToString(b[:])
}

// Fields decodes the payload into a map, for consumers that take it apart (event routes
// passing it as call parameters); numbers stay exact as json.Number. It is nil when the
// payload is not a JSON object.
func (e Event) Fields() map[string]any {
	d := json.NewDecoder(bytes.NewReader(e.Data))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil {
		return nil
	}
	return m
}

// The event types Junction itself publishes.
const (
	IntegrationCircuitOpened = "IntegrationCircuitOpened"
	IntegrationCircuitClosed = "IntegrationCircuitClosed"
)

// QueueSizeDefault is each subscriber's queue length.
const QueueSizeDefault = 1024

// Bus fans events out to subscribers. The zero value is not usable; call New.
type Bus struct {
	log      *slog.Logger
	mu       sync.Mutex
	subs     map[*subscriber]struct{}
	watchers map[*Watcher]struct{} // see watch.go
	watching atomic.Int32          // len(watchers), read without the lock
	closed   bool
	dropped  atomic.Int64
}

type subscriber struct {
	match   func(Event) bool
	handle  func(Event)
	mu      sync.Mutex
	queue   []Event
	limit   int
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// New returns an empty bus.
func New(log *slog.Logger) *Bus {
	return &Bus{log: log, subs: map[*subscriber]struct{}{}, watchers: map[*Watcher]struct{}{}}
}

// Subscribe calls handle, on a goroutine of its own, for every published event for which
// match returns true (nil matches everything). The returned function unsubscribes and
// waits until the handler has returned.
func (b *Bus) Subscribe(match func(Event) bool, handle func(Event)) (unsubscribe func()) {
	if match == nil {
		match = func(Event) bool { return true }
	}
	s := &subscriber{
		match: match, handle: handle, limit: QueueSizeDefault,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.stopped)
		return func() {}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			_, subscribed := b.subs[s]
			delete(b.subs, s)
			b.mu.Unlock()
			if subscribed { // else Close stopped it
				close(s.stop)
			}
			<-s.stopped
		})
	}
}

// Publish hands e to every matching subscriber and watcher without waiting for any of
// them. A zero Time is set to now, an empty ID to a new one.
func (b *Bus) Publish(e Event) {
	e = e.filled()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.offer(e)
	for s := range b.subs {
		if !s.match(e) {
			continue
		}
		if s.enqueue(e) {
			if n := b.dropped.Add(1); n == 1 || n%1000 == 0 {
				b.log.Warn("event subscriber too slow: oldest queued event dropped", "type", e.Type, "dropped_total", n)
			}
		}
	}
}

// filled is e with a zero Time set to now and an empty ID to a new one.
func (e Event) filled() Event {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	return e
}

// Dropped reports how many events were dropped because a subscriber's queue was full.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

// Close unsubscribes everyone and ends every watch, waiting for handlers to finish what they are doing (events
// still queued are discarded). Publish after Close does nothing.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.subs = map[*subscriber]struct{}{}
	for w := range b.watchers {
		b.unwatch(w)
	}
	b.mu.Unlock()
	for s := range subs {
		close(s.stop)
		<-s.stopped
	}
}

// enqueue adds e, dropping the oldest queued event when full; it reports a drop.
func (s *subscriber) enqueue(e Event) (dropped bool) {
	s.mu.Lock()
	if len(s.queue) >= s.limit {
		s.queue = s.queue[1:]
		dropped = true
	}
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return dropped
}

func (s *subscriber) run() {
	defer close(s.stopped)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			e := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			default:
			}
			s.handle(e)
		}
	}
}

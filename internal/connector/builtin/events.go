package builtin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/option"
)

var eventsSpec = &option.Spec{
	Summary: `Junction's events as a source, read from the store: events published with POST /events,
by flows, jobs, workflows and event handlers, inbound webhooks (with or without publish),
failed webhook deliveries and integration circuit changes. The message is the event's
data, with the headers event_type and event_id. Events are delivered in publish order
(an event published after another one was stored comes after it; a flow works on
max_in_flight of them at once, so they reach its sinks in that order with
max_in_flight: 1), from a cursor the store keeps per flow: events published while the flow is stopped, or while its node is
down, reach it when it runs again. The cursor moves past an event only once the flow
has acknowledged it (written it to its sinks or dead-lettered it), so an event may come
twice after a crash, never not at all. A flow that has never run starts with the events
published from its first start on (the first time its source opens): earlier ones are
not replayed. In a cluster the source runs on one node at a time (the holder of the
lease flow-source:FLOW); it reads at once when an event is published on its node and
every half second otherwise, so events published on other nodes arrive within about a
second. On PostgreSQL an event is read only once every transaction older than its own
has ended (so none can be stored behind the cursor): a transaction left open on the
database server holds new events back until it ends. If events after the cursor were deleted from the store before the flow read
them, it continues with the oldest event kept and logs a warning with how many were
skipped (SQLite; PostgreSQL only knows that some may have been).`,
	Fields: []option.Field{
		{Name: "events", Type: option.Strings, Default: []string{"*"}, Example: `["order.*"]`,
			Description: "patterns of the event types to receive, such as order.* (* is every event)."},
	},
	Examples: []option.Example{{Role: option.Source, Title: "order events", Options: `events: ["order.*", "refund.created"]`}},
}

func eventsKind() connector.Kind {
	return connector.Kind{
		Name: "events",
		Spec: eventsSpec,
		NewSource: func(s connector.Settings) (connector.Source, error) {
			v, err := s.Decode(eventsSpec, option.Source)
			if err != nil {
				return nil, err
			}
			patterns := v.Strings("events")
			if len(patterns) == 0 {
				patterns = []string{"*"}
			}
			return &eventsSource{c: s.Connector, in: s.Env.Internal, flow: s.Flow, patterns: patterns, log: s.Env.Log()}, nil
		},
		// One cursor per flow: two nodes reading it would each deliver every event.
		Singleton: true,
		Check:     func(context.Context, connector.Settings) error { return nil },
	}
}

// The events source's pace and bounds.
const (
	// eventsPageMax bounds one read of the log, and so the events held in memory
	// beyond the flow's in-flight ones.
	eventsPageMax = 100
	// eventsRetry is the wait after a failed read.
	eventsRetry = 2 * time.Second
	// cursorWriteTimeout bounds the cursor write an acknowledgement makes, which runs
	// even while the flow stops (the message is done; redelivering it is the cost).
	cursorWriteTimeout = 10 * time.Second
)

type eventsSource struct {
	c        *config.Connector
	in       connector.Internal
	flow     string
	patterns []string
	log      *slog.Logger
}

func (e *eventsSource) Open(ctx context.Context, inFlight int) (<-chan connector.Delivery, error) {
	in, err := internal(e.c, e.in)
	if err != nil {
		return nil, err
	}
	el, ok := in.(connector.EventLog)
	if !ok {
		return nil, fmt.Errorf("%s connector %s: %w", e.c.Type, e.c.Name, errNoServer)
	}
	if e.flow == "" {
		return nil, fmt.Errorf("%s connector %s: only a flow can read events (its cursor is kept per flow)", e.c.Type, e.c.Name)
	}
	pos, created, err := el.EventCursor(ctx, e.flow)
	if err != nil {
		return nil, fmt.Errorf("reading the flow's events cursor: %w", err)
	}
	if created {
		e.log.Info("events source starts with the events published from now on", "flow", e.flow)
	}
	r := &eventReader{
		src: e, el: el, ch: make(chan connector.Delivery), settled: make(chan struct{}, 1),
		limit: min(max(inFlight, eventsPageMax), 1000), read: pos, committed: pos, written: pos,
	}
	wake, stop := el.WatchEvents(e.patterns)
	go func() {
		defer close(r.ch)
		defer stop()
		r.run(ctx, wake)
	}()
	return r.ch, nil
}

// Close has nothing to release: the reader ends with Open's context, and every
// acknowledgement has written the cursor before it returned.
func (e *eventsSource) Close() error { return nil }

// eventReader delivers the log's events after the flow's cursor and moves the cursor
// over the acknowledged prefix.
type eventReader struct {
	src     *eventsSource
	el      connector.EventLog
	ch      chan connector.Delivery
	settled chan struct{} // a Nack to deliver again, or room made by acknowledgements
	limit   int

	mu        sync.Mutex
	read      connector.EventPosition // the last event read (delivered or to be)
	pending   []*pendingEvent         // delivered and not yet acknowledged, in log order
	committed connector.EventPosition // the last event of the acknowledged prefix
	written   connector.EventPosition // committed as last stored

	writeMu  sync.Mutex // one cursor write at a time
	warnedAt *connector.EventPosition
}

type pendingEvent struct {
	ev     connector.LoggedEvent
	acked  bool
	nacked bool // handed back: to be delivered again
}

func (r *eventReader) run(ctx context.Context, wake <-chan struct{}) {
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		more, err := r.step(ctx)
		wait := r.el.EventPollInterval()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.src.log.Warn("events source could not read the store; trying again", "flow", r.src.flow, "error", err, "in", eventsRetry)
			wait = eventsRetry
		case more:
			continue
		}
		poll.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-r.settled:
		case <-poll.C:
		}
	}
}

// step delivers the events handed back, then reads and delivers one page. more says
// another page may be waiting.
func (r *eventReader) step(ctx context.Context) (more bool, err error) {
	if !r.redeliver(ctx) {
		return false, nil
	}
	r.mu.Lock()
	room, after := r.limit-len(r.pending), r.read
	r.mu.Unlock()
	if room <= 0 {
		return false, nil // the flow is behind: wait for acknowledgements
	}
	events, skipped, err := r.el.ReadEvents(ctx, after, r.src.patterns, room)
	if err != nil {
		return false, err
	}
	r.warnSkipped(after, skipped)
	for _, ev := range events {
		p := &pendingEvent{ev: ev}
		r.mu.Lock()
		r.pending = append(r.pending, p)
		r.read = ev.Position
		r.mu.Unlock()
		if !r.send(ctx, p) {
			return false, nil
		}
	}
	return len(events) == room, nil
}

// redeliver sends the events the flow handed back again; false if ctx ended.
func (r *eventReader) redeliver(ctx context.Context) bool {
	r.mu.Lock()
	var again []*pendingEvent
	for _, p := range r.pending {
		if p.nacked {
			p.nacked = false
			again = append(again, p)
		}
	}
	r.mu.Unlock()
	for _, p := range again {
		if !r.send(ctx, p) {
			return false
		}
	}
	return true
}

func (r *eventReader) warnSkipped(at connector.EventPosition, skipped int64) {
	if skipped == 0 || r.warnedAt != nil && *r.warnedAt == at {
		return
	}
	r.warnedAt = &at
	if skipped > 0 {
		r.src.log.Warn("events were deleted from the store (retention) before the flow read them; continuing with the oldest event kept",
			"flow", r.src.flow, "skipped", skipped)
		return
	}
	r.src.log.Warn("the event at the flow's cursor was deleted from the store (retention); continuing with the oldest event kept after it, some events may have been skipped",
		"flow", r.src.flow)
}

func (r *eventReader) send(ctx context.Context, p *pendingEvent) bool {
	d := connector.Delivery{
		Message: connector.Message{
			Body:    p.ev.Data,
			Headers: map[string]string{"event_type": p.ev.Type, "event_id": p.ev.ID},
			Time:    p.ev.Time,
		},
		ID:   "event:" + p.ev.ID,
		Ack:  func(ctx context.Context) error { return r.ack(ctx, p) },
		Nack: func(context.Context) error { r.nack(p); return nil },
	}
	select {
	case r.ch <- d:
		return true
	case <-ctx.Done():
		return false
	}
}

// ack marks p done, moves the acknowledged prefix, and stores the cursor before
// returning: an acknowledged event is not delivered again after a clean stop.
func (r *eventReader) ack(ctx context.Context, p *pendingEvent) error {
	r.mu.Lock()
	p.acked = true
	n := 0
	for n < len(r.pending) && r.pending[n].acked {
		r.committed = r.pending[n].ev.Position
		n++
	}
	r.pending = r.pending[n:]
	r.mu.Unlock()
	if n > 0 {
		r.poke() // room to read more
	}
	return r.persist(ctx)
}

func (r *eventReader) nack(p *pendingEvent) {
	r.mu.Lock()
	p.nacked = true
	r.mu.Unlock()
	r.poke()
}

// poke wakes the reader: an event was handed back, or acknowledgements made room.
func (r *eventReader) poke() {
	select {
	case r.settled <- struct{}{}:
	default:
	}
}

// persist writes the committed cursor unless a write already stored it: concurrent
// acknowledgements queue here and the first one writes for all.
func (r *eventReader) persist(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.mu.Lock()
	target, done := r.committed, r.committed == r.written
	r.mu.Unlock()
	if done {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cursorWriteTimeout)
	defer cancel()
	if err := r.el.SetEventCursor(ctx, r.src.flow, target); err != nil {
		return fmt.Errorf("storing the flow's events cursor: %w", err)
	}
	r.mu.Lock()
	r.written = target
	r.mu.Unlock()
	return nil
}

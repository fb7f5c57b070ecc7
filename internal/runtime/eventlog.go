package runtime

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// eventPollInterval is how often an events source reads the store without being woken:
// events published on another node of a cluster (whose bus this node does not hear)
// arrive within it. A read is one indexed range query.
const eventPollInterval = 500 * time.Millisecond

// eventLog gives the events sources the store's event log (connector.EventLog), with the
// bus to wake them when an event is published on this node.
type eventLog struct {
	store store.Store
	bus   *event.Bus
	now   func() time.Time
}

var _ connector.EventLog = (*bridge)(nil)

// EventCursor implements connector.EventLog.
func (b *bridge) EventCursor(ctx context.Context, flow string) (connector.EventPosition, bool, error) {
	pos, created, err := b.events.store.FlowEventCursorStart(ctx, flow, b.events.now())
	return connector.EventPosition(pos), created, err
}

// ReadEvents implements connector.EventLog.
func (b *bridge) ReadEvents(ctx context.Context, after connector.EventPosition, patterns []string, limit int) ([]connector.LoggedEvent, int64, error) {
	page, err := b.events.store.EventLogRead(ctx, store.EventLogQuery{After: store.EventPosition(after), Patterns: patterns, Limit: limit})
	if err != nil {
		return nil, 0, err
	}
	out := make([]connector.LoggedEvent, 0, len(page.Events))
	for _, e := range page.Events {
		out = append(out, connector.LoggedEvent{ID: e.ID, Type: e.Type, Data: e.Data, Time: e.Time, Position: connector.EventPosition(e.Position)})
	}
	return out, page.Skipped, nil
}

// SetEventCursor implements connector.EventLog.
func (b *bridge) SetEventCursor(ctx context.Context, flow string, pos connector.EventPosition) error {
	return b.events.store.FlowEventCursorSet(ctx, flow, store.EventPosition(pos), b.events.now())
}

// WatchEvents implements connector.EventLog. The bus hears the events published on
// this node once they are stored; a full channel means a read is due anyway.
func (b *bridge) WatchEvents(patterns []string) (<-chan struct{}, func()) {
	wake := make(chan struct{}, 1)
	if b.events.bus == nil {
		return wake, func() {}
	}
	stop := b.events.bus.Subscribe(func(e event.Event) bool { return webhook.Subscribed(patterns, e.Type) }, func(event.Event) {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	return wake, stop
}

// EventPollInterval implements connector.EventLog.
func (b *bridge) EventPollInterval() time.Duration { return eventPollInterval }

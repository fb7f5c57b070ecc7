package store

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/event"
)

// Event log: the stored events read in order by flows' events sources, each from a
// cursor kept per flow, so an event published while a flow is stopped (or its node is
// down) reaches it when it runs again, on whichever node holds its source.
//
// The order is the store's publish order (Seq, then ID): on SQLite a counter drawn under
// the write lock, so it is the commit order and dense (one per stored event); on
// PostgreSQL the publishing transaction's id (xid8), and EventLogRead returns only
// events whose transaction is older than every transaction still running, so no event
// can commit behind a cursor. An event published after another one was stored comes
// after it; events published concurrently have no order between them.

// EventPosition is a place in the event log. Events are ordered by Seq, then ID; a
// position with an empty ID is before every event with its Seq.
type EventPosition struct {
	Seq int64
	ID  string
}

// LoggedEvent is a stored event and its place in the log.
type LoggedEvent struct {
	event.Event
	Position EventPosition
}

// EventLogQuery asks for the events after a position.
type EventLogQuery struct {
	After EventPosition
	// Patterns select event types as webhook endpoints do: "*", an exact type, or a
	// prefix followed by ".*" ("order.*" is every type starting with "order."). Empty
	// means every type.
	Patterns []string
	Limit    int // 1..1000
}

// EventLogPage is an answer of EventLogRead.
type EventLogPage struct {
	Events []LoggedEvent // oldest first, at most Limit
	// Skipped says whether events after After were deleted (purged) before being read:
	// their number when the backend knows it (SQLite), -1 when it knows only that the
	// event at After is gone (PostgreSQL), 0 when none were.
	Skipped int64
}

// EventLogStore is the event-log part of Store.
type EventLogStore interface {
	// EventLogRead returns the events after q.After that match q.Patterns, in log order.
	EventLogRead(ctx context.Context, q EventLogQuery) (EventLogPage, error)
	// FlowEventCursorStart returns the flow's events cursor. A flow without one gets the
	// position after every event stored so far (it starts with the events published from
	// then on), stored, and created is true.
	FlowEventCursorStart(ctx context.Context, flow string, at time.Time) (pos EventPosition, created bool, err error)
	// FlowEventCursorSet moves the flow's cursor to pos when pos is after it (or the flow
	// has none); a cursor never moves back, so a late write by a node that lost the
	// flow's source lease cannot undo a newer one.
	FlowEventCursorSet(ctx context.Context, flow string, pos EventPosition, at time.Time) error
	// FlowEventCursorsPrune deletes the cursors of the flows not named in keep that were
	// last moved (or made) before before, and returns how many it deleted: the cursors
	// of flows taken out of the configuration.
	FlowEventCursorsPrune(ctx context.Context, keep []string, before time.Time) (int, error)
}

// Before reports whether p comes before q in the log.
func (p EventPosition) Before(q EventPosition) bool {
	return p.Seq < q.Seq || p.Seq == q.Seq && p.ID < q.ID
}

package connector

import (
	"context"
	"time"
)

// EventLog is Junction's stored events as the events source reads them: in publish
// order, from a cursor kept per flow in the store. The server's bridge implements it
// beside Internal; the events source asks for it with a type assertion, so other
// Internals (tools, tests) need not.
type EventLog interface {
	// EventCursor returns the flow's cursor. A flow that has none gets the position
	// after every event stored so far, stored at once, and created is true.
	EventCursor(ctx context.Context, flow string) (pos EventPosition, created bool, err error)
	// ReadEvents returns up to limit events after pos whose type matches one of
	// patterns, oldest first, and Skipped as store.EventLogPage has it: how many events
	// after pos were purged before being read (-1: some, number unknown; 0: none).
	ReadEvents(ctx context.Context, after EventPosition, patterns []string, limit int) (events []LoggedEvent, skipped int64, err error)
	// SetEventCursor stores the flow's cursor; it never moves back.
	SetEventCursor(ctx context.Context, flow string, pos EventPosition) error
	// WatchEvents sends on the returned channel (coalesced, never blocking the
	// publisher) when an event matching patterns is published on this node, so the
	// source reads at once instead of at its next poll. stop ends it.
	WatchEvents(patterns []string) (wake <-chan struct{}, stop func())
	// EventPollInterval is how often the source reads without being woken: events
	// published on other nodes of a cluster arrive within it.
	EventPollInterval() time.Duration
}

// EventPosition is a place in the event log (store.EventPosition).
type EventPosition struct {
	Seq int64
	ID  string
}

// LoggedEvent is a stored event read from the log.
type LoggedEvent struct {
	ID       string
	Type     string
	Data     []byte
	Time     time.Time
	Position EventPosition
}

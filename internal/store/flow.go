package store

import (
	"context"
	"time"
)

// Flow storage: the dead-letter queues of flows. A message a flow gave up on (after its
// retries) is written here, with the step that failed and why, before the message is
// acknowledged to its source, so nothing a source handed over is lost.

// FlowDeadLetter is one message a flow gave up on.
type FlowDeadLetter struct {
	ID        string
	Flow      string            // the flow's name
	Queue     string            // the dead-letter queue's name (on_error … dead_letter("failed-orders"))
	Step      string            // the failing step's name, or "sink NAME"
	Error     string            // why it failed, as the step reported it
	Body      []byte            // the original message, exactly as the source delivered it
	Headers   map[string]string // the source's headers (routing key, topic, …)
	SourceID  string            // the source's id for the message, for logs
	Attempts  int               // how many times it was tried
	CreatedAt time.Time
	// Accepted[i] names the sinks that accepted the i-th message the flow's steps made
	// from the original (one message unless a step split it) before a write failed; a
	// replay writes each message only to the other sinks it is routed to. Nil when none did.
	Accepted [][]string
}

// FlowDeadLetterFilter selects dead letters for FlowDeadLetterList.
type FlowDeadLetterFilter struct {
	Flow  string // "" = every flow
	Queue string // "" = every queue
	Page
}

// FlowStore is the flow part of Store.
type FlowStore interface {
	// FlowDeadLetterAdd stores d. ErrConflict if its ID exists.
	FlowDeadLetterAdd(ctx context.Context, d FlowDeadLetter) error
	// FlowDeadLetterGet returns one dead letter. ErrNotFound.
	FlowDeadLetterGet(ctx context.Context, id string) (FlowDeadLetter, error)
	// FlowDeadLetterList returns the page and the total number matching, newest first.
	FlowDeadLetterList(ctx context.Context, f FlowDeadLetterFilter) ([]FlowDeadLetter, int, error)
	// FlowDeadLetterSetAccepted replaces a dead letter's Accepted (after a replay that
	// reached more sinks and failed again). ErrNotFound.
	FlowDeadLetterSetAccepted(ctx context.Context, id string, accepted [][]string) error
	// FlowDeadLetterDelete removes one (after a successful replay). ErrNotFound.
	FlowDeadLetterDelete(ctx context.Context, id string) error
	// FlowDeadLetterCounts returns how many dead letters each flow has (flows with none
	// are absent), for the DLQ-size metric.
	FlowDeadLetterCounts(ctx context.Context) (map[string]int, error)
}

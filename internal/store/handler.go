package store

import (
	"context"
	"time"
)

// Event handler storage: one execution per handler (`on "user.created" do …`) that an
// event matches, written in the event's own transaction (EventPublish), so a handler
// runs at least once for every accepted event. Workers claim due executions with a
// lease, as delivery workers claim deliveries.

// HandlerStatus is where a handler execution stands.
type HandlerStatus string

// The handler execution statuses.
const (
	HandlerPending HandlerStatus = "pending" // not attempted yet (or retried by hand)
	HandlerFailed  HandlerStatus = "failed"  // attempted, failed, another attempt scheduled
	HandlerDone    HandlerStatus = "done"    // an attempt succeeded
	HandlerDead    HandlerStatus = "dead"    // the last attempt failed, or it could not run at all
)

// Valid reports whether s is one of the statuses.
func (s HandlerStatus) Valid() bool {
	switch s {
	case HandlerPending, HandlerFailed, HandlerDone, HandlerDead:
		return true
	}
	return false
}

// HandlerExecution is one handler run for one event.
type HandlerExecution struct {
	ID          string
	Handler     string // the handler's name, such as `user.created → integration analytics.track`
	EventID     string
	EventType   string
	Depth       int // how many emits led to the event (0: published from outside)
	Status      HandlerStatus
	Attempts    int
	MaxAttempts int
	NextRunAt   *time.Time // when it is due; nil once done or dead
	LastError   string     // of the last attempt, redacted by the caller
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// HandlerClaimParams ask for due executions.
type HandlerClaimParams struct {
	Now   time.Time
	Limit int
	// Lease is how long the claim holds: a worker that dies leaves its executions to be
	// claimed again after the lease.
	Lease time.Duration
	Owner string
}

// ClaimedExecution is a leased execution with the event it handles.
type ClaimedExecution struct {
	Execution HandlerExecution
	Data      []byte // the event's payload
	Source    string // the event's source
	EventTime time.Time
}

// HandlerOutcome is the outcome of one attempt.
type HandlerOutcome struct {
	ID        string
	Status    HandlerStatus // done, failed (NextRunAt set) or dead
	Attempts  int
	NextRunAt *time.Time
	LastError string
	At        time.Time
}

// HandlerFilter selects executions for HandlerExecutionList.
type HandlerFilter struct {
	Status    HandlerStatus // "" = all
	EventType string        // "" = all
	Page
}

// HandlerStore is the handler part of Store. Executions are written by EventPublish.
type HandlerStore interface {
	// HandlerClaim leases up to Limit due executions (pending or failed, NextRunAt <=
	// Now, not leased or lease expired), oldest due first. Concurrent claimers never get
	// the same execution.
	HandlerClaim(ctx context.Context, p HandlerClaimParams) ([]ClaimedExecution, error)
	// HandlerRecord writes outcomes and releases the leases, in one transaction.
	HandlerRecord(ctx context.Context, outcomes []HandlerOutcome) error
	HandlerExecutionGet(ctx context.Context, id string) (HandlerExecution, error) // ErrNotFound
	// HandlerExecutionList returns the page and the total, newest first.
	HandlerExecutionList(ctx context.Context, f HandlerFilter) ([]HandlerExecution, int, error)
	// HandlerExecutionRequeue makes a dead execution due at `at` with a full set of
	// attempts again. ErrNotFound; ErrConflict when it is not dead.
	HandlerExecutionRequeue(ctx context.Context, id string, at time.Time) (HandlerExecution, error)
	// HandlerCounts counts executions by handler and status.
	HandlerCounts(ctx context.Context) (map[string]map[HandlerStatus]int, error)
}

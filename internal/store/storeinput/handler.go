package storeinput

import (
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// NormalizeExecutions checks the handler executions of event e and returns copies as
// both backends store them: the event's id and type, pending and due at the event's
// time unless said otherwise, storable texts, normalized times.
func NormalizeExecutions(e event.Event, xs []store.HandlerExecution) ([]store.HandlerExecution, error) {
	out := make([]store.HandlerExecution, len(xs))
	for i, x := range xs {
		if err := checkName("id", x.ID, true); err != nil {
			return nil, fmt.Errorf("event %q: execution %d: %w", e.ID, i, err)
		}
		if x.Handler == "" {
			return nil, fmt.Errorf("execution %q: empty handler", x.ID)
		}
		if x.EventID != "" && x.EventID != e.ID {
			return nil, fmt.Errorf("execution %q: event id %q, want %q", x.ID, x.EventID, e.ID)
		}
		x.EventID, x.EventType = e.ID, e.Type
		if x.Status == "" {
			x.Status = store.HandlerPending
		}
		if !x.Status.Valid() {
			return nil, fmt.Errorf("execution %q: invalid status %q", x.ID, x.Status)
		}
		if x.MaxAttempts < 1 || x.Attempts < 0 || x.Depth < 0 {
			return nil, fmt.Errorf("execution %q: attempts %d of %d, depth %d", x.ID, x.Attempts, x.MaxAttempts, x.Depth)
		}
		if x.CreatedAt.IsZero() {
			x.CreatedAt = e.Time
		}
		if x.UpdatedAt.IsZero() {
			x.UpdatedAt = x.CreatedAt
		}
		if x.NextRunAt == nil && HandlerWaiting(x.Status) {
			due := x.CreatedAt
			x.NextRunAt = &due
		}
		if !HandlerWaiting(x.Status) {
			x.NextRunAt = nil
		}
		x.Handler, x.LastError = storableText(x.Handler), storableText(x.LastError)
		if err := normalizeTimes([]*time.Time{&x.CreatedAt, &x.UpdatedAt}, []**time.Time{&x.NextRunAt}); err != nil {
			return nil, fmt.Errorf("execution %q: %w", x.ID, err)
		}
		out[i] = x
	}
	return out, nil
}

// HandlerWaiting reports whether an execution in status s waits for an attempt.
func HandlerWaiting(s store.HandlerStatus) bool {
	return s == store.HandlerPending || s == store.HandlerFailed
}

// CheckHandlerClaim checks claim parameters.
func CheckHandlerClaim(p store.HandlerClaimParams) error {
	switch {
	case p.Limit < 1:
		return fmt.Errorf("limit %d, want at least 1", p.Limit)
	case p.Lease <= 0:
		return fmt.Errorf("lease %v, want a positive duration", p.Lease)
	}
	if err := store.CheckTime(p.Now); err != nil {
		return fmt.Errorf("now: %w", err)
	}
	return store.CheckTime(p.Now.Add(p.Lease))
}

// NormalizeOutcomes checks outcomes: a failure needs its next time, an outcome is
// never pending.
func NormalizeOutcomes(os []store.HandlerOutcome) ([]store.HandlerOutcome, error) {
	out := make([]store.HandlerOutcome, len(os))
	for i, o := range os {
		switch {
		case o.ID == "":
			return nil, errors.New("outcome: empty execution id")
		case o.Status != store.HandlerDone && o.Status != store.HandlerFailed && o.Status != store.HandlerDead:
			return nil, fmt.Errorf("outcome %q: status %q, want done, failed or dead", o.ID, o.Status)
		case o.Status == store.HandlerFailed && o.NextRunAt == nil:
			return nil, fmt.Errorf("outcome %q: failed without a next run time", o.ID)
		}
		if o.Status != store.HandlerFailed {
			o.NextRunAt = nil
		}
		o.LastError = storableText(o.LastError)
		if err := normalizeTimes([]*time.Time{&o.At}, []**time.Time{&o.NextRunAt}); err != nil {
			return nil, fmt.Errorf("outcome %q: %w", o.ID, err)
		}
		out[i] = o
	}
	return out, nil
}

// CheckHandlerFilter checks a list filter.
func CheckHandlerFilter(f store.HandlerFilter) error {
	if f.Status != "" && !f.Status.Valid() {
		return fmt.Errorf("invalid status %q", f.Status)
	}
	return CheckPage(f.Page)
}

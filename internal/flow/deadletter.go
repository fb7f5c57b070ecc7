package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/store"
)

// DeadLetter is a message a flow gave up on, and DeadLetterFilter selects a page of
// them: the store's types, named here so that users of the flows (the HTTP server) need
// not import the store.
type (
	DeadLetter       = store.FlowDeadLetter
	DeadLetterFilter = store.FlowDeadLetterFilter
)

// DeadLetterStore keeps the messages flows gave up on.
type DeadLetterStore interface {
	FlowDeadLetterAdd(ctx context.Context, d store.FlowDeadLetter) error
	FlowDeadLetterGet(ctx context.Context, id string) (store.FlowDeadLetter, error)
	FlowDeadLetterList(ctx context.Context, f store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error)
	FlowDeadLetterDelete(ctx context.Context, id string) error
	FlowDeadLetterCounts(ctx context.Context) (map[string]int, error)
}

// deadLetter stores the original message with the failing step and reason. Only once
// that write returned is the message acknowledged to its source.
func (f *Flow) deadLetter(ctx context.Context, d connector.Delivery, res result) error {
	if f.opts.DeadLetters == nil {
		return fmt.Errorf("no dead-letter store")
	}
	dl := store.FlowDeadLetter{
		ID: newDeadLetterID(), Flow: f.cfg.Name, Queue: f.queue,
		Step: res.err.Step, Error: res.err.Err.Error(),
		Body: d.Body, Headers: d.Headers, SourceID: d.ID, Attempts: res.attempts,
		CreatedAt: f.opts.Env.Clock.Now().UTC(),
	}
	return f.opts.DeadLetters.FlowDeadLetterAdd(ctx, dl)
}

// DeadLetterIDPrefix starts every flow dead letter's id, which tells them apart from
// webhook deliveries in the shared /dead-letters API.
const DeadLetterIDPrefix = "fdl_"

func newDeadLetterID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return DeadLetterIDPrefix + hex.EncodeToString(b[:])
}

// replay runs a dead letter's original message through the flow again, now, with the
// flow's retries. On success it leaves the queue; on failure it stays, and the new
// failure is returned.
func (f *Flow) replay(ctx context.Context, dl store.FlowDeadLetter) error {
	if f.sinks.Load() == nil {
		return fmt.Errorf("%w: start flow %s to replay its dead letters", ErrStopped, f.cfg.Name)
	}
	res := f.process(ctx, connector.Message{Body: dl.Body, Headers: dl.Headers, Time: dl.CreatedAt})
	d := connector.Delivery{Message: connector.Message{Body: dl.Body, Headers: dl.Headers}, ID: "replay:" + dl.ID}
	if res.err != nil {
		f.logOutcome(d, "replay_failed", res, 0)
		return &ReplayError{Step: res.err}
	}
	if err := f.opts.DeadLetters.FlowDeadLetterDelete(ctx, dl.ID); err != nil {
		return err
	}
	f.count(res.outcome)
	f.logOutcome(d, res.outcome, res, 0)
	return nil
}

// ReplayError is a replayed message failing again; the dead letter stays.
type ReplayError struct{ Step *StepError }

func (e *ReplayError) Error() string { return "replay failed: " + e.Step.Error() }
func (e *ReplayError) Unwrap() error { return e.Step }

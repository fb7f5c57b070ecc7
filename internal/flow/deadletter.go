package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

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
	FlowDeadLetterSetAccepted(ctx context.Context, id string, accepted [][]string) error
	FlowDeadLetterCounts(ctx context.Context) (map[string]int, error)
}

// deadLetter stores the original message with the failing step and reason, and the
// sinks that accepted it before the failure (a replay skips them). Only once that write
// returned is the message acknowledged to its source.
func (f *Flow) deadLetter(ctx context.Context, d connector.Delivery, res result) error {
	if f.opts.DeadLetters == nil {
		return fmt.Errorf("no dead-letter store")
	}
	dl := store.FlowDeadLetter{
		ID: newDeadLetterID(), Flow: f.cfg.Name, Queue: f.queue,
		Step: res.err.Step, Error: res.err.Err.Error(),
		Body: d.Body, Headers: d.Headers, SourceID: d.ID, Attempts: res.attempts,
		CreatedAt: f.opts.Env.Clock.Now().UTC(), Accepted: res.accepted,
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
// flow's retries, writing it only to the sinks that did not accept it before. On success
// it leaves the queue; on failure it stays, with the sinks that have now accepted it
// added, and the new failure is returned.
func (f *Flow) replay(ctx context.Context, dl store.FlowDeadLetter) error {
	if f.sinks.Load() == nil {
		return fmt.Errorf("%w: start flow %s to replay its dead letters", ErrStopped, f.cfg.Name)
	}
	res := f.process(ctx, connector.Message{Body: dl.Body, Headers: dl.Headers, Time: dl.CreatedAt}, dl.Accepted)
	d := connector.Delivery{Message: connector.Message{Body: dl.Body, Headers: dl.Headers}, ID: "replay:" + dl.ID}
	if res.err != nil {
		f.logOutcome(d, "replay_failed", res, 0)
		rerr := &ReplayError{Step: res.err}
		if acc, more := mergeAccepted(dl.Accepted, res.accepted); more {
			if err := f.opts.DeadLetters.FlowDeadLetterSetAccepted(ctx, dl.ID, acc); err != nil {
				// The next replay writes again to the sinks this one reached.
				return errors.Join(rerr, fmt.Errorf("record the sinks the replay reached: %w", err))
			}
		}
		return rerr
	}
	if err := f.opts.DeadLetters.FlowDeadLetterDelete(ctx, dl.ID); err != nil {
		return err
	}
	f.count(res.outcome)
	f.logOutcome(d, res.outcome, res, 0)
	return nil
}

// mergeAccepted adds to a dead letter's accepted sinks those of a replay (which failed
// perhaps before any sink, knowing none), and says whether it added any.
func mergeAccepted(before, now [][]string) ([][]string, bool) {
	out := make([][]string, max(len(before), len(now)))
	more := false
	for i := range out {
		if i < len(before) {
			out[i] = slices.Clone(before[i])
		}
		if i < len(now) {
			for _, name := range now[i] {
				if !slices.Contains(out[i], name) {
					out[i] = append(out[i], name)
					more = true
				}
			}
		}
		if out[i] == nil {
			out[i] = []string{}
		}
	}
	return out, more
}

// ReplayError is a replayed message failing again; the dead letter stays.
type ReplayError struct{ Step *StepError }

func (e *ReplayError) Error() string { return "replay failed: " + e.Step.Error() }
func (e *ReplayError) Unwrap() error { return e.Step }

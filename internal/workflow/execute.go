package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/store"
)

var (
	errCancelled = errors.New("cancelled through the API")
	errTimedOut  = errors.New("the workflow's timeout passed")
)

// runner executes one leased run: the steps it has not finished, in order, storing each
// outcome before the next.
type runner struct {
	e     *Engine
	d     *definition
	run   store.WorkflowRun
	rows  map[string]store.WorkflowStep // stored outcomes by step ID
	order []string                      // completed steps, in the order they completed
	input any
	ended bool // the run's end is stored (run holds it)
	// reached is when the run reached its current step: the latest step's end, or its
	// creation. A step waiting for an event looks at events from then on, so a reply
	// published while the previous step's outcome was being stored is not missed.
	reached time.Time

	mu    sync.Mutex     // guards steps: parallel branches record concurrently
	steps map[string]any // the context's steps: each finished step's view
}

// outcome is what executing a step gave.
type outcome struct {
	row  store.WorkflowStep // to store
	wait *time.Time         // the step waits: look again at this time
	stop bool               // its condition was false and it says stop
	err  error              // it failed (row.Status failed)
}

// runClaimed executes a leased run until it ends, waits or must stop; it returns the run
// and true when its end was stored.
func (e *Engine) runClaimed(ctx context.Context, c store.ClaimedRun) (Run, bool) {
	r := &runner{e: e, run: c.Run, rows: map[string]store.WorkflowStep{}, steps: map[string]any{}}
	d, ok := e.defs[c.Run.Workflow]
	if !ok {
		r.finish(ctx, store.WorkflowFailed, nil, fmt.Sprintf("workflow %q is no longer declared in the configuration in force", c.Run.Workflow), "", nil)
		return r.run, r.ended
	}
	r.d = d
	var err error
	if r.input, err = decodeJSON(c.Run.Input); err != nil {
		r.finish(ctx, store.WorkflowFailed, nil, "the input is not valid JSON", "", nil)
		return r.run, r.ended
	}
	r.reached = c.Run.CreatedAt
	for _, row := range c.Steps {
		r.rows[row.StepID] = row
		if row.FinishedAt != nil && row.FinishedAt.After(r.reached) {
			r.reached = *row.FinishedAt
		}
		if row.Status == store.StepCompleted {
			if s := d.byID[row.StepID]; s != nil {
				out, _ := decodeJSON(row.Output)
				r.record(s, out)
			}
			r.order = append(r.order, row.StepID)
		}
	}
	if c.Run.CancelRequested {
		r.finish(ctx, store.WorkflowCancelled, nil, errCancelled.Error(), "", nil)
		return r.run, r.ended
	}
	if c.Run.Deadline != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadlineCause(ctx, *c.Run.Deadline, errTimedOut)
		defer cancel()
	}
	ctx, span := startRunSpan(ctx, r.run)
	r.advance(ctx)
	endRunSpan(span, r.run)
	return r.run, r.ended
}

// env is the context templates and conditions see.
func (r *runner) env(extra map[string]any) map[string]any {
	r.mu.Lock()
	steps := maps.Clone(r.steps)
	r.mu.Unlock()
	env := map[string]any{
		"input":    r.input,
		"workflow": map[string]any{"input": r.input, "id": r.run.ID, "name": r.run.Workflow},
		"steps":    steps,
	}
	if r.e.functions != nil {
		env["plugin"] = r.e.functions
	}
	maps.Copy(env, extra)
	return env
}

// record makes a finished step's result visible as steps.<id>: the result's fields, its
// output mapping's fields, and .output for the whole result.
func (r *runner) record(s *step, out any) {
	view := map[string]any{}
	if m, ok := out.(map[string]any); ok {
		maps.Copy(view, m)
	}
	view["output"] = out
	if s.output != nil {
		if mapped, err := s.output.eval(r.env(map[string]any{"output": out})); err == nil {
			if m, ok := mapped.(map[string]any); ok {
				maps.Copy(view, m)
			}
		}
	}
	r.mu.Lock()
	r.steps[s.cfg.ID] = view
	r.mu.Unlock()
}

// advance runs the unfinished steps in order.
func (r *runner) advance(ctx context.Context) {
	// The first write marks the run running (it was pending, or waiting until now).
	var first *store.WorkflowRunUpdate
	if r.run.Status != store.WorkflowRunning || r.run.StartedAt == nil {
		first = &store.WorkflowRunUpdate{Status: store.WorkflowRunning}
		if r.run.StartedAt == nil {
			now := r.now()
			first.StartedAt = &now
		}
	}
	for i, s := range r.d.steps {
		if !r.step(ctx, s, i == len(r.d.steps)-1, &first) {
			return
		}
	}
	r.finish(ctx, store.WorkflowCompleted, r.output(), "", "", nil)
}

// step runs one step of the sequence unless it finished before, and stores its outcome
// (the last step's with the run's end). It reports whether the run goes on to the next.
func (r *runner) step(ctx context.Context, s *step, last bool, first **store.WorkflowRunUpdate) bool {
	row, stored := r.rows[s.cfg.ID]
	var prev *store.WorkflowStep
	if stored {
		switch row.Status {
		case store.StepCompleted, store.StepSkipped:
			return true
		case store.StepFailed:
			// The step failed before a crash or a stop; its compensations may not all
			// have run: finish the failure.
			r.fail(ctx, s, errors.New(row.Error), nil)
			return false
		}
		prev = &row
	}
	if errors.Is(context.Cause(ctx), errTimedOut) {
		r.failLate(ctx, s, prev)
		return false
	}
	stepCtx, span := startStepSpan(ctx, r.run.Workflow, s.cfg.ID, string(s.cfg.Kind))
	o := r.exec(stepCtx, s, prev)
	endStepSpan(span, o)
	if r.interrupted(ctx) {
		return false
	}
	switch {
	case o.err != nil:
		r.fail(ctx, s, o.err, &o.row)
		return false
	case o.wait != nil:
		upd := &store.WorkflowRunUpdate{Status: store.WorkflowWaiting, NextAt: o.wait, Release: true}
		if *first != nil {
			upd.StartedAt = (*first).StartedAt
		}
		if r.save(ctx, []store.WorkflowStep{o.row}, upd) && s.cfg.Kind == config.WorkflowWait {
			r.e.waitFor(s.cfg.Target, r.run.ID)
		}
		return false
	case o.stop:
		r.finish(ctx, store.WorkflowStopped, r.output(), "", s.cfg.ID, []store.WorkflowStep{o.row})
		return false
	}
	r.rows[s.cfg.ID] = o.row
	if o.row.Status == store.StepCompleted {
		r.order = append(r.order, s.cfg.ID)
	}
	if o.row.FinishedAt != nil {
		r.reached = *o.row.FinishedAt
	}
	if last {
		// The last step's outcome goes with the run's end: one write, not two.
		r.finish(ctx, store.WorkflowCompleted, r.output(), "", "", []store.WorkflowStep{o.row})
		return false
	}
	if !r.save(ctx, []store.WorkflowStep{o.row}, *first) {
		return false
	}
	if *first != nil {
		r.run.Status = store.WorkflowRunning
		if (*first).StartedAt != nil {
			r.run.StartedAt = (*first).StartedAt
		}
		*first = nil
	}
	return true
}

// failLate fails the step the run would start because its timeout passed while it
// waited (or between steps); the completed steps are compensated.
func (r *runner) failLate(ctx context.Context, s *step, prev *store.WorkflowStep) {
	now := r.now()
	failed := store.WorkflowStep{StepID: s.cfg.ID, Status: store.StepFailed, StartedAt: &now, FinishedAt: &now}
	if prev != nil {
		failed.StartedAt, failed.Attempts, failed.Input = prev.StartedAt, prev.Attempts, prev.Input
	}
	r.fail(ctx, s, errors.New("not finished in time"), &failed)
}

// interrupted handles a run whose context ended for another reason than its timeout:
// cancelled (stored as such), the engine stopping (the lease is released so the run
// resumes at once elsewhere) or the lease lost (nothing is written).
func (r *runner) interrupted(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errTimedOut):
		return false // the step failed with the timeout; the failure is stored
	case errors.Is(cause, errCancelled):
		r.finish(context.WithoutCancel(ctx), store.WorkflowCancelled, nil, errCancelled.Error(), "", nil)
	case errors.Is(cause, store.ErrLeaseLost):
		r.e.o.Logger.Warn("workflow: lease lost; the run is left to the process that holds it", "run", r.run.ID)
	default: // stopping
		now := r.now()
		r.save(context.WithoutCancel(ctx), nil, &store.WorkflowRunUpdate{Status: store.WorkflowRunning, NextAt: &now, Release: true})
	}
	return true
}

// output is the run's result: the workflow's output mapping, or every completed step's
// result by step ID.
func (r *runner) output() json.RawMessage {
	var v any
	if r.d.output != nil {
		out, err := r.d.output.eval(r.env(nil))
		if err != nil {
			out = map[string]any{"error": "output: " + err.Error()}
		}
		v = out
	} else {
		all := map[string]any{}
		for _, id := range r.order {
			if row, ok := r.rows[id]; ok && row.Status == store.StepCompleted {
				all[id] = json.RawMessage(cmpOrBytes(row.Output, []byte("null")))
			}
		}
		v = all
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`null`)
	}
	return b
}

func cmpOrBytes(b, def []byte) []byte {
	if len(b) == 0 {
		return def
	}
	return b
}

// fail stores the failed step, runs the compensations of the completed steps in reverse
// order of completion, and stores the run as failed.
func (r *runner) fail(ctx context.Context, s *step, cause error, row *store.WorkflowStep) {
	if errors.Is(context.Cause(ctx), errTimedOut) {
		cause = fmt.Errorf("%w (%s): %v", errTimedOut, r.d.cfg.Timeout, cause)
	}
	msg := redact.Error(cause).Error()
	if row != nil {
		row.Error = msg
		if !r.save(context.WithoutCancel(ctx), []store.WorkflowStep{*row}, nil) {
			return
		}
	}
	// Compensations run even when the run's own context ended (its timeout): undoing is
	// what the failure needs. Each attempt still has its step's timeout.
	cctx := context.WithoutCancel(ctx)
	var compErrs []string
	for i := len(r.order) - 1; i >= 0; i-- {
		done := r.d.byID[r.order[i]]
		if done == nil || done.compensation == nil {
			continue
		}
		undoID := done.compensation.cfg.ID
		if prev, ok := r.rows[undoID]; ok && prev.Status == store.StepCompleted {
			continue
		}
		o := r.exec(cctx, done.compensation, nil)
		compensated := r.rows[done.cfg.ID]
		compensated.Status = store.StepCompensated
		if o.err != nil {
			compErrs = append(compErrs, fmt.Sprintf("%s: %v", undoID, o.err))
			compensated.Status = store.StepCompleted // not undone
		}
		if !r.save(cctx, []store.WorkflowStep{o.row, compensated}, nil) {
			return
		}
		r.rows[undoID] = o.row
	}
	if len(compErrs) > 0 {
		msg += fmt.Sprintf(" (compensations failed: %v)", compErrs)
	}
	r.finish(cctx, store.WorkflowFailed, nil, msg, s.cfg.ID, nil)
}

// finish stores the run's end with the last steps' outcomes and releases its lease.
func (r *runner) finish(ctx context.Context, status store.WorkflowRunStatus, output json.RawMessage, errMsg, step string, rows []store.WorkflowStep) {
	now := r.now()
	upd := &store.WorkflowRunUpdate{Status: status, Output: output, Error: errMsg, FailedStep: step, FinishedAt: &now, Release: true}
	if r.run.StartedAt == nil {
		upd.StartedAt = &now
	}
	if !r.save(context.WithoutCancel(ctx), rows, upd) {
		return
	}
	r.run.Status, r.run.Output, r.run.Error, r.run.FailedStep, r.run.FinishedAt = status, output, errMsg, step, &now
	r.ended = true
}

// save stores outcomes at a step boundary; false when the run must stop here (lease
// lost, store failing: the run is resumed when its lease lapses).
func (r *runner) save(ctx context.Context, rows []store.WorkflowStep, upd *store.WorkflowRunUpdate) bool {
	now := r.now()
	for i := range rows {
		rows[i].RunID = r.run.ID
		if rows[i].Status != store.StepWaiting {
			r.e.o.Metrics.step(r.run.Workflow, rows[i])
		}
	}
	err := r.e.w.save(ctx, store.WorkflowWrite{
		RunID: r.run.ID, Owner: r.e.o.Owner, LeaseUntil: now.Add(r.e.o.Lease), Steps: rows, Run: upd, At: now,
	})
	if err != nil {
		if !errors.Is(err, errStopping) {
			r.e.o.Logger.Warn("workflow: storing a step outcome failed; the run resumes when its lease lapses", "run", r.run.ID, "err", err)
		}
		return false
	}
	return true
}

func (r *runner) now() time.Time { return store.NormalizeTime(r.e.o.Clock.Now()) }

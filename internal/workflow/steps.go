package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/store"
)

// waitState is what a waiting step waits for, stored with it (WorkflowStep.State).
type waitState struct {
	Until  time.Time      `json:"until"`            // sleep: when it ends; wait: its deadline
	Since  time.Time      `json:"since,omitzero"`   // wait: events from this time on
	Match  map[string]any `json:"match,omitempty"`  // wait: the fields the event's data must have
	Child  string         `json:"child,omitempty"`  // child: the run started
	Checks int            `json:"checks,omitempty"` // wait: how often it looked
}

// inlineWait is the longest sleep a run does while holding its lease: shorter sleeps
// are not worth a release and a claim.
const inlineWait = time.Second

// permanentError is a step failure no retry can mend (a 4xx answer, a bad template).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// exec runs one step, retries included, and returns its outcome, not yet stored. prev is
// its stored row when it was waiting.
func (r *runner) exec(ctx context.Context, s *step, prev *store.WorkflowStep) outcome {
	row, st, input, done := r.begin(s, prev)
	if done != nil {
		return *done
	}
	var out any
	var err error
	switch s.cfg.Kind {
	case config.WorkflowCall:
		out, err = r.attempts(ctx, s, &row, func(ctx context.Context) (any, error) { return r.call(ctx, s, input) })
	case config.WorkflowEmit:
		out, err = r.attempts(ctx, s, &row, func(ctx context.Context) (any, error) { return r.emit(ctx, s, input) })
	case config.WorkflowPlugin:
		out, err = r.attempts(ctx, s, &row, func(ctx context.Context) (any, error) { return r.plugin(ctx, s, input) })
	case config.WorkflowTransform:
		out = input
	case config.WorkflowSleep:
		if st.Until.IsZero() {
			st.Until = row.StartedAt.Add(s.cfg.Sleep)
		}
		if o, waits := r.waitUntil(ctx, row, st); waits {
			return o
		}
	case config.WorkflowWait:
		return r.waitEvent(ctx, s, row, st)
	case config.WorkflowChild:
		return r.child(ctx, s, row, st, input)
	case config.WorkflowParallel:
		return r.parallel(ctx, s, row)
	default:
		err = permanent("step kind %q is not run", s.cfg.Kind)
	}
	if err != nil {
		return r.failed(row, err)
	}
	return r.completed(s, row, out)
}

// begin starts a step: its row, what it waited for, and its input; or its outcome
// already (done) when its condition skips it or its input cannot be made.
func (r *runner) begin(s *step, prev *store.WorkflowStep) (row store.WorkflowStep, st waitState, input any, done *outcome) {
	now := r.now()
	row = store.WorkflowStep{StepID: s.cfg.ID, StartedAt: &now}
	if prev != nil { // it waited: its condition held, its input was made
		row.StartedAt, row.Attempts, row.Input = prev.StartedAt, prev.Attempts, prev.Input
		_ = json.Unmarshal(prev.State, &st)
		input, _ = decodeJSON(prev.Input)
		return row, st, input, nil
	}
	env := r.env(nil)
	if s.cond != nil {
		holds, err := s.cond.holds(env)
		if err != nil {
			o := r.failed(row, &permanentError{err})
			return row, st, nil, &o
		}
		if !holds {
			row.Status, row.FinishedAt = store.StepSkipped, &now
			return row, st, nil, &outcome{row: row, stop: s.cfg.OnFalse == config.OnFalseStop}
		}
	}
	if s.input != nil {
		v, err := s.input.eval(env)
		if err != nil {
			o := r.failed(row, &permanentError{fmt.Errorf("input: %w", err)})
			return row, st, nil, &o
		}
		input = v
		row.Input, _ = json.Marshal(v)
	}
	return row, st, input, nil
}

func (r *runner) completed(s *step, row store.WorkflowStep, out any) outcome {
	now := r.now()
	row.Status, row.FinishedAt, row.State = store.StepCompleted, &now, nil
	row.Output, _ = json.Marshal(out)
	r.record(s, out)
	return outcome{row: row}
}

func (r *runner) failed(row store.WorkflowStep, err error) outcome {
	now := r.now()
	row.Status, row.FinishedAt, row.State = store.StepFailed, &now, nil
	row.Error = err.Error()
	return outcome{row: row, err: err}
}

// attempts runs fn with the step's retry policy, each attempt bounded by its timeout.
func (r *runner) attempts(ctx context.Context, s *step, row *store.WorkflowStep, fn func(context.Context) (any, error)) (any, error) {
	out, n, err := retry.Do(ctx, r.e.o.Clock, s.retry,
		func(_ any, err error) (bool, time.Duration) {
			var p *permanentError
			return err != nil && !errors.As(err, &p), 0
		},
		func(ctx context.Context, _ int) (any, error) {
			actx, cancel := context.WithTimeout(ctx, s.attemptTimeout())
			defer cancel()
			return fn(actx)
		})
	row.Attempts += n
	r.e.o.Metrics.attempts(r.run.Workflow, s.cfg.ID, n)
	return out, err
}

// idempotencyKey is the same on every attempt and every process: a step that ran before
// a crash and runs again is recognised by an upstream that honours the key.
func (r *runner) idempotencyKey(s *step) string { return "wf-" + r.run.ID + "-" + s.cfg.ID }

// call calls the step's operation with all of its integration's policies.
func (r *runner) call(ctx context.Context, s *step, input any) (any, error) {
	params, _ := input.(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	res, err := r.e.o.Caller.Call(ctx, s.integration, s.operation, params, integration.CallOptions{IdempotencyKey: r.idempotencyKey(s)})
	if err != nil {
		var ie *integration.Error
		if errors.As(err, &ie) && (ie.Kind == integration.KindUnknownOperation || ie.Kind == integration.KindInvalidParams) {
			return nil, &permanentError{err}
		}
		return nil, err
	}
	var out any
	if len(bytes.TrimSpace(res.Body)) > 0 {
		if out, err = decodeJSON(res.Body); err != nil {
			out = string(res.Body)
		}
	}
	if res.Status >= 400 {
		fail := fmt.Errorf("%s answered %d %s%s", s.cfg.Target, res.Status, http.StatusText(res.Status), excerpt(res.Body))
		switch res.Status {
		case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
			return nil, fail
		}
		if res.Status < 500 {
			return nil, &permanentError{fail}
		}
		return nil, fail
	}
	return out, nil
}

// excerpt is the start of an error answer, for the step's error.
func excerpt(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	if len(body) > 200 {
		body = append(body[:200:200], "…"...)
	}
	return ": " + string(body)
}

// emit publishes the step's event. Its ID comes from the run and step, so a step run
// again after a crash publishes nothing new.
func (r *runner) emit(ctx context.Context, s *step, input any) (any, error) {
	if input == nil {
		input = map[string]any{}
	}
	data, err := json.Marshal(input)
	if err != nil {
		return nil, permanent("data: %v", err)
	}
	sum := sha256.Sum256([]byte(r.run.ID + "\x00" + s.cfg.ID))
	id := "evt_wf_" + hex.EncodeToString(sum[:12])
	res, err := r.e.o.Publisher.Publish(ctx, event.Event{ID: id, Type: s.cfg.Target, Source: "workflow:" + r.run.Workflow, Data: data})
	if err != nil {
		return nil, err
	}
	return map[string]any{"event_id": res.EventID}, nil
}

// waitUntil sleeps st.Until away: briefly in place, or by storing the step as waiting.
// It reports false when the sleep is over (the step completes).
func (r *runner) waitUntil(ctx context.Context, row store.WorkflowStep, st waitState) (outcome, bool) {
	remaining := st.Until.Sub(r.now())
	switch {
	case remaining <= 0:
		return outcome{}, false
	case remaining <= inlineWait:
		if err := r.e.o.Clock.Sleep(ctx, remaining); err != nil {
			return outcome{row: row}, true // interrupted: the caller sees ctx
		}
		return outcome{}, false
	}
	return r.waiting(row, st, st.Until), true
}

func (r *runner) waiting(row store.WorkflowStep, st waitState, next time.Time) outcome {
	if d := r.run.Deadline; d != nil && d.Before(next) {
		next = *d // look again when the run's timeout passes, to fail it then
	}
	row.Status = store.StepWaiting
	row.State, _ = json.Marshal(st)
	next = store.NormalizeTime(next)
	return outcome{row: row, wait: &next}
}

// waitEvent looks for an event of the step's type published since the previous step ended
// whose data has the match's fields; without one it fails after its timeout, and until
// then is stored as waiting (woken by an event published in this process, or looked at
// again when due).
func (r *runner) waitEvent(ctx context.Context, s *step, row store.WorkflowStep, st waitState) outcome {
	now := r.now()
	if st.Since.IsZero() {
		st.Since, st.Until = r.reached, row.StartedAt.Add(s.cfg.Timeout)
		if s.match != nil {
			m, err := s.match.eval(r.env(nil))
			if err != nil {
				return r.failed(row, &permanentError{fmt.Errorf("match: %w", err)})
			}
			st.Match, _ = m.(map[string]any)
		}
	}
	const page = 500
	events, err := r.e.o.Store.WorkflowEventsSince(ctx, s.cfg.Target, st.Since, page)
	if err != nil {
		r.e.o.Logger.Warn("workflow: reading events for a waiting step failed; looking again", "run", r.run.ID, "step", s.cfg.ID, "err", err)
	}
	for _, ev := range events {
		data, _ := decodeJSON(ev.Data)
		if matches(st.Match, data) {
			return r.completed(s, row, data)
		}
	}
	if len(events) == page {
		st.Since = events[len(events)-1].Time // look on from there next time
	}
	if !now.Before(st.Until) {
		return r.failed(row, permanent("no %s event matching %s within %s", s.cfg.Target, matchText(st.Match), s.cfg.Timeout))
	}
	st.Checks++
	next := now.Add(min(time.Duration(st.Checks)*time.Second, 15*time.Second))
	if next.After(st.Until) {
		next = st.Until
	}
	return r.waiting(row, st, next)
}

// matches reports whether data has every field of want with an equal value.
func matches(want map[string]any, data any) bool {
	if len(want) == 0 {
		return true
	}
	m, ok := data.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range want {
		a, _ := json.Marshal(v)
		b, _ := json.Marshal(m[k])
		if !bytes.Equal(a, b) {
			return false
		}
	}
	return true
}

func matchText(m map[string]any) string {
	if len(m) == 0 {
		return "(any)"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// childInlineWait is how long a parent waits in place for its child before storing
// itself as waiting: most children are short and run in this very process.
const childInlineWait = 2 * time.Second

// child starts the child run (idempotently: its ID is the parent's and the step's) and
// completes with its result once it has one.
func (r *runner) child(ctx context.Context, s *step, row store.WorkflowStep, st waitState, input any) outcome {
	if st.Child == "" {
		if input == nil {
			input = map[string]any{}
		}
		in, _ := json.Marshal(input)
		st.Child = r.run.ID + "." + s.cfg.ID
		_, _, err := r.e.StartRun(ctx, s.cfg.Target, in, StartOptions{ID: st.Child, Trigger: "child", ParentID: r.run.ID, ParentStep: s.cfg.ID})
		if err != nil {
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrBadInput) {
				return r.failed(row, &permanentError{err})
			}
			return r.failed(row, err)
		}
		row.Attempts++
		wctx, cancel := context.WithTimeout(ctx, childInlineWait)
		_, _, _ = r.e.Wait(wctx, st.Child)
		cancel()
	}
	c, _, err := r.e.o.Store.WorkflowRunGet(ctx, st.Child)
	switch {
	case err != nil:
		r.e.o.Logger.Warn("workflow: reading a child run failed; looking again", "run", r.run.ID, "child", st.Child, "err", err)
	case c.Status == store.WorkflowCompleted || c.Status == store.WorkflowStopped:
		out, _ := decodeJSON(c.Output)
		return r.completed(s, row, out)
	case c.Status.Final():
		return r.failed(row, permanent("child run %s %s: %s", c.ID, c.Status, c.Error))
	}
	return r.waiting(row, st, r.now().Add(5*time.Second))
}

// parallel runs the branches not finished yet at once, storing each branch's outcome as
// it comes; the parallel step completes with every branch's result by ID, or fails with
// the first branch that failed once all have ended.
func (r *runner) parallel(ctx context.Context, s *step, row store.WorkflowStep) outcome {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
		done     []store.WorkflowStep
	)
	for _, b := range s.branches {
		if prev, ok := r.rows[b.cfg.ID]; ok && (prev.Status == store.StepCompleted || prev.Status == store.StepSkipped) {
			continue
		}
		wg.Go(func() {
			o := r.exec(ctx, b, nil)
			saved := r.save(ctx, []store.WorkflowStep{o.row}, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case o.err != nil:
				failures = append(failures, fmt.Errorf("branch %s: %w", b.cfg.ID, o.err))
			case !saved:
				failures = append(failures, fmt.Errorf("branch %s: its outcome could not be stored", b.cfg.ID))
			default:
				done = append(done, o.row)
			}
		})
	}
	wg.Wait()
	for _, d := range done {
		r.rows[d.StepID] = d
		if d.Status == store.StepCompleted {
			r.order = append(r.order, d.StepID)
		}
	}
	if len(failures) > 0 {
		return r.failed(row, failures[0])
	}
	out := map[string]any{}
	for _, b := range s.branches {
		if br, ok := r.rows[b.cfg.ID]; ok && br.Status == store.StepCompleted {
			out[b.cfg.ID], _ = decodeJSON(br.Output)
		}
	}
	return r.completed(s, row, out)
}

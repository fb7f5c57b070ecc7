package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/workflow"
)

// Webhooks is what actions need of the webhook service (*webhook.Service).
type Webhooks interface {
	Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error)
	DeliverTo(ctx context.Context, name string, e event.Event, source, key string) error
}

// Workflows starts workflow runs (the workflow engine), for `do workflow`.
type Workflows interface {
	StartRun(ctx context.Context, name string, input json.RawMessage, o workflow.StartOptions) (workflow.Run, bool, error)
}

// Options configure a Runner.
type Options struct {
	Store     store.Store
	Set       *Set
	Webhooks  Webhooks
	Caller    integration.Caller
	Workflows Workflows // nil: do workflow executions fail, saying so
	Plugins   Plugins   // nil: do plugin executions fail, saying so
	Logger    *slog.Logger
	Clock     clock.Clock  // default clock.Real{}
	Retry     retry.Policy // the wait before each retry (DelayBefore)
	Timeout   time.Duration
	Lease     time.Duration // must be longer than Timeout
	Workers   int
	WorkerID  string
}

const pollInterval = 250 * time.Millisecond

// Runner claims and runs due executions (lifecycle.Component).
type Runner struct {
	o    Options
	wake chan struct{}

	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

// NewRunner builds a runner; Start runs it.
func NewRunner(o Options) (*Runner, error) {
	if o.Store == nil || o.Set == nil || o.Webhooks == nil || o.Caller == nil || o.Logger == nil {
		return nil, errors.New("handler: Store, Set, Webhooks, Caller and Logger are required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Lease <= o.Timeout {
		o.Lease = 2*o.Timeout + 5*time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.WorkerID == "" {
		o.WorkerID = "junction-" + uuid.NewString()[:8]
	}
	r := &Runner{o: o, wake: make(chan struct{}, 1)}
	o.Set.SetWake(r.Wake)
	return r, nil
}

// Wake tells the runner executions may be due now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Start starts claiming. A configuration without running handlers still starts it:
// executions left by an earlier configuration run (or die, saying their handler is gone).
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop != nil {
		return errors.New("handler: runner already started")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.run(ctx)
	}()
	return nil
}

// Stop stops claiming and waits, within ctx, for the executions running to be recorded.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	stop, done := r.stop, r.done
	r.stop = nil
	r.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("handler: executions still running: %w", ctx.Err())
	}
}

func (r *Runner) run(ctx context.Context) {
	var running sync.WaitGroup
	defer running.Wait()
	slots := make(chan struct{}, r.o.Workers)
	freed := make(chan struct{}, 1)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-freed:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			free := cap(slots) - len(slots)
			if free == 0 {
				break
			}
			claimed, err := r.o.Store.HandlerClaim(ctx, store.HandlerClaimParams{
				Now: r.o.Clock.Now().UTC(), Limit: free, Lease: r.o.Lease, Owner: r.o.WorkerID,
			})
			if err != nil {
				if ctx.Err() == nil {
					r.o.Logger.Error("claiming handler executions", "error", err)
				}
				break
			}
			for _, c := range claimed {
				slots <- struct{}{}
				running.Go(func() {
					// An execution under way finishes after a stop; its timeout bounds it.
					r.execute(context.WithoutCancel(ctx), c)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				})
			}
			if len(claimed) < free {
				break
			}
		}
		timer.Reset(pollInterval)
	}
}

// execute runs one claimed execution and records its outcome.
func (r *Runner) execute(ctx context.Context, c store.ClaimedExecution) {
	x := c.Execution
	sctx, span := startExecutionSpan(ctx)
	err := r.perform(sctx, c)
	now := r.o.Clock.Now().UTC()
	o := store.HandlerOutcome{ID: x.ID, Attempts: x.Attempts + 1, At: now, Status: store.HandlerDone}
	var permanent *permanentError
	switch {
	case err == nil:
	case errors.As(err, &permanent) || o.Attempts >= x.MaxAttempts:
		o.Status, o.LastError = store.HandlerDead, redact.Error(err).Error()
	default:
		next := now.Add(r.o.Retry.DelayBefore(o.Attempts + 1))
		o.Status, o.NextRunAt, o.LastError = store.HandlerFailed, &next, redact.Error(err).Error()
	}
	endExecutionSpan(span, x, o)
	if err != nil {
		r.o.Logger.Warn("event handler failed", "handler", x.Handler, "event", x.EventID, "attempt", o.Attempts, "status", o.Status, "error", o.LastError)
	}
	for attempt := 0; ; attempt++ {
		rerr := r.o.Store.HandlerRecord(ctx, []store.HandlerOutcome{o})
		if rerr == nil {
			return
		}
		// Not recorded: the lease lapses and the execution runs again (at least once),
		// but keep trying first.
		r.o.Logger.Error("recording a handler outcome", "error", rerr)
		if attempt == 5 {
			return
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
}

// startWorkflow starts the handler's workflow with the event's data as its input (a
// payload that is not an object becomes {"data": payload}); the execution is done once
// the run is stored, and the run goes on by itself. The run's ID comes from the
// execution's, so an execution run twice starts one run.
func (r *Runner) startWorkflow(ctx context.Context, h Handler, e event.Event, x store.HandlerExecution) error {
	if r.o.Workflows == nil {
		return &permanentError{"no workflow engine runs in this process"}
	}
	input := json.RawMessage(e.Data)
	if e.Fields() == nil {
		input, _ = json.Marshal(map[string]json.RawMessage{"data": e.Data})
	}
	_, _, err := r.o.Workflows.StartRun(ctx, h.Target, input, workflow.StartOptions{ID: "wfr_ev_" + x.ID, Trigger: "event:" + e.ID})
	if errors.Is(err, workflow.ErrNotFound) {
		return &permanentError{fmt.Sprintf("workflow %q is not declared in the configuration in force", h.Target)}
	}
	return err
}

// Plugins calls plugin functions (*plugin.Manager), for `do plugin`.
type Plugins interface {
	Call(ctx context.Context, plugin, function string, input []byte) ([]byte, error)
}

// callPlugin runs the plugin function with the event's data (its output is not kept);
// a failure the plugin marked permanent is not retried.
func (r *Runner) callPlugin(ctx context.Context, h Handler, e event.Event) error {
	if r.o.Plugins == nil {
		return &permanentError{"no plugins run in this process"}
	}
	name, fn, _ := strings.Cut(h.Target, ".")
	data := []byte(e.Data)
	if len(data) == 0 {
		data = []byte("null")
	}
	_, err := r.o.Plugins.Call(ctx, name, fn, data)
	if err != nil && plugin.IsPermanent(err) {
		return &permanentError{err.Error()}
	}
	return err
}

// permanentError is a failure no retry can mend.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// perform does what the handler says.
func (r *Runner) perform(ctx context.Context, c store.ClaimedExecution) error {
	x := c.Execution
	h, ok := r.o.Set.Lookup(x.Handler)
	if !ok {
		return &permanentError{"the handler is no longer declared in the configuration in force"}
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	e := event.Event{ID: x.EventID, Type: x.EventType, Source: c.Source, Time: c.EventTime, Data: c.Data}
	source := SourcePrefix + h.Name
	switch h.Action {
	case "integration":
		name, op, _ := strings.Cut(h.Target, ".")
		res, err := r.o.Caller.Call(ctx, name, op, e.Fields(), integration.CallOptions{IdempotencyKey: "handler-" + x.ID})
		if err != nil {
			return err
		}
		if res.Status >= 400 {
			return fmt.Errorf("%s answered %d", h.Target, res.Status)
		}
		return nil
	case "emit":
		data := json.RawMessage(c.Data)
		_, err := r.o.Webhooks.Publish(withDepth(ctx, x.Depth+1), event.Event{
			ID: "evt_h_" + x.ID, Type: h.Target, Source: source, Data: data,
		})
		return err
	case "webhook":
		return r.o.Webhooks.DeliverTo(ctx, h.Target, e, source, x.ID)
	case "workflow":
		return r.startWorkflow(ctx, h, e, x)
	case "plugin":
		return r.callPlugin(ctx, h, e)
	}
	return &permanentError{fmt.Sprintf("action %s is not run by this version", h.Action)}
}

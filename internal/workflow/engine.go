package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// Run and Step are the store's types, so the HTTP API need not import the store.
type (
	Run    = store.WorkflowRun
	Step   = store.WorkflowStep
	Status = store.WorkflowRunStatus
	Filter = store.WorkflowRunFilter
)

// The statuses the API branches on (the store's).
const (
	Stopped     = store.WorkflowStopped
	StepWaiting = store.StepWaiting
)

// Errors of the API.
var (
	// ErrNotFound: no such workflow, or no such run.
	ErrNotFound = fmt.Errorf("workflow: %w", store.ErrNotFound)
	// ErrBadInput: a run's input is not a JSON object.
	ErrBadInput = errors.New("workflow: the input must be a JSON object")
	errStopping = errors.New("workflow: the engine is stopping")
)

// Publisher publishes an event as POST /events does (the webhook service).
type Publisher interface {
	Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error)
}

// Defaults of Options.
const (
	DefaultLease        = 30 * time.Second
	DefaultPollInterval = time.Second
	DefaultMaxActive    = 1024
)

// Options are what an Engine needs.
type Options struct {
	Store     store.WorkflowStore
	Caller    integration.Caller
	Publisher Publisher
	// Plugins runs plugin steps (plugin "name.function"); nil: they fail, saying so.
	Plugins Plugins
	Bus     *event.Bus // optional: events published here wake the runs waiting for them
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics // optional
	Owner   string   // names this process in leases; default random
	Lease   time.Duration
	// PollInterval is how often due runs are looked for (runs created elsewhere, waiting
	// runs that are due, runs whose lease lapsed).
	PollInterval time.Duration
	// MaxActive bounds the runs executing at once in this process; others wait in the
	// store for a claim.
	MaxActive int
	// Flushers is how many step-outcome transactions may be in flight at once; default
	// 1: on SQLite (one writer) and on PostgreSQL alike, one transaction at a time
	// carries more writes each, which measured faster (bench/workflows: 953 runs/s and a
	// p99 of 45 ms at half that rate, against 839 and 101 ms with 4).
	Flushers int
}

// Engine runs the workflows of one configuration.
type Engine struct {
	o    Options
	defs map[string]*definition
	// functions serves the plugin functions templates call (plugin.NAME.FUNCTION(x)):
	// the environment's "plugin"; nil when none does.
	functions map[string]any
	w         *writer

	ctx         context.Context // ends at Stop
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	kick        chan struct{} // wakes the claim loop
	unsubscribe func()        // from the bus
	slots       chan struct{} // one per run executing
	started     atomic.Bool

	mu      sync.Mutex
	active  map[string]context.CancelCauseFunc // runs executing here
	waiters map[string][]chan struct{}         // Wait callers, by run
	waiting map[string][]string                // event type → runs waiting here for it
}

// New compiles cfg's workflows. Nothing starts before Start.
func New(cfg *config.Config, o Options) (*Engine, error) {
	if o.Store == nil || o.Caller == nil || o.Publisher == nil {
		return nil, errors.New("workflow: Store, Caller and Publisher are required")
	}
	defs, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		o.Owner = "junction-" + uuid.NewString()[:8]
	}
	o.Lease = cmpOr(o.Lease, DefaultLease)
	o.PollInterval = cmpOr(o.PollInterval, DefaultPollInterval)
	o.MaxActive = cmpOr(o.MaxActive, DefaultMaxActive)
	o.Flushers = cmpOr(o.Flushers, 1)
	return &Engine{
		o: o, defs: defs, functions: pluginFunctions(cfg, o.Plugins),
		kick:    make(chan struct{}, 1),
		slots:   make(chan struct{}, o.MaxActive),
		active:  map[string]context.CancelCauseFunc{},
		waiters: map[string][]chan struct{}{},
		waiting: map[string][]string{},
	}, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Start starts the claim and lease loops. Runs left by a previous process are claimed
// at once.
func (e *Engine) Start(context.Context) error {
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.w = newWriter(e.o.Store, e.o.Flushers, 256)
	e.started.Store(true)
	e.wg.Add(2)
	go e.claimLoop()
	go e.renewLoop()
	e.unsubscribe = func() {}
	if e.o.Bus != nil {
		e.unsubscribe = e.o.Bus.Subscribe(func(event.Event) bool { return true }, e.eventPublished)
	}
	e.wakeClaims()
	return nil
}

// Stop ends the runs executing here at their current step: their leases are released
// so that the next process (or the next runtime, on reload) resumes them at once. A step
// that was in flight runs again there, with the same idempotency key.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started.Load() {
		return nil
	}
	e.mu.Lock()
	for _, cancel := range e.active {
		cancel(errStopping)
	}
	e.mu.Unlock()
	e.cancel()
	e.unsubscribe()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.o.Logger.Warn("workflow runs still stopping when the engine was stopped")
	}
	e.w.close()
	e.started.Store(false)
	return nil
}

// Info describes a declared workflow for GET /workflows.
type Info struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Triggers    []string       `json:"triggers"`
	Steps       []string       `json:"steps"`
	Timeout     string         `json:"timeout,omitempty"`
	Runs        map[Status]int `json:"runs"`
}

// Workflows lists the declared workflows with their run counts.
func (e *Engine) Workflows(ctx context.Context) ([]Info, error) {
	counts, err := e.o.Store.WorkflowCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(e.defs))
	for _, d := range e.defs {
		info := Info{Name: d.cfg.Name, Description: d.cfg.Description, Triggers: []string{}, Steps: []string{}, Runs: map[Status]int{}}
		for _, t := range d.cfg.Triggers {
			switch t.Kind {
			case "event":
				info.Triggers = append(info.Triggers, "event "+t.Event)
			case "schedule":
				info.Triggers = append(info.Triggers, "schedule "+t.Schedule)
			default:
				info.Triggers = append(info.Triggers, t.Kind)
			}
		}
		for _, s := range d.steps {
			info.Steps = append(info.Steps, s.cfg.ID)
		}
		if d.cfg.Timeout > 0 {
			info.Timeout = d.cfg.Timeout.String()
		}
		for st, n := range counts[d.cfg.Name] {
			info.Runs[st] = n
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return cmpString(a.Name, b.Name) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Declared reports whether the configuration declares the workflow.
func (e *Engine) Declared(name string) bool { _, ok := e.defs[name]; return ok }

// StartOptions are how a run is started.
type StartOptions struct {
	// ID makes the start idempotent: a second start with the same ID returns the first
	// run (a trigger retried after a crash). Default: a new ID.
	ID         string
	Trigger    string // what started it: "api" (default), "event:<id>", "job:<run id>", "flow", "child"
	ParentID   string
	ParentStep string
}

// StartRun stores a new run of the workflow and starts executing it here. It returns
// once the run is stored: a run that was accepted is never lost. created is false when
// o.ID named an existing run (returned instead).
func (e *Engine) StartRun(ctx context.Context, name string, input json.RawMessage, o StartOptions) (Run, bool, error) {
	d, ok := e.defs[name]
	if !ok {
		return Run{}, false, fmt.Errorf("%w: no workflow named %q", ErrNotFound, name)
	}
	if len(input) == 0 {
		input = json.RawMessage(`{}`)
	}
	var obj map[string]any
	if json.Unmarshal(input, &obj) != nil || obj == nil {
		return Run{}, false, ErrBadInput
	}
	now := store.NormalizeTime(e.o.Clock.Now())
	r := Run{
		ID: cmpOr(o.ID, NewRunID()), Workflow: name, Status: store.WorkflowPending, Input: input,
		Trigger: cmpOr(o.Trigger, "api"), ParentID: o.ParentID, ParentStep: o.ParentStep,
		CreatedAt: now, UpdatedAt: now, NextAt: &now,
	}
	if d.cfg.Timeout > 0 {
		deadline := now.Add(d.cfg.Timeout)
		r.Deadline = &deadline
	}
	// Take the lease at creation when a slot is free, and run it at once; otherwise the
	// run waits in the store for the claim loop (here or in another process).
	slot := e.started.Load() && e.trySlot()
	if slot {
		until := now.Add(e.o.Lease)
		r.Owner, r.LeaseUntil = e.o.Owner, &until
		r.Status, r.StartedAt = store.WorkflowRunning, &now // it starts at once
	}
	stored, created, err := e.create(ctx, r)
	if err != nil || !created {
		if slot {
			<-e.slots
		}
		return stored, false, err
	}
	e.o.Metrics.startedRun(name)
	if slot {
		e.execute(store.ClaimedRun{Run: stored})
	}
	return stored, true, nil
}

// create stores a new run, group-committed with the others started at the same time
// when the engine runs; an existing ID gives that run and false.
func (e *Engine) create(ctx context.Context, r Run) (Run, bool, error) {
	if !e.started.Load() {
		return e.o.Store.WorkflowRunCreate(ctx, store.WorkflowRunCreateParams{Run: r})
	}
	created, err := e.w.create(ctx, r)
	if err != nil {
		return Run{}, false, err
	}
	if !created {
		existing, _, err := e.o.Store.WorkflowRunGet(ctx, r.ID)
		return existing, false, err
	}
	if r.Owner == "" {
		e.wakeClaims() // a claim picks it up, here or elsewhere
	}
	return r, true, nil
}

// NewRunID returns a new run ID: "wfr_" and a UUID's hex digits.
func NewRunID() string {
	u := uuid.New()
	return fmt.Sprintf("wfr_%x", u[:])
}

func (e *Engine) trySlot() bool {
	select {
	case e.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Get returns a run and its steps.
func (e *Engine) Get(ctx context.Context, id string) (Run, []Step, error) {
	return e.o.Store.WorkflowRunGet(ctx, id)
}

// List returns a page of runs and how many match.
func (e *Engine) List(ctx context.Context, f Filter) ([]Run, int, error) {
	if f.Workflow != "" && !e.Declared(f.Workflow) {
		return nil, 0, fmt.Errorf("%w: no workflow named %q", ErrNotFound, f.Workflow)
	}
	return e.o.Store.WorkflowRunList(ctx, f)
}

// Wait returns the run once it is final, or its current state when ctx ends first
// (the caller tells by Status.Final).
func (e *Engine) Wait(ctx context.Context, id string) (Run, []Step, error) {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	e.waiters[id] = append(e.waiters[id], ch)
	_, here := e.active[id]
	e.mu.Unlock()
	defer e.forgetWaiter(id, ch)
	// A run executing here signals its end (after it leaves e.active, so a run seen
	// active has not signalled yet): no need to read it before. One executing elsewhere
	// is polled.
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	for {
		if !here {
			r, steps, err := e.o.Store.WorkflowRunGet(ctx, id)
			if err != nil || r.Status.Final() {
				return r, steps, err
			}
		}
		here = false
		select {
		case <-ch:
		case <-poll.C:
		case <-ctx.Done():
			return e.o.Store.WorkflowRunGet(context.WithoutCancel(ctx), id)
		}
	}
}

func (e *Engine) forgetWaiter(id string, ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ws := slices.DeleteFunc(e.waiters[id], func(c chan struct{}) bool { return c == ch })
	if len(ws) == 0 {
		delete(e.waiters, id)
	} else {
		e.waiters[id] = ws
	}
}

// Cancel cancels a live run: at once when no process executes it or this one does; a
// run another process executes is let go at that process's next lease renewal and
// cancelled by the claim after its lease lapses (within the lease, 30 s by default).
func (e *Engine) Cancel(ctx context.Context, id string) (Run, error) {
	r, err := e.o.Store.WorkflowRunCancel(ctx, id, store.NormalizeTime(e.o.Clock.Now()))
	if err != nil {
		return r, err
	}
	e.mu.Lock()
	cancel := e.active[id]
	e.mu.Unlock()
	if cancel != nil {
		cancel(errCancelled)
	}
	if r.Status.Final() {
		e.finished(r)
	}
	e.wakeClaims()
	return r, nil
}

// Retry starts a failed run again from its failed step.
func (e *Engine) Retry(ctx context.Context, id string) (Run, error) {
	r, err := e.o.Store.WorkflowRunRetry(ctx, id, store.NormalizeTime(e.o.Clock.Now()))
	if err == nil {
		e.wakeClaims()
	}
	return r, err
}

// RunEvent is the watch-only event (GET /events/stream) of a run that ended: workflow,
// run_id, status, failed_step, error and trigger.
const RunEvent = "junction.workflow.run"

// finished tells the Wait callers and wakes the parent of a child run.
func (e *Engine) finished(r Run) {
	e.o.Metrics.finished(r) // before the waiters hear of it: what they read next counts it
	if b := e.o.Bus; b != nil && b.Watched() {
		b.PublishWatched(event.Make(RunEvent, event.SourceJunction, e.o.Clock.Now(), map[string]any{
			"workflow": r.Workflow, "run_id": r.ID, "status": r.Status, "failed_step": r.FailedStep, "error": r.Error, "trigger": r.Trigger,
		}))
	}
	e.mu.Lock()
	for _, ch := range e.waiters[r.ID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	e.mu.Unlock()
	if r.ParentID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.o.Store.WorkflowWake(ctx, []string{r.ParentID}, store.NormalizeTime(e.o.Clock.Now())); err != nil {
			e.o.Logger.Warn("workflow: waking the parent run failed; it looks again when due", "run", r.ParentID, "err", err)
		}
		e.wakeClaims()
	}
}

// wakeClaims makes the claim loop look for due runs now.
func (e *Engine) wakeClaims() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// claimLoop claims due runs while slots are free: runs created elsewhere or while this
// process was full, waiting runs that are due, and runs whose lease lapsed.
func (e *Engine) claimLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
		}
		for e.claimOnce() {
		}
	}
}

// claimOnce claims up to the free slots and reports whether it filled them all (more
// may be due).
func (e *Engine) claimOnce() bool {
	free := 0
	for e.trySlot() {
		free++
		if free == 256 {
			break
		}
	}
	if free == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(e.ctx, 15*time.Second)
	defer cancel()
	claimed, err := e.o.Store.WorkflowClaim(ctx, store.WorkflowClaimParams{
		Now: store.NormalizeTime(e.o.Clock.Now()), Limit: free, Lease: e.o.Lease, Owner: e.o.Owner,
	})
	if err != nil && e.ctx.Err() == nil {
		e.o.Logger.Warn("workflow: claiming due runs failed; trying again", "err", err)
	}
	for _, c := range claimed {
		e.execute(c)
	}
	for range free - len(claimed) {
		<-e.slots
	}
	return err == nil && len(claimed) == free
}

// renewLoop extends the leases of the runs executing here, every third of the lease;
// a run whose lease was lost (another process may have it) or whose cancellation was
// requested elsewhere is stopped here.
func (e *Engine) renewLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		ids := make([]string, 0, len(e.active))
		for id := range e.active {
			ids = append(ids, id)
		}
		e.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(e.ctx, e.o.Lease/3)
		lost, err := e.o.Store.WorkflowLeaseRenew(ctx, e.o.Owner, ids, store.NormalizeTime(e.o.Clock.Now().Add(e.o.Lease)))
		cancel()
		if err != nil {
			e.o.Logger.Warn("workflow: renewing leases failed", "runs", len(ids), "err", err)
			continue
		}
		e.mu.Lock()
		for _, id := range lost {
			if c := e.active[id]; c != nil {
				c(store.ErrLeaseLost)
			}
		}
		e.mu.Unlock()
	}
}

// eventPublished wakes the runs waiting here for an event of that type.
func (e *Engine) eventPublished(ev event.Event) {
	e.mu.Lock()
	ids := e.waiting[ev.Type]
	delete(e.waiting, ev.Type)
	e.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.o.Store.WorkflowWake(ctx, ids, store.NormalizeTime(e.o.Clock.Now())); err != nil {
		e.o.Logger.Warn("workflow: waking runs waiting for an event failed; they look again when due", "type", ev.Type, "err", err)
	}
	e.wakeClaims()
}

// waitFor notes that a run waits here for an event type.
func (e *Engine) waitFor(eventType, runID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.waiting[eventType], runID) {
		e.waiting[eventType] = append(e.waiting[eventType], runID)
	}
}

// execute runs a leased run on its own goroutine; the caller holds a slot for it.
func (e *Engine) execute(c store.ClaimedRun) {
	ctx, cancel := context.WithCancelCause(e.ctx)
	e.mu.Lock()
	e.active[c.Run.ID] = cancel
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		final, ended := e.runClaimed(ctx, c)
		e.mu.Lock()
		delete(e.active, c.Run.ID)
		e.mu.Unlock()
		cancel(nil)
		<-e.slots
		if ended {
			e.finished(final)
		}
	}()
}

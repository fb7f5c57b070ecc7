package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/workflow"
)

// Run is one run of a job, and RunFilter selects a page of them (the store's types, so
// the HTTP API need not import the store).
type (
	Run       = store.JobRun
	RunFilter = store.JobRunFilter
)

// ErrNotFound is returned for a job the configuration does not declare.
var ErrNotFound = fmt.Errorf("job: %w", store.ErrNotFound)

// Caller calls an integration operation with all its policies (the runtime's gateway).
type Caller interface {
	Call(ctx context.Context, in, op string, params map[string]any, co integration.CallOptions) (*integration.Result, error)
}

// Publisher publishes an event as POST /events does (the webhook service).
type Publisher interface {
	Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error)
}

// Workflows starts workflow runs and waits for them (the workflow engine).
type Workflows interface {
	StartRun(ctx context.Context, name string, input json.RawMessage, o workflow.StartOptions) (workflow.Run, bool, error)
	Wait(ctx context.Context, id string) (workflow.Run, []workflow.Step, error)
}

// DefaultLease is how long a claim holds without renewal: a run renews it every third
// of it, so a process that died leaves its tick to others after at most this long.
const DefaultLease = 30 * time.Second

// DefaultTimeout bounds one attempt of a job without a timeout.
const DefaultTimeout = 5 * time.Minute

// Options are what a Scheduler needs.
type Options struct {
	Store     store.JobStore
	Clock     clock.Clock
	Logger    *slog.Logger
	Caller    Caller
	Publisher Publisher
	Workflows Workflows
	Owner     string        // names this process in claims; default random
	Lease     time.Duration // default DefaultLease
	// Watchers, if set, get a RunEvent per finished run while anyone watches the bus
	// (GET /events/stream).
	Watchers Watchers
}

// Watchers is what the scheduler needs of the event bus (*event.Bus) to tell people
// watching it about runs.
type Watchers interface {
	Watched() bool
	PublishWatched(event.Event)
}

// RunEvent is the watch-only event of a finished job run: job, run_id, tick, status,
// attempts and error.
const RunEvent = "junction.job.run"

// Scheduler runs the jobs of one configuration.
type Scheduler struct {
	opts Options
	jobs []*spec

	mu          sync.Mutex
	stopLoops   context.CancelFunc // the loops wait for ticks
	stopRuns    context.CancelFunc // the runs in flight
	runCtx      context.Context
	loops, runs sync.WaitGroup
}

// spec is one runnable job.
type spec struct {
	cfg    *config.Job
	next   func(after time.Time) time.Time
	policy retry.Policy
}

// New builds the scheduler of cfg's jobs.
func New(cfg *config.Config, opts Options) (*Scheduler, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Owner == "" {
		opts.Owner = "junction-" + uuid.NewString()[:8]
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{opts: opts}
	for _, j := range cfg.Jobs {
		next, err := nextFunc(j)
		if err != nil {
			return nil, fmt.Errorf("%s: job %s: %w", j.Pos, j.Name, err)
		}
		s.jobs = append(s.jobs, &spec{cfg: j, next: next, policy: retry.JobDefaults().With(j.Retry)})
	}
	return s, nil
}

// nextFunc returns the job's tick after a time. Ticks are the same in every process:
// the cron expression's times, or the multiples of every since the Unix epoch (so an
// `every 1h` job ticks on the hour, as the README says; time.Truncate would count from
// Go's zero time, which differs for intervals that do not divide a day).
func nextFunc(j *config.Job) (func(time.Time) time.Time, error) {
	if j.Every > 0 {
		every := j.Every
		epoch := time.Unix(0, 0).UTC()
		return func(after time.Time) time.Time {
			return epoch.Add((after.Sub(epoch)/every + 1) * every)
		}, nil
	}
	sched, err := config.CronParser.Parse(j.Schedule)
	if err != nil {
		return nil, err
	}
	loc := time.UTC
	if j.Timezone != "" {
		if loc, err = time.LoadLocation(j.Timezone); err != nil {
			return nil, err
		}
	}
	return func(after time.Time) time.Time { return sched.Next(after.In(loc)).UTC() }, nil
}

// Start starts one loop per job: each catches up, then waits for its ticks.
func (s *Scheduler) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	loopCtx, stopLoops := context.WithCancel(context.Background())
	s.runCtx, s.stopRuns = context.WithCancel(context.Background())
	s.stopLoops = stopLoops
	for _, sp := range s.jobs {
		s.loops.Go(func() { s.loop(loopCtx, sp) })
		s.loops.Go(func() { s.takeOverLapsed(loopCtx, sp) })
	}
	return nil
}

// Stop stops the loops and waits, within ctx, for the runs in flight. A run still going
// when ctx ends is cancelled; its claim lapses and no other process reruns a finished
// tick.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	stopLoops, stopRuns := s.stopLoops, s.stopRuns
	s.stopLoops = nil
	s.mu.Unlock()
	if stopLoops == nil {
		return nil
	}
	// No new tick starts; the runs in flight finish within ctx.
	stopLoops()
	s.loops.Wait()
	done := make(chan struct{})
	go func() {
		s.runs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	stopRuns()
	<-done
	return nil
}

func (s *Scheduler) runContext() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runCtx
}

func (s *Scheduler) loop(ctx context.Context, sp *spec) {
	c := s.opts.Clock
	now := c.Now()
	runCtx := s.runContext()
	s.runs.Go(func() { s.catchUp(runCtx, sp, now) })
	tick := sp.next(now)
	for {
		if err := c.Sleep(ctx, tick.Sub(c.Now())); err != nil {
			return
		}
		// Each tick runs beside the loop, so a long run does not delay the next tick.
		t := tick
		s.runs.Go(func() { s.claimAndRun(runCtx, sp, t, false) })
		tick = sp.next(tick)
	}
}

// catchUp runs the ticks missed since the job's last recorded tick, per its catch_up.
// The last tick itself is claimed again: that takes it over if the process running it
// died, and does nothing otherwise.
func (s *Scheduler) catchUp(ctx context.Context, sp *spec, now time.Time) {
	last, ok, err := s.opts.Store.JobLastTick(ctx, sp.cfg.Name)
	if err != nil {
		s.opts.Logger.Warn("job: reading the last tick; not catching up", "job", sp.cfg.Name, "error", redact.Error(err))
		return
	}
	if !ok {
		return // never ran: nothing was missed
	}
	s.claimAndRun(ctx, sp, last, false)
	var missed []time.Time
	for t := sp.next(last); !t.After(now); t = sp.next(t) {
		missed = append(missed, t)
		if len(missed) > config.MaxCatchUp {
			missed = missed[1:]
		}
	}
	if len(missed) == 0 {
		return
	}
	switch sp.cfg.CatchUp {
	case config.CatchUpNone:
		s.opts.Logger.Info("job: skipping missed ticks (catch_up none)", "job", sp.cfg.Name, "missed", len(missed))
		return
	case config.CatchUpAll:
		if len(missed) == config.MaxCatchUp {
			s.opts.Logger.Warn("job: catching up the latest missed ticks only", "job", sp.cfg.Name, "runs", config.MaxCatchUp)
		}
	default:
		missed = missed[len(missed)-1:]
	}
	for _, t := range missed {
		if ctx.Err() != nil {
			return
		}
		s.claimAndRun(ctx, sp, t, false)
	}
}

// takeOverWindow is how many of a job's latest runs takeOverLapsed looks through.
const takeOverWindow = 100

// takeOverLapsed claims, every third of the lease, the job's recent ticks still running
// under a lapsed lease: their process died mid-run. The store's claim takes such a tick
// over atomically, so one process runs it again, with the same idempotency key. Without
// this a tick left by a dead process would stay running while the live processes go on
// with the later ticks, each claimed once; only a start's catch-up claims a tick again,
// and only the last one.
func (s *Scheduler) takeOverLapsed(ctx context.Context, sp *spec) {
	c := s.opts.Clock
	runCtx := s.runContext()
	for c.Sleep(ctx, s.opts.Lease/3) == nil {
		runs, _, err := s.opts.Store.JobRunList(ctx, RunFilter{Job: sp.cfg.Name, Page: store.Page{Page: 1, Limit: takeOverWindow}})
		if err != nil {
			if ctx.Err() == nil {
				s.opts.Logger.Warn("job: looking for ticks to take over", "job", sp.cfg.Name, "error", redact.Error(err))
			}
			continue
		}
		now := c.Now()
		for _, r := range runs {
			// This process's own runs are going here, whatever their lease says; a manual
			// run is never taken over.
			if r.Status == store.JobRunRunning && !r.Manual && r.Owner != s.opts.Owner && r.LeaseUntil.Before(now) {
				s.runs.Go(func() { s.claimAndRun(runCtx, sp, r.Tick, false) })
			}
		}
	}
}

// claimAndRun claims the job's tick and, if this process won it, runs it.
func (s *Scheduler) claimAndRun(ctx context.Context, sp *spec, tick time.Time, manual bool) (Run, bool) {
	now := s.opts.Clock.Now()
	r, won, err := s.opts.Store.JobRunClaim(ctx, Run{
		ID: uuid.NewString(), Job: sp.cfg.Name, Tick: tick, Manual: manual, Owner: s.opts.Owner,
		StartedAt: now, LeaseUntil: now.Add(s.opts.Lease),
	})
	if err != nil {
		if ctx.Err() == nil {
			s.opts.Logger.Warn("job: claiming a tick", "job", sp.cfg.Name, "tick", tick, "error", redact.Error(err))
		}
		return Run{}, false
	}
	if !won {
		return Run{}, false
	}
	s.execute(ctx, sp, r)
	return r, true
}

// execute runs a claimed run with its retry and timeout, renewing its lease, and
// records the outcome.
func (s *Scheduler) execute(ctx context.Context, sp *spec, r Run) {
	c := s.opts.Clock
	ctx, span := startRunSpan(ctx)
	defer func() { endRunSpan(span, r) }()
	renewCtx, stopRenew := context.WithCancel(ctx)
	var renewing sync.WaitGroup
	renewing.Go(func() {
		for c.Sleep(renewCtx, s.opts.Lease/3) == nil {
			if err := s.opts.Store.JobRunRenew(renewCtx, r.ID, s.opts.Owner, c.Now().Add(s.opts.Lease)); err != nil && renewCtx.Err() == nil {
				s.opts.Logger.Warn("job: renewing a run's lease", "job", r.Job, "run", r.ID, "error", redact.Error(err))
			}
		}
	})
	key := idempotencyKey(r)
	timeout := sp.cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	_, attempts, err := retry.Do(ctx, c, sp.policy, func(_ struct{}, err error) (bool, time.Duration) {
		return err != nil, 0
	}, func(ctx context.Context, n int) (struct{}, error) {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := s.action(actx, sp.cfg, r, key, n)
		if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
			// Said plainly in the run's error: "context deadline exceeded" does not say whose.
			err = fmt.Errorf("timed out after %s (the job's timeout): %w", timeout, err)
		}
		return struct{}{}, err
	})
	stopRenew()
	renewing.Wait()
	end := c.Now()
	r.Attempts += attempts
	r.Status, r.Error, r.FinishedAt = store.JobRunSucceeded, "", &end
	if err != nil {
		r.Status, r.Error = store.JobRunFailed, redact.Error(err).Error()
		s.opts.Logger.Warn("job: run failed", "job", r.Job, "tick", r.Tick, "attempts", r.Attempts, "error", r.Error)
	}
	// Recorded even when ctx ended (a stop): the outcome is known.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.opts.Store.JobRunFinish(fctx, r); err != nil {
		s.opts.Logger.Warn("job: recording a run", "job", r.Job, "run", r.ID, "error", redact.Error(err))
	}
	if w := s.opts.Watchers; w != nil && w.Watched() {
		w.PublishWatched(event.Make(RunEvent, event.SourceJunction, end, map[string]any{
			"job": r.Job, "run_id": r.ID, "tick": r.Tick, "status": r.Status, "attempts": r.Attempts, "error": r.Error,
		}))
	}
}

// idempotencyKey is the same for every attempt and every process running the tick:
// a UUID derived from the job's name and tick; a manual run's is its id.
func idempotencyKey(r Run) string {
	if r.Manual {
		return r.ID
	}
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("junction:job:"+r.Job+":"+r.Tick.UTC().Format(time.RFC3339Nano))).String()
}

// action does what the job runs, once: attempt n of run r.
func (s *Scheduler) action(ctx context.Context, j *config.Job, r Run, key string, n int) error {
	switch {
	case j.Workflow != "":
		return s.runWorkflow(ctx, j, r, key, n)
	case j.Call != "":
		in, op, _ := splitOperation(j.Call)
		if s.opts.Caller == nil {
			return errors.New("no gateway")
		}
		res, err := s.opts.Caller.Call(ctx, in, op, j.Input, integration.CallOptions{IdempotencyKey: key})
		if err != nil {
			return err
		}
		if res.Status >= 400 {
			return fmt.Errorf("%s answered HTTP %d", j.Call, res.Status)
		}
		return nil
	case j.Emit != "":
		if s.opts.Publisher == nil {
			return errors.New("no webhook service")
		}
		data, err := json.Marshal(cmpOr(j.Data))
		if err != nil {
			return err
		}
		_, err = s.opts.Publisher.Publish(ctx, event.Event{ID: "evt_job_" + key, Type: j.Emit, Source: "job:" + j.Name, Data: data})
		return err
	}
	return errors.New("the job runs nothing")
}

// runWorkflow starts the job's workflow and waits, within the attempt's timeout, for it
// to end: the job's run succeeds when the workflow's does. The run's ID comes from the
// tick and the attempt, so a process taking the tick over after a crash waits for the
// run the dead one started (which the workflow engine resumes) instead of starting
// another.
func (s *Scheduler) runWorkflow(ctx context.Context, j *config.Job, r Run, key string, n int) error {
	if s.opts.Workflows == nil {
		return errors.New("no workflow engine")
	}
	input, _ := json.Marshal(map[string]any{"job": j.Name, "tick": r.Tick.UTC().Format(time.RFC3339Nano)})
	run, _, err := s.opts.Workflows.StartRun(ctx, j.Workflow, input, workflow.StartOptions{
		ID: fmt.Sprintf("wfr_job_%s_%d", key, n), Trigger: "job:" + r.ID,
	})
	if err != nil {
		return err
	}
	final, _, err := s.opts.Workflows.Wait(ctx, run.ID)
	switch {
	case err != nil:
		return err
	case final.Status == store.WorkflowCompleted || final.Status == store.WorkflowStopped:
		return nil
	case final.Status.Final():
		return fmt.Errorf("workflow run %s %s: %s", final.ID, final.Status, final.Error)
	}
	return fmt.Errorf("workflow run %s is still %s", final.ID, final.Status)
}

func cmpOr(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func splitOperation(ref string) (in, op string, ok bool) {
	for i := range len(ref) {
		if ref[i] == '.' {
			return ref[:i], ref[i+1:], true
		}
	}
	return ref, "", false
}

// Trigger runs a job now, outside its schedule, and returns the run's id at once.
func (s *Scheduler) Trigger(name string) (string, error) {
	sp := s.find(name)
	if sp == nil {
		return "", ErrNotFound
	}
	runCtx := s.runContext()
	if runCtx == nil || runCtx.Err() != nil {
		return "", errors.New("job: the scheduler is not running")
	}
	now := s.opts.Clock.Now()
	r, won, err := s.opts.Store.JobRunClaim(runCtx, Run{
		ID: uuid.NewString(), Job: name, Tick: now, Manual: true, Owner: s.opts.Owner,
		StartedAt: now, LeaseUntil: now.Add(s.opts.Lease),
	})
	if err != nil {
		return "", err
	}
	if !won {
		return "", errors.New("job: the manual run could not be recorded")
	}
	s.runs.Go(func() { s.execute(runCtx, sp, r) })
	return r.ID, nil
}

func (s *Scheduler) find(name string) *spec {
	i := slices.IndexFunc(s.jobs, func(sp *spec) bool { return sp.cfg.Name == name })
	if i < 0 {
		return nil
	}
	return s.jobs[i]
}

// Info is a job as GET /jobs shows it.
type Info struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Schedule    string     `json:"schedule,omitempty"`
	Every       string     `json:"every,omitempty"`
	Timezone    string     `json:"timezone"`
	Runs        string     `json:"runs"` // "call Billing.sync", "emit order.tick"
	Queue       string     `json:"queue,omitempty"`
	CatchUp     string     `json:"catch_up"`
	NextRun     *time.Time `json:"next_run,omitempty"`
	LastRun     *Run       `json:"-"`
}

// Jobs lists the jobs with their next tick and their last run.
func (s *Scheduler) Jobs(ctx context.Context) ([]Info, error) {
	out := make([]Info, 0, len(s.jobs))
	for _, sp := range s.jobs {
		info, err := s.info(ctx, sp)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Job describes one job. ErrNotFound.
func (s *Scheduler) Job(ctx context.Context, name string) (Info, error) {
	sp := s.find(name)
	if sp == nil {
		return Info{}, ErrNotFound
	}
	return s.info(ctx, sp)
}

func (s *Scheduler) info(ctx context.Context, sp *spec) (Info, error) {
	j := sp.cfg
	next := sp.next(s.opts.Clock.Now())
	info := Info{Name: j.Name, Description: j.Description, Schedule: j.Schedule, Timezone: "UTC", Queue: j.Queue, CatchUp: string(j.CatchUp), NextRun: &next}
	if j.Every > 0 {
		info.Every = j.Every.String()
	}
	if j.Timezone != "" && j.Every == 0 {
		info.Timezone = j.Timezone
	}
	switch {
	case j.Call != "":
		info.Runs = "call " + j.Call
	case j.Workflow != "":
		info.Runs = "workflow " + j.Workflow
	default:
		info.Runs = "emit " + j.Emit
	}
	runs, _, err := s.opts.Store.JobRunList(ctx, RunFilter{Job: j.Name, Page: store.Page{Page: 1, Limit: 1}})
	if err != nil {
		return Info{}, err
	}
	if len(runs) > 0 {
		info.LastRun = &runs[0]
	}
	return info, nil
}

// Runs lists a page of a job's runs, latest first. ErrNotFound.
func (s *Scheduler) Runs(ctx context.Context, name string, p store.Page) ([]Run, int, error) {
	if s.find(name) == nil {
		return nil, 0, ErrNotFound
	}
	return s.opts.Store.JobRunList(ctx, RunFilter{Job: name, Page: p})
}

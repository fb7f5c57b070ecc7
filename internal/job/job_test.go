package job

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/postgres"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
)

// fakeCaller records the idempotency key of every call: one key per tick.
type fakeCaller struct {
	mu   sync.Mutex
	keys []string
	got  chan string
}

func newFakeCaller() *fakeCaller { return &fakeCaller{got: make(chan string, 1000)} }

func (f *fakeCaller) Call(_ context.Context, _, _ string, _ map[string]any, co integration.CallOptions) (*integration.Result, error) {
	f.mu.Lock()
	f.keys = append(f.keys, co.IdempotencyKey)
	f.mu.Unlock()
	f.got <- co.IdempotencyKey
	return &integration.Result{Status: 200}, nil
}

func (f *fakeCaller) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys)
}

func jobConfig(t *testing.T, body string) *config.Config {
	t.Helper()
	cfg, diags := config.Decode("t.cai", []byte(`integration B { base_url: "http://127.0.0.1:1"  operation sync { method: POST  path: "/s" } }
job sync {
`+body+`
    call "B.sync"
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return cfg
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitRuns(t *testing.T, s store.Store, n int) []store.JobRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, _, err := s.JobRunList(context.Background(), store.JobRunFilter{Job: "sync", Page: store.Page{Page: 1, Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range runs {
			if r.Status != store.JobRunRunning {
				done++
			}
		}
		if done >= n {
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d finished runs, want %d: %+v", done, n, runs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCatchUp: after downtime, latest runs the latest missed tick once, all runs each,
// none skips them.
func TestCatchUp(t *testing.T) {
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		policy string
		want   []time.Time // ticks run at start, beyond the last recorded one
	}{
		{"latest", []time.Time{start.Add(5 * time.Minute)}},
		{"all", []time.Time{start.Add(1 * time.Minute), start.Add(2 * time.Minute), start.Add(3 * time.Minute), start.Add(4 * time.Minute), start.Add(5 * time.Minute)}},
		{"none", nil},
	} {
		t.Run(c.policy, func(t *testing.T) {
			s := openSQLite(t)
			ctx := context.Background()
			// The last run, recorded before the downtime, at 10:00.
			end := start.Add(time.Second)
			if _, _, err := s.JobRunClaim(ctx, store.JobRun{ID: "old", Job: "sync", Tick: start, Owner: "gone", StartedAt: start, LeaseUntil: start.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			if err := s.JobRunFinish(ctx, store.JobRun{ID: "old", Owner: "gone", Status: store.JobRunSucceeded, Attempts: 1, FinishedAt: &end}); err != nil {
				t.Fatal(err)
			}
			clk := clock.NewFake(start.Add(5*time.Minute + 30*time.Second))
			caller := newFakeCaller()
			sch, err := New(jobConfig(t, `schedule "* * * * *"  catch_up `+c.policy), Options{Store: s, Clock: clk, Caller: caller})
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Start(ctx); err != nil {
				t.Fatal(err)
			}
			// The scheduler is waiting for the next tick (10:06) once catch-up is done.
			runs := waitRuns(t, s, 1+len(c.want))
			deadline := time.Now().Add(30 * time.Second)
			for clk.Sleepers() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if err := sch.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			var ticks []time.Time
			for _, r := range runs {
				if r.ID != "old" {
					ticks = append(ticks, r.Tick)
				}
			}
			slices.SortFunc(ticks, func(a, b time.Time) int { return a.Compare(b) })
			if !slices.EqualFunc(ticks, c.want, time.Time.Equal) {
				t.Errorf("catch_up %s ran ticks %v, want %v", c.policy, ticks, c.want)
			}
			if got := len(caller.calls()); got != len(c.want) {
				t.Errorf("%d calls, want %d", got, len(c.want))
			}
		})
	}
}

// TestTwoProcessesOneTick: two schedulers on one PostgreSQL database, a 1-second job:
// each tick is called once, none is missed between the first and the last.
func TestTwoProcessesOneTick(t *testing.T) {
	dsn := servicetest.PostgresDSN(t)
	ctx := context.Background()
	open := func() store.Store {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	if _, err := a.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	caller := newFakeCaller()
	cfg := jobConfig(t, `every 1s`)
	var schedulers []*Scheduler
	for i, s := range []store.Store{a, b} {
		sch, err := New(cfg, Options{Store: s, Caller: caller, Owner: []string{"a", "b"}[i]})
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Start(ctx); err != nil {
			t.Fatal(err)
		}
		schedulers = append(schedulers, sch)
	}
	// About six ticks.
	for range 6 {
		select {
		case <-caller.got:
		case <-time.After(5 * time.Second):
			t.Fatal("no call within 5s")
		}
	}
	for _, sch := range schedulers {
		_ = sch.Stop(ctx)
	}
	keys := caller.calls()
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Errorf("tick with key %s was called twice", k)
		}
		seen[k] = true
	}
	runs, total, err := a.JobRunList(ctx, store.JobRunFilter{Job: "sync", Page: store.Page{Page: 1, Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(keys) {
		t.Errorf("%d runs recorded, %d calls", total, len(keys))
	}
	// Consecutive seconds: no tick missed between the first and the last.
	for i := 1; i < len(runs); i++ {
		if gap := runs[i-1].Tick.Sub(runs[i].Tick); gap != time.Second {
			t.Errorf("ticks %v and %v are %v apart, want 1s", runs[i].Tick, runs[i-1].Tick, gap)
		}
	}
	owners := map[string]int{}
	for _, r := range runs {
		owners[r.Owner]++
		if r.Status != store.JobRunSucceeded || r.Attempts != 1 {
			t.Errorf("run %+v", r)
		}
	}
	t.Logf("%d ticks, by owner %v", len(runs), owners)
}

// scriptedCaller answers each call with the next of its results; a call beyond them
// succeeds. A nil result with block set waits for the call's context to end.
type scriptedCaller struct {
	mu      sync.Mutex
	results []error
	calls   int
	block   bool
}

func (f *scriptedCaller) Call(ctx context.Context, _, _ string, _ map[string]any, _ integration.CallOptions) (*integration.Result, error) {
	f.mu.Lock()
	i := f.calls
	f.calls++
	block := f.block
	var err error
	if i < len(f.results) {
		err = f.results[i]
	}
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &integration.Result{Status: 200}, nil
}

func (f *scriptedCaller) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// triggerOnce starts a scheduler of the job (hourly, so no tick comes during the test),
// triggers it and returns its recorded run once finished.
func triggerOnce(t *testing.T, body string, caller Caller, watchers ...Watchers) store.JobRun {
	t.Helper()
	s := openSQLite(t)
	ctx := context.Background()
	opts := Options{Store: s, Caller: caller}
	if len(watchers) == 1 {
		opts.Watchers = watchers[0]
	}
	sch, err := New(jobConfig(t, `every 1h
    `+body), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sch.Stop(ctx) })
	id, err := sch.Trigger("sync")
	if err != nil {
		t.Fatal(err)
	}
	runs := waitRuns(t, s, 1)
	if len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("runs = %+v, want the triggered run %s", runs, id)
	}
	return runs[0]
}

// TestRetryThenSuccess: a call that fails twice, with retry 2 times, is attempted three
// times and its run is recorded succeeded with 3 attempts.
func TestRetryThenSuccess(t *testing.T) {
	caller := &scriptedCaller{results: []error{errors.New("upstream down"), errors.New("upstream down")}}
	r := triggerOnce(t, `retry 2 times with constant_backoff(10ms)`, caller)
	if r.Status != store.JobRunSucceeded || r.Attempts != 3 || r.Error != "" || r.FinishedAt == nil {
		t.Errorf("run = %+v, want succeeded after 3 attempts", r)
	}
	if n := caller.count(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

// recordingWatchers is a bus someone watches, keeping what is published to watchers.
type recordingWatchers struct {
	mu     sync.Mutex
	events []event.Event
}

func (w *recordingWatchers) Watched() bool { return true }
func (w *recordingWatchers) PublishWatched(e event.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
}

// TestRunEventForWatchers: a finished run is told to whoever watches the bus.
func TestRunEventForWatchers(t *testing.T) {
	w := &recordingWatchers{}
	r := triggerOnce(t, `retry 1 times with constant_backoff(10ms)`, &scriptedCaller{results: []error{errors.New("down")}}, w)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.events) != 1 {
		t.Fatalf("events %+v", w.events)
	}
	f := w.events[0].Fields()
	if w.events[0].Type != RunEvent || f["job"] != "sync" || f["run_id"] != r.ID || f["status"] != string(store.JobRunSucceeded) || fmt.Sprint(f["attempts"]) != "2" {
		t.Errorf("event %s %v", w.events[0].Type, f)
	}
}

// TestRetryExhausted: a call that keeps failing uses its retries and is recorded failed
// with the last error.
func TestRetryExhausted(t *testing.T) {
	caller := &scriptedCaller{results: []error{errors.New("down 1"), errors.New("down 2"), errors.New("down 3")}}
	r := triggerOnce(t, `retry 2 times with constant_backoff(10ms)`, caller)
	if r.Status != store.JobRunFailed || r.Attempts != 3 || !strings.Contains(r.Error, "down 3") {
		t.Errorf("run = %+v, want failed after 3 attempts with the last error", r)
	}
}

// TestTimeout: a call that outlasts the job's timeout is cut off and the run recorded
// failed with a timeout error; without retry there is one attempt.
func TestTimeout(t *testing.T) {
	caller := &scriptedCaller{block: true}
	start := time.Now()
	r := triggerOnce(t, `timeout 100ms`, caller)
	if r.Status != store.JobRunFailed || r.Attempts != 1 || !strings.Contains(r.Error, "timed out after 100ms") {
		t.Errorf("run = %+v, want failed after 1 attempt, timed out after 100ms", r)
	}
	// A bound against a call never cut off (the caller blocks until its context ends);
	// it includes opening and migrating a store, seconds under -race on a loaded machine.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the run took %v; the timeout did not cut it off", d)
	}
}

// TestEveryTicksCountFromTheUnixEpoch: `every` ticks are the multiples of the interval
// since the Unix epoch, the same in every process, also for intervals that do not divide
// a day (7m: 1970-01-01 00:07, 00:14, …).
func TestEveryTicksCountFromTheUnixEpoch(t *testing.T) {
	next, err := nextFunc(&config.Job{Every: 7 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	after := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tick := next(after)
	if !tick.After(after) || tick.Sub(after) > 7*time.Minute || tick.Unix()%(7*60) != 0 {
		t.Errorf("next(%v) = %v: want the first multiple of 7m since the epoch after it", after, tick)
	}
	if again := next(tick); again.Sub(tick) != 7*time.Minute {
		t.Errorf("next(%v) = %v, want 7m later", tick, again)
	}
}

// TestTakeOverLapsedTick: a tick left running by a process that died (its lease lapsed)
// is taken over by a running scheduler within a third of the lease, with the tick's
// idempotency key, though it is not the job's last tick (which is all a start's catch-up
// claims again). Running ticks under a live lease, this scheduler's own and manual runs
// are left alone.
func TestTakeOverLapsedTick(t *testing.T) {
	s := openSQLite(t)
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 10, 30, 0, 0, time.UTC)
	claim := func(id string, tick time.Time, owner string, leaseUntil time.Time, manual bool) {
		t.Helper()
		if _, won, err := s.JobRunClaim(ctx, store.JobRun{ID: id, Job: "sync", Tick: tick, Manual: manual, Owner: owner, StartedAt: tick, LeaseUntil: leaseUntil}); err != nil || !won {
			t.Fatalf("claim %s: %v %v", id, won, err)
		}
	}
	claim("dead", now.Add(-90*time.Minute), "gone", now.Add(-time.Minute), false)     // 09:00, lapsed
	claim("alive", now.Add(-150*time.Minute), "other", now.Add(time.Minute), false)   // 08:00, leased
	claim("own", now.Add(-210*time.Minute), "me", now.Add(-time.Minute), false)       // 07:00, this scheduler's
	claim("manual", now.Add(-10*time.Minute), "gone", now.Add(-time.Minute), true)    // triggered, lapsed
	claim("last", now.Add(-30*time.Minute), "other", now.Add(-29*time.Minute), false) // 10:00, finished
	finished := now.Add(-29 * time.Minute)
	if err := s.JobRunFinish(ctx, store.JobRun{ID: "last", Owner: "other", Status: store.JobRunSucceeded, Attempts: 1, FinishedAt: &finished}); err != nil {
		t.Fatal(err)
	}

	clk := clock.NewFake(now)
	caller := newFakeCaller()
	sch, err := New(jobConfig(t, `every 1h  catch_up none`), Options{Store: s, Clock: clk, Caller: caller, Owner: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The loop waits for 11:00 and the takeover for a third of the lease.
	testkit.WaitFor(t, "the scheduler to wait for its next tick and for its next look at lapsed ticks", func() bool { return clk.Sleepers() == 2 })
	if calls := caller.calls(); len(calls) != 0 {
		t.Fatalf("calls before a third of the lease passed: %v", calls)
	}
	clk.Advance(DefaultLease / 3)
	select {
	case key := <-caller.got:
		if want := idempotencyKey(store.JobRun{Job: "sync", Tick: now.Add(-90 * time.Minute)}); key != want {
			t.Errorf("the taken-over tick was called with key %s, want %s (the tick's)", key, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lapsed tick was not taken over")
	}
	byID := map[string]store.JobRun{}
	testkit.WaitFor(t, "the taken-over run to finish", func() bool {
		runs, _, err := s.JobRunList(ctx, store.JobRunFilter{Job: "sync", Page: store.Page{Page: 1, Limit: 10}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			byID[r.ID] = r
		}
		return byID["dead"].Status == store.JobRunSucceeded
	})
	// Stopped, the scheduler has nothing in flight: what it claimed is in the store.
	if err := sch.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	runs, _, err := s.JobRunList(ctx, store.JobRunFilter{Job: "sync", Page: store.Page{Page: 1, Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 5 {
		t.Errorf("%d runs, want the 5 stored before", len(runs))
	}
	for _, r := range runs {
		byID[r.ID] = r
	}
	if r := byID["dead"]; r.Owner != "me" || r.Attempts != 1 {
		t.Errorf("taken-over run = %+v, want owned by me after 1 attempt", r)
	}
	for _, id := range []string{"alive", "own", "manual"} {
		if r := byID[id]; r.Status != store.JobRunRunning || r.Owner == "me" && id != "own" {
			t.Errorf("run %s = %+v, want left alone", id, r)
		}
	}
	if calls := caller.calls(); len(calls) != 1 {
		t.Errorf("%d calls, want the taken-over tick's alone", len(calls))
	}
}

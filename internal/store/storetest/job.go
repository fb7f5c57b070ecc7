package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// runJob adds the store.JobStore subtests; migrated opens a fresh, migrated store.
func runJob(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"JobRunClaimOnce", testJobRunClaimOnce},
		{"JobRunClaimConcurrent", testJobRunClaimConcurrent},
		{"JobRunTakeOver", testJobRunTakeOver},
		{"JobRunFinishAndList", testJobRunFinishAndList},
		{"JobRunManual", testJobRunManual},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

func newJobRun(id, job, owner string, tick, now time.Time) store.JobRun {
	return store.JobRun{ID: id, Job: job, Tick: tick, Owner: owner, Attempts: 0,
		StartedAt: now, LeaseUntil: now.Add(time.Minute)}
}

func testJobRunClaimOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	tick := t0.Truncate(time.Minute)
	r, won, err := s.JobRunClaim(ctx, newJobRun("r1", "sync", "a", tick, t0))
	if err != nil || !won {
		t.Fatalf("first claim = %v, %v; want won", won, err)
	}
	if r.Status != store.JobRunRunning || !r.Tick.Equal(tick) {
		t.Errorf("claimed run = %+v", r)
	}
	if _, won, err := s.JobRunClaim(ctx, newJobRun("r2", "sync", "b", tick, t0)); err != nil || won {
		t.Fatalf("second claim of the same tick = %v, %v; want lost", won, err)
	}
	// Another job, or the next tick, is its own claim.
	if _, won, err := s.JobRunClaim(ctx, newJobRun("r3", "other", "b", tick, t0)); err != nil || !won {
		t.Fatalf("claim of another job = %v, %v", won, err)
	}
	if _, won, err := s.JobRunClaim(ctx, newJobRun("r4", "sync", "b", tick.Add(time.Minute), t0)); err != nil || !won {
		t.Fatalf("claim of the next tick = %v, %v", won, err)
	}
	last, ok, err := s.JobLastTick(ctx, "sync")
	if err != nil || !ok || !last.Equal(tick.Add(time.Minute)) {
		t.Errorf("JobLastTick = %v, %v, %v; want %v", last, ok, err, tick.Add(time.Minute))
	}
	if _, ok, err := s.JobLastTick(ctx, "none"); err != nil || ok {
		t.Errorf("JobLastTick of a job without runs = %v, %v", ok, err)
	}
}

func testJobRunClaimConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	tick := t0.Truncate(time.Second)
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := range n {
		wg.Go(func() {
			_, won, err := s.JobRunClaim(ctx, newJobRun(fmt.Sprintf("c%d", i), "race", fmt.Sprintf("p%d", i), tick, t0))
			if err != nil {
				t.Errorf("claim %d: %v", i, err)
			}
			if won {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of %d concurrent claims of one tick won, want exactly 1", wins, n)
	}
}

func testJobRunTakeOver(t *testing.T, s store.Store) {
	ctx := context.Background()
	tick := t0.Truncate(time.Minute)
	first := newJobRun("dead", "sync", "a", tick, t0)
	if _, won, err := s.JobRunClaim(ctx, first); err != nil || !won {
		t.Fatalf("claim = %v, %v", won, err)
	}
	// Within the lease: not taken over.
	if _, won, err := s.JobRunClaim(ctx, newJobRun("x1", "sync", "b", tick, t0.Add(30*time.Second))); err != nil || won {
		t.Fatalf("claim within the lease = %v, %v; want lost", won, err)
	}
	// After it: taken over, keeping the run's id.
	later := t0.Add(2 * time.Minute)
	r, won, err := s.JobRunClaim(ctx, newJobRun("x2", "sync", "b", tick, later))
	if err != nil || !won {
		t.Fatalf("claim after the lease = %v, %v; want won", won, err)
	}
	if r.ID != "dead" || r.Owner != "b" {
		t.Errorf("taken-over run = %s owned by %s, want dead owned by b", r.ID, r.Owner)
	}
	// The old owner can neither renew nor finish it.
	if err := s.JobRunRenew(ctx, "dead", "a", later.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("renew by the old owner = %v, want ErrNotFound", err)
	}
	end := later.Add(time.Second)
	if err := s.JobRunFinish(ctx, store.JobRun{ID: "dead", Owner: "a", Status: store.JobRunSucceeded, FinishedAt: &end}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("finish by the old owner = %v, want ErrNotFound", err)
	}
	if err := s.JobRunRenew(ctx, "dead", "b", later.Add(time.Hour)); err != nil {
		t.Errorf("renew by the new owner: %v", err)
	}
	// A finished run is never taken over.
	if err := s.JobRunFinish(ctx, store.JobRun{ID: "dead", Owner: "b", Status: store.JobRunSucceeded, Attempts: 1, FinishedAt: &end}); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if _, won, err := s.JobRunClaim(ctx, newJobRun("x3", "sync", "c", tick, later.Add(24*time.Hour))); err != nil || won {
		t.Errorf("claim of a finished tick = %v, %v; want lost", won, err)
	}
}

func testJobRunFinishAndList(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := t0.Truncate(time.Minute)
	for i := range 3 {
		tick := base.Add(time.Duration(i) * time.Minute)
		if _, won, err := s.JobRunClaim(ctx, newJobRun(fmt.Sprintf("l%d", i), "list", "a", tick, tick)); err != nil || !won {
			t.Fatalf("claim %d = %v, %v", i, won, err)
		}
	}
	end := base.Add(90 * time.Second)
	if err := s.JobRunFinish(ctx, store.JobRun{ID: "l1", Owner: "a", Status: store.JobRunFailed, Attempts: 3, Error: "HTTP 503", FinishedAt: &end}); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if err := s.JobRunFinish(ctx, store.JobRun{ID: "l1", Owner: "a", Status: "running", FinishedAt: &end}); err == nil {
		t.Error("finish with status running: no error")
	}
	runs, total, err := s.JobRunList(ctx, store.JobRunFilter{Job: "list", Page: store.Page{Page: 1, Limit: 2}})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if total != 3 || len(runs) != 2 || runs[0].ID != "l2" || runs[1].ID != "l1" {
		t.Fatalf("list = %d runs of %d (%+v), want l2, l1 of 3", len(runs), total, runs)
	}
	got := runs[1]
	if got.Status != store.JobRunFailed || got.Attempts != 3 || got.Error != "HTTP 503" || got.FinishedAt == nil || !got.FinishedAt.Equal(end) {
		t.Errorf("finished run = %+v", got)
	}
	if runs, total, err := s.JobRunList(ctx, store.JobRunFilter{Job: "list", Page: store.Page{Page: 2, Limit: 2}}); err != nil || total != 3 || len(runs) != 1 || runs[0].ID != "l0" {
		t.Errorf("page 2 = %+v, %d, %v", runs, total, err)
	}
}

func testJobRunManual(t *testing.T, s store.Store) {
	ctx := context.Background()
	tick := t0.Truncate(time.Minute)
	if _, won, err := s.JobRunClaim(ctx, newJobRun("s1", "m", "a", tick, t0)); err != nil || !won {
		t.Fatalf("scheduled claim = %v, %v", won, err)
	}
	manual := newJobRun("m1", "m", "a", tick, t0)
	manual.Manual = true
	if _, won, err := s.JobRunClaim(ctx, manual); err != nil || !won {
		t.Fatalf("manual run at a scheduled tick = %v, %v; want its own run", won, err)
	}
	if _, ok, err := s.JobLastTick(ctx, "m"); err != nil || !ok {
		t.Fatalf("JobLastTick: %v %v", ok, err)
	}
	later := manual
	later.Tick = tick.Add(time.Hour)
	later.ID = "m2"
	if _, _, err := s.JobRunClaim(ctx, later); err != nil {
		t.Fatal(err)
	}
	if last, _, _ := s.JobLastTick(ctx, "m"); !last.Equal(tick) {
		t.Errorf("JobLastTick = %v, want the scheduled %v: manual runs are not ticks", last, tick)
	}
}

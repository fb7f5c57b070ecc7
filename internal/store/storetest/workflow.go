package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// runWorkflow adds the store.WorkflowStore subtests; migrated opens a fresh, migrated store.
func runWorkflow(t *testing.T, migrated func(t *testing.T) store.Store) {
	for _, c := range []struct {
		name string
		test func(*testing.T, store.Store)
	}{
		{"WorkflowRunCreate", testWorkflowRunCreate},
		{"WorkflowRunCreateInvalid", testWorkflowRunCreateInvalid},
		{"WorkflowRunCreateMany", testWorkflowRunCreateMany},
		{"WorkflowClaim", testWorkflowClaim},
		{"WorkflowClaimSteps", testWorkflowClaimSteps},
		{"WorkflowClaimConcurrent", testWorkflowClaimConcurrent},
		{"WorkflowSaveLease", testWorkflowSaveLease},
		{"WorkflowSaveRunUpdate", testWorkflowSaveRunUpdate},
		{"WorkflowSaveSameRunTwice", testWorkflowSaveSameRunTwice},
		{"WorkflowSaveInvalid", testWorkflowSaveInvalid},
		{"WorkflowStepOrder", testWorkflowStepOrder},
		{"WorkflowLeaseRenew", testWorkflowLeaseRenew},
		{"WorkflowRunListAndCounts", testWorkflowRunList},
		{"WorkflowRunCancel", testWorkflowRunCancel},
		{"WorkflowRunRetry", testWorkflowRunRetry},
		{"WorkflowWake", testWorkflowWake},
		{"WorkflowEventsSince", testWorkflowEventsSince},
		{"WorkflowUnstorableKeys", testWorkflowUnstorableKeys},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, migrated(t)) })
	}
}

// newRun is a pending run of workflow wf, due at its creation.
func newRun(id, wf string, created time.Time) store.WorkflowRun {
	return store.WorkflowRun{ID: id, Workflow: wf, Input: json.RawMessage(`{"order": 42,  "b": [1, 2]}`), Trigger: "api", CreatedAt: created}
}

func mustCreateRun(t testing.TB, s store.Store, r store.WorkflowRun) store.WorkflowRun {
	t.Helper()
	got, created, err := s.WorkflowRunCreate(context.Background(), store.WorkflowRunCreateParams{Run: r})
	if err != nil || !created {
		t.Fatalf("WorkflowRunCreate(%s) = %v, %v; want created", r.ID, created, err)
	}
	return got
}

func mustGetRun(t testing.TB, s store.Store, id string) (store.WorkflowRun, []store.WorkflowStep) {
	t.Helper()
	r, steps, err := s.WorkflowRunGet(context.Background(), id)
	if err != nil {
		t.Fatalf("WorkflowRunGet(%s): %v", id, err)
	}
	return r, steps
}

func claimRuns(t testing.TB, s store.Store, now time.Time, limit int, owner string) []store.ClaimedRun {
	t.Helper()
	c, err := s.WorkflowClaim(context.Background(), store.WorkflowClaimParams{Now: now, Limit: limit, Lease: time.Minute, Owner: owner})
	if err != nil {
		t.Fatalf("WorkflowClaim: %v", err)
	}
	return c
}

func claimedRunIDs(cs []store.ClaimedRun) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Run.ID)
	}
	return out
}

// mustSave saves writes and returns the result of each.
func mustSave(t testing.TB, s store.Store, writes ...store.WorkflowWrite) []error {
	t.Helper()
	results, err := s.WorkflowSave(context.Background(), writes)
	if err != nil {
		t.Fatalf("WorkflowSave: %v", err)
	}
	if len(results) != len(writes) {
		t.Fatalf("WorkflowSave returned %d results for %d writes", len(results), len(writes))
	}
	return results
}

// write is owner's write to run id at `at`, extending the lease by a minute.
func write(id, owner string, at time.Time, steps ...store.WorkflowStep) store.WorkflowWrite {
	return store.WorkflowWrite{RunID: id, Owner: owner, LeaseUntil: at.Add(time.Minute), At: at, Steps: steps}
}

func step(id string, status store.WorkflowStepStatus) store.WorkflowStep {
	return store.WorkflowStep{StepID: id, Status: status, Attempts: 1}
}

func stepIDs(steps []store.WorkflowStep) []string {
	out := []string{}
	for _, st := range steps {
		out = append(out, st.StepID)
	}
	return out
}

func runIDs(rs []store.WorkflowRun) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testWorkflowRunCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+2", 2*3600)
	in := newRun("r1", "checkout", t0.In(zone).Add(123*time.Nanosecond))
	in.ParentID, in.ParentStep, in.Deadline = "parent", "charge", ptr(t0.Add(time.Hour))
	in.Output, in.Error = json.RawMessage(`"ignored"`), "ignored" // a new run has no outcome
	want := in
	want.Status, want.CreatedAt, want.UpdatedAt, want.NextAt = store.WorkflowPending, t0, t0, ptr(t0)
	want.Output, want.Error = nil, ""

	got, created, err := s.WorkflowRunCreate(ctx, store.WorkflowRunCreateParams{Run: in})
	if err != nil || !created {
		t.Fatalf("WorkflowRunCreate = %v, %v; want created", created, err)
	}
	check(t, "created run", got, want)
	r, steps := mustGetRun(t, s, "r1")
	check(t, "stored run", r, want)
	if len(steps) != 0 {
		t.Errorf("new run has steps %v", stepIDs(steps))
	}

	// Idempotent by ID: a retried trigger gets the first run back and changes nothing.
	again := newRun("r1", "other", t0.Add(time.Hour))
	again.Input = json.RawMessage(`{"second": true}`)
	got, created, err = s.WorkflowRunCreate(ctx, store.WorkflowRunCreateParams{Run: again})
	if err != nil || created {
		t.Fatalf("second WorkflowRunCreate = %v, %v; want not created", created, err)
	}
	check(t, "run returned by the second create", got, want)
	r, _ = mustGetRun(t, s, "r1")
	check(t, "stored run after the second create", r, want)
	if _, _, err := s.WorkflowRunGet(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WorkflowRunGet of a missing run: %v, want ErrNotFound", err)
	}

	// A creator that holds the lease runs it at once: nobody claims it meanwhile.
	held := newRun("r2", "checkout", t0)
	held.Owner, held.LeaseUntil, held.Status, held.Input = "creator", ptr(t0.Add(time.Minute)), store.WorkflowRunning, nil
	got = mustCreateRun(t, s, held)
	if got.Owner != "creator" || got.Status != store.WorkflowRunning || string(got.Input) != `{}` {
		t.Errorf("run created with a lease = %+v", got)
	}
	if ids := claimedRunIDs(claimRuns(t, s, t0.Add(time.Second), 10, "w")); !slices.Equal(ids, []string{"r1"}) {
		t.Errorf("claimed %v, want only r1 (r2's lease holds)", ids)
	}
}

// testWorkflowRunCreateMany: runs created together, each as WorkflowRunCreate would;
// an existing ID is reported and left unchanged; an invalid run fails the whole batch.
func testWorkflowRunCreateMany(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRun(t, s, newRun("old", "checkout", t0))
	again := newRun("old", "other", t0.Add(time.Hour))
	created, err := s.WorkflowRunCreateMany(ctx, []store.WorkflowRun{newRun("a", "checkout", t0), again, newRun("b", "refund", t0)})
	if err != nil || !slices.Equal(created, []bool{true, false, true}) {
		t.Fatalf("WorkflowRunCreateMany = %v, %v; want [true false true]", created, err)
	}
	for id, wf := range map[string]string{"a": "checkout", "b": "refund", "old": "checkout"} {
		if r, _ := mustGetRun(t, s, id); r.Workflow != wf || r.Status != store.WorkflowPending {
			t.Errorf("run %s = %+v", id, r)
		}
	}
	bad := newRun("c", "checkout", t0)
	bad.Input = json.RawMessage(`[1]`)
	if _, err := s.WorkflowRunCreateMany(ctx, []store.WorkflowRun{newRun("d", "checkout", t0), bad}); err == nil {
		t.Error("a batch with an invalid run was accepted")
	}
	if _, _, err := s.WorkflowRunGet(ctx, "d"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a run of a refused batch was stored: %v", err)
	}
	if created, err := s.WorkflowRunCreateMany(ctx, nil); err != nil || len(created) != 0 {
		t.Errorf("an empty batch: %v, %v", created, err)
	}
}

func testWorkflowRunCreateInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	for name, r := range map[string]store.WorkflowRun{
		"empty id":            with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.ID = "" }),
		"NUL in id":           with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.ID = "x\x00" }),
		"empty workflow":      with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.Workflow = "" }),
		"input not JSON":      with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.Input = json.RawMessage(`{`) }),
		"input not an object": with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.Input = json.RawMessage(` [1]`) }),
		"final status":        with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.Status = store.WorkflowCompleted }),
		"unknown status":      with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.Status = "sleeping" }),
		"owner without lease": with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.Owner = "w" }),
		"zero created at":     with(newRun("x", "wf", t0), func(r *store.WorkflowRun) { r.CreatedAt = time.Time{} }),
		"zero run":            {},
	} {
		if _, _, err := s.WorkflowRunCreate(ctx, store.WorkflowRunCreateParams{Run: r}); !isValidationError(err) {
			t.Errorf("WorkflowRunCreate with %s: err = %v, want a validation error", name, err)
		}
	}
	if runs, total, err := s.WorkflowRunList(ctx, store.WorkflowRunFilter{Page: page(1, 10)}); err != nil || total != 0 {
		t.Errorf("after invalid creates: %v, %d, %v; want none", runIDs(runs), total, err)
	}
}

// testWorkflowClaim: a claim leases live runs that are due and not leased (or whose
// lease expired), earliest due first, and nothing else.
func testWorkflowClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := func(d time.Duration) *time.Time { return ptr(t0.Add(d)) }
	mustCreateRun(t, s, with(newRun("due", "wf", t0), func(r *store.WorkflowRun) { r.NextAt = at(-time.Second) }))
	mustCreateRun(t, s, with(newRun("waiting", "wf", t0), func(r *store.WorkflowRun) {
		r.Status, r.NextAt = store.WorkflowWaiting, at(-2*time.Second)
	}))
	mustCreateRun(t, s, with(newRun("expired", "wf", t0), func(r *store.WorkflowRun) {
		r.Owner, r.LeaseUntil, r.NextAt = "dead", at(0), at(-3*time.Second)
	}))
	mustCreateRun(t, s, with(newRun("held", "wf", t0), func(r *store.WorkflowRun) {
		r.Owner, r.LeaseUntil, r.NextAt = "alive", at(time.Minute), at(-4*time.Second)
	}))
	mustCreateRun(t, s, with(newRun("later", "wf", t0), func(r *store.WorkflowRun) { r.NextAt = at(time.Hour) }))
	mustCreateRun(t, s, with(newRun("final", "wf", t0), func(r *store.WorkflowRun) {
		r.Owner, r.LeaseUntil, r.NextAt = "w0", at(time.Hour), at(-5*time.Second)
	}))
	res := mustSave(t, s, store.WorkflowWrite{RunID: "final", Owner: "w0", At: t0,
		Run: &store.WorkflowRunUpdate{Status: store.WorkflowCompleted, Output: json.RawMessage(`1`), FinishedAt: ptr(t0), Release: true}})
	if res[0] != nil {
		t.Fatalf("completing run final: %v", res[0])
	}

	if got := claimRuns(t, s, t0.Add(-time.Hour), 10, "w"); len(got) != 0 {
		t.Fatalf("claimed %v before anything was due", claimedRunIDs(got))
	}
	got := claimRuns(t, s, t0, 2, "w")
	if ids := claimedRunIDs(got); !slices.Equal(ids, []string{"expired", "waiting"}) {
		t.Fatalf("claim with limit 2 = %v, want [expired waiting] (earliest due first)", ids)
	}
	for _, c := range got {
		if c.Run.Owner != "w" || c.Run.LeaseUntil == nil || !c.Run.LeaseUntil.Equal(t0.Add(time.Minute)) {
			t.Errorf("claimed run %s has owner %q, lease until %v; want w until %v", c.Run.ID, c.Run.Owner, c.Run.LeaseUntil, t0.Add(time.Minute))
		}
		stored, _ := mustGetRun(t, s, c.Run.ID)
		check(t, "claimed run as stored", stored, c.Run)
	}
	if ids := claimedRunIDs(claimRuns(t, s, t0, 10, "w")); !slices.Equal(ids, []string{"due"}) {
		t.Fatalf("second claim = %v, want [due]", ids)
	}
	if ids := claimedRunIDs(claimRuns(t, s, t0.Add(59*time.Second), 10, "v")); len(ids) != 0 {
		t.Fatalf("claim within the leases = %v, want none", ids)
	}
	// A minute later every lease has lapsed; "later" is still not due.
	if ids := claimedRunIDs(claimRuns(t, s, t0.Add(time.Minute), 10, "v")); !slices.Equal(ids, []string{"held", "expired", "waiting", "due"}) {
		t.Fatalf("claim after the leases = %v, want [held expired waiting due]", ids)
	}
	if ids := claimedRunIDs(claimRuns(t, s, t0.Add(3*time.Hour), 10, "u")); !slices.Equal(ids, []string{"held", "expired", "waiting", "due", "later"}) {
		t.Fatalf("claim hours later = %v, want every live run", ids)
	}

	for name, p := range map[string]store.WorkflowClaimParams{
		"zero limit":  {Now: t0, Limit: 0, Lease: time.Minute, Owner: "w"},
		"zero lease":  {Now: t0, Limit: 1, Lease: 0, Owner: "w"},
		"no owner":    {Now: t0, Limit: 1, Lease: time.Minute},
		"zero now":    {Limit: 1, Lease: time.Minute, Owner: "w"},
		"zero params": {},
	} {
		if _, err := s.WorkflowClaim(ctx, p); !isValidationError(err) {
			t.Errorf("WorkflowClaim with %s: err = %v, want a validation error", name, err)
		}
	}
}

// testWorkflowClaimSteps: a run claimed again after its holder died comes with the
// steps that holder stored, in order.
func testWorkflowClaimSteps(t *testing.T, s store.Store) {
	mustCreateRun(t, s, newRun("r1", "wf", t0))
	mustCreateRun(t, s, newRun("r2", "wf", t0))
	claimRuns(t, s, t0, 10, "dies")
	done := step("fetch", store.StepCompleted)
	done.Input, done.Output, done.Error = json.RawMessage(`{"id": 1}`), json.RawMessage(`{"name":"x"}`), ""
	done.StartedAt, done.FinishedAt = ptr(t0), ptr(t0.Add(time.Second))
	wait := step("approve", store.StepWaiting)
	wait.State = json.RawMessage(`{"event":"approved"}`)
	res := mustSave(t, s, write("r1", "dies", t0.Add(time.Second), done), write("r1", "dies", t0.Add(2*time.Second), wait))
	if res[0] != nil || res[1] != nil {
		t.Fatalf("save = %v", res)
	}
	got := claimRuns(t, s, t0.Add(2*time.Minute), 10, "heir")
	if ids := claimedRunIDs(got); !slices.Equal(ids, []string{"r1", "r2"}) {
		t.Fatalf("claim = %v", ids)
	}
	done.RunID, wait.RunID = "r1", "r1"
	check(t, "steps of the claimed run", got[0].Steps, []store.WorkflowStep{done, wait})
	if len(got[1].Steps) != 0 {
		t.Errorf("run without steps claimed with %v", stepIDs(got[1].Steps))
	}
}

// testWorkflowClaimConcurrent: claimers racing never get the same run.
func testWorkflowClaimConcurrent(t *testing.T, s store.Store) {
	const n = 200
	for i := range n {
		mustCreateRun(t, s, newRun(fmt.Sprintf("r%03d", i), "wf", t0.Add(time.Duration(i%7)*time.Millisecond)))
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for {
				got, err := s.WorkflowClaim(context.Background(), store.WorkflowClaimParams{Now: t0.Add(time.Second), Limit: 7, Lease: time.Minute, Owner: fmt.Sprintf("w%d", w)})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					seen[c.Run.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct runs, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s claimed %d times", id, k)
		}
	}
}

// testWorkflowSaveLease: a write applies only while its owner holds the lease; one that
// does not is reported and writes nothing, not even its steps, while the others of the
// batch apply.
func testWorkflowSaveLease(t *testing.T, s store.Store) {
	for _, id := range []string{"a", "b", "c"} {
		mustCreateRun(t, s, newRun(id, "wf", t0))
	}
	claimRuns(t, s, t0, 10, "w") // leased until t0+1m
	before, _ := mustGetRun(t, s, "b")

	later := t0.Add(2 * time.Minute)
	res := mustSave(t, s,
		write("a", "w", t0.Add(time.Second), step("s1", store.StepCompleted)),
		write("b", "intruder", t0.Add(time.Second), step("s1", store.StepCompleted)),
		write("c", "w", later, step("s1", store.StepCompleted)), // the lease expired at t0+1m
		write("a", "w", t0.Add(2*time.Second), step("s2", store.StepWaiting)),
	)
	for i, want := range []bool{false, true, true, false} {
		if lost := errors.Is(res[i], store.ErrLeaseLost); lost != want || (!want && res[i] != nil) {
			t.Errorf("result %d = %v, want lease lost %v", i, res[i], want)
		}
	}
	a, steps := mustGetRun(t, s, "a")
	if ids := stepIDs(steps); !slices.Equal(ids, []string{"s1", "s2"}) {
		t.Errorf("steps of a = %v, want [s1 s2]", ids)
	}
	// Without a run update only the lease and updated_at change.
	if a.Owner != "w" || !a.LeaseUntil.Equal(t0.Add(2*time.Second+time.Minute)) || !a.UpdatedAt.Equal(t0.Add(2*time.Second)) ||
		a.Status != store.WorkflowPending || !a.NextAt.Equal(t0) {
		t.Errorf("run a after lease-only writes = %+v", a)
	}
	for _, id := range []string{"b", "c"} {
		r, steps := mustGetRun(t, s, id)
		if len(steps) != 0 {
			t.Errorf("refused write stored steps %v of %s", stepIDs(steps), id)
		}
		before.ID = id
		check(t, "run "+id+" after a refused write", r, before)
	}
	// The lease is held until, not at, its end: a claimer may take it from then on.
	res = mustSave(t, s, write("b", "w", t0.Add(time.Minute)))
	if !errors.Is(res[0], store.ErrLeaseLost) {
		t.Errorf("write at the lease's end = %v, want ErrLeaseLost", res[0])
	}
	res = mustSave(t, s, write("b", "w", t0.Add(time.Minute-time.Microsecond)))
	if res[0] != nil {
		t.Errorf("write just before the lease's end = %v", res[0])
	}
	if res := mustSave(t, s, write("missing", "w", t0)); !errors.Is(res[0], store.ErrLeaseLost) {
		t.Errorf("write to a missing run = %v, want ErrLeaseLost", res[0])
	}
	if res, err := s.WorkflowSave(context.Background(), nil); err != nil || len(res) != 0 {
		t.Errorf("WorkflowSave(nil) = %v, %v", res, err)
	}
}

// testWorkflowSaveRunUpdate: the run's own columns, StartedAt set once, Release, and a
// final status.
func testWorkflowSaveRunUpdate(t *testing.T, s store.Store) {
	mustCreateRun(t, s, newRun("r", "wf", t0))
	claimRuns(t, s, t0, 1, "w")
	at := t0.Add(time.Second)
	res := mustSave(t, s, store.WorkflowWrite{RunID: "r", Owner: "w", LeaseUntil: at.Add(time.Minute), At: at,
		Run: &store.WorkflowRunUpdate{Status: store.WorkflowRunning, StartedAt: &at}})
	if res[0] != nil {
		t.Fatal(res[0])
	}
	r, _ := mustGetRun(t, s, "r")
	if r.Status != store.WorkflowRunning || r.StartedAt == nil || !r.StartedAt.Equal(at) || !r.NextAt.Equal(t0) {
		t.Errorf("running run = %+v, want started at %v and still due at %v", r, at, t0)
	}

	// A nil StartedAt keeps the stored one; Release ends the lease; NextAt is when to look again.
	wake := t0.Add(time.Hour)
	res = mustSave(t, s, store.WorkflowWrite{RunID: "r", Owner: "w", At: at.Add(time.Second),
		Run: &store.WorkflowRunUpdate{Status: store.WorkflowWaiting, NextAt: &wake, Release: true}})
	if res[0] != nil {
		t.Fatal(res[0])
	}
	r, _ = mustGetRun(t, s, "r")
	want := r
	want.Status, want.Owner, want.LeaseUntil, want.NextAt, want.StartedAt, want.UpdatedAt = store.WorkflowWaiting, "", nil, &wake, &at, at.Add(time.Second)
	check(t, "released waiting run", r, want)
	if res := mustSave(t, s, write("r", "w", at.Add(2*time.Second))); !errors.Is(res[0], store.ErrLeaseLost) {
		t.Errorf("write after Release = %v, want ErrLeaseLost", res[0])
	}

	// Claimed again when due; a final status clears NextAt and releases the lease.
	if ids := claimedRunIDs(claimRuns(t, s, wake, 1, "v")); !slices.Equal(ids, []string{"r"}) {
		t.Fatalf("claim when due = %v", ids)
	}
	end := wake.Add(time.Second)
	res = mustSave(t, s, store.WorkflowWrite{RunID: "r", Owner: "v", LeaseUntil: end.Add(time.Minute), At: end,
		Steps: []store.WorkflowStep{step("last", store.StepSkipped)},
		Run: &store.WorkflowRunUpdate{Status: store.WorkflowStopped, Output: json.RawMessage(`{"why": "condition"}`),
			FailedStep: "last", FinishedAt: &end}})
	if res[0] != nil {
		t.Fatal(res[0])
	}
	r, steps := mustGetRun(t, s, "r")
	want.Status, want.Output, want.FailedStep, want.FinishedAt, want.NextAt, want.UpdatedAt = store.WorkflowStopped, json.RawMessage(`{"why": "condition"}`), "last", &end, nil, end
	check(t, "stopped run", r, want)
	if ids := stepIDs(steps); !slices.Equal(ids, []string{"last"}) {
		t.Errorf("steps = %v", ids)
	}
	if got := claimRuns(t, s, end.Add(time.Hour), 10, "u"); len(got) != 0 {
		t.Errorf("final run claimed: %v", claimedRunIDs(got))
	}
}

// testWorkflowSaveSameRunTwice: two writes of one run in one batch apply in order; a
// write after one that released the lease is refused.
func testWorkflowSaveSameRunTwice(t *testing.T, s store.Store) {
	mustCreateRun(t, s, newRun("a", "wf", t0))
	mustCreateRun(t, s, newRun("b", "wf", t0))
	claimRuns(t, s, t0, 10, "w")
	at := t0.Add(time.Second)
	first := write("a", "w", at, step("s1", store.StepCompleted))
	first.Run = &store.WorkflowRunUpdate{Status: store.WorkflowRunning, StartedAt: &at}
	second := write("a", "w", at.Add(time.Millisecond), step("s2", store.StepCompleted))
	second.Run = &store.WorkflowRunUpdate{Status: store.WorkflowCompleted, Output: json.RawMessage(`2`), FinishedAt: &at}
	third := write("a", "w", at.Add(2*time.Millisecond), step("s3", store.StepCompleted))
	res := mustSave(t, s, first, write("b", "w", at, step("s1", store.StepCompleted)), second, third)
	if res[0] != nil || res[1] != nil || res[2] != nil || !errors.Is(res[3], store.ErrLeaseLost) {
		t.Fatalf("results = %v, want nil, nil, nil, ErrLeaseLost", res)
	}
	r, steps := mustGetRun(t, s, "a")
	if r.Status != store.WorkflowCompleted || string(r.Output) != `2` || r.StartedAt == nil || !r.StartedAt.Equal(at) {
		t.Errorf("run a = %+v, want completed with output 2, started at %v", r, at)
	}
	if ids := stepIDs(steps); !slices.Equal(ids, []string{"s1", "s2"}) {
		t.Errorf("steps = %v, want [s1 s2]", ids)
	}
}

// testWorkflowSaveInvalid: a batch with an invalid write fails as a whole, and nothing
// of it is stored.
func testWorkflowSaveInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRun(t, s, newRun("r", "wf", t0))
	claimRuns(t, s, t0, 1, "w")
	before, _ := mustGetRun(t, s, "r")
	good := write("r", "w", t0.Add(time.Second), step("ok", store.StepCompleted))
	for name, bad := range map[string]store.WorkflowWrite{
		"no run id":          with(write("r", "w", t0), func(w *store.WorkflowWrite) { w.RunID = "" }),
		"no owner":           with(write("r", "w", t0), func(w *store.WorkflowWrite) { w.Owner = "" }),
		"zero at":            with(write("r", "w", t0), func(w *store.WorkflowWrite) { w.At = time.Time{} }),
		"zero lease":         with(write("r", "w", t0), func(w *store.WorkflowWrite) { w.LeaseUntil = time.Time{} }),
		"step without id":    write("r", "w", t0, step("", store.StepCompleted)),
		"step status":        write("r", "w", t0, step("x", "done")),
		"step of a run":      write("r", "w", t0, with(step("x", store.StepCompleted), func(s *store.WorkflowStep) { s.RunID = "other" })),
		"step output":        write("r", "w", t0, with(step("x", store.StepCompleted), func(s *store.WorkflowStep) { s.Output = json.RawMessage(`{`) })),
		"negative attempts":  write("r", "w", t0, with(step("x", store.StepCompleted), func(s *store.WorkflowStep) { s.Attempts = -1 })),
		"run status":         with(write("r", "w", t0), func(w *store.WorkflowWrite) { w.Run = &store.WorkflowRunUpdate{Status: "done"} }),
		"run without status": with(write("r", "w", t0), func(w *store.WorkflowWrite) { w.Run = &store.WorkflowRunUpdate{} }),
		"run output": with(write("r", "w", t0), func(w *store.WorkflowWrite) {
			w.Run = &store.WorkflowRunUpdate{Status: store.WorkflowCompleted, Output: json.RawMessage(`nope`)}
		}),
	} {
		if res, err := s.WorkflowSave(ctx, []store.WorkflowWrite{good, bad}); !isValidationError(err) || res != nil {
			t.Errorf("WorkflowSave with %s = %v, %v; want a validation error", name, res, err)
		}
	}
	r, steps := mustGetRun(t, s, "r")
	check(t, "run after invalid batches", r, before)
	if len(steps) != 0 {
		t.Errorf("invalid batches stored steps %v", stepIDs(steps))
	}
}

// testWorkflowStepOrder: steps come back in the order they were first stored; storing a
// step again replaces it in its place.
func testWorkflowStepOrder(t *testing.T, s store.Store) {
	mustCreateRun(t, s, newRun("r", "wf", t0))
	claimRuns(t, s, t0, 1, "w")
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	retried := step("b", store.StepFailed)
	retried.Attempts, retried.Error = 3, "HTTP 503"
	dup := step("z", store.StepWaiting)
	dupLast := step("z", store.StepCompleted)
	dupLast.Output = json.RawMessage(`"last"`)
	for _, w := range []store.WorkflowWrite{
		write("r", "w", at(1), step("b", store.StepWaiting), step("a", store.StepCompleted)),
		write("r", "w", at(2), step("c", store.StepCompleted)),
		write("r", "w", at(3), retried),
		write("r", "w", at(4), dup, step("y", store.StepCompleted), dupLast),
	} {
		if res := mustSave(t, s, w); res[0] != nil {
			t.Fatal(res[0])
		}
	}
	_, steps := mustGetRun(t, s, "r")
	if ids := stepIDs(steps); !slices.Equal(ids, []string{"b", "a", "c", "z", "y"}) {
		t.Fatalf("steps = %v, want [b a c z y]", ids)
	}
	retried.RunID, dupLast.RunID = "r", "r"
	check(t, "replaced step", steps[0], retried)
	check(t, "step listed twice in one write", steps[3], dupLast)
}

func testWorkflowLeaseRenew(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRun(t, s, newRun("a", "wf", t0))
	mustCreateRun(t, s, newRun("b", "wf", t0))
	claimRuns(t, s, t0, 10, "w")
	until := t0.Add(5 * time.Minute)
	lost, err := s.WorkflowLeaseRenew(ctx, "w", []string{"a", "b", "missing", "bad\x00"}, until)
	slices.Sort(lost)
	if err != nil || !slices.Equal(lost, []string{"bad\x00", "missing"}) {
		t.Fatalf("WorkflowLeaseRenew = %q, %v; want [bad\\x00 missing]", lost, err)
	}
	a, _ := mustGetRun(t, s, "a")
	if !a.LeaseUntil.Equal(until) || !a.UpdatedAt.Equal(t0) {
		t.Errorf("renewed run a = %+v, want lease until %v and updated_at unchanged", a, until)
	}
	if ids := claimedRunIDs(claimRuns(t, s, t0.Add(2*time.Minute), 10, "v")); len(ids) != 0 {
		t.Errorf("claimed %v within renewed leases", ids)
	}
	if ids := claimedRunIDs(claimRuns(t, s, until, 1, "v")); !slices.Equal(ids, []string{"a"}) {
		t.Fatalf("claim after the renewed lease = %v, want [a]", ids)
	}
	lost, err = s.WorkflowLeaseRenew(ctx, "w", []string{"a", "b"}, until.Add(time.Minute))
	if err != nil || !slices.Equal(lost, []string{"a"}) {
		t.Errorf("renew after a was taken over = %v, %v; want [a]", lost, err)
	}
	// A run whose cancel was requested is not renewed: its holder learns it and stops.
	if _, err := s.WorkflowRunCancel(ctx, "b", until); err != nil {
		t.Fatal(err)
	}
	lost, err = s.WorkflowLeaseRenew(ctx, "w", []string{"b"}, until.Add(time.Minute))
	if err != nil || !slices.Equal(lost, []string{"b"}) {
		t.Errorf("renew of a run cancelled while held = %v, %v; want [b]", lost, err)
	}
	if _, err := s.WorkflowLeaseRenew(ctx, "", []string{"a"}, until); !isValidationError(err) {
		t.Errorf("renew without an owner: %v, want a validation error", err)
	}
	if _, err := s.WorkflowLeaseRenew(ctx, "w", []string{"a"}, time.Time{}); !isValidationError(err) {
		t.Errorf("renew until the zero time: %v, want a validation error", err)
	}
	if lost, err := s.WorkflowLeaseRenew(ctx, "w", nil, until); err != nil || len(lost) != 0 {
		t.Errorf("renew of nothing = %v, %v", lost, err)
	}
}

func testWorkflowRunList(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 6 {
		r := newRun(fmt.Sprintf("r%d", i), []string{"wf1", "wf2"}[i%2], t0.Add(time.Duration(i)*time.Second))
		if i >= 4 {
			r.ParentID, r.ParentStep, r.Trigger = "r0", "child", "child"
		}
		mustCreateRun(t, s, r)
	}
	claimRuns(t, s, t0.Add(time.Hour), 10, "w")
	res := mustSave(t, s,
		store.WorkflowWrite{RunID: "r1", Owner: "w", At: t0.Add(time.Hour), Run: &store.WorkflowRunUpdate{Status: store.WorkflowFailed, Error: "boom"}},
		store.WorkflowWrite{RunID: "r2", Owner: "w", At: t0.Add(time.Hour), Run: &store.WorkflowRunUpdate{Status: store.WorkflowCompleted}},
	)
	if res[0] != nil || res[1] != nil {
		t.Fatal(res)
	}
	for _, c := range []struct {
		f         store.WorkflowRunFilter
		want      []string
		wantTotal int
	}{
		{store.WorkflowRunFilter{Page: page(1, 4)}, []string{"r5", "r4", "r3", "r2"}, 6},
		{store.WorkflowRunFilter{Page: page(2, 4)}, []string{"r1", "r0"}, 6},
		{store.WorkflowRunFilter{Workflow: "wf2", Page: page(1, 10)}, []string{"r5", "r3", "r1"}, 3},
		{store.WorkflowRunFilter{Status: store.WorkflowPending, Page: page(1, 10)}, []string{"r5", "r4", "r3", "r0"}, 4},
		{store.WorkflowRunFilter{Workflow: "wf2", Status: store.WorkflowFailed, Page: page(1, 10)}, []string{"r1"}, 1},
		{store.WorkflowRunFilter{ParentID: "r0", Page: page(1, 1)}, []string{"r5"}, 2},
		{store.WorkflowRunFilter{Workflow: "none", Page: page(1, 10)}, []string{}, 0},
	} {
		runs, total, err := s.WorkflowRunList(ctx, c.f)
		if err != nil || total != c.wantTotal || !slices.Equal(runIDs(runs), c.want) {
			t.Errorf("WorkflowRunList(%+v) = %v, %d, %v; want %v, %d", c.f, runIDs(runs), total, err, c.want, c.wantTotal)
		}
	}
	runs, _, _ := s.WorkflowRunList(ctx, store.WorkflowRunFilter{Status: store.WorkflowFailed, Page: page(1, 10)})
	if len(runs) == 1 {
		stored, _ := mustGetRun(t, s, "r1")
		check(t, "listed run", runs[0], stored)
	}
	for name, f := range map[string]store.WorkflowRunFilter{
		"status":     {Status: "sleeping", Page: page(1, 10)},
		"zero page":  {Page: page(0, 10)},
		"zero limit": {Page: page(1, 0)},
		"big limit":  {Page: page(1, 101)},
	} {
		if _, _, err := s.WorkflowRunList(ctx, f); !isValidationError(err) {
			t.Errorf("WorkflowRunList with a bad %s: %v, want a validation error", name, err)
		}
	}

	counts, err := s.WorkflowCounts(ctx)
	want := map[string]map[store.WorkflowRunStatus]int{
		"wf1": {store.WorkflowPending: 2, store.WorkflowCompleted: 1},
		"wf2": {store.WorkflowPending: 2, store.WorkflowFailed: 1},
	}
	if err != nil {
		t.Fatalf("WorkflowCounts: %v", err)
	}
	check(t, "WorkflowCounts", counts, want)
}

func testWorkflowRunCancel(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"free", "held", "expired", "done"} {
		mustCreateRun(t, s, newRun(id, "wf", t0))
	}
	mustCreateRun(t, s, with(newRun("later", "wf", t0), func(r *store.WorkflowRun) { r.NextAt = ptr(t0.Add(time.Hour)) }))
	claimRuns(t, s, t0, 10, "w") // held, expired, done, free: leased until t0+1m
	lease := t0.Add(time.Minute)
	res := mustSave(t, s, store.WorkflowWrite{RunID: "held", Owner: "w", LeaseUntil: t0.Add(time.Hour), At: t0},
		store.WorkflowWrite{RunID: "free", Owner: "w", At: t0, Run: &store.WorkflowRunUpdate{Status: store.WorkflowWaiting, NextAt: ptr(t0.Add(time.Hour)), Release: true}},
		store.WorkflowWrite{RunID: "done", Owner: "w", At: t0, Run: &store.WorkflowRunUpdate{Status: store.WorkflowCompleted}})
	if res[0] != nil || res[1] != nil || res[2] != nil {
		t.Fatalf("save = %v", res)
	}

	at := lease.Add(time.Second) // held's lease runs until t0+1h, expired's lapsed at t0+1m
	for _, id := range []string{"free", "expired", "later"} {
		before, _ := mustGetRun(t, s, id)
		r, err := s.WorkflowRunCancel(ctx, id, at)
		if err != nil {
			t.Fatalf("WorkflowRunCancel(%s): %v", id, err)
		}
		want := before
		want.Status, want.FinishedAt, want.NextAt, want.Owner, want.LeaseUntil, want.UpdatedAt = store.WorkflowCancelled, &at, nil, "", nil, at
		check(t, "cancelled run "+id, r, want)
		stored, _ := mustGetRun(t, s, id)
		check(t, "stored cancelled run "+id, stored, want)
	}
	if res := mustSave(t, s, write("expired", "w", at)); !errors.Is(res[0], store.ErrLeaseLost) {
		t.Errorf("write by the holder of a cancelled run = %v, want ErrLeaseLost", res[0])
	}

	before, _ := mustGetRun(t, s, "held")
	r, err := s.WorkflowRunCancel(ctx, "held", at)
	if err != nil {
		t.Fatalf("WorkflowRunCancel(held): %v", err)
	}
	want := before
	want.CancelRequested, want.NextAt, want.UpdatedAt = true, &at, at
	check(t, "run whose holder is asked to cancel", r, want)
	if res := mustSave(t, s, write("held", "w", at.Add(time.Second))); res[0] != nil {
		t.Errorf("the holder's write after a cancel request = %v", res[0])
	}
	// The holder's renewal does not extend the lease but reports the run lost, so a live
	// holder lets it go too.
	if lost, err := s.WorkflowLeaseRenew(ctx, "w", []string{"held"}, t0.Add(3*time.Hour)); err != nil || !slices.Equal(lost, []string{"held"}) {
		t.Errorf("renewing a run asked to cancel = %q, %v; want [held]", lost, err)
	}
	// Once its lease lapses, the next claimer gets the request.
	got := claimRuns(t, s, t0.Add(2*time.Hour), 10, "v")
	if len(got) != 1 || got[0].Run.ID != "held" || !got[0].Run.CancelRequested {
		t.Errorf("claim after the holder's lease = %+v, want held with CancelRequested", got)
	}

	for _, id := range []string{"done", "free"} {
		if _, err := s.WorkflowRunCancel(ctx, id, at); !errors.Is(err, store.ErrConflict) {
			t.Errorf("WorkflowRunCancel of final run %s: %v, want ErrConflict", id, err)
		}
	}
	for _, id := range []string{"missing", "bad\x00"} {
		if _, err := s.WorkflowRunCancel(ctx, id, at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("WorkflowRunCancel(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.WorkflowRunCancel(ctx, "held", time.Time{}); !isValidationError(err) {
		t.Errorf("WorkflowRunCancel at the zero time: %v, want a validation error", err)
	}
}

func testWorkflowRunRetry(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRun(t, s, newRun("r", "wf", t0))
	mustCreateRun(t, s, newRun("pending", "wf", t0.Add(time.Hour+time.Second)))
	claimRuns(t, s, t0, 1, "w")
	at := t0.Add(time.Second)
	undo := step("undo:c", store.StepCompleted)
	res := mustSave(t, s, store.WorkflowWrite{RunID: "r", Owner: "w", At: at, Steps: []store.WorkflowStep{
		step("a", store.StepCompleted), step("b", store.StepSkipped), step("c", store.StepCompensated),
		step("d", store.StepFailed), undo, step("UNDO:x", store.StepCompleted), step("e", store.StepWaiting),
	}, Run: &store.WorkflowRunUpdate{Status: store.WorkflowFailed, Error: "d: boom", FailedStep: "d", StartedAt: &t0, FinishedAt: &at}})
	if res[0] != nil {
		t.Fatal(res[0])
	}
	failed, _ := mustGetRun(t, s, "r")

	again := t0.Add(time.Hour)
	r, err := s.WorkflowRunRetry(ctx, "r", again)
	if err != nil {
		t.Fatalf("WorkflowRunRetry: %v", err)
	}
	want := failed
	want.Status, want.NextAt, want.Error, want.FailedStep, want.FinishedAt, want.UpdatedAt = store.WorkflowPending, &again, "", "", nil, again
	check(t, "retried run", r, want)
	stored, steps := mustGetRun(t, s, "r")
	check(t, "stored retried run", stored, want)
	if ids := stepIDs(steps); !slices.Equal(ids, []string{"a", "b", "UNDO:x"}) {
		t.Errorf("steps kept = %v, want [a b UNDO:x] (completed and skipped, no compensation)", ids)
	}
	got := claimRuns(t, s, again.Add(time.Second), 10, "v")
	if ids := claimedRunIDs(got); !slices.Equal(ids, []string{"r", "pending"}) || len(got[0].Steps) != 3 {
		t.Errorf("claim after retry = %v, want [r pending] with r's 3 kept steps", ids)
	}

	if _, err := s.WorkflowRunRetry(ctx, "pending", again); !errors.Is(err, store.ErrConflict) {
		t.Errorf("retry of a pending run: %v, want ErrConflict", err)
	}
	for _, id := range []string{"missing", "bad\xff"} {
		if _, err := s.WorkflowRunRetry(ctx, id, again); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("WorkflowRunRetry(%q): %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.WorkflowRunRetry(ctx, "r", time.Time{}); !isValidationError(err) {
		t.Errorf("retry at the zero time: %v, want a validation error", err)
	}
}

func testWorkflowWake(t *testing.T, s store.Store) {
	ctx := context.Background()
	waiting := func(id string, next time.Time) store.WorkflowRun {
		return with(newRun(id, "wf", t0), func(r *store.WorkflowRun) { r.Status, r.NextAt = store.WorkflowWaiting, &next })
	}
	mustCreateRun(t, s, waiting("w1", t0.Add(time.Hour)))
	mustCreateRun(t, s, waiting("w2", t0.Add(time.Minute)))
	mustCreateRun(t, s, waiting("w3", t0.Add(time.Hour)))
	mustCreateRun(t, s, with(newRun("p", "wf", t0), func(r *store.WorkflowRun) { r.NextAt = ptr(t0.Add(time.Hour)) }))
	pending, _ := mustGetRun(t, s, "p")
	at := t0.Add(10 * time.Minute)
	if err := s.WorkflowWake(ctx, []string{"w1", "w2", "p", "missing", "bad\x00"}, at); err != nil {
		t.Fatalf("WorkflowWake: %v", err)
	}
	for id, want := range map[string]time.Time{"w1": at, "w2": t0.Add(time.Minute), "w3": t0.Add(time.Hour)} {
		r, _ := mustGetRun(t, s, id)
		if r.NextAt == nil || !r.NextAt.Equal(want) || r.Status != store.WorkflowWaiting {
			t.Errorf("run %s after wake: %s, next at %v; want waiting, due at %v", id, r.Status, r.NextAt, want)
		}
	}
	p, _ := mustGetRun(t, s, "p")
	check(t, "pending run after wake", p, pending)
	if ids := claimedRunIDs(claimRuns(t, s, at, 10, "w")); !slices.Equal(ids, []string{"w2", "w1"}) {
		t.Errorf("claim after wake = %v, want [w2 w1]", ids)
	}
	if err := s.WorkflowWake(ctx, nil, at); err != nil {
		t.Errorf("WorkflowWake(nil): %v", err)
	}
	if err := s.WorkflowWake(ctx, []string{"w1"}, time.Time{}); !isValidationError(err) {
		t.Errorf("WorkflowWake at the zero time: %v, want a validation error", err)
	}
}

func testWorkflowEventsSince(t *testing.T, s store.Store) {
	ctx := context.Background()
	publish := func(id, typ string, at time.Time) event.Event {
		e := event.Event{ID: id, Type: typ, Source: "api", Time: at, Data: json.RawMessage(`{"id": "` + id + `"}`)}
		if _, _, err := s.EventPublish(ctx, e, nil); err != nil {
			t.Fatalf("EventPublish(%s): %v", id, err)
		}
		return e
	}
	publish("e1", "order.paid", t0)
	e3 := publish("e3", "order.paid", t0.Add(time.Second))
	e2 := publish("e2", "order.paid", t0.Add(time.Second))
	publish("x1", "order.created", t0.Add(time.Second))
	e4 := publish("e4", "order.paid", t0.Add(2*time.Second))

	got, err := s.WorkflowEventsSince(ctx, "order.paid", t0.Add(time.Second), 10)
	if err != nil {
		t.Fatalf("WorkflowEventsSince: %v", err)
	}
	check(t, "events since", got, []event.Event{e2, e3, e4})
	if got, err := s.WorkflowEventsSince(ctx, "order.paid", t0, 2); err != nil || len(got) != 2 || got[0].ID != "e1" || got[1].ID != "e2" {
		t.Errorf("events since with limit 2 = %v, %v; want [e1 e2]", got, err)
	}
	for _, typ := range []string{"none", "bad\x00"} {
		if got, err := s.WorkflowEventsSince(ctx, typ, t0, 10); err != nil || len(got) != 0 {
			t.Errorf("events of type %q = %v, %v; want none", typ, got, err)
		}
	}
	if _, err := s.WorkflowEventsSince(ctx, "order.paid", t0, 0); !isValidationError(err) {
		t.Errorf("limit 0: %v, want a validation error", err)
	}
	if _, err := s.WorkflowEventsSince(ctx, "order.paid", time.Time{}, 1); !isValidationError(err) {
		t.Errorf("the zero time: %v, want a validation error", err)
	}
}

// testWorkflowUnstorableKeys: lookups by a key no write could have stored find nothing.
func testWorkflowUnstorableKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateRun(t, s, newRun("r", "wf", t0))
	for what, bad := range badKeys {
		if _, _, err := s.WorkflowRunGet(ctx, bad); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("WorkflowRunGet with %s: %v, want ErrNotFound", what, err)
		}
		for name, f := range map[string]store.WorkflowRunFilter{
			"workflow": {Workflow: bad, Page: page(1, 10)},
			"parent":   {ParentID: bad, Page: page(1, 10)},
		} {
			if runs, total, err := s.WorkflowRunList(ctx, f); err != nil || total != 0 || len(runs) != 0 {
				t.Errorf("WorkflowRunList by %s with %s = %v, %d, %v; want none", name, what, runIDs(runs), total, err)
			}
		}
		if _, err := s.WorkflowSave(ctx, []store.WorkflowWrite{write(bad, "w", t0)}); !isValidationError(err) {
			t.Errorf("WorkflowSave of run %s: %v, want a validation error", what, err)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/job"
	"github.com/junctionhq/junction/internal/servicetest"
)

const heartbeatConfig = `integration Beat {
    base_url: "%s"
    timeout: 20s
    idempotency: { header: "Idempotency-Key" }
    operation tick { method: POST  path: "/tick" }
}

job heartbeat {
    every 1s
    catch_up none
    call "Beat.tick"
}
`

// beatUpstream is what the heartbeat job calls, honouring Idempotency-Key as the ledger
// of TestWorkflowKill does: a key's first request does the work, later ones get its
// answer. On demand it holds the next new request until released, so that a process can
// be killed while one of its ticks is in flight; the held request is completed when
// released, as an upstream finishes work whose caller went away.
type beatUpstream struct {
	*httptest.Server
	mu          sync.Mutex
	arrivals    map[string][]time.Time // key → when each request came
	completions map[string]int
	keyLocks    map[string]*sync.Mutex
	hold        chan string // the next new request's key is sent here, then it waits for release
	release     chan struct{}
	released    sync.Once
	work        time.Duration // how long a key's first request takes (set before use)
}

func newBeatUpstream(t *testing.T) *beatUpstream {
	b := &beatUpstream{arrivals: map[string][]time.Time{}, completions: map[string]int{}, keyLocks: map[string]*sync.Mutex{}, release: make(chan struct{})}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		b.mu.Lock()
		b.arrivals[key] = append(b.arrivals[key], time.Now())
		lock := b.keyLocks[key]
		if lock == nil {
			lock = &sync.Mutex{}
			b.keyLocks[key] = lock
		}
		b.mu.Unlock()
		lock.Lock()
		defer lock.Unlock()
		b.mu.Lock()
		done := b.completions[key] > 0
		hold := b.hold
		if !done {
			b.hold = nil
		}
		b.mu.Unlock()
		if !done {
			if hold != nil {
				hold <- key
				<-b.release
			}
			time.Sleep(b.work) // the work itself, so a kill can fall during it
			b.mu.Lock()
			b.completions[key]++
			b.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(func() {
		b.releaseHeld()
		b.Close()
	})
	return b
}

// holdNext makes the next new request wait; its key comes on the channel returned.
func (b *beatUpstream) holdNext() <-chan string {
	ch := make(chan string, 1)
	b.mu.Lock()
	b.hold = ch
	b.mu.Unlock()
	return ch
}

func (b *beatUpstream) releaseHeld() { b.released.Do(func() { close(b.release) }) }

func (b *beatUpstream) completed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.completions)
}

// heartbeatKey is the idempotency key the job sends for a tick (internal/job).
func heartbeatKey(tick time.Time) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("junction:job:heartbeat:"+tick.UTC().Format(time.RFC3339Nano))).String()
}

// jobRunRow is a row of job_runs.
type jobRunRow struct {
	Tick       time.Time
	Owner      string
	Status     string
	LeaseUntil time.Time
	FinishedAt *time.Time
}

func heartbeatRuns(t *testing.T, conn *pgx.Conn, where string) []jobRunRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, `SELECT tick, owner, status, lease_until, finished_at FROM job_runs
		WHERE job = 'heartbeat' AND NOT manual`+where+` ORDER BY tick`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRunRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestJobOnceAcrossTwoNodes runs an every-1s job on two `junction serve` processes
// sharing a PostgreSQL database for two minutes: both for the first minute, then one is
// killed with SIGKILL while a tick of its own is in flight and the other goes on alone.
// Every tick from the first to the last is claimed once and called once (completed once
// at the upstream), the survivor keeps firing without a gap, and the tick the dead
// process left in flight is taken over, with its key, once its lease lapses.
func TestJobOnceAcrossTwoNodes(t *testing.T) {
	t.Parallel()
	dsn := servicetest.PostgresDSN(t)
	env := []string{"DATABASE_URL=" + dsn}
	up := newBeatUpstream(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "heartbeat.cai")
	writeFile(t, cfg, fmt.Sprintf(heartbeatConfig, up.URL))
	adminToken(t, dir, env) // migrates the database before either process starts
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// The first process alone for two ticks tells its name in the claims.
	first := startServer(t, dir, env, "-c", cfg)
	waitUntil(t, 30*time.Second, "the first process's ticks", func() bool { return up.completed() >= 2 })
	firstOwner := heartbeatRuns(t, conn, "")[0].Owner
	second := startServer(t, dir, env, "-c", cfg)
	began := time.Now()
	waitUntil(t, 90*time.Second, "a minute of both processes", func() bool { return time.Since(began) >= time.Minute })

	// Kill the process that has a tick in flight, while it has.
	held := up.holdNext()
	var key string
	waitUntil(t, 30*time.Second, "a tick in flight", func() bool {
		select {
		case key = <-held:
			return true
		default:
			return false
		}
	})
	var owner string
	for _, r := range heartbeatRuns(t, conn, " AND status = 'running'") {
		if heartbeatKey(r.Tick) == key {
			owner = r.Owner
		}
	}
	if owner == "" {
		t.Fatalf("no running tick has key %s", key)
	}
	victim, survivor := second, first
	if owner == firstOwner {
		victim, survivor = first, second
	}
	if code := victim.stop(t, syscall.SIGKILL); code == 0 {
		t.Errorf("SIGKILL did not kill")
	}
	killed := time.Now()
	up.releaseHeld()
	waitUntil(t, 90*time.Second, "a minute of the survivor alone", func() bool { return time.Since(killed) >= time.Minute })
	if code := survivor.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("the survivor exited %d on SIGTERM", code)
	}
	total := time.Since(began)

	runs := heartbeatRuns(t, conn, "")
	up.mu.Lock()
	defer up.mu.Unlock()
	byOwner := map[string][2]int{} // owner → ticks before, after the kill
	tickOf := map[string]jobRunRow{}
	var orphans []jobRunRow
	for i, r := range runs {
		tickOf[heartbeatKey(r.Tick)] = r
		if i > 0 && !r.Tick.Equal(runs[i-1].Tick.Add(time.Second)) {
			t.Errorf("no run between ticks %v and %v", runs[i-1].Tick, r.Tick)
		}
		c := byOwner[r.Owner]
		if r.Tick.Before(killed) {
			c[0]++
		} else {
			c[1]++
		}
		byOwner[r.Owner] = c
		if r.Status != "succeeded" {
			orphans = append(orphans, r)
		}
	}
	if c := byOwner[owner]; c[1] != 0 {
		t.Errorf("the killed process %s owns %d ticks after its death", owner, c[1])
	}
	for _, r := range orphans {
		t.Errorf("tick %v is %s, owned by %s (lease until %v): not taken over", r.Tick, r.Status, r.Owner, r.LeaseUntil)
	}
	// Each claimed tick was called and completed once; nothing else was called.
	repeats := 0
	for k, at := range up.arrivals {
		if _, ok := tickOf[k]; !ok {
			t.Errorf("the upstream got key %s, which is no tick's", k)
		}
		if len(at) > 1 {
			repeats++
		}
		if c := up.completions[k]; c != 1 {
			t.Errorf("key %s completed %d times", k, c)
		}
	}
	if len(up.completions) != len(runs) {
		t.Errorf("%d ticks completed at the upstream, %d claimed", len(up.completions), len(runs))
	}
	// After the kill the survivor fires every tick: no gap in calls.
	var after []time.Time
	for _, at := range up.arrivals {
		for _, a := range at {
			if a.After(killed) {
				after = append(after, a)
			}
		}
	}
	slices.SortFunc(after, time.Time.Compare)
	gap, prev := time.Duration(0), killed
	for _, a := range after {
		gap = max(gap, a.Sub(prev))
		prev = a
	}
	if len(after) == 0 || gap > job.DefaultLease+time.Second {
		t.Errorf("after the kill: %d calls, longest gap %v (the lease is %v)", len(after), gap, job.DefaultLease)
	}
	// The tick in flight at the kill: taken over, and sent again with its key.
	inFlight := up.arrivals[key]
	takeover := "never"
	if len(inFlight) > 1 {
		takeover = inFlight[1].Sub(killed).Round(time.Millisecond).String() + " after the kill"
		if late := inFlight[1].Sub(killed); late > job.DefaultLease*4/3+10*time.Second {
			t.Errorf("the dead process's tick was taken over %v after the kill: later than its lease and a sweep", late)
		}
	} else {
		t.Errorf("the tick in flight at the kill (%v) reached the upstream %d times: not taken over", tickOf[key].Tick, len(inFlight))
	}
	t.Logf("%v in all, killed %s (the %s process) with tick %v in flight; %d ticks %v..%v, by owner [before, after the kill] %v; %d keys called, %d completions, %d keys arrived twice; longest gap in calls after the kill %v; in-flight tick taken over %s",
		total.Round(time.Millisecond), owner, map[bool]string{true: "first", false: "second"}[owner == firstOwner], tickOf[key].Tick,
		len(runs), runs[0].Tick.Format(time.TimeOnly), runs[len(runs)-1].Tick.Format(time.TimeOnly), byOwner,
		len(up.arrivals), len(up.completions), repeats, gap.Round(time.Millisecond), takeover)
}

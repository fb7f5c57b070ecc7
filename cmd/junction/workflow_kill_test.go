package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/junctionhq/junction/internal/servicetest"
)

// settleConfig is a four-step workflow, each step's input made of the previous steps'
// outputs (examples/verified-payment.cai's syntax): three calls to the ledger, which
// honours Idempotency-Key, then an event.
const settleConfig = `integration Ledger {
    base_url: "%s"
    timeout: 10s
    idempotency: { header: "Idempotency-Key" }
    operation reserve { method: POST  path: "/reserve"  body: { n: integer } }
    operation charge { method: POST  path: "/charge"  body: { n: integer, reservation: string, amount: integer } }
    operation record { method: POST  path: "/record"  body: { n: integer, charge: string, total: integer } }
}

event ledger_settled {
    schema {
        n integer
        total integer
        record string
    }
}

workflow settle {
    description "Reserve, charge, record, announce"
    trigger manual

    steps {
        reserve {
            call "Ledger.reserve"
            input_mapping { n: "{{input.n}}" }
            output_mapping {
                reservation: "{{output.id}}"
                amount: "{{output.amount}}"
            }
        }
        charge {
            call "Ledger.charge"
            input_mapping {
                n: "{{input.n}}"
                reservation: "{{steps.reserve.reservation}}"
                amount: "{{steps.reserve.amount}}"
            }
            output_mapping {
                charge_id: "{{output.id}}"
                total: "{{output.total}}"
            }
        }
        record {
            call "Ledger.record"
            input_mapping {
                n: "{{input.n}}"
                charge: "{{steps.charge.charge_id}}"
                total: "{{steps.charge.total}}"
            }
            output_mapping { record_id: "{{output.id}}" }
        }
        announce {
            emit "ledger.settled"
            data {
                n: "{{input.n}}"
                total: "{{steps.charge.total}}"
                record: "{{steps.record.record_id}}"
            }
        }
    }

    output {
        n: "{{input.n}}"
        total: "{{steps.charge.total}}"
        record_id: "{{steps.record.record_id}}"
        event_id: "{{steps.announce.event_id}}"
    }
}
`

// settleSteps are the workflow's call steps, each the ledger's path of the same name.
var settleSteps = []string{"reserve", "charge", "record"}

// settleLedger is the upstream of the settle workflow, careful as a payment API is with
// Idempotency-Key: the first request with a key does the work (slowly, and to the end
// even when its caller has gone away: the work is done, only the answer is lost); any
// later request with the key waits for that one and gets its stored answer without a
// second completion. Each answer is derived from the request, and a request whose input
// is not the previous step's answer is refused (422) and noted.
type settleLedger struct {
	*httptest.Server
	mu          sync.Mutex
	arrivals    map[string]int // key → requests
	completions map[string]int // key → completions (the work done)
	answers     map[string][]byte
	keyLocks    map[string]*sync.Mutex
	problems    []string // requests that break the contract
}

func newSettleLedger(t *testing.T) *settleLedger {
	l := &settleLedger{arrivals: map[string]int{}, completions: map[string]int{}, answers: map[string][]byte{}, keyLocks: map[string]*sync.Mutex{}}
	l.Server = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.Close)
	return l
}

func (l *settleLedger) problem(format string, args ...any) {
	l.mu.Lock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *settleLedger) serve(w http.ResponseWriter, r *http.Request) {
	step := strings.TrimPrefix(r.URL.Path, "/")
	key := r.Header.Get("Idempotency-Key")
	if !strings.HasPrefix(key, "wf-") || !strings.HasSuffix(key, "-"+step) {
		l.problem("%s with Idempotency-Key %q, want wf-<run>-%s", r.URL.Path, key, step)
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	var in struct {
		N           *int
		Reservation string
		Amount      int
		Charge      string
		Total       int
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.N == nil {
		l.problem("%s %s: body without n (%v)", r.URL.Path, key, err)
		w.WriteHeader(http.StatusUnprocessableEntity)
		return
	}
	n := *in.N
	l.mu.Lock()
	l.arrivals[key]++
	lock := l.keyLocks[key]
	if lock == nil {
		lock = &sync.Mutex{}
		l.keyLocks[key] = lock
	}
	l.mu.Unlock()

	lock.Lock()
	defer lock.Unlock()
	l.mu.Lock()
	answer, done := l.answers[key]
	l.mu.Unlock()
	if !done {
		var out map[string]any
		switch step {
		case "reserve":
			out = map[string]any{"id": fmt.Sprintf("res-%d", n), "amount": 3 * n}
		case "charge":
			if in.Reservation != fmt.Sprintf("res-%d", n) || in.Amount != 3*n {
				l.problem("charge %s got %+v: not reserve's answer", key, in)
				w.WriteHeader(http.StatusUnprocessableEntity)
				return
			}
			out = map[string]any{"id": fmt.Sprintf("chg-%d", n), "total": 3*n + 7}
		case "record":
			if in.Charge != fmt.Sprintf("chg-%d", n) || in.Total != 3*n+7 {
				l.problem("record %s got %+v: not charge's answer", key, in)
				w.WriteHeader(http.StatusUnprocessableEntity)
				return
			}
			out = map[string]any{"id": fmt.Sprintf("rec-%d", n)}
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		// The work takes a while, so that kills find steps in flight; it is not cut short
		// when the caller goes away.
		time.Sleep(time.Duration(5+rand.IntN(36)) * time.Millisecond)
		answer, _ = json.Marshal(out)
		l.mu.Lock()
		l.answers[key] = answer
		l.completions[key]++
		l.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(answer)
}

// repeated is how many keys arrived more than once, and the most arrivals of one key.
func (l *settleLedger) repeated() (keys, most int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.arrivals {
		if n > 1 {
			keys++
		}
		most = max(most, n)
	}
	return keys, most
}

func (l *settleLedger) completed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.completions)
}

// settleEventID is the id of the event a run's announce step publishes
// (internal/workflow: the run and step IDs, hashed).
func settleEventID(runID string) string {
	sum := sha256.Sum256([]byte(runID + "\x00announce"))
	return "evt_wf_" + hex.EncodeToString(sum[:12])
}

// TestWorkflowKill is the durable workflows' acceptance test: 1,000 runs of a four-step
// workflow started through the API while `junction serve` on PostgreSQL is killed with
// SIGKILL, at random points, 3 to 5 times and restarted each time. Every run completes
// with the right output, every call step completes once at the upstream (a step in
// flight at a kill may reach it twice, with the same key) and every run's event is
// stored once.
func TestWorkflowKill(t *testing.T) {
	const runs = 1000
	began := time.Now()
	dsn := servicetest.PostgresDSN(t)
	env := []string{"DATABASE_URL=" + dsn}
	up := newSettleLedger(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "settle.cai")
	writeFile(t, cfg, fmt.Sprintf(settleConfig, up.URL))
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)

	// Posters hold serving for reading while a POST is in flight, the killer for writing:
	// no POST is cut by a kill, so every run the store holds is one whose ID was returned.
	var (
		serving  sync.RWMutex
		base     = s.base
		next     atomic.Int64
		posted   atomic.Int64
		ids      = make([]string, runs)
		postErrs = make(chan error, runs)
		posters  sync.WaitGroup
	)
	post := func(base string, n int) (string, error) {
		body, _ := json.Marshal(map[string]any{"n": n})
		req, _ := http.NewRequest(http.MethodPost, base+"/workflows/settle/runs", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var run struct{ ID, Status string }
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &run) != nil || run.ID == "" {
			return "", fmt.Errorf("POST /workflows/settle/runs n=%d: %d %s", n, resp.StatusCode, raw)
		}
		return run.ID, nil
	}
	for range 4 {
		posters.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= runs {
					return
				}
				serving.RLock()
				id, err := post(base, n)
				serving.RUnlock()
				if err != nil {
					postErrs <- err
					return
				}
				ids[n] = id
				posted.Add(1)
			}
		})
	}

	// The kills: each once a random share of the runs is posted and a random number of
	// steps completed at the ledger since the last start (runs are executing here).
	kills := 3 + rand.IntN(3)
	at := make([]int, kills)
	for i := range at {
		at[i] = 100 + rand.IntN(850)
	}
	slices.Sort(at)
	var killLog []string
	for i, threshold := range at {
		startedWith := up.completed()
		steps := 1 + rand.IntN(60)
		waitUntil(t, 60*time.Second, fmt.Sprintf("kill %d: %d runs posted and %d steps completed", i+1, threshold, steps), func() bool {
			return (int(posted.Load()) >= threshold && up.completed()-startedWith >= steps) || len(postErrs) > 0
		})
		if len(postErrs) > 0 {
			break
		}
		serving.Lock()
		if code := s.stop(t, syscall.SIGKILL); code == 0 {
			t.Errorf("kill %d: SIGKILL did not kill", i+1)
		}
		killLog = append(killLog, fmt.Sprintf("after %d posted, %d steps completed", posted.Load(), up.completed()))
		s = startServer(t, dir, env, "-c", cfg)
		base = s.base
		serving.Unlock()
	}
	posters.Wait()
	close(postErrs)
	for err := range postErrs {
		t.Fatal(err)
	}
	postedIn := time.Since(began)
	t.Logf("%d runs posted in %v; %d kills: %s", runs, postedIn.Round(time.Millisecond), kills, strings.Join(killLog, "; "))

	// Runs the dead processes held are claimed once their leases lapse (30 s).
	a := api{t: t, base: s.base, token: token}
	count := func(status string) int {
		out := a.expect(200, "GET", "/workflows/settle/runs?limit=1&status="+status, nil)
		return int(out["pagination"].(map[string]any)["total"].(float64))
	}
	waitUntil(t, 3*time.Minute, "every run to complete", func() bool {
		if failed := count("failed"); failed > 0 {
			out := a.expect(200, "GET", "/workflows/settle/runs?limit=1&status=failed", nil)
			up.mu.Lock()
			defer up.mu.Unlock()
			t.Fatalf("%d runs failed, such as %v\nledger problems: %v", failed, out["data"], up.problems)
		}
		return count("completed") == runs
	})
	t.Logf("every run completed %v after the start", time.Since(began).Round(time.Millisecond))

	// Every run: the right output, and no run the test did not start.
	byID := map[string]map[string]any{}
	for page := 1; ; page++ {
		out := a.expect(200, "GET", fmt.Sprintf("/workflows/settle/runs?limit=100&page=%d", page), nil)
		data := out["data"].([]any)
		for _, d := range data {
			run := d.(map[string]any)
			byID[run["id"].(string)] = run
		}
		if len(data) < 100 {
			break
		}
	}
	if len(byID) != runs {
		t.Errorf("the store holds %d runs, want the %d started", len(byID), runs)
	}
	for n, id := range ids {
		run := byID[id]
		if run == nil {
			t.Errorf("run %d (%s) is not listed", n, id)
			continue
		}
		want := map[string]any{"n": float64(n), "total": float64(3*n + 7), "record_id": fmt.Sprintf("rec-%d", n), "event_id": settleEventID(id)}
		var got map[string]any
		raw, _ := json.Marshal(run["output"])
		if err := json.Unmarshal(raw, &got); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("run %d (%s) %s: output %s, want %v", n, id, run["status"], raw, want)
		}
	}

	// The ledger: every call step completed exactly once; no key completed twice.
	up.mu.Lock()
	for key, c := range up.completions {
		if c != 1 {
			t.Errorf("key %s completed %d times", key, c)
		}
	}
	for n, id := range ids {
		for _, step := range settleSteps {
			if c := up.completions["wf-"+id+"-"+step]; c != 1 {
				t.Errorf("run %d: step %s completed %d times at the ledger, want 1", n, step, c)
			}
		}
	}
	if len(up.completions) != runs*len(settleSteps) {
		t.Errorf("the ledger completed %d keys, want %d", len(up.completions), runs*len(settleSteps))
	}
	if len(up.problems) > 0 {
		t.Errorf("the ledger was called against its contract:\n%s", strings.Join(up.problems, "\n"))
	}
	arrived, completed := 0, len(up.completions)
	for _, c := range up.arrivals {
		arrived += c
	}
	up.mu.Unlock()

	// The events: one per run, with the ID its run and step give.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id FROM events WHERE id LIKE 'evt\_wf\_%' AND type = 'ledger.settled'`)
	if err != nil {
		t.Fatal(err)
	}
	events, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != runs {
		t.Errorf("%d workflow events stored, want %d", len(events), runs)
	}
	stored := map[string]bool{}
	for _, id := range events {
		stored[id] = true
	}
	for n, id := range ids {
		if !stored[settleEventID(id)] {
			t.Errorf("run %d (%s): no event %s", n, id, settleEventID(id))
		}
	}
	twice, most := up.repeated()
	t.Logf("ledger: %d requests, %d keys completed (once each); %d keys arrived more than once (steps in flight at a kill), at most %d times; %d events stored; %v in all",
		arrived, completed, twice, most, len(events), time.Since(began).Round(time.Millisecond))
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

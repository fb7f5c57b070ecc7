package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest"
)

// triggersConfig starts each workflow another way: an event trigger, an event handler,
// a job, a schedule trigger (a job named workflow:ticking, every second) and a flow's
// workflow sink. Shop is a local fake.
const triggersConfig = `integration Shop {
    base_url: %q
    idempotency: { header: "Idempotency-Key" }
    operation note { method: POST  path: "/notes"  body: { source: string, ref: string } }
}

workflow on_order {
    trigger event "order.placed"
    steps {
        note { call "Shop.note"  input { source: "order", ref: "{{input.order_id}}" } }
    }
}

workflow refund {
    steps {
        note { call "Shop.note"  input { source: "refund", ref: "{{input.refund_id}}" } }
    }
}

on "refund.asked" do workflow "refund"

workflow from_job {
    steps {
        note { call "Shop.note"  input { source: "job", ref: "{{input.tick}}" } }
    }
}

job every_second {
    every 1s
    catch_up none
    workflow "from_job"
}

workflow ticking {
    trigger schedule "* * * * * *"
    steps {
        stamp { transform { job: "{{input.job}}", tick: "{{input.tick}}" } }
    }
}

workflow from_flow {
    steps {
        note { call "Shop.note"  input { source: "flow", ref: "{{input.id}}" } }
    }
}

connector inbox { type: http }
connector runner { type: workflow }

flow payments-in {
    source: inbox { path: "payments" }
    sink start { connector: runner  workflow: "from_flow"  id: "$.id" }
}
`

// TestWorkflowTriggers: every way of starting a workflow other than the API starts a
// run with the right trigger and input, and the run completes.
func TestWorkflowTriggers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { workflowTriggers(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		workflowTriggers(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)})
	})
}

func workflowTriggers(t *testing.T, env []string) {
	up := newJobUpstream(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "triggers.cai")
	writeFile(t, cfg, fmt.Sprintf(triggersConfig, up.URL))
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}

	triggers := map[string]any{}
	for _, w := range a.expect(200, "GET", "/workflows", nil)["data"].([]any) {
		m := w.(map[string]any)
		triggers[m["name"].(string)] = m["triggers"]
	}
	if len(triggers) != 5 || !reflect.DeepEqual(triggers["on_order"], []any{"event order.placed"}) ||
		!reflect.DeepEqual(triggers["ticking"], []any{"schedule * * * * * *"}) {
		t.Fatalf("GET /workflows triggers = %v", triggers)
	}

	// An event trigger and an event handler: one run per event, its input the event's data.
	for _, c := range []struct{ event, workflow, field string }{
		{"order.placed", "on_order", "order_id"},
		{"refund.asked", "refund", "refund_id"},
	} {
		data := map[string]any{c.field: "x-" + c.workflow}
		ev := a.expect(202, "POST", "/events", map[string]any{"type": c.event, "data": data})
		run := completedRun(a, s, c.workflow)
		if run["trigger"] != "event:"+ev["id"].(string) || !reflect.DeepEqual(run["input"], data) {
			t.Errorf("%s's run = %v, want trigger event:%s and input %v", c.workflow, run, ev["id"], data)
		}
		if !noted(up, "wf-"+run["id"].(string)+"-note", "x-"+c.workflow) {
			t.Errorf("%s's call did not reach the fake with its run's idempotency key: %+v", c.workflow, up.to("/notes"))
		}
	}

	// A job running a workflow: the job's run succeeds with the workflow's.
	for _, c := range []struct{ job, workflow string }{{"every_second", "from_job"}, {"workflow:ticking", "ticking"}} {
		run := completedRun(a, s, c.workflow)
		jobRun, ok := strings.CutPrefix(run["trigger"].(string), "job:")
		if !ok {
			t.Fatalf("%s's run has trigger %v, want job:…", c.workflow, run["trigger"])
		}
		var runs []any
		succeeded := func() bool {
			runs, _ = a.expect(200, "GET", "/jobs/"+c.job+"/runs?limit=100", nil)["data"].([]any)
			for _, r := range runs {
				if m := r.(map[string]any); m["id"] == jobRun {
					return m["status"] == "succeeded"
				}
			}
			return false
		}
		if !poll(succeeded) {
			t.Fatalf("%s's run %s did not succeed: %v", c.job, jobRun, runs)
		}
	}
	if j := jobByName(a)["workflow:ticking"]; j == nil || j["runs"] != "workflow ticking" || j["schedule"] != "* * * * * *" {
		t.Errorf("GET /jobs: workflow:ticking = %v", j)
	}

	// A flow's workflow sink: a message sent twice starts one run, another id another.
	if !poll(func() bool { return a.expect(200, "GET", "/flows/payments-in", nil)["state"] == "running" }) {
		t.Fatalf("the flow does not run: %v", a.expect(200, "GET", "/flows/payments-in", nil))
	}
	p1 := map[string]any{"id": "p-1", "amount": 5.0}
	a.expect(202, "POST", "/in/payments", p1)
	a.expect(202, "POST", "/in/payments", p1)
	a.expect(202, "POST", "/in/payments", map[string]any{"id": "p-2"})
	runs := a.expect(200, "GET", "/workflows/from_flow/runs", nil)
	if total := runs["pagination"].(map[string]any)["total"]; total != 2.0 {
		t.Errorf("from_flow has %v runs after three messages with two ids, want 2: %v", total, runs["data"])
	}
	if !poll(func() bool { return len(runsOf(a, "from_flow", "completed")) == 2 }) {
		t.Fatalf("the flow's runs did not complete: %v", runsOf(a, "from_flow", ""))
	}
	for _, r := range runsOf(a, "from_flow", "completed") {
		if r["trigger"] != "flow" {
			t.Errorf("flow run %v: trigger %v, want flow", r["id"], r["trigger"])
		}
		if in := r["input"].(map[string]any); in["id"] == "p-1" && !reflect.DeepEqual(in, p1) {
			t.Errorf("flow run input = %v, want the message %v", in, p1)
		}
	}
}

// runsOf is GET /workflows/{name}/runs?status=….
func runsOf(a api, workflow, status string) []map[string]any {
	a.t.Helper()
	data, _ := a.expect(200, "GET", "/workflows/"+workflow+"/runs?limit=100&status="+status, nil)["data"].([]any)
	out := make([]map[string]any, len(data))
	for i, r := range data {
		out[i] = r.(map[string]any)
	}
	return out
}

// completedRun waits for a completed run of the workflow and returns the oldest, failing
// with the failed runs' errors if none completes.
func completedRun(a api, s *process, workflow string) map[string]any {
	a.t.Helper()
	var runs []map[string]any
	done := func() bool { runs = runsOf(a, workflow, "completed"); return len(runs) > 0 }
	if !poll(done) {
		a.t.Fatalf("no completed run of %s; failed: %v\n%s", workflow, runsOf(a, workflow, "failed"), s.log())
	}
	return runs[len(runs)-1]
}

// poll waits up to 30 s for cond, looking every 20 ms, and reports whether it held.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// noted reports whether the fake received a note with ref under the idempotency key.
func noted(up *jobUpstream, key, ref string) bool {
	for _, r := range up.to("/notes") {
		if r.key == key && r.body["ref"] == ref {
			return true
		}
	}
	return false
}

// TestReadmeWorkflows runs the README's "Workflows" example as written, but for its
// base_urls (one local fake for both integrations): an order in stock is reserved and
// charged, one out of stock stops before the charge, and a refused charge releases the
// reservation.
func TestReadmeWorkflows(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Workflows\n.*?```codeai\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no codeai example under ## Workflows")
	}
	up := newShopFake(t)
	conf := string(m[1])
	for _, u := range []string{`"https://inventory.example.com"`, `"https://payments.example.com"`} {
		conf = strings.Replace(conf, u, strconv.Quote(up.URL), 1)
	}
	if strings.Count(conf, up.URL) != 2 || !strings.Contains(conf, "workflow place_order") {
		t.Fatalf("the example changed shape; update this test:\n%s", m[1])
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, conf)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	start := func(order, sku string) map[string]any {
		return a.expect(200, "POST", "/workflows/place_order/runs?wait=30s",
			map[string]any{"order_id": order, "sku": sku, "quantity": 2})
	}

	run := start("o-1", "A-1")
	if run["status"] != "completed" || !reflect.DeepEqual(run["output"], map[string]any{"reservation": "res-A-1", "charge": "ch-o-1"}) {
		t.Fatalf("in stock: %v", run)
	}
	charge := up.requests("/charges")
	if len(charge) != 1 || charge[0].key != "wf-"+run["id"].(string)+"-charge" || charge[0].body["amount"] != 19.0 {
		t.Errorf("the charge %+v: want amount 19 (2 × 9.5) and the key wf-<run>-charge", charge)
	}

	run = start("o-2", "GONE")
	if run["status"] != "stopped" || run["stopped_at"] != "charge" || len(up.requests("/charges")) != 1 {
		t.Errorf("out of stock: %v, %d charges; want stopped at charge, no charge", run, len(up.requests("/charges")))
	}

	run = start("o-refused", "A-3")
	steps := map[string]any{}
	for _, st := range run["steps"].([]any) {
		steps[st.(map[string]any)["id"].(string)] = st.(map[string]any)["status"]
	}
	if run["status"] != "failed" || run["failed_step"] != "charge" || steps["reserve"] != "compensated" || steps["undo:reserve"] != "completed" {
		t.Errorf("refused charge: %v", run)
	}
	if rel := up.requests("/reservations/res-A-3/release"); len(rel) != 1 {
		t.Errorf("releases of res-A-3: %d, want 1", len(rel))
	}
}

// shopFake is the README example's Inventory and Payments: a reservation of sku GONE is
// out of stock, and the charge of order o-refused is refused (402).
type shopFake struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []jobRequest
}

func newShopFake(t *testing.T) *shopFake {
	f := &shopFake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		f.mu.Lock()
		f.reqs = append(f.reqs, jobRequest{method: r.Method, path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), body: body})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		var answer any
		switch {
		case r.URL.Path == "/reservations":
			answer = map[string]any{"id": fmt.Sprint("res-", body["sku"]), "in_stock": body["sku"] != "GONE"}
		case r.URL.Path == "/charges" && body["order_id"] == "o-refused":
			w.WriteHeader(http.StatusPaymentRequired)
			answer = map[string]any{"error": "card declined"}
		case r.URL.Path == "/charges":
			answer = map[string]any{"id": fmt.Sprint("ch-", body["order_id"])}
		default:
			answer = map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *shopFake) requests(path string) []jobRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []jobRequest
	for _, r := range f.reqs {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

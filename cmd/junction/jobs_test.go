package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// jobUpstream stands in for the API a job calls: it records each request's method,
// path, body and idempotency key.
type jobUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []jobRequest
}

type jobRequest struct {
	method, path, key string
	body              map[string]any
}

func newJobUpstream(t *testing.T) *jobUpstream {
	t.Helper()
	u := &jobUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		u.mu.Lock()
		u.reqs = append(u.reqs, jobRequest{method: r.Method, path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), body: body})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(u.Close)
	return u
}

// to returns the requests made to a path.
func (u *jobUpstream) to(path string) []jobRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []jobRequest
	for _, r := range u.reqs {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// jobByName is GET /jobs as a map by name.
func jobByName(a api) map[string]map[string]any {
	a.t.Helper()
	out := map[string]map[string]any{}
	list, _ := a.expect(200, "GET", "/jobs", nil)["data"].([]any)
	for _, j := range list {
		m := j.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

// lastRunStatus is a job's last_run status in GET /jobs, "" before its first run.
func lastRunStatus(a api, name string) string {
	last, _ := jobByName(a)[name]["last_run"].(map[string]any)
	s, _ := last["status"].(string)
	return s
}

// TestReadmeScheduledJobs runs the README's "Scheduled jobs" example as written, but for
// its base_url (a local fake): the every-1s job calls the fake by itself, GET /jobs shows
// its last run succeeded, and POST /jobs/{name}/trigger runs the nightly job at once,
// with its input as the body and the run's id as the idempotency key.
func TestReadmeScheduledJobs(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Scheduled jobs\n.*?```codeai\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no codeai example under ## Scheduled jobs")
	}
	example := string(m[1])
	up := newJobUpstream(t)
	conf := strings.Replace(example, `"https://billing.example.com"`, strconv.Quote(up.URL), 1)
	if !strings.Contains(conf, up.URL) || !strings.Contains(conf, "every 1s") {
		t.Fatalf("the example changed shape; update this test:\n%s", example)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, conf)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}

	jobs := jobByName(a)
	if len(jobs) != 2 || jobs["billing_ping"]["every"] != "1s" || jobs["nightly_invoices"]["timezone"] != "Europe/Paris" ||
		jobs["nightly_invoices"]["runs"] != "call Billing.sync_invoices" || jobs["nightly_invoices"]["next_run"] == nil {
		t.Fatalf("GET /jobs = %v\n%s", jobs, s.log())
	}

	// The every-1s job runs by itself, and its last run is shown.
	eventually(t, "the ping job's calls", func() bool { return len(up.to("/health")) >= 2 })
	eventually(t, "the ping job's last run", func() bool { return lastRunStatus(a, "billing_ping") == "succeeded" })
	pings := up.to("/health")
	if pings[0].method != "GET" || pings[0].key == "" || pings[0].key == pings[1].key {
		t.Errorf("pings %+v: want GETs, each tick with its own idempotency key", pings)
	}

	// The nightly job runs now when triggered, and its run is recorded.
	if n := len(up.to("/invoices/sync")); n != 0 {
		t.Fatalf("the nightly job ran %d times before its trigger", n)
	}
	run := a.expect(202, "POST", "/jobs/nightly_invoices/trigger", nil)
	id, _ := run["run_id"].(string)
	if id == "" || run["job"] != "nightly_invoices" {
		t.Fatalf("trigger = %v", run)
	}
	eventually(t, "the triggered run", func() bool { return len(up.to("/invoices/sync")) == 1 })
	got := up.to("/invoices/sync")[0]
	if got.method != "POST" || got.key != id || got.body["full"] != true || got.body["limit"] != float64(100) {
		t.Errorf("the triggered call %+v, want POST {full: true, limit: 100} with Idempotency-Key %s", got, id)
	}
	var runs []any
	eventually(t, "the run recorded", func() bool {
		runs, _ = a.expect(200, "GET", "/jobs/nightly_invoices/runs", nil)["data"].([]any)
		return len(runs) == 1 && runs[0].(map[string]any)["status"] != "running"
	})
	if r := runs[0].(map[string]any); r["id"] != id || r["status"] != "succeeded" || r["manual"] != true || r["attempts"] != float64(1) {
		t.Errorf("GET /jobs/nightly_invoices/runs = %v", runs)
	}
	a.expect(404, "POST", "/jobs/no_such_job/trigger", nil)
}

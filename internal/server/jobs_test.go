package server_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/job"
	"github.com/junctionhq/junction/internal/server"
)

type countingCaller struct{ n atomic.Int32 }

func (c *countingCaller) Call(context.Context, string, string, map[string]any, integration.CallOptions) (*integration.Result, error) {
	c.n.Add(1)
	return &integration.Result{Status: 200}, nil
}

// TestJobAPI: GET /jobs shows the next and last run, a trigger runs the job at once and
// its run is in GET /jobs/{name}/runs; an unknown job is a 404 problem.
func TestJobAPI(t *testing.T) {
	cfg, diags := config.Decode("t.cai", []byte(`integration B { base_url: "http://127.0.0.1:1"  operation sync { method: POST  path: "/s" } }
job nightly {
    schedule "0 2 * * *"
    timezone "Europe/Paris"
    call "B.sync"
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	caller := &countingCaller{}
	var sch *job.Scheduler
	e := newEnv(t, func(o *testOptions) {
		var err error
		sch, err = job.New(cfg, job.Options{Store: o.Store, Caller: caller})
		if err != nil {
			t.Fatal(err)
		}
		o.Jobs = sch
	}).start()
	ctx := context.Background()
	if err := sch.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sch.Stop(ctx) })

	list := e.req("GET", "/jobs", e.user, "").json(t)
	data := list["data"].([]any)
	if len(data) != 1 {
		t.Fatalf("GET /jobs = %v", list)
	}
	j := data[0].(map[string]any)
	next, err := time.Parse(time.RFC3339, j["next_run"].(string))
	if err != nil || j["name"] != "nightly" || j["runs"] != "call B.sync" || j["timezone"] != "Europe/Paris" || j["last_run"] != nil {
		t.Fatalf("job = %v", j)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if next.In(paris).Hour() != 2 || next.Before(time.Now()) {
		t.Errorf("next_run = %v, want the next 02:00 in Paris", next)
	}

	resp := e.req("POST", "/jobs/nightly/trigger", e.user, "")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("trigger with a user token = %d, want 403", resp.StatusCode)
	}
	resp = e.req("POST", "/jobs/nightly/trigger", e.admin, "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("trigger = %d %s", resp.StatusCode, resp.body)
	}
	id := resp.json(t)["run_id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs := e.req("GET", "/jobs/nightly/runs", e.user, "").json(t)
		rs := runs["data"].([]any)
		if len(rs) == 1 && rs[0].(map[string]any)["status"] == "succeeded" {
			r := rs[0].(map[string]any)
			if r["id"] != id || r["manual"] != true || r["attempts"] != float64(1) {
				t.Errorf("run = %v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs = %v", runs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if caller.n.Load() != 1 {
		t.Errorf("%d calls, want 1", caller.n.Load())
	}
	last := e.req("GET", "/jobs", e.user, "").json(t)["data"].([]any)[0].(map[string]any)["last_run"].(map[string]any)
	if last["id"] != id || last["status"] != "succeeded" {
		t.Errorf("last_run = %v", last)
	}
	problem(t, e.req("GET", "/jobs/nope/runs", e.user, ""), http.StatusNotFound, server.KindNotFound, "/jobs/nope/runs")
	problem(t, e.req("POST", "/jobs/nope/trigger", e.admin, ""), http.StatusNotFound, server.KindNotFound, "/jobs/nope/trigger")
}

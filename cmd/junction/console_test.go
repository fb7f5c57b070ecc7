package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts headless Chromium for the test: Debian's chromium package, found on
// PATH or at CHROMIUM. Without it the test skips, unless JUNCTION_REQUIRE_SERVICES=1
// (CI), where .ci/run installs it.
func browser(t *testing.T) (context.Context, func(name string)) {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("JUNCTION_REQUIRE_SERVICES") == "1" {
			t.Fatal("headless Chromium is needed for the console tests: apt-get install chromium (or set CHROMIUM)")
		}
		t.Skip("headless Chromium not found (apt-get install chromium, or set CHROMIUM): console browser test skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1400, 900),
		chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	shots := t.ArtifactDir()
	if dir := os.Getenv("JUNCTION_SCREENSHOTS"); dir != "" {
		shots = dir
	}
	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, screenshot
}

// step runs browser actions with a deadline of their own, failing the test with what was
// being done.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.OuterHTML(chromedp.CSS("#app")))
		t.Fatalf("%s: %v\npage:\n%.3000s", what, err, html)
	}
}

// consoleUpstream is the API the test's integration calls: healthy until told to fail
// (503) or to refuse records (400).
type consoleUpstream struct {
	*httptest.Server
	failing, refusing atomic.Bool
}

func newConsoleUpstream(t *testing.T) *consoleUpstream {
	u := &consoleUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case u.failing.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"down for the test"}`)
		case r.URL.Path == "/records" && u.refusing.Load():
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"not today"}`)
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// TestConsoleInBrowser walks the console as an operator would, in headless Chromium
// against the real binary: sign in, see a circuit open after failures and reset it, retry
// a failed delivery, replay a dead letter, stop and start a flow, watch a live event
// arrive, open a workflow run's steps; a user token sees admin actions disabled. Each
// page's screenshot is saved in the test's artifact directory (go test -artifacts, or
// JUNCTION_SCREENSHOTS=DIR).
func TestConsoleInBrowser(t *testing.T) {
	ctx, screenshot := browser(t)
	up := newConsoleUpstream(t)
	var receiverCalls atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if receiverCalls.Add(1) == 1 {
			http.Error(w, "first attempt fails", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "console.cai")
	writeFile(t, cfg, `
integration Flaky {
    base_url: "`+up.URL+`"
    timeout: 2s
    circuit_breaker: { threshold: 2 consecutive failures, reset_after: 10m }
    operation ping { method: GET  path: "/ping" }
    operation record { method: POST  path: "/records"  body: { id: string } }
}
integration WebhookDelivery { type: webhook  allowed_networks: ["127.0.0.0/8"]  retry_delays: [10m] }
connector inbox { type: http }
connector api { type: integration }
flow orders {
    source: inbox { path: "orders" }
    sink record { connector: api  integration: Flaky  operation: record  params: { id: "$.id" } }
}
job beat { schedule "every 1h"  emit "beat.happened" }
workflow greet {
    steps {
        ping { call "Flaky.ping" }
    }
}
`)
	admin := adminToken(t, dir, nil)
	user, _, code := run(t, dir, nil, "token", "create", "--role", "user", "--name", "viewer")
	if code != 0 {
		t.Fatalf("token create: exit %d", code)
	}
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: admin}
	eventually(t, "the flow to run", func() bool { return a.expect(200, "GET", "/flows/orders", nil)["state"] == "running" })

	// Sign in.
	step(t, ctx, "open the console", chromedp.Navigate(s.base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	screenshot("01-sign-in")
	step(t, ctx, "sign in with a wrong token", chromedp.SendKeys(chromedp.ID("token"), "jct_wrong"), chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin-error [role=alert]`)))
	step(t, ctx, "sign in", chromedp.SetValue(chromedp.ID("token"), admin), chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-integration="Flaky"]`)))

	// A circuit opens after failures and is reset from the page.
	up.failing.Store(true)
	for range 2 {
		a.do("POST", "/integrations/Flaky/operations/ping", map[string]any{})
	}
	step(t, ctx, "see the circuit open", chromedp.WaitVisible(chromedp.CSS(`tr[data-integration="Flaky"] td[data-circuit="open"]`)))
	screenshot("02-integrations-circuit-open")
	up.failing.Store(false)
	step(t, ctx, "reset the circuit", chromedp.Click(chromedp.CSS(`tr[data-integration="Flaky"] button[data-action="reset-circuit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-integration="Flaky"] td[data-circuit="closed"]`)))

	// A failed delivery is retried from the endpoint's page.
	_, ep := a.do("POST", "/webhooks", map[string]any{"name": "receiver", "url": receiver.URL + "/hook", "events": []string{"order.*"}})
	id, _ := ep["id"].(string)
	a.expect(202, "POST", "/events", map[string]any{"type": "order.created", "data": map[string]any{"n": 1}})
	step(t, ctx, "see the failed attempt", chromedp.Navigate(s.base+"/#/webhooks/"+id), chromedp.WaitVisible(chromedp.CSS(`td[data-status="retrying"]`)))
	screenshot("03-webhook-deliveries")
	step(t, ctx, "retry the delivery", chromedp.Click(chromedp.CSS(`button[data-action="retry-delivery"]`)), chromedp.WaitVisible(chromedp.CSS(`td[data-status="delivered"]`)))
	// 51 deliveries take two pages.
	for i := range 50 {
		a.expect(202, "POST", "/events", map[string]any{"type": "order.bulk", "data": map[string]any{"n": i}})
	}
	step(t, ctx, "page through the deliveries", chromedp.Navigate(s.base+"/#/webhooks/"+id), chromedp.WaitVisible(chromedp.CSS(`a[data-page="older"]`)),
		chromedp.Click(chromedp.CSS(`a[data-page="older"]`)), chromedp.WaitVisible(chromedp.CSS(`a[data-page="newer"]`)))
	if rowsOnPage2, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("tr[data-delivery]").length`)); err != nil || rowsOnPage2 != 1 {
		t.Errorf("the second page of 51 deliveries shows %d (%v)", rowsOnPage2, err)
	}
	screenshot("03-webhook-deliveries-page-2")
	step(t, ctx, "webhooks list", chromedp.Navigate(s.base+"/#/webhooks"), chromedp.WaitVisible(`a[href="#/webhooks/`+id+`"]`))
	screenshot("04-webhooks")

	// A dead letter is replayed once the upstream takes it.
	up.refusing.Store(true)
	a.expect(202, "POST", "/in/orders", map[string]any{"id": "o-1"})
	step(t, ctx, "see the dead letter", chromedp.Navigate(s.base+"/#/dead-letters"), chromedp.WaitVisible(chromedp.CSS(`tr[data-dead-letter] button[data-action="replay"]`)))
	screenshot("05-dead-letters")
	up.refusing.Store(false)
	step(t, ctx, "replay it", chromedp.Click(chromedp.CSS(`tr[data-dead-letter] button[data-action="replay"]`)), chromedp.WaitVisible(chromedp.CSS(`#flash [role=status]`)))
	eventually(t, "the dead letter gone", func() bool {
		_, out := a.do("GET", "/dead-letters?flow=orders", nil)
		data, _ := out["data"].([]any)
		return len(data) == 0
	})

	// A flow is stopped and started.
	step(t, ctx, "flows page", chromedp.Navigate(s.base+"/#/flows"), chromedp.WaitVisible(chromedp.CSS(`tr[data-flow="orders"] td[data-state="running"]`)))
	step(t, ctx, "stop the flow", chromedp.Click(chromedp.CSS(`tr[data-flow="orders"] button[data-action="stop-flow"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-flow="orders"] td[data-state="stopped"]`)))
	screenshot("06-flows-stopped")
	step(t, ctx, "start the flow", chromedp.Click(chromedp.CSS(`tr[data-flow="orders"] button[data-action="start-flow"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-flow="orders"] td[data-state="running"]`)))
	step(t, ctx, "flow detail", chromedp.Navigate(s.base+"/#/flows/orders"), chromedp.WaitVisible(chromedp.CSS(`#content table`)))
	screenshot("07-flow-detail")

	// A live event arrives.
	step(t, ctx, "live events", chromedp.Navigate(s.base+"/#/events"), chromedp.WaitVisible(chromedp.CSS(`#event-status`)))
	eventually(t, "the stream to be live", func() bool {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("event-status")))
		return status == "live"
	})
	a.expect(202, "POST", "/events", map[string]any{"type": "order.shipped", "data": map[string]any{"n": 2}})
	step(t, ctx, "see the event", chromedp.WaitVisible(chromedp.CSS(`li[data-event-type="order.shipped"]`)))
	screenshot("08-live-events")

	// A workflow run's steps.
	_, run := a.do("POST", "/workflows/greet/runs?wait=10s", map[string]any{})
	runID, _ := run["id"].(string)
	step(t, ctx, "workflows page", chromedp.Navigate(s.base+"/#/workflows"), chromedp.WaitVisible(chromedp.CSS(`a[href="#/workflows/greet"]`)))
	screenshot("09-workflows")
	step(t, ctx, "open the run", chromedp.Navigate(s.base+"/#/workflows/runs/"+runID), chromedp.WaitVisible(chromedp.CSS(`tr[data-step="ping"]`)))
	screenshot("10-workflow-run")

	// A job is run now.
	step(t, ctx, "jobs page", chromedp.Navigate(s.base+"/#/jobs"), chromedp.WaitVisible(chromedp.CSS(`tr[data-job="beat"]`)))
	step(t, ctx, "run the job now", chromedp.Click(chromedp.CSS(`tr[data-job="beat"] button[data-action="trigger-job"]`)), chromedp.WaitVisible(chromedp.CSS(`#flash [role=status]`)))
	eventually(t, "the job's run", func() bool {
		_, out := a.do("GET", "/jobs/beat/runs", nil)
		data, _ := out["data"].([]any)
		return len(data) == 1
	})
	screenshot("11-jobs")
	// The calls above are in the report once this process wrote their minute (every 10 s).
	eventually(t, "the calls in /reports", func() bool {
		_, out := a.do("GET", "/reports?from=-1h&step=1m&integration=Flaky", nil)
		data, _ := out["data"].([]any)
		return len(data) > 0
	})
	step(t, ctx, "reports page", chromedp.Navigate(s.base+"/#/reports"), chromedp.WaitVisible(chromedp.CSS(`h2[data-series="Flaky.ping"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart rect`)))
	screenshot("12-reports")

	// A user token sees, but may not reset a circuit or stop a flow.
	step(t, ctx, "sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("token")))
	step(t, ctx, "sign in as a user", chromedp.SetValue(chromedp.ID("token"), strings.TrimSpace(user)), chromedp.Click(chromedp.CSS(`form.signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#who`)), chromedp.Navigate(s.base+"/#/integrations"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-integration="Flaky"] button[data-action="reset-circuit"][disabled]`)))
	screenshot("13-integrations-as-user")
	step(t, ctx, "flows as a user", chromedp.Navigate(s.base+"/#/flows"), chromedp.WaitVisible(chromedp.CSS(`tr[data-flow="orders"] button[data-action="stop-flow"][disabled]`)))
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/servicetest"
)

// The DIDs the fake identity service knows; mallory's payments score high on fraud.
const (
	aliceDID   = "did:web:alice.example"
	malloryDID = "did:web:mallory.example"
	bobDID     = "did:web:bob.example"
)

// paymentHooks adds to the shipped example a declared webhook for payment.completed, the
// event its announce step emits, so that the test sees the event leave Junction.
const paymentHooks = `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }

webhook ledger {
    event "payment.completed"
    url "%s"
}
`

// TestVerifiedPaymentExample runs the shipped examples/verified-payment.cai (seed 001's
// verified payment) against local fakes of its three services, on SQLite and on
// PostgreSQL, through each entry point: an approved payment with the CLI, one stopped
// by the fraud condition through POST ?wait=, and a failing payment whose identity
// verification is undone, started without waiting and polled; then the listings, retry,
// cancel and the API's refusals.
func TestVerifiedPaymentExample(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); verifiedPayment(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		verifiedPayment(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)})
	})
}

func verifiedPayment(t *testing.T, env []string) {
	example, err := filepath.Abs("../../examples/verified-payment.cai")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeapi.NewVerifiedPayment(t, fakeapi.VerifiedPaymentConfig{
		KnownDIDs: []string{aliceDID, malloryDID, bobDID},
		HighRisk:  []string{malloryDID},
		Balance:   10,
	})
	ledger := newHookReceiver(t)
	dir := t.TempDir()
	hooks := filepath.Join(dir, "hooks.cai")
	writeFile(t, hooks, fmt.Sprintf(paymentHooks, ledger.URL))
	env = append(env, "IDENTITY_URL="+fake.URL(), "FRAUD_MODEL_URL="+fake.URL(), "BITCOIN_NODE_URL="+fake.URL())
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", example, "-c", hooks)
	a := api{t: t, base: s.base, token: token}
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		return run(t, dir, env, append(append([]string{"workflow"}, args...), "--server", s.base, "--token", token)...)
	}

	// a. Approved, with the CLI: every step runs once, one payment, one record, the event.
	out, errOut, code := cli("run", "verified_payment", "sender_did="+aliceDID, "recipient_address=bc1qrecipient",
		"sender_address=bc1qalice", "amount:=0.25")
	if code != 0 {
		t.Fatalf("workflow run (approved): exit %d\n%s\n%s\n%s", code, out, errOut, s.log())
	}
	for _, want := range []string{": completed\n", "verify_sender", "fraud_assessment", "execute_payment", "record_transaction",
		"announce", `"transaction_id": "tx0001"`, `"record_id": "rec-1"`, `"risk_score": 0.12`} {
		if !strings.Contains(out, want) {
			t.Errorf("workflow run (approved) does not print %q:\n%s", want, out)
		}
	}
	approvedID := strings.Fields(out)[1] // "run wfr_… of verified_payment: completed"
	approved := a.expect(200, "GET", "/workflows/runs/"+approvedID, nil)
	if got := stepStatuses(approved); got != "verify_sender=completed fraud_assessment=completed execute_payment=completed record_transaction=completed announce=completed" {
		t.Errorf("approved run's steps: %s", got)
	}
	if fake.Payments() != 1 || len(fake.Records()) != 1 {
		t.Errorf("approved: %d payments and %d records, want 1 and 1", fake.Payments(), len(fake.Records()))
	}
	if n := fake.Completions()["payment wf-"+approvedID+"-execute_payment"]; n != 1 {
		t.Errorf("the payment's idempotency key completed %d times, want 1: %v", n, fake.Completions())
	}
	if rec := fake.Records(); len(rec) == 1 {
		data, _ := rec[0]["transaction_data"].(map[string]any)
		if rec[0]["did"] != aliceDID || data["bitcoin_txid"] != "tx0001" || data["amount"] != 0.25 {
			t.Errorf("the record stored: %v", rec[0])
		}
	}
	eventually(t, "payment.completed at the ledger webhook", func() bool { return ledger.distinctEvents() == 1 })
	ledger.mu.Lock()
	for _, body := range ledger.bodies {
		if !strings.Contains(body, `"type":"payment.completed"`) || !strings.Contains(body, `"transaction_id":"tx0001"`) ||
			!strings.Contains(body, `"amount":0.25`) {
			t.Errorf("ledger webhook got %s", body)
		}
	}
	ledger.mu.Unlock()

	// b. Stopped by the fraud condition, through POST ?wait=: an answer, no payment.
	stopped := a.expect(200, "POST", "/workflows/verified_payment/runs?wait=30s", map[string]any{
		"sender_did": malloryDID, "recipient_address": "bc1qmule", "sender_address": "bc1qmallory", "amount": 1.5})
	if stopped["status"] != "stopped" || stopped["stopped_at"] != "execute_payment" || stopped["failed_step"] != nil {
		t.Fatalf("mallory's run: %v", stopped)
	}
	if got := stepStatuses(stopped); got != "verify_sender=completed fraud_assessment=completed execute_payment=skipped" {
		t.Errorf("stopped run's steps: %s", got)
	}
	if fake.Payments() != 1 {
		t.Errorf("a stopped run paid: %d payments", fake.Payments())
	}

	// c. A payment the node refuses, through POST without waiting: the run fails at the
	// payment and the identity verification is undone.
	failingInput := map[string]any{"sender_did": bobDID, "recipient_address": "bc1qshop", "sender_address": "bc1qbob", "amount": 50}
	status, accepted, header := rawDo(t, a, "POST", "/workflows/verified_payment/runs", failingInput)
	failedID, _ := accepted["id"].(string)
	if status != 202 || header.Get("Location") != "/workflows/runs/"+failedID || failedID == "" {
		t.Fatalf("POST without wait: %d %v Location %q", status, accepted, header.Get("Location"))
	}
	failed := finalRun(t, a, failedID)
	if failed["status"] != "failed" || failed["failed_step"] != "execute_payment" ||
		!strings.Contains(fmt.Sprint(failed["error"]), "402") || !strings.Contains(fmt.Sprint(failed["error"]), "insufficient funds") {
		t.Fatalf("bob's run: %v", failed)
	}
	if got := stepStatuses(failed); got != "verify_sender=compensated fraud_assessment=completed execute_payment=failed undo:verify_sender=completed" {
		t.Errorf("failed run's steps: %s", got)
	}
	if got := fake.Revoked(); !slices.Equal(got, []string{bobDID}) {
		t.Errorf("revoked DIDs = %v, want bob's", got)
	}
	list := a.expect(200, "GET", "/workflows/verified_payment/runs?status=failed", nil)
	if data := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != failedID {
		t.Errorf("?status=failed lists %v, want %s alone", data, failedID)
	}

	// The same input with the CLI: exit status 1, the failure printed.
	out, _, code = cli("run", "verified_payment", "sender_did="+bobDID, "recipient_address=bc1qshop", "sender_address=bc1qbob", "amount:=50")
	if code != 1 || !strings.Contains(out, ": failed at step execute_payment") || !strings.Contains(out, "insufficient funds") {
		t.Errorf("workflow run (failing): exit %d\n%s", code, out)
	}

	// The declared workflows with their run counts, in the API and the CLI.
	wfs := a.expect(200, "GET", "/workflows", nil)["data"].([]any)
	if len(wfs) != 1 {
		t.Fatalf("GET /workflows: %v", wfs)
	}
	wf := wfs[0].(map[string]any)
	if runs := fmt.Sprint(wf["runs"]); wf["name"] != "verified_payment" || runs != "map[completed:1 failed:2 stopped:1]" {
		t.Errorf("GET /workflows: %v", wf)
	}
	if out, _, code := cli("status"); code != 0 || !strings.Contains(out, "verified_payment") || !strings.Contains(out, "COMPLETED") {
		t.Errorf("workflow status: exit %d\n%s", code, out)
	}
	if out, _, code := cli("status", failedID); code != 0 || !strings.Contains(out, "undo:verify_sender") ||
		!strings.Contains(out, "compensated") || !strings.Contains(out, "insufficient funds") {
		t.Errorf("workflow status %s: exit %d\n%s", failedID, code, out)
	}

	// Retry: the compensated step runs again, the payment fails again, and is undone again.
	verifies := len(fake.RequestsTo("POST", "/identities/verify"))
	retried := a.expect(202, "POST", "/workflows/runs/"+failedID+"/retry", nil)
	if retried["status"] != "pending" {
		t.Errorf("retry answered %v", retried)
	}
	failed = finalRun(t, a, failedID)
	if failed["status"] != "failed" || failed["failed_step"] != "execute_payment" {
		t.Errorf("retried run: %v", failed)
	}
	if n := len(fake.RequestsTo("POST", "/identities/verify")); n != verifies+1 {
		t.Errorf("verify_sender called %d times on retry, want 1 (it was compensated)", n-verifies)
	}
	if n := fake.Completions()["payment wf-"+failedID+"-execute_payment"]; n != 0 {
		t.Errorf("a refused payment completed %d times", n)
	}
	if got := fake.Revoked(); len(got) != 3 || got[2] != bobDID {
		t.Errorf("revoked after the retry = %v, want bob's verification undone again", got)
	}

	// The API's refusals, all problem+json.
	expectProblem(t, a, 409, "POST", "/workflows/runs/"+approvedID+"/retry", nil)
	expectProblem(t, a, 409, "POST", "/workflows/runs/"+approvedID+"/cancel", nil)
	expectProblem(t, a, 404, "GET", "/workflows/runs/nope", nil)
	expectProblem(t, a, 404, "POST", "/workflows/runs/nope/cancel", nil)
	expectProblem(t, a, 404, "POST", "/workflows/nope/runs", map[string]any{})
	expectProblem(t, a, 404, "GET", "/workflows/nope/runs", nil)
	expectProblem(t, a, 400, "POST", "/workflows/verified_payment/runs", []any{1, 2})
	expectProblem(t, a, 400, "POST", "/workflows/verified_payment/runs?wait=abc", map[string]any{})
	expectProblem(t, a, 400, "POST", "/workflows/verified_payment/runs?wait=1h", map[string]any{})
	expectProblem(t, a, 400, "GET", "/workflows/verified_payment/runs?status=sleepy", nil)
	if _, errOut, code := cli("run", "nope"); code != 1 || !strings.Contains(errOut, "404 Not found: no workflow named \"nope\" is declared") {
		t.Errorf("workflow run nope: exit %d %s", code, errOut)
	}
	if _, errOut, code := cli("run", "verified_payment", "amount:=lots"); code != 1 || !strings.Contains(errOut, `amount:= expects JSON, found "lots"`) {
		t.Errorf("workflow run with a bad JSON argument: exit %d %s", code, errOut)
	}
	if fake.Payments() != 1 {
		t.Errorf("%d payments in all, want 1", fake.Payments())
	}
}

// TestWorkflowCancel cancels a run that sleeps (stored as waiting, held by no process:
// cancelled at once) and a run in the middle of a call (held: cancelled at its step).
func TestWorkflowCancel(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	entered := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case entered <- struct{}{}:
		default:
		}
		<-r.Context().Done() // answers only when the caller gives up
	}))
	t.Cleanup(slow.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, fmt.Sprintf(`integration Slow {
    base_url: "%s"
    timeout: 1m
    operation hang { method: POST  path: "/hang" }
}

workflow napper {
    steps {
        nap { sleep 1h }
        after { transform { done: true } }
    }
}

workflow caller {
    steps {
        call_slow { call "Slow.hang" }
    }
}
`, slow.URL))
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}

	id := a.expect(202, "POST", "/workflows/napper/runs", nil)["id"].(string)
	var run map[string]any
	pollRun(t, a, id, "waiting", func(r map[string]any) bool { run = r; return r["status"] == "waiting" })
	if got := stepStatuses(run); got != "nap=waiting" || run["next_check_at"] == nil {
		t.Errorf("sleeping run: %v", run)
	}
	cancelled := a.expect(202, "POST", "/workflows/runs/"+id+"/cancel", nil)
	if cancelled["status"] != "cancelled" {
		t.Errorf("cancel of a waiting run answered %v", cancelled)
	}
	run = a.expect(200, "GET", "/workflows/runs/"+id, nil)
	if run["status"] != "cancelled" || run["finished_at"] == nil || run["next_check_at"] != nil {
		t.Errorf("cancelled run: %v", run)
	}
	expectProblem(t, a, 409, "POST", "/workflows/runs/"+id+"/cancel", nil)

	id = a.expect(202, "POST", "/workflows/caller/runs", nil)["id"].(string)
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatalf("the call step never reached the upstream:\n%s", s.log())
	}
	a.expect(202, "POST", "/workflows/runs/"+id+"/cancel", nil)
	run = finalRun(t, a, id)
	if run["status"] != "cancelled" || calls.Load() != 1 {
		t.Errorf("run cancelled during its call: %v (%d calls)", run, calls.Load())
	}
}

// TestWorkflowMetrics checks the workflow series on /metrics after a run.
func TestWorkflowMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `workflow tally {
    steps {
        count { transform { n: "{{input.n}}" } }
    }
}
`)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	done := a.expect(200, "POST", "/workflows/tally/runs?wait=30s", map[string]any{"n": 3})
	if done["status"] != "completed" || fmt.Sprint(done["output"]) != "map[count:map[n:3]]" {
		t.Fatalf("tally run: %v", done)
	}
	wants := []string{
		`junction_workflow_runs{status="completed",workflow="tally"} 1`,
		`junction_workflow_runs_started_total{workflow="tally"} 1`,
		`junction_workflow_runs_finished_total{status="completed",workflow="tally"} 1`,
		`junction_workflow_step_duration_seconds_count{outcome="completed",step="count",workflow="tally"} 1`,
	}
	// The counters follow the run's end by a moment (the run is stored as ended first).
	var missing []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, body := s.get(t, "/metrics", "")
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		missing = missing[:0]
		for _, want := range wants {
			if !strings.Contains(string(body), want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("/metrics lacks %s", m)
	}
}

// stepStatuses is a run's steps as "id=status …", in the order the API gives them.
func stepStatuses(run map[string]any) string {
	steps, _ := run["steps"].([]any)
	parts := make([]string, 0, len(steps))
	for _, s := range steps {
		st := s.(map[string]any)
		parts = append(parts, fmt.Sprintf("%s=%s", st["id"], st["status"]))
	}
	return strings.Join(parts, " ")
}

// finalRun polls a run until it has ended and returns it with its steps.
func finalRun(t *testing.T, a api, id string) map[string]any {
	t.Helper()
	var run map[string]any
	pollRun(t, a, id, "its end", func(r map[string]any) bool {
		run = r
		switch r["status"] {
		case "completed", "stopped", "failed", "cancelled":
			return true
		}
		return false
	})
	return run
}

// pollRun reads a run until done says so, for at most 30 s.
func pollRun(t *testing.T, a api, id, what string, done func(map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := a.expect(200, "GET", "/workflows/runs/"+id, nil)
		if done(r) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: timed out waiting for %s: %v", id, what, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rawDo is api.do with the response's header, for Location and Content-Type.
func rawDo(t *testing.T, a api, method, path string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out, resp.Header
}

// expectProblem checks that a request is refused with status as problem+json.
func expectProblem(t *testing.T, a api, status int, method, path string, body any) {
	t.Helper()
	got, p, h := rawDo(t, a, method, path, body)
	if got != status || h.Get("Content-Type") != "application/problem+json" || p["status"] != float64(status) || p["title"] == nil {
		t.Errorf("%s %s: %d %s %v, want a %d problem", method, path, got, h.Get("Content-Type"), p, status)
	}
}

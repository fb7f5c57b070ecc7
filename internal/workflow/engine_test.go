package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/webhook"
)

// fakeCaller answers each "Integration.operation" with a handler; it records every call
// with its idempotency key.
type fakeCaller struct {
	mu       sync.Mutex
	calls    []string // "I.op key"
	params   map[string][]map[string]any
	handlers map[string]func(params map[string]any) (int, string)
}

func newFakeCaller() *fakeCaller {
	return &fakeCaller{params: map[string][]map[string]any{}, handlers: map[string]func(map[string]any) (int, string){}}
}

func (f *fakeCaller) on(op string, h func(map[string]any) (int, string)) { f.handlers[op] = h }

func (f *fakeCaller) Call(ctx context.Context, in, op string, params map[string]any, co integration.CallOptions) (*integration.Result, error) {
	name := in + "." + op
	f.mu.Lock()
	f.calls = append(f.calls, name+" "+co.IdempotencyKey)
	f.params[name] = append(f.params[name], params)
	h := f.handlers[name]
	f.mu.Unlock()
	if h == nil {
		return &integration.Result{Status: 200, Body: []byte(`{}`)}, nil
	}
	status, body := h(params)
	if status == 0 { // block until the caller gives up
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &integration.Result{Status: status, Body: []byte(body)}, nil
}

func (f *fakeCaller) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.params[op])
}

// storePublisher stores events as the webhook service does (no endpoints).
type storePublisher struct{ st store.Store }

func (p storePublisher) Publish(ctx context.Context, e event.Event) (webhook.PublishResult, error) {
	if e.ID == "" {
		e.ID = event.NewID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	_, _, err := p.st.EventPublish(ctx, e, nil)
	return webhook.PublishResult{EventID: e.ID}, err
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func newEngine(t *testing.T, st store.Store, caller integration.Caller, wfs ...*config.Workflow) *Engine {
	t.Helper()
	e, err := New(&config.Config{Workflows: wfs}, Options{
		Store: st, Caller: caller, Publisher: storePublisher{st}, PollInterval: 50 * time.Millisecond, Flushers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

func call(id, target string, input map[string]any) *config.WorkflowStep {
	return &config.WorkflowStep{ID: id, Kind: config.WorkflowCall, Target: target, Input: input}
}

// runToEnd starts a run and waits (30 s at most) for it to end.
func runToEnd(t *testing.T, e *Engine, name, input string) (Run, map[string]Step) {
	t.Helper()
	r, _, err := e.StartRun(context.Background(), name, json.RawMessage(input), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return waitEnd(t, e, r.ID)
}

func waitEnd(t *testing.T, e *Engine, id string) (Run, map[string]Step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, steps, err := e.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Status.Final() {
		t.Fatalf("run %s still %s after 30s: %+v", id, r.Status, steps)
	}
	byID := map[string]Step{}
	for _, s := range steps {
		byID[s.StepID] = s
	}
	return r, byID
}

// verifiedPayment is seed 001's workflow in the model's normal form.
func verifiedPayment() *config.Workflow {
	verify := call("verify_sender", "Identity.verify", map[string]any{"did": "{{input.sender_did}}", "method": "biometric"})
	verify.Output = map[string]any{"sender_verified": "{{output.verified}}", "verification_score": "{{output.confidence}}"}
	verify.Compensation = call("undo:verify_sender", "Identity.revoke", map[string]any{"did": "{{input.sender_did}}"})
	fraud := call("fraud_assessment", "Fraud.assess", map[string]any{"amount": "{{input.amount}}", "score": "{{steps.verify_sender.verification_score}}"})
	pay := call("execute_payment", "Payments.send", map[string]any{"amount": "{{input.amount}}", "memo": "risk {{steps.fraud_assessment.risk_score}}"})
	pay.Condition = "steps.verify_sender.sender_verified && steps.fraud_assessment.risk_score < 0.7"
	pay.OnFalse = config.OnFalseStop
	pay.Output = map[string]any{"transaction_id": "{{output.txid}}", "status": "{{output.status}}"}
	record := call("record_transaction", "Identity.record", map[string]any{"txid": "{{steps.execute_payment.transaction_id}}"})
	record.Condition = "steps.execute_payment.status == 'success'"
	return &config.Workflow{
		Name: "verified_payment", Steps: []*config.WorkflowStep{verify, fraud, pay, record},
		Output: map[string]any{"txid": "{{steps.execute_payment.transaction_id}}", "risk": "{{steps.fraud_assessment.risk_score}}"},
	}
}

func paymentFakes(risk float64, payStatus int) *fakeCaller {
	f := newFakeCaller()
	f.on("Identity.verify", func(map[string]any) (int, string) { return 200, `{"verified":true,"confidence":0.93}` })
	f.on("Fraud.assess", func(map[string]any) (int, string) { return 200, fmt.Sprintf(`{"risk_score":%g}`, risk) })
	f.on("Payments.send", func(map[string]any) (int, string) {
		return payStatus, `{"txid":"tx-1","status":"success"}`
	})
	return f
}

func TestVerifiedPaymentPaths(t *testing.T) {
	st := openSQLite(t)

	t.Run("approved", func(t *testing.T) {
		f := paymentFakes(0.2, 200)
		e := newEngine(t, st, f, verifiedPayment())
		r, steps := runToEnd(t, e, "verified_payment", `{"sender_did":"did:web:alice","amount":0.25}`)
		if r.Status != store.WorkflowCompleted || string(r.Output) != `{"risk":0.2,"txid":"tx-1"}` {
			t.Fatalf("run = %s %s %s", r.Status, r.Output, r.Error)
		}
		for _, id := range []string{"verify_sender", "fraud_assessment", "execute_payment", "record_transaction"} {
			if steps[id].Status != store.StepCompleted || steps[id].Attempts != 1 {
				t.Errorf("step %s = %+v", id, steps[id])
			}
		}
		if got := f.params["Payments.send"][0]; got["amount"] != 0.25 || got["memo"] != "risk 0.2" {
			t.Errorf("payment params = %v", got)
		}
		if got := f.params["Identity.record"][0]; got["txid"] != "tx-1" {
			t.Errorf("record params = %v", got)
		}
		for _, c := range f.calls {
			if !strings.Contains(c, " wf-"+r.ID+"-") {
				t.Errorf("call %q has no idempotency key from the run and step", c)
			}
		}
	})

	t.Run("stopped by the fraud condition", func(t *testing.T) {
		f := paymentFakes(0.9, 200)
		e := newEngine(t, st, f, verifiedPayment())
		r, steps := runToEnd(t, e, "verified_payment", `{"sender_did":"did:web:mallory","amount":5}`)
		if r.Status != store.WorkflowStopped || r.FailedStep != "execute_payment" {
			t.Fatalf("run = %s at %q: %s", r.Status, r.FailedStep, r.Error)
		}
		if steps["execute_payment"].Status != store.StepSkipped || f.count("Payments.send") != 0 {
			t.Errorf("the payment ran: %+v", steps["execute_payment"])
		}
		if _, ok := steps["record_transaction"]; ok || f.count("Identity.record") != 0 {
			t.Error("the run went on after stopping")
		}
	})

	t.Run("payment failure with compensation", func(t *testing.T) {
		f := paymentFakes(0.2, 402)
		e := newEngine(t, st, f, verifiedPayment())
		r, steps := runToEnd(t, e, "verified_payment", `{"sender_did":"did:web:bob","amount":1}`)
		if r.Status != store.WorkflowFailed || r.FailedStep != "execute_payment" || !strings.Contains(r.Error, "answered 402") {
			t.Fatalf("run = %s at %q: %s", r.Status, r.FailedStep, r.Error)
		}
		if steps["verify_sender"].Status != store.StepCompensated || steps["undo:verify_sender"].Status != store.StepCompleted {
			t.Errorf("steps = %+v", steps)
		}
		if got := f.params["Identity.revoke"]; len(got) != 1 || got[0]["did"] != "did:web:bob" {
			t.Errorf("compensation calls = %v", got)
		}
		if f.count("Payments.send") != 1 {
			t.Errorf("a 402 was retried: %d calls", f.count("Payments.send"))
		}
	})
}

func TestRetriesThenRetryFromFailedStep(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	var mu sync.Mutex
	healthy := false
	f.on("B.flaky", func(map[string]any) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			return 200, `{"ok":true}`
		}
		return 503, `{"error":"down"}`
	})
	flaky := call("flaky", "B.flaky", nil)
	flaky.Retry = &config.Retry{Attempts: 2, Initial: time.Millisecond}
	wf := &config.Workflow{Name: "w", Steps: []*config.WorkflowStep{call("first", "B.first", nil), flaky}}
	e := newEngine(t, st, f, wf)
	r, steps := runToEnd(t, e, "w", `{}`)
	if r.Status != store.WorkflowFailed || steps["flaky"].Attempts != 3 || f.count("B.flaky") != 3 {
		t.Fatalf("run = %s, flaky = %+v, calls %d", r.Status, steps["flaky"], f.count("B.flaky"))
	}
	mu.Lock()
	healthy = true
	mu.Unlock()
	if _, err := e.Retry(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	r, steps = waitEnd(t, e, r.ID)
	if r.Status != store.WorkflowCompleted || f.count("B.first") != 1 || steps["flaky"].Status != store.StepCompleted {
		t.Fatalf("after retry: %s, first called %d times, flaky %+v", r.Status, f.count("B.first"), steps["flaky"])
	}
	if _, err := e.Retry(context.Background(), r.ID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("retrying a completed run: %v", err)
	}
}

// TestResumeAfterStop: a run stopped mid-step (the process going away) is resumed by
// the next engine at that step; the completed step is not called again and the step in
// flight is called again with the same idempotency key.
func TestResumeAfterStop(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	blocked := make(chan struct{}, 1)
	f.on("B.second", func(map[string]any) (int, string) {
		select {
		case blocked <- struct{}{}:
			return 0, "" // the first call hangs until the engine stops
		default:
			return 200, `{"n":2}`
		}
	})
	wf := &config.Workflow{Name: "w", Steps: []*config.WorkflowStep{call("first", "B.first", nil), call("second", "B.second", nil), call("third", "B.third", nil)}}
	first, err := New(&config.Config{Workflows: []*config.Workflow{wf}}, Options{Store: st, Caller: f, Publisher: storePublisher{st}, Flushers: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Start(context.Background())
	r, _, err := first.StartRun(context.Background(), "w", nil, StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-time.After(30 * time.Second):
		t.Fatal("the second step was never called")
	case <-func() chan struct{} {
		ch := make(chan struct{})
		go func() {
			for f.count("B.second") == 0 {
				time.Sleep(time.Millisecond)
			}
			close(ch)
		}()
		return ch
	}():
	}
	_ = first.Stop(context.Background())

	second := newEngine(t, st, f, wf)
	r, steps := waitEnd(t, second, r.ID)
	if r.Status != store.WorkflowCompleted {
		t.Fatalf("run = %s %s", r.Status, r.Error)
	}
	if f.count("B.first") != 1 || f.count("B.second") != 2 || f.count("B.third") != 1 {
		t.Errorf("calls = %v", f.calls)
	}
	f.mu.Lock()
	var keys []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, "B.second ") {
			keys = append(keys, c)
		}
	}
	f.mu.Unlock()
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Errorf("the step in flight was called again with another key: %v", keys)
	}
	if steps["second"].Status != store.StepCompleted {
		t.Errorf("steps = %+v", steps)
	}
}

func TestSleepWaitEmitAndChild(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	f.on("B.double", func(p map[string]any) (int, string) { return 200, fmt.Sprintf(`{"n":%v}`, p["n"].(float64)*2) })
	child := &config.Workflow{Name: "child", Steps: []*config.WorkflowStep{call("double", "B.double", map[string]any{"n": "{{input.n}}"})},
		Output: map[string]any{"n": "{{steps.double.n}}"}}
	sleep := &config.WorkflowStep{ID: "nap", Kind: config.WorkflowSleep, Sleep: 1500 * time.Millisecond}
	emit := &config.WorkflowStep{ID: "announce", Kind: config.WorkflowEmit, Target: "order.waiting", Input: map[string]any{"order": "{{input.order}}"}}
	wait := &config.WorkflowStep{ID: "shipped", Kind: config.WorkflowWait, Target: "order.shipped", Timeout: 30 * time.Second,
		Match: map[string]any{"order": "{{input.order}}"}}
	kid := &config.WorkflowStep{ID: "kid", Kind: config.WorkflowChild, Target: "child", Input: map[string]any{"n": "{{steps.shipped.parcels}}"}}
	transform := &config.WorkflowStep{ID: "sum", Kind: config.WorkflowTransform, Input: map[string]any{"total": "=steps.kid.n + 1"}}
	parent := &config.Workflow{Name: "parent", Steps: []*config.WorkflowStep{sleep, emit, wait, kid, transform}}
	e := newEngine(t, st, f, parent, child)

	r, _, err := e.StartRun(context.Background(), "parent", json.RawMessage(`{"order":"o-7"}`), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The run sleeps, emits, then waits: once it waits, publish another order's event
	// first (no match), then its own.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, steps, _ := e.Get(context.Background(), r.ID)
		if slices.ContainsFunc(steps, func(s Step) bool { return s.StepID == "shipped" && s.Status == store.StepWaiting }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run does not wait for order.shipped: %+v", steps)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if evs, _ := st.WorkflowEventsSince(context.Background(), "order.waiting", time.Unix(0, 0), 10); len(evs) != 1 {
		t.Errorf("the emit step published %d events", len(evs))
	}
	pub := storePublisher{st}
	_, _ = pub.Publish(context.Background(), event.Event{Type: "order.shipped", Data: json.RawMessage(`{"order":"o-8","parcels":9}`)})
	_, _ = pub.Publish(context.Background(), event.Event{Type: "order.shipped", Data: json.RawMessage(`{"order":"o-7","parcels":3}`)})
	r, steps := waitEnd(t, e, r.ID)
	if r.Status != store.WorkflowCompleted {
		t.Fatalf("run = %s %s: %+v", r.Status, r.Error, steps)
	}
	if got := string(steps["sum"].Output); got != `{"total":7}` {
		t.Errorf("sum = %s (want the child's double of the matching event's 3, plus 1)", got)
	}
	if d := steps["nap"].FinishedAt.Sub(*steps["nap"].StartedAt); d < 1500*time.Millisecond {
		t.Errorf("slept %s", d)
	}
	kids, _, _ := st.WorkflowRunList(context.Background(), store.WorkflowRunFilter{ParentID: r.ID, Page: store.Page{Page: 1, Limit: 10}})
	if len(kids) != 1 || kids[0].Status != store.WorkflowCompleted {
		t.Errorf("child runs = %+v", kids)
	}
}

func TestWaitTimesOutAndCancel(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	wait := &config.WorkflowStep{ID: "w", Kind: config.WorkflowWait, Target: "never.happens", Timeout: 1200 * time.Millisecond}
	e := newEngine(t, st, f,
		&config.Workflow{Name: "impatient", Steps: []*config.WorkflowStep{wait}},
		&config.Workflow{Name: "long", Steps: []*config.WorkflowStep{{ID: "nap", Kind: config.WorkflowSleep, Sleep: time.Hour}}})
	r, steps := runToEnd(t, e, "impatient", `{}`)
	if r.Status != store.WorkflowFailed || !strings.Contains(steps["w"].Error, "no never.happens event") {
		t.Errorf("run = %s: %+v", r.Status, steps["w"])
	}

	long, _, err := e.StartRun(context.Background(), "long", nil, StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _, _ := e.Get(context.Background(), long.ID)
		if got.Status == store.WorkflowWaiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run does not wait: %s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := e.Cancel(context.Background(), long.ID); err != nil {
		t.Fatal(err)
	}
	r, _ = waitEnd(t, e, long.ID)
	if r.Status != store.WorkflowCancelled {
		t.Errorf("cancelled run = %s", r.Status)
	}
	if _, err := e.Cancel(context.Background(), long.ID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("cancelling a cancelled run: %v", err)
	}
}

// TestTimeoutWhileSleeping: a run whose timeout passes while it sleeps fails then, not
// when the sleep ends.
func TestTimeoutWhileSleeping(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	first := call("first", "B.first", nil)
	first.Compensation = call("undo:first", "B.undo", nil)
	e := newEngine(t, st, f, &config.Workflow{Name: "w", Timeout: 1500 * time.Millisecond, Steps: []*config.WorkflowStep{
		first, {ID: "nap", Kind: config.WorkflowSleep, Sleep: time.Hour}, call("after", "B.after", nil)}})
	r, steps := runToEnd(t, e, "w", `{}`)
	if r.Status != store.WorkflowFailed || r.FailedStep != "nap" || !strings.Contains(r.Error, "timeout") {
		t.Fatalf("run = %s at %s: %s", r.Status, r.FailedStep, r.Error)
	}
	if steps["first"].Status != store.StepCompensated || f.count("B.undo") != 1 || f.count("B.after") != 0 {
		t.Errorf("steps = %+v", steps)
	}
}

func TestParallelAndTimeout(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	f.on("B.a", func(map[string]any) (int, string) { return 200, `{"a":1}` })
	f.on("B.b", func(map[string]any) (int, string) { return 200, `{"b":2}` })
	f.on("B.hang", func(map[string]any) (int, string) { return 0, "" })
	par := &config.WorkflowStep{ID: "both", Kind: config.WorkflowParallel, Branches: []*config.WorkflowStep{call("a", "B.a", nil), call("b", "B.b", nil)}}
	after := &config.WorkflowStep{ID: "sum", Kind: config.WorkflowTransform, Input: map[string]any{"s": "=steps.a.a + steps.b.b"}}
	undone := call("a", "B.a", nil)
	undone.Compensation = call("undo:a", "B.undo_a", nil)
	e := newEngine(t, st, f,
		&config.Workflow{Name: "par", Steps: []*config.WorkflowStep{par, after}},
		&config.Workflow{Name: "slow", Timeout: 500 * time.Millisecond, Steps: []*config.WorkflowStep{
			{ID: "both", Kind: config.WorkflowParallel, Branches: []*config.WorkflowStep{undone}}, call("hang", "B.hang", nil)}})
	r, steps := runToEnd(t, e, "par", `{}`)
	if r.Status != store.WorkflowCompleted || string(steps["sum"].Output) != `{"s":3}` {
		t.Fatalf("run = %s %s: %+v", r.Status, r.Error, steps)
	}
	r, steps = runToEnd(t, e, "slow", `{}`)
	if r.Status != store.WorkflowFailed || !strings.Contains(r.Error, "timeout") || r.FailedStep != "hang" {
		t.Fatalf("run = %s at %s: %s", r.Status, r.FailedStep, r.Error)
	}
	if steps["a"].Status != store.StepCompensated || f.count("B.undo_a") != 1 {
		t.Errorf("the branch was not compensated after the timeout: %+v", steps)
	}
}

func TestStartRunRefusesBadInput(t *testing.T) {
	st := openSQLite(t)
	e := newEngine(t, st, newFakeCaller(), &config.Workflow{Name: "w", Steps: []*config.WorkflowStep{call("a", "B.a", nil)}})
	for _, in := range []string{`[1]`, `"x"`, `null`, `{`} {
		if _, _, err := e.StartRun(context.Background(), "w", json.RawMessage(in), StartOptions{}); !errors.Is(err, ErrBadInput) {
			t.Errorf("input %s: %v", in, err)
		}
	}
	if _, _, err := e.StartRun(context.Background(), "nope", nil, StartOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown workflow: %v", err)
	}
	// The same ID starts one run.
	a, created, err := e.StartRun(context.Background(), "w", nil, StartOptions{ID: "wfr_same"})
	if err != nil || !created {
		t.Fatal(err)
	}
	b, created, err := e.StartRun(context.Background(), "w", nil, StartOptions{ID: "wfr_same"})
	if err != nil || created || b.ID != a.ID {
		t.Errorf("second start: %v %v %v", b.ID, created, err)
	}
	waitEnd(t, e, a.ID)
	runs, total, err := e.List(context.Background(), Filter{Workflow: "w", Page: store.Page{Page: 1, Limit: 10}})
	if err != nil || total != 1 || len(runs) != 1 || !slices.ContainsFunc(runs, func(r Run) bool { return r.ID == "wfr_same" }) {
		t.Errorf("runs = %v %d %v", runs, total, err)
	}
}

// TestRunEventForWatchers: a run that ends is told to whoever watches the bus, with its
// status and failed step.
func TestRunEventForWatchers(t *testing.T) {
	st := openSQLite(t)
	f := newFakeCaller()
	f.on("B.down", func(map[string]any) (int, string) { return 400, `{"error":"no"}` })
	bus := event.New(slog.New(slog.DiscardHandler))
	t.Cleanup(bus.Close)
	w := bus.Watch(func(e event.Event) bool { return e.Type == RunEvent }, 8)
	defer w.Stop()
	e, err := New(&config.Config{Workflows: []*config.Workflow{{Name: "w", Steps: []*config.WorkflowStep{call("s1", "B.down", nil)}}}}, Options{
		Store: st, Caller: f, Publisher: storePublisher{st}, Bus: bus, PollInterval: 50 * time.Millisecond, Flushers: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	r, _ := runToEnd(t, e, "w", `{}`)
	select {
	case ev := <-w.Events():
		f := ev.Fields()
		if f["workflow"] != "w" || f["run_id"] != r.ID || f["status"] != string(store.WorkflowFailed) || f["failed_step"] != "s1" {
			t.Errorf("event %v", f)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no run event")
	}
}

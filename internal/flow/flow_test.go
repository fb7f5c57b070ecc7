package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/connector/memory"
	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness runs one configuration's flows over memory connectors named in, a, b, …
type harness struct {
	t       *testing.T
	engine  *flow.Engine
	src     *memory.Source
	sinks   map[string]*memory.Sink
	dlq     *fakeDLQ
	calls   *fakeInternal
	clock   *clock.Fake
	bus     *event.Bus // the flows' Watchers
	stopped bool
}

const connectors = `
connector in { type: memory }
connector a { type: memory }
connector b { type: memory }
`

func newHarness(t *testing.T, src string) *harness {
	return newHarnessClock(t, src, clock.NewAutoFake(time.Now()))
}

func newHarnessClock(t *testing.T, src string, clk clock.Clock) *harness {
	t.Helper()
	cfg, diags := config.Decode("test.cai", []byte(connectors+src))
	if err := diags.Err(); err != nil {
		t.Fatalf("config: %v", err)
	}
	h := &harness{
		t: t, src: memory.NewSource(100000),
		sinks: map[string]*memory.Sink{"a": {}, "b": {}},
		dlq:   newFakeDLQ(), calls: &fakeInternal{},
		bus: event.New(slog.New(slog.DiscardHandler)),
	}
	t.Cleanup(h.bus.Close)
	h.clock, _ = clk.(*clock.Fake)
	e, err := flow.New(cfg, flow.Options{
		Kinds:       map[string]connector.Kind{"memory": memory.Kind("memory", map[string]*memory.Source{"in": h.src}, h.sinks)},
		Env:         connector.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clk, Internal: h.calls},
		DeadLetters: h.dlq,
		Watchers:    h.bus,
	})
	if err != nil {
		t.Fatalf("flow.New: %v", err)
	}
	h.engine = e
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if !h.stopped {
		h.stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.engine.Close(ctx)
	}
}

func (h *harness) put(bodies ...string) {
	for _, b := range bodies {
		h.src.Put(connector.Message{Body: []byte(b), Time: time.Now()})
	}
}

// settled waits until n messages were acknowledged.
func (h *harness) settled(n int64) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d messages acknowledged", n), func() bool { return h.src.Acked.Load() >= n })
}

// waitFor polls cond until it holds, failing after a deadline generous enough for a
// loaded machine.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// status is the flow's status now.
func (h *harness) status(name string) flow.Status {
	h.t.Helper()
	st, err := h.engine.Status(context.Background(), name)
	if err != nil {
		h.t.Fatalf("Status(%s): %v", name, err)
	}
	return st
}

func bodies(msgs []connector.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

const orderFlow = `
flow orders {
    source: in
    step map {
        transform: { id: "$.orderId", total: "$.orderTotal", items: "$.orderItems[*]", kind: "order" }
    }
    step check {
        validate: {
            type: "object"
            required: ["id", "total"]
            properties: { id: { type: "string" }, total: { type: "number", minimum: 0 } }
        }
    }
    step by-total {
        route: { "total >= 1000": "big", else: "small" }
    }
    sink big { connector: a }
    sink small { connector: b }
    on_error: retry 2 times with exponential_backoff(10ms, max 50ms) then dead_letter("failed-orders")
}
`

func TestTransformValidateRoute(t *testing.T) {
	h := newHarness(t, orderFlow)
	h.put(
		`{"orderId":"o1","orderTotal":1500,"orderItems":[{"sku":"x"}]}`,
		`{"orderId":"o2","orderTotal":20,"orderItems":[]}`,
		`{"orderId":"o3","orderTotal":1000}`,
	)
	h.settled(3)
	h.stop()
	big, small := bodies(h.sinks["a"].Received()), bodies(h.sinks["b"].Received())
	if len(big) != 2 || len(small) != 1 {
		t.Fatalf("big %v, small %v", big, small)
	}
	for _, b := range big {
		if !strings.Contains(b, `"id":"o1"`) && !strings.Contains(b, `"id":"o3"`) {
			t.Errorf("%s went to big", b)
		}
	}
	if small[0] != `{"id":"o2","items":[],"kind":"order","total":20}` {
		t.Errorf("small got %s", small[0])
	}
	st, _ := h.engine.Status(context.Background(), "orders")
	if st.Counters.Received != 3 || st.Counters.Delivered != 3 || st.State != flow.StateStopped {
		t.Errorf("status %+v", st)
	}
}

func TestPoisonMessagesGoToDeadLetterQueue(t *testing.T) {
	h := newHarness(t, orderFlow)
	h.put(`not json`, `{"orderId":"o1","orderTotal":-5}`, `{"orderId":7,"orderTotal":5}`, `{"orderId":"ok","orderTotal":5}`)
	h.settled(4)
	h.stop()
	if got := bodies(h.sinks["b"].Received()); len(got) != 1 || !strings.Contains(got[0], `"ok"`) {
		t.Fatalf("the good message after the poison ones was not delivered: %v", got)
	}
	dls := h.dlq.all()
	if len(dls) != 3 {
		t.Fatalf("%d dead letters, want 3: %+v", len(dls), dls)
	}
	want := map[string]string{
		`not json`:                         "decode",
		`{"orderId":"o1","orderTotal":-5}`: "check",
		`{"orderId":7,"orderTotal":5}`:     "check",
	}
	for _, d := range dls {
		if want[string(d.Body)] != d.Step || d.Queue != "failed-orders" || d.Flow != "orders" || d.Error == "" || d.Attempts != 1 {
			t.Errorf("dead letter %+v", d)
		}
	}
	st, _ := h.engine.Status(context.Background(), "orders")
	if st.Counters.DeadLettered != 3 || st.DeadLetters != 3 || st.LastError == nil || st.LastError.Step == "" {
		t.Errorf("status %+v", st)
	}
}

func TestSinkFailuresAreRetriedThenDeadLettered(t *testing.T) {
	h := newHarness(t, orderFlow)
	var mu sync.Mutex
	failures := 0
	h.sinks["b"].Fail = func(msgs []connector.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(msgs[0].Body), "flaky") && failures < 2 {
			failures++
			return errors.New("connection reset")
		}
		if strings.Contains(string(msgs[0].Body), "down") {
			return errors.New("database is down")
		}
		return nil
	}
	h.put(`{"orderId":"flaky","orderTotal":1}`)
	h.settled(1)
	h.put(`{"orderId":"down","orderTotal":1}`)
	h.settled(2)
	h.stop()
	if got := bodies(h.sinks["b"].Received()); len(got) != 1 || !strings.Contains(got[0], "flaky") {
		t.Fatalf("sink b got %v", got)
	}
	dls := h.dlq.all()
	if len(dls) != 1 || dls[0].Step != "sink small" || dls[0].Attempts != 3 || !strings.Contains(dls[0].Error, "database is down") {
		t.Fatalf("dead letters %+v", dls)
	}
	if slept := h.clock.Slept(); len(slept) != 4 {
		t.Errorf("waited %v between attempts, want 4 back-off delays (2 per message)", slept)
	}
}

func TestBadMessageInBatchDoesNotFailOthers(t *testing.T) {
	h := newHarness(t, `flow f { source: in
        sink out { connector: a } }`)
	h.sinks["a"].Fail = func(msgs []connector.Message) error {
		for i, m := range msgs {
			if strings.Contains(string(m.Body), "bad") {
				return &connector.MessageError{Index: i, Err: errors.New("missing key")}
			}
		}
		return nil
	}
	var msgs []string
	for i := range 300 {
		if i%50 == 7 {
			msgs = append(msgs, fmt.Sprintf(`{"n":%d,"bad":true}`, i))
		} else {
			msgs = append(msgs, fmt.Sprintf(`{"n":%d}`, i))
		}
	}
	h.put(msgs...)
	h.settled(300)
	h.stop()
	if got := h.sinks["a"].Count(); got != 294 {
		t.Errorf("sink accepted %d, want 294", got)
	}
	if dls := h.dlq.all(); len(dls) != 6 || dls[0].Step != "sink out" || dls[0].Attempts != 1 {
		t.Errorf("dead letters: %d %+v", len(dls), dls)
	}
}

func TestFilterSplitEnrich(t *testing.T) {
	h := newHarness(t, `
integration Customers { base_url: "http://127.0.0.1:1"
    operation get { method: GET  path: "/customers/{id}" } }
flow f {
    source: in
    step only-gold { filter: "tier == \"gold\"" }
    step lines { split: "$.lines" }
    step customer {
        enrich: Customers.get
        params: { id: "$.customer" }
        as: "customer_details"
    }
    sink out { connector: a }
}`)
	h.calls.answer = func(in, op string, p map[string]any) (int, []byte, error) {
		if in != "Customers" || op != "get" {
			return 0, nil, fmt.Errorf("called %s.%s", in, op)
		}
		return 200, fmt.Appendf(nil, `{"id":%q,"name":"Ada"}`, p["id"]), nil
	}
	h.put(`{"tier":"gold","lines":[{"customer":"c1","q":1},{"customer":"c2","q":2}]}`, `{"tier":"silver","lines":[{"customer":"c3"}]}`)
	h.settled(2)
	h.stop()
	got := bodies(h.sinks["a"].Received())
	want := []string{
		`{"customer":"c1","customer_details":{"id":"c1","name":"Ada"},"q":1}`,
		`{"customer":"c2","customer_details":{"id":"c2","name":"Ada"},"q":2}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st, _ := h.engine.Status(context.Background(), "f")
	if st.Counters.Filtered != 1 || st.Counters.Delivered != 1 {
		t.Errorf("counters %+v", st.Counters)
	}
}

func TestEnrichClientErrorIsPermanentServerErrorRetried(t *testing.T) {
	h := newHarness(t, `
integration C { base_url: "http://127.0.0.1:1"
    operation get { method: GET  path: "/c/{id}" } }
flow f {
    source: in
    step who { enrich: C.get  params: { id: "$.id" } }
    sink out { connector: a }
    on_error: retry 3 times with exponential_backoff(1ms, max 5ms) then dead_letter("dl")
}`)
	var mu sync.Mutex
	calls := map[string]int{}
	h.calls.answer = func(_, _ string, p map[string]any) (int, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		id := fmt.Sprint(p["id"])
		calls[id]++
		if id == "missing" {
			return 404, []byte(`{"error":"no such customer"}`), nil
		}
		return 503, nil, nil
	}
	h.put(`{"id":"missing"}`, `{"id":"busy"}`)
	h.settled(2)
	h.stop()
	if calls["missing"] != 1 || calls["busy"] != 4 {
		t.Errorf("calls %v: want 1 for a 404, 4 for a 503", calls)
	}
	for _, d := range h.dlq.all() {
		if d.Step != "who" || d.Queue != "dl" {
			t.Errorf("dead letter %+v", d)
		}
	}
}

func TestReplay(t *testing.T) {
	h := newHarness(t, orderFlow)
	broken := true
	var mu sync.Mutex
	h.sinks["b"].Fail = func([]connector.Message) error {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return errors.New("down")
		}
		return nil
	}
	h.put(`{"orderId":"o1","orderTotal":3}`)
	h.settled(1)
	dls := h.dlq.all()
	if len(dls) != 1 {
		t.Fatalf("dead letters %+v", dls)
	}
	ctx := context.Background()
	var re *flow.ReplayError
	if err := h.engine.Replay(ctx, dls[0].ID); !errors.As(err, &re) || re.Step.Step != "sink small" {
		t.Fatalf("replay while still failing: %v", err)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	if err := h.engine.Replay(ctx, dls[0].ID); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if len(h.dlq.all()) != 0 || len(h.sinks["b"].Received()) != 1 {
		t.Fatalf("after replay: dlq %v, sink %v", h.dlq.all(), h.sinks["b"].Received())
	}
	if err := h.engine.Replay(ctx, dls[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second replay: %v", err)
	}
}

// A replayed dead letter goes only to the sinks that did not accept it: with a split,
// per message the split made. Sink b fails for the second line; a has both lines.
func TestReplayOnlyToSinksThatDidNotAccept(t *testing.T) {
	h := newHarness(t, `flow f {
    source: in
    step lines { split: "$.lines" }
    sink first { connector: a }
    sink second { connector: b }
    on_error: retry 2 times with exponential_backoff(10ms, max 50ms) then dead_letter("dl")
}`)
	var mu sync.Mutex
	broken := true
	h.sinks["b"].Fail = func(msgs []connector.Message) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if broken && strings.Contains(string(m.Body), `"n":2`) {
				return errors.New("down")
			}
		}
		return nil
	}
	h.put(`{"lines":[{"n":1},{"n":2}]}`)
	h.settled(1)
	dls := h.dlq.all()
	if len(dls) != 1 {
		t.Fatalf("dead letters %+v", dls)
	}
	if got := fmt.Sprint(dls[0].Accepted); got != "[[first second] [first]]" {
		t.Fatalf("dead letter accepted by %s, want [[first second] [first]]", got)
	}
	counts := func() string {
		return fmt.Sprintf("a=%d b=%d", h.sinks["a"].Count(), h.sinks["b"].Count())
	}
	if c := counts(); c != "a=2 b=1" {
		t.Fatalf("before replaying: %s", c)
	}

	ctx := context.Background()
	var re *flow.ReplayError
	if err := h.engine.Replay(ctx, dls[0].ID); !errors.As(err, &re) || re.Step.Step != "sink second" {
		t.Fatalf("replay while b still fails: %v", err)
	}
	if c := counts(); c != "a=2 b=1" {
		t.Fatalf("after a failed replay: %s, want nothing written again", c)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	if err := h.engine.Replay(ctx, dls[0].ID); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if c := counts(); c != "a=2 b=2" {
		t.Fatalf("after replaying: %s, want only b's missing line written", c)
	}
	if got := bodies(h.sinks["b"].Received()); fmt.Sprint(got) != `[{"n":1} {"n":2}]` {
		t.Errorf("b received %q", got)
	}
	if len(h.dlq.all()) != 0 {
		t.Errorf("dead letters after the replay: %+v", h.dlq.all())
	}
}

// A replay that gets further than the original records the sinks it reached, so the
// next one skips them too.
func TestReplayRecordsSinksItReached(t *testing.T) {
	h := newHarness(t, `flow f {
    source: in
    sink first { connector: a }
    sink second { connector: b }
    on_error: dead_letter("dl")
}`)
	var mu sync.Mutex
	failing := "a"
	fail := func(name string) func([]connector.Message) error {
		return func([]connector.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if failing == name || failing == "both" {
				return errors.New("down")
			}
			return nil
		}
	}
	h.sinks["a"].Fail, h.sinks["b"].Fail = fail("a"), fail("b")
	h.put(`{"n":1}`)
	h.settled(1)
	dl := h.dlq.all()[0]
	if dl.Accepted != nil {
		t.Fatalf("accepted %v, want none (the first sink failed)", dl.Accepted)
	}
	mu.Lock()
	failing = "b"
	mu.Unlock()
	ctx := context.Background()
	if err := h.engine.Replay(ctx, dl.ID); err == nil {
		t.Fatal("replay succeeded while b fails")
	}
	if got := fmt.Sprint(h.dlq.all()[0].Accepted); got != "[[first]]" {
		t.Fatalf("accepted after a replay that reached a: %s", got)
	}
	mu.Lock()
	failing = ""
	mu.Unlock()
	if err := h.engine.Replay(ctx, dl.ID); err != nil {
		t.Fatal(err)
	}
	if a, b := h.sinks["a"].Count(), h.sinks["b"].Count(); a != 1 || b != 1 {
		t.Errorf("a has %d, b %d; want one each", a, b)
	}
}

func TestStopDrainsAndStartResumes(t *testing.T) {
	h := newHarness(t, `flow f { source: in  max_in_flight: 4
        sink out { connector: a } }`)
	release := make(chan struct{})
	h.sinks["a"].Fail = func([]connector.Message) error { <-release; return nil }
	h.put(`{"n":1}`, `{"n":2}`, `{"n":3}`, `{"n":4}`, `{"n":5}`, `{"n":6}`)
	f, _ := h.engine.Flow("f")
	h.waitFor("4 messages in flight", func() bool { return h.status("f").InFlight == 4 })
	if st := h.status("f"); st.InFlight != 4 {
		t.Errorf("in flight %d, want max_in_flight 4 (back-pressure)", st.InFlight)
	}
	stopped := make(chan struct{})
	go func() { f.Stop(context.Background()); close(stopped) }()
	h.waitFor("the flow to be stopping", func() bool { return h.status("f").State == flow.StateStopping })
	close(release)
	<-stopped
	if acked := h.src.Acked.Load(); acked != 4 || h.sinks["a"].Count() != 4 {
		t.Fatalf("after stop: %d acknowledged, sink has %d; want the 4 in flight finished", acked, h.sinks["a"].Count())
	}
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	h.settled(6)
	if h.sinks["a"].Count() != 6 {
		t.Errorf("sink has %d", h.sinks["a"].Count())
	}
}

func TestStopTimeoutHandsMessagesBack(t *testing.T) {
	h := newHarnessClock(t, `flow f { source: in  max_in_flight: 2
        sink out { connector: a }
        on_error: retry 100 times with exponential_backoff(1s, max 1s) then dead_letter("x") }`, clock.Real{})
	h.sinks["a"].Fail = func([]connector.Message) error { return errors.New("down") }
	h.put(`{"n":1}`, `{"n":2}`)
	h.waitFor("both messages in flight", func() bool { return h.status("f").InFlight == 2 })
	f, _ := h.engine.Flow("f")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f.Stop(ctx)
	if n := h.src.Nacked.Load(); n != 2 {
		t.Errorf("%d messages handed back, want 2", n)
	}
	if len(h.dlq.all()) != 0 {
		t.Errorf("a stop must not dead-letter: %v", h.dlq.all())
	}
}

func TestLogsAndPayloads(t *testing.T) {
	h := newHarness(t, `flow f { source: in
        step keep { filter: "keep" }
        sink out { connector: a }
        monitoring: { logging: { level: info, include_payload: true } } }`)
	h.put(`{"keep":true}`, `{"keep":false}`, `oops`)
	h.settled(3)
	f, _ := h.engine.Flow("f")
	// A message's log entry is written as its outcome settles, not before the source
	// hears of it: wait for the third.
	h.waitFor("three log entries", func() bool { return len(f.Logs(10, 0)) == 3 })
	logs := f.Logs(10, 0)
	if len(logs) != 3 {
		t.Fatalf("logs %+v", logs)
	}
	outcomes := map[string]string{}
	for _, l := range logs {
		outcomes[string(l.Payload)] = l.Outcome
	}
	want := map[string]string{`{"keep":true}`: "delivered", `{"keep":false}`: "filtered", `"oops"`: "dead_lettered"}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	b, _ := json.Marshal(logs[0])
	if !strings.Contains(string(b), `"outcome"`) {
		t.Errorf("log entry JSON %s", b)
	}
}

// Every outcome has a number; after= returns only the later ones (`junction flow logs
// -f`), and while someone watches the bus each outcome is also a MessageEvent.
func TestLogsAfterAndWatchedOutcomes(t *testing.T) {
	h := newHarness(t, `flow f { source: in
        step keep { filter: "keep" }
        sink out { connector: a } }`)
	h.put(`{"keep":true}`)
	h.settled(1)
	f, _ := h.engine.Flow("f")
	first := f.Logs(10, 0)
	if len(first) != 1 || first[0].Seq == 0 {
		t.Fatalf("logs %+v", first)
	}
	if got := f.Logs(10, first[0].Seq); len(got) != 0 {
		t.Errorf("after the newest: %+v", got)
	}

	w := h.bus.Watch(nil, 10)
	defer w.Stop()
	h.put(`{"keep":false}`, `{"keep":true}`)
	h.settled(3)
	later := f.Logs(10, first[0].Seq)
	if len(later) != 2 || later[0].Seq <= later[1].Seq || later[1].Seq <= first[0].Seq {
		t.Fatalf("after %d: %+v", first[0].Seq, later)
	}
	outcomes := map[string]int{}
	for range 2 {
		select {
		case e := <-w.Events():
			fields := e.Fields()
			if e.Type != flow.MessageEvent || e.Source != event.SourceJunction || fields["flow"] != "f" || fields["message_id"] == "" {
				t.Errorf("event %+v %s", e, e.Data)
			}
			if _, ok := fields["payload"]; ok {
				t.Errorf("the payload is in the event: %s", e.Data)
			}
			outcomes[fmt.Sprint(fields["outcome"])]++
		case <-time.After(30 * time.Second):
			t.Fatal("no message event")
		}
	}
	if outcomes["delivered"] != 1 || outcomes["filtered"] != 1 {
		t.Errorf("outcomes %v", outcomes)
	}

	// Stopping and starting the flow is told too: stopping, stopped, starting, running.
	states := h.bus.Watch(func(e event.Event) bool { return e.Type == flow.StateEvent }, 10)
	defer states.Stop()
	f.Stop(context.Background())
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		select {
		case e := <-states.Events():
			if e.Fields()["flow"] != "f" {
				t.Errorf("event %s", e.Data)
			}
			got = append(got, fmt.Sprint(e.Fields()["state"]))
		case <-time.After(30 * time.Second):
			t.Fatalf("state events %v", got)
		}
	}
	if want := []string{"stopping", "stopped", "starting", "running"}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}

func TestCompileErrorsHavePositions(t *testing.T) {
	cfg, diags := config.Decode("bad.cai", []byte(connectors+`
flow f {
    source: in
    step m { transform: { id: "$.[" } }
    step r { route: { "total >=": "out" } }
    sink out { connector: a }
}`))
	if err := diags.Err(); err != nil {
		t.Fatalf("config: %v", err)
	}
	_, err := flow.New(cfg, flow.Options{
		Kinds: map[string]connector.Kind{"memory": memory.Kind("memory", nil, nil)},
		Env:   connector.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real{}},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"bad.cai:", "step m", "step r"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// fakeDLQ is an in-memory dead-letter store (the real ones are tested in store).
type fakeDLQ struct {
	mu sync.Mutex
	m  map[string]store.FlowDeadLetter
}

func newFakeDLQ() *fakeDLQ { return &fakeDLQ{m: map[string]store.FlowDeadLetter{}} }

func (f *fakeDLQ) FlowDeadLetterAdd(_ context.Context, d store.FlowDeadLetter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[d.ID] = d
	return nil
}

func (f *fakeDLQ) FlowDeadLetterGet(_ context.Context, id string) (store.FlowDeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.m[id]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func (f *fakeDLQ) FlowDeadLetterList(_ context.Context, flt store.FlowDeadLetterFilter) ([]store.FlowDeadLetter, int, error) {
	var out []store.FlowDeadLetter
	for _, d := range f.all() {
		if (flt.Flow == "" || d.Flow == flt.Flow) && (flt.Queue == "" || d.Queue == flt.Queue) {
			out = append(out, d)
		}
	}
	return out, len(out), nil
}

func (f *fakeDLQ) FlowDeadLetterDelete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, id)
	return nil
}

func (f *fakeDLQ) FlowDeadLetterSetAccepted(_ context.Context, id string, accepted [][]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.m[id]
	if !ok {
		return store.ErrNotFound
	}
	d.Accepted = accepted
	f.m[id] = d
	return nil
}

func (f *fakeDLQ) FlowDeadLetterCounts(context.Context) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, d := range f.m {
		out[d.Flow]++
	}
	return out, nil
}

func (f *fakeDLQ) all() []store.FlowDeadLetter {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.FlowDeadLetter
	for _, d := range f.m {
		out = append(out, d)
	}
	return out
}

// fakeInternal answers enrich calls.
type fakeInternal struct {
	answer func(integration, operation string, params map[string]any) (int, []byte, error)
	// callCtx, if set, sees each call's context (the tracing test reads its span).
	callCtx func(context.Context)
}

func (f *fakeInternal) CallOperation(ctx context.Context, in, op string, p map[string]any, _ []byte) (int, []byte, error) {
	if f.callCtx != nil {
		f.callCtx(ctx)
	}
	return f.answer(in, op, p)
}

func (f *fakeInternal) Subscribe(string, func(string, []byte)) func() { return func() {} }

func (f *fakeInternal) PublishEvent(context.Context, string, string, []byte) error { return nil }

func (f *fakeInternal) StartWorkflow(context.Context, string, string, []byte) error { return nil }

func (f *fakeInternal) HandleHTTP(string, string, func(context.Context, connector.Message) error) (func(), error) {
	return func() {}, nil
}

func TestDefaultRetries(t *testing.T) {
	h := newHarness(t, `flow f { source: in
        sink out { connector: a } }`)
	h.sinks["a"].Fail = func([]connector.Message) error { return errors.New("connection refused") }
	h.put(`{"n":1}`)
	h.settled(1)
	h.stop()
	dls := h.dlq.all()
	retries := retry.FlowDefaults().Attempts
	if len(dls) != 1 || dls[0].Attempts != 1+retries || retries != 3 || dls[0].Queue != "f" {
		t.Fatalf("dead letters %+v: want one after %d attempts, in a queue named after the flow", dls, 1+retries)
	}
	if slept := h.clock.Slept(); len(slept) != retries || slept[0] < 700*time.Millisecond || slept[2] < 3*time.Second {
		t.Errorf("waits %v, want about 1s, 2s, 4s", slept)
	}
}

func TestMisconfiguredFlow(t *testing.T) {
	cfg, diags := config.Decode("m.cai", []byte(`
connector in { type: memory  url: env(SOURCE_URL) }
connector a { type: memory }
flow f { source: in  sink out { connector: a } }`))
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	src := memory.NewSource(1)
	e, err := flow.New(cfg, flow.Options{
		Kinds: map[string]connector.Kind{"memory": memory.Kind("memory", map[string]*memory.Source{"in": src}, map[string]*memory.Sink{"a": {}})},
		Env: connector.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real{},
			LookupEnv: func(string) (string, bool) { return "", false }},
	})
	if err != nil {
		t.Fatalf("an unset variable must not fail the configuration: %v", err)
	}
	if err := e.Start(); err == nil || !strings.Contains(err.Error(), "SOURCE_URL is not set") {
		t.Errorf("Start: %v", err)
	}
	st, _ := e.Status(context.Background(), "f")
	if st.State != flow.StateMisconfigured || st.LastError == nil || !strings.Contains(st.LastError.Error, "connector in url: SOURCE_URL is not set") {
		t.Errorf("status %+v", st)
	}
	e.Close(context.Background())
}

// TestOnErrorWritesTheOneRetry: a flow's on_error takes every form of the one retry
// grammar (the integrations' constant back-off and retry_delays included), and the waits
// between attempts are the ones the text says, on the engine's clock.
func TestOnErrorWritesTheOneRetry(t *testing.T) {
	for _, c := range []struct {
		onError string
		waits   []time.Duration
	}{
		{`retry 3 times with constant_backoff(250ms) then dead_letter("x")`, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{`{ retry: 2 times, retry_delays: [100ms, 7s], dead_letter: "x" }`, []time.Duration{100 * time.Millisecond, 7 * time.Second}},
		{`{ retry: { attempts: 1, backoff: constant, initial: 3s }, dead_letter: "x" }`, []time.Duration{3 * time.Second}},
		{`dead_letter("x")`, nil},
	} {
		t.Run(c.onError, func(t *testing.T) {
			h := newHarness(t, `flow f { source: in
        sink out { connector: a }
        on_error: `+c.onError+` }`)
			h.sinks["a"].Fail = func([]connector.Message) error { return errors.New("connection refused") }
			h.put(`{"n":1}`)
			h.settled(1)
			h.stop()
			dls := h.dlq.all()
			if len(dls) != 1 || dls[0].Attempts != 1+len(c.waits) || dls[0].Queue != "x" {
				t.Fatalf("dead letters %+v: want one after %d attempts in queue x", dls, 1+len(c.waits))
			}
			if slept := h.clock.Slept(); !slices.Equal(slept, c.waits) {
				t.Errorf("waits %v, want %v", slept, c.waits)
			}
			if st := h.status("f"); st.Counters.Retries != int64(len(c.waits)) {
				t.Errorf("retries counted %d, want %d", st.Counters.Retries, len(c.waits))
			}
		})
	}
}

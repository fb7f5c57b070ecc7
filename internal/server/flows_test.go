package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/store"
)

// fakeFlows is one flow, "orders", whose behaviour the tests set.
type fakeFlows struct {
	store   store.Store       // its dead letters, or
	listed  []flow.DeadLetter // these when store is nil
	mu      sync.Mutex
	running bool
	replay  error
	inbound func(path string, m connector.Message) (bool, error)
	// formats are the /in/ paths a flow receives, and the codec of its source (nil:
	// JSON).
	formats  map[string]format.Codec
	received []string
}

func (f *fakeFlows) status(name string) (flow.Status, error) {
	if name != "orders" {
		return flow.Status{}, fmt.Errorf("%w: %q", flow.ErrNotFound, name)
	}
	state := flow.StateStopped
	if f.running {
		state = flow.StateRunning
	}
	return flow.Status{Name: "orders", State: state, Counters: flow.Counters{Received: 3, Delivered: 2, DeadLettered: 1}}, nil
}

func (f *fakeFlows) List(context.Context) []flow.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, _ := f.status("orders")
	return []flow.Status{st}
}

func (f *fakeFlows) Status(_ context.Context, name string) (flow.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status(name)
}

func (f *fakeFlows) StartFlow(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.status(name); err != nil {
		return err
	}
	f.running = true
	return nil
}

func (f *fakeFlows) StopFlow(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.status(name); err != nil {
		return err
	}
	f.running = false
	return nil
}

// Logs has three outcomes, numbered 3, 2, 1.
func (f *fakeFlows) Logs(name string, limit int, after uint64) ([]flow.LogEntry, error) {
	if _, err := f.status(name); err != nil {
		return nil, err
	}
	out := make([]flow.LogEntry, 0, limit)
	for i := range min(limit, 3) {
		if seq := uint64(3 - i); seq > after {
			out = append(out, flow.LogEntry{Seq: seq, MessageID: fmt.Sprint("m", i), Outcome: flow.OutcomeDelivered})
		}
	}
	return out, nil
}

func (f *fakeFlows) DeadLetters(ctx context.Context, flt flow.DeadLetterFilter) ([]flow.DeadLetter, int, error) {
	if f.store == nil {
		return f.listed, len(f.listed), nil
	}
	return f.store.FlowDeadLetterList(ctx, flt)
}

func (f *fakeFlows) Replay(context.Context, string) error { return f.replay }

func (f *fakeFlows) Inbound(_ context.Context, path string, m connector.Message) (bool, error) {
	f.mu.Lock()
	f.received = append(f.received, path+" "+string(m.Body))
	f.mu.Unlock()
	return f.inbound(path, m)
}

func (f *fakeFlows) InboundFormat(path string) (format.Codec, bool) {
	c, ok := f.formats[path]
	return c, ok
}

func flowEnv(t *testing.T, f *fakeFlows) *env {
	return newEnv(t, func(o *testOptions) { o.Flows, f.store = f, o.Store })
}

func TestFlowAPI(t *testing.T) {
	f := &fakeFlows{running: true}
	e := flowEnv(t, f)

	list := e.req("GET", "/flows", e.user, "").json(t)
	if data := list["data"].([]any); len(data) != 1 || data[0].(map[string]any)["state"] != "running" {
		t.Errorf("GET /flows: %v", list)
	}
	st := e.req("GET", "/flows/orders", e.user, "").json(t)
	if st["counters"].(map[string]any)["dead_lettered"] != 1.0 {
		t.Errorf("GET /flows/orders: %v", st)
	}
	problem(t, e.req("GET", "/flows/nope", e.user, ""), 404, server.KindNotFound, "/flows/nope")

	// Start and stop are for admins.
	problem(t, e.req("POST", "/flows/orders/stop", e.user, ""), 403, server.KindForbidden, "/flows/orders/stop")
	if r := e.req("POST", "/flows/orders/stop", e.admin, ""); r.StatusCode != 200 || r.json(t)["state"] != "stopped" {
		t.Errorf("stop: %d %s", r.StatusCode, r.body)
	}
	if r := e.req("POST", "/flows/orders/start", e.admin, ""); r.StatusCode != 200 || r.json(t)["state"] != "running" {
		t.Errorf("start: %d %s", r.StatusCode, r.body)
	}
	problem(t, e.req("POST", "/flows/nope/start", e.admin, ""), 404, server.KindNotFound, "/flows/nope/start")

	logs := e.req("GET", "/flows/orders/logs?limit=2", e.user, "").json(t)
	if len(logs["data"].([]any)) != 2 {
		t.Errorf("logs: %v", logs)
	}
	p := problem(t, e.req("GET", "/flows/orders/logs?limit=0", e.user, ""), 400, server.KindInvalidRequest, "/flows/orders/logs")
	if got := fieldErrors(t, p); len(got) != 1 || got[0] != "limit" {
		t.Errorf("fields %v", got)
	}
	if later := e.req("GET", "/flows/orders/logs?after=2", e.user, "").json(t)["data"].([]any); len(later) != 1 || later[0].(map[string]any)["seq"] != float64(3) {
		t.Errorf("after=2: %v", later)
	}
	p = problem(t, e.req("GET", "/flows/orders/logs?after=-1", e.user, ""), 400, server.KindInvalidRequest, "/flows/orders/logs")
	if got := fieldErrors(t, p); len(got) != 1 || got[0] != "after" {
		t.Errorf("fields %v", got)
	}
	problem(t, e.req("GET", "/flows", "", ""), 401, server.KindUnauthorized, "/flows")
}

func TestFlowInbound(t *testing.T) {
	f := &fakeFlows{formats: map[string]format.Codec{"orders": nil, "busy/x": nil}}
	f.inbound = func(path string, _ connector.Message) (bool, error) {
		switch path {
		case "orders":
			return true, nil
		case "busy/x":
			return true, errors.New("requeued")
		}
		return false, nil
	}
	e := flowEnv(t, f)
	if r := e.req("POST", "/in/orders", e.user, `{"id":1}`); r.StatusCode != 202 {
		t.Errorf("POST /in/orders: %d %s", r.StatusCode, r.body)
	}
	problem(t, e.req("POST", "/in/busy/x", e.user, `{}`), 503, server.KindUnavailable, "/in/busy/x")
	problem(t, e.req("POST", "/in/none", e.user, `{}`), 404, server.KindNotFound, "/in/none")
	problem(t, e.req("POST", "/in/orders", "", `{}`), 401, server.KindUnauthorized, "/in/orders")
	// Not JSON: refused at once (flows read JSON), never accepted and dead-lettered.
	problem(t, e.req("POST", "/in/orders", e.user, `id=1&total=5`), 400, server.KindInvalidRequest, "/in/orders")
	problem(t, e.req("POST", "/in/orders", e.user, `{"id":1}`, "Content-Type", "text/csv"), 415, server.KindUnsupportedMediaType, "/in/orders")
	big := `{"x":"` + strings.Repeat("a", int(server.DefaultMaxBodyBytes)) + `"}`
	problem(t, e.req("POST", "/in/orders", e.user, big), 413, server.KindPayloadTooLarge, "/in/orders")
	// Neither /in/none (no flow) nor the refused bodies reached a flow.
	if len(f.received) != 2 || f.received[0] != `orders {"id":1}` {
		t.Errorf("received %q", f.received)
	}
}

// TestFlowInboundFormats: a flow whose http source declares a format receives bodies of
// that format, decoded by the server first: an XML flow takes XML (with an XML
// Content-Type or none) and refuses JSON, bad XML, and a JSON Content-Type; an Avro
// flow takes any Content-Type but only bytes its schema decodes; a JSON flow still
// refuses XML.
func TestFlowInboundFormats(t *testing.T) {
	avro, err := format.NewAvro(format.AvroOptions{Schema: `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFlows{formats: map[string]format.Codec{"json": nil, "xml": format.XML{}, "avro": avro}}
	f.inbound = func(string, connector.Message) (bool, error) { return true, nil }
	e := flowEnv(t, f)
	const order = `<order id="7"><total>12.50</total></order>`
	for _, ct := range []string{"application/xml", "text/xml; charset=utf-8", "application/vnd.acme+xml", ""} {
		if r := e.req("POST", "/in/xml", e.user, order, "Content-Type", ct); r.StatusCode != 202 {
			t.Errorf("XML as %q: %d %s", ct, r.StatusCode, r.body)
		}
	}
	problem(t, e.req("POST", "/in/xml", e.user, order, "Content-Type", "application/json"), 415, server.KindUnsupportedMediaType, "/in/xml")
	p := problem(t, e.req("POST", "/in/xml", e.user, `<order><total>12.50</order>`, "Content-Type", "application/xml"), 400, server.KindInvalidRequest, "/in/xml")
	if d, _ := p["detail"].(string); !strings.Contains(d, "not XML") {
		t.Errorf("bad XML: %v", p)
	}
	problem(t, e.req("POST", "/in/xml", e.user, `{"id":7}`, "Content-Type", ""), 400, server.KindInvalidRequest, "/in/xml")

	// The JSON flow refuses XML, by its Content-Type or by its bytes.
	problem(t, e.req("POST", "/in/json", e.user, order, "Content-Type", "application/xml"), 415, server.KindUnsupportedMediaType, "/in/json")
	problem(t, e.req("POST", "/in/json", e.user, order, "Content-Type", ""), 400, server.KindInvalidRequest, "/in/json")

	// Avro: id 7 is the zig-zag varint 0x0e.
	for _, ct := range []string{"application/octet-stream", "application/vnd.apache.avro+binary", "application/json"} {
		if r := e.req("POST", "/in/avro", e.user, "\x0e", "Content-Type", ct); r.StatusCode != 202 {
			t.Errorf("Avro as %q: %d %s", ct, r.StatusCode, r.body)
		}
	}
	problem(t, e.req("POST", "/in/avro", e.user, "\x0e\x00", "Content-Type", "application/octet-stream"), 400, server.KindInvalidRequest, "/in/avro")

	if len(f.received) != 7 || f.received[0] != "xml "+order || f.received[4] != "avro \x0e" {
		t.Errorf("received %q", f.received)
	}
}

func TestFlowDeadLetters(t *testing.T) {
	f := &fakeFlows{}
	e := flowEnv(t, f)
	ctx := context.Background()
	for i, flowName := range []string{"orders", "orders", "other"} {
		err := e.store.FlowDeadLetterAdd(ctx, store.FlowDeadLetter{
			ID: fmt.Sprintf("fdl_%d", i), Flow: flowName, Queue: flowName + "-dlq", Step: "validate", Error: "total: must be >= 0",
			Body: []byte(`{"total":-1}`), Attempts: 1, CreatedAt: testNow.Add(time.Duration(i) * time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := e.req("GET", "/dead-letters?flow=orders", e.user, "").json(t)
	data := out["data"].([]any)
	if len(data) != 2 || out["pagination"].(map[string]any)["total"] != 2.0 {
		t.Fatalf("list: %v", out)
	}
	first := data[0].(map[string]any)
	if first["id"] != "fdl_1" || first["step"] != "validate" || first["message"].(map[string]any)["total"] != -1.0 {
		t.Errorf("newest first, with the message as JSON: %v", first)
	}
	// A body that is not text (Avro, Protocol Buffers) is shown whole, in base64.
	if err := e.store.FlowDeadLetterAdd(ctx, store.FlowDeadLetter{ID: "fdl_bin", Flow: "binary", Step: "decode", Error: "the message is not Avro",
		Body: []byte{0, 0, 0, 0, 1, 0xff}, Attempts: 1, CreatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	bin := e.req("GET", "/dead-letters?flow=binary", e.user, "").json(t)["data"].([]any)[0].(map[string]any)
	if bin["message"] != nil || bin["message_base64"] != "AAAAAAH/" {
		t.Errorf("binary body shown as %v / %v, want message null and message_base64 AAAAAAH/", bin["message"], bin["message_base64"])
	}
	if out := e.req("GET", "/dead-letters?queue=other-dlq", e.user, "").json(t); len(out["data"].([]any)) != 1 {
		t.Errorf("by queue: %v", out)
	}
	p := problem(t, e.req("GET", "/dead-letters", e.user, ""), 400, server.KindInvalidRequest, "/dead-letters")
	if got := fieldErrors(t, p); len(got) != 1 || got[0] != "flow" {
		t.Errorf("without webhooks a flow is required: %v", got)
	}

	if r := e.req("POST", "/dead-letters/fdl_0/replay", e.user, ""); r.StatusCode != 200 || r.json(t)["replayed"] != true {
		t.Errorf("replay: %d %s", r.StatusCode, r.body)
	}
	f.replay = &flow.ReplayError{Step: &flow.StepError{Step: "validate", Err: errors.New("total: must be >= 0")}}
	p = problem(t, e.req("POST", "/dead-letters/fdl_0/replay", e.user, ""), 409, server.KindReplayFailed, "/dead-letters/fdl_0/replay")
	if p["step"] != "validate" {
		t.Errorf("replay problem %v", p)
	}
	f.replay = fmt.Errorf("%w: start flow orders", flow.ErrStopped)
	problem(t, e.req("POST", "/dead-letters/fdl_0/replay", e.user, ""), 409, server.KindFlowStopped, "/dead-letters/fdl_0/replay")
	f.replay = store.ErrNotFound
	problem(t, e.req("POST", "/dead-letters/fdl_9/replay", e.user, ""), 404, server.KindNotFound, "/dead-letters/fdl_9/replay")
}

// The flow API lists dead letters through the flows, their service, not from the store
// beside them (issue 10): what the flows answer is what the client sees.
func TestFlowDeadLettersComeFromTheFlows(t *testing.T) {
	f := &fakeFlows{listed: []flow.DeadLetter{{ID: "fdl_x", Flow: "orders", Queue: "orders-dlq", Step: "validate",
		Error: "total: must be >= 0", Body: []byte("not json"), Attempts: 2, CreatedAt: testNow}}}
	e := newEnv(t, func(o *testOptions) { o.Flows = f })
	out := e.req("GET", "/dead-letters?flow=orders", e.user, "").json(t)
	data, _ := out["data"].([]any)
	if len(data) != 1 || out["pagination"].(map[string]any)["total"] != 1.0 {
		t.Fatalf("list: %v", out)
	}
	if d := data[0].(map[string]any); d["id"] != "fdl_x" || d["message"] != "not json" || d["attempts"] != 2.0 {
		t.Errorf("dead letter: %v", d)
	}
}

package builtin

import (
	"context"
	"errors"
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
	"github.com/junctionhq/junction/internal/connector/connectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeInternal records what connectors ask of Junction.
type fakeInternal struct {
	mu        sync.Mutex
	handlers  map[string]func(context.Context, connector.Message) error
	subs      map[string]func(string, []byte)
	published []string // id|type|data
	calls     []map[string]any
	runs      []string // workflow id input
	status    int
}

func newFake() *fakeInternal {
	return &fakeInternal{handlers: map[string]func(context.Context, connector.Message) error{}, subs: map[string]func(string, []byte){}, status: 200}
}

func (f *fakeInternal) Subscribe(pattern string, handle func(string, []byte)) func() {
	f.mu.Lock()
	f.subs[pattern] = handle
	f.mu.Unlock()
	return func() { f.mu.Lock(); delete(f.subs, pattern); f.mu.Unlock() }
}

func (f *fakeInternal) PublishEvent(_ context.Context, id, eventType string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, id+"|"+eventType+"|"+string(data))
	return nil
}

func (f *fakeInternal) CallOperation(_ context.Context, in, op string, p map[string]any, body []byte) (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p["_op"] = in + "." + op
	p["_body"] = string(body)
	f.calls = append(f.calls, p)
	return f.status, []byte(`{"ok":false}`), nil
}

func (f *fakeInternal) StartWorkflow(_ context.Context, workflow, id string, input []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, workflow+" "+id+" "+string(input))
	return nil
}

func (f *fakeInternal) HandleHTTP(path, _ string, h func(context.Context, connector.Message) error) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.handlers[path] != nil {
		return nil, errors.New("taken")
	}
	f.handlers[path] = h
	return func() { f.mu.Lock(); delete(f.handlers, path); f.mu.Unlock() }, nil
}

func (f *fakeInternal) post(path, body string) error {
	f.mu.Lock()
	h := f.handlers[path]
	f.mu.Unlock()
	return h(context.Background(), connector.Message{Body: []byte(body)})
}

func settings(t *testing.T, typ, src string, in connector.Internal) connector.Settings {
	t.Helper()
	cfg, diags := config.Decode("t.cai", []byte(`connector c { type: `+typ+"\n"+src+` }`))
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	c := cfg.Connectors[0]
	return connector.Settings{Connector: c, Options: c.Options, Env: connector.Env{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real{}, Internal: in,
	}}
}

func kind(name string) connector.Kind {
	for _, k := range Kinds() {
		if k.Name == name {
			return k
		}
	}
	panic(name)
}

func TestHTTPSourceAnswersAfterSettling(t *testing.T) {
	f := newFake()
	src, err := kind("http").NewSource(settings(t, "http", `path: "orders/acme"`, f))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan error, 2)
	go func() { answers <- f.post("orders/acme", `{"n":1}`) }()
	d := <-ch
	select {
	case err := <-answers:
		t.Fatalf("answered %v before the message was settled", err)
	case <-time.After(50 * time.Millisecond):
	}
	_ = d.Ack(ctx)
	if err := <-answers; err != nil {
		t.Fatalf("after Ack: %v", err)
	}
	go func() { answers <- f.post("orders/acme", `{"n":2}`) }()
	d = <-ch
	_ = d.Nack(ctx)
	if err := <-answers; !errors.Is(err, ErrRequeued) {
		t.Fatalf("after Nack: %v", err)
	}
	cancel()
	for range ch {
	}
	_ = src.Close()
	if len(f.handlers) != 0 {
		t.Errorf("path still routed after Close")
	}
}

func TestHTTPSourceBadPath(t *testing.T) {
	_, err := kind("http").NewSource(settings(t, "http", `path: "../etc"`, newFake()))
	if err == nil || !strings.Contains(err.Error(), "t.cai:") {
		t.Fatalf("error %v", err)
	}
	// Without a server (junction validate) the options are checked; opening fails.
	src, err := kind("http").NewSource(settings(t, "http", `path: "x"`, nil))
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	if _, err := src.Open(context.Background(), 1); err == nil || !strings.Contains(err.Error(), "running Junction server") {
		t.Fatalf("Open without a server: %v", err)
	}
}

// fakeLog is an event log in memory: events numbered from 1, cursors per flow.
type fakeLog struct {
	*fakeInternal
	mu      sync.Mutex
	events  []connector.LoggedEvent
	cursors map[string]connector.EventPosition
	wake    chan struct{}
}

func newFakeLog() *fakeLog {
	return &fakeLog{fakeInternal: newFake(), cursors: map[string]connector.EventPosition{}, wake: make(chan struct{}, 1)}
}

func (l *fakeLog) add(typ, id string) {
	l.mu.Lock()
	l.events = append(l.events, connector.LoggedEvent{ID: id, Type: typ, Data: []byte(`{"id":"` + id + `"}`),
		Position: connector.EventPosition{Seq: int64(len(l.events) + 1), ID: id}})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *fakeLog) cursor(flow string) connector.EventPosition {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cursors[flow]
}

func (l *fakeLog) EventCursor(_ context.Context, flow string) (connector.EventPosition, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.cursors[flow]; ok {
		return c, false, nil
	}
	c := connector.EventPosition{Seq: int64(len(l.events) + 1)}
	l.cursors[flow] = c
	return c, true, nil
}

func (l *fakeLog) ReadEvents(_ context.Context, after connector.EventPosition, patterns []string, limit int) ([]connector.LoggedEvent, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []connector.LoggedEvent
	for _, e := range l.events {
		past := e.Position.Seq > after.Seq || e.Position.Seq == after.Seq && e.ID > after.ID
		if past && len(out) < limit && (slices.Contains(patterns, e.Type) || slices.ContainsFunc(patterns, func(p string) bool {
			return strings.HasSuffix(p, ".*") && strings.HasPrefix(e.Type, p[:len(p)-1])
		})) {
			out = append(out, e)
		}
	}
	return out, 0, nil
}

func (l *fakeLog) SetEventCursor(_ context.Context, flow string, pos connector.EventPosition) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cursors[flow] = pos
	return nil
}

func (l *fakeLog) WatchEvents([]string) (<-chan struct{}, func()) { return l.wake, func() {} }
func (l *fakeLog) EventPollInterval() time.Duration               { return time.Hour }

func receive(t *testing.T, ch <-chan connector.Delivery) connector.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery")
	}
	return connector.Delivery{}
}

// TestEventsSource: the source starts at the end of the log, delivers matching events in
// order, moves the flow's cursor over the acknowledged prefix only, and delivers a
// handed-back event again.
func TestEventsSource(t *testing.T) {
	l := newFakeLog()
	l.add("order.created", "old")
	s := settings(t, "events", `events: ["order.*"]`, l)
	s.Flow = "orders"
	src, err := kind("events").NewSource(s)
	if err != nil {
		t.Fatal(err)
	}
	if !kind("events").Singleton {
		t.Error("the events source must be a singleton: one cursor per flow")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	start := l.cursor("orders")
	l.add("order.created", "o1")
	l.add("user.created", "u1")
	l.add("order.paid", "o2")
	l.add("order.paid", "o3")
	d1, d2, d3 := receive(t, ch), receive(t, ch), receive(t, ch)
	if string(d1.Body) != `{"id":"o1"}` || d1.Headers["event_type"] != "order.created" || d1.Headers["event_id"] != "o1" {
		t.Errorf("first delivery %+v", d1)
	}
	if d2.Headers["event_id"] != "o2" || d3.Headers["event_id"] != "o3" {
		t.Fatalf("deliveries %s, %s; want o2, o3", d2.Headers["event_id"], d3.Headers["event_id"])
	}
	// o2 acknowledged before o1: the cursor waits for o1.
	if err := d2.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if c := l.cursor("orders"); c != start {
		t.Errorf("cursor moved to %+v with o1 unacknowledged", c)
	}
	if err := d1.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if c := l.cursor("orders"); c.ID != "o2" {
		t.Errorf("cursor %+v after o1 and o2; want at o2", c)
	}
	// o3 handed back comes again.
	if err := d3.Nack(ctx); err != nil {
		t.Fatal(err)
	}
	again := receive(t, ch)
	if again.Headers["event_id"] != "o3" {
		t.Fatalf("after the Nack got %s; want o3", again.Headers["event_id"])
	}
	if err := again.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if c := l.cursor("orders"); c.ID != "o3" {
		t.Errorf("cursor %+v; want at o3", c)
	}
	cancel()
	for range ch {
	}
	_ = src.Close()

	// Without an event log (outside a server) or a flow there is nothing to read from.
	plain, err := kind("events").NewSource(settings(t, "events", `events: ["order.*"]`, newFake()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Open(context.Background(), 1); err == nil {
		t.Error("opened without an event log")
	}
	noFlow, err := kind("events").NewSource(settings(t, "events", `events: ["order.*"]`, l))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noFlow.Open(context.Background(), 1); err == nil {
		t.Error("opened without a flow")
	}
}

func TestIntegrationSink(t *testing.T) {
	f := newFake()
	sink, err := kind("integration").NewSink(settings(t, "integration", `integration: S3  operation: put  params: { key: "$.id", bucket: "b" }  body: "$"`, f))
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := sink.(connector.Batching); !ok {
		t.Error("integration sink should batch one message per call")
	} else if n, _ := b.Batching(); n != 1 {
		t.Errorf("batch %d", n)
	}
	ctx := context.Background()
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`{"id":"k1"}`)}}); err != nil {
		t.Fatal(err)
	}
	c := f.calls[0]
	if c["_op"] != "S3.put" || c["key"] != "k1" || c["bucket"] != "b" || c["_body"] != `{"id":"k1"}` {
		t.Errorf("call %v", c)
	}
	f.status = 422
	var bad *connector.MessageError
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`{"id":"k2"}`)}}); !errors.As(err, &bad) {
		t.Errorf("422: %v, want a MessageError", err)
	}
	f.status = 503
	if err := sink.Write(ctx, []connector.Message{{Body: []byte(`{"id":"k3"}`)}}); err == nil || errors.As(err, &bad) {
		t.Errorf("503: %v, want a retryable error", err)
	}
}

func TestWebhookSink(t *testing.T) {
	f := newFake()
	sink, err := kind("webhook").NewSink(settings(t, "webhook", `event_type: "order.enriched"  id: "$.id"`, f))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(context.Background(), []connector.Message{{Body: []byte(`{"id":"o1","n":1}`)}}); err != nil {
		t.Fatal(err)
	}
	if got := f.published; len(got) != 1 || got[0] != `o1|order.enriched|{"id":"o1","n":1}` {
		t.Errorf("published %v", got)
	}
	if _, err := kind("webhook").NewSink(settings(t, "webhook", ``, f)); err == nil || !strings.Contains(err.Error(), "event_type") {
		t.Errorf("missing event_type: %v", err)
	}
}

func TestWorkflowSink(t *testing.T) {
	f := newFake()
	sink, err := kind("workflow").NewSink(settings(t, "workflow", `workflow: "verified_payment"  id: "$.id"`, f))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(context.Background(), []connector.Message{{Body: []byte(`{"id":"p1","amount":5}`)}}); err != nil {
		t.Fatal(err)
	}
	if got := f.runs; len(got) != 1 || got[0] != `verified_payment p1 {"id":"p1","amount":5}` {
		t.Errorf("runs %v", got)
	}
	if _, err := kind("workflow").NewSink(settings(t, "workflow", ``, f)); err == nil || !strings.Contains(err.Error(), "workflow") {
		t.Errorf("missing workflow: %v", err)
	}
}

func TestLogSink(t *testing.T) {
	var buf strings.Builder
	s := settings(t, "log", `level: warn`, nil)
	s.Env.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	sink, err := kind("log").NewSink(s)
	if err != nil {
		t.Fatal(err)
	}
	_ = sink.Write(context.Background(), []connector.Message{{Body: []byte(`{"a":1}`)}})
	if !strings.Contains(buf.String(), `level=WARN`) || !strings.Contains(buf.String(), `{\"a\":1}`) {
		t.Errorf("log %q", buf.String())
	}
	if _, err := kind("log").NewSink(settings(t, "log", `level: loud`, nil)); err == nil {
		t.Error("bad level accepted")
	}
}

// TestConformance: the built-ins reach Junction itself, not a system of their own, so
// the suite checks their specs.
func TestConformance(t *testing.T) {
	for _, k := range Kinds() {
		t.Run(k.Name, func(t *testing.T) { connectortest.Run(t, connectortest.Harness{Kind: k}) })
	}
}

package integration

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/event"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// httptest servers' keep-alive connections close asynchronously after Close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// upstream is a local fake of an outside API that records what it received.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
	handle   func(w http.ResponseWriter, r *http.Request, n int) // n counts requests from 1
}

type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

func newUpstream(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *upstream {
	t.Helper()
	u := &upstream{handle: handle}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body)) // the handler reads it again
		u.mu.Lock()
		u.requests = append(u.requests, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		n := len(u.requests)
		h := u.handle
		u.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

func (u *upstream) last() recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests[len(u.requests)-1]
}

func (u *upstream) all() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.requests...)
}

// harness is a runtime under test with what the test needs to observe it.
type harness struct {
	rt       *Runtime
	opts     Options // what rt was built with
	registry *prometheus.Registry
	bus      *event.Bus
	events   chan event.Event
}

type harnessOption func(*Options)

func withClock(c clock.Clock) harnessOption      { return func(o *Options) { o.Clock = c } }
func withOptions(f func(*Options)) harnessOption { return func(o *Options) { f(o) } }

// newHarness builds a runtime from configuration source in which "UPSTREAM" stands for
// base (the fake's URL).
func newHarness(t *testing.T, src, base string, env map[string]string, opts ...harnessOption) *harness {
	t.Helper()
	cfg, diags := config.Decode("test.cai", []byte(strings.ReplaceAll(src, "UPSTREAM", base)))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{registry: reg, bus: event.New(quietLogger()), events: make(chan event.Event, 100)}
	t.Cleanup(h.bus.Close)
	h.bus.Subscribe(nil, func(e event.Event) { h.events <- e })
	o := Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:    quietLogger(),
		Metrics:   m,
		Bus:       h.bus,
	}
	for _, f := range opts {
		f(&o)
	}
	if h.rt, err = New(cfg, o); err != nil {
		t.Fatal(err)
	}
	h.opts = o
	t.Cleanup(h.rt.Close)
	return h
}

// reload builds a runtime from src (as a configuration reload does) with h's options and
// env, and h's runtime as Previous. The new harness shares h's metrics and bus.
func (h *harness) reload(t *testing.T, src, base string, env map[string]string) *harness {
	t.Helper()
	cfg, diags := config.Decode("reloaded.cai", []byte(strings.ReplaceAll(src, "UPSTREAM", base)))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	o := h.opts
	o.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o.Previous = h.rt
	rt, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	next := *h
	next.rt, next.opts = rt, o
	return &next
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (h *harness) call(t *testing.T, in, op string, params map[string]any) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return h.rt.Call(ctx, in, op, params, CallOptions{})
}

// mustCall fails the test unless the call returns a result.
func (h *harness) mustCall(t *testing.T, in, op string, params map[string]any) *Result {
	t.Helper()
	res, err := h.call(t, in, op, params)
	if err != nil {
		t.Fatalf("%s.%s: %v", in, op, err)
	}
	return res
}

// nextEvent waits for the next event on the bus.
func (h *harness) nextEvent(t *testing.T) event.Event {
	t.Helper()
	select {
	case e := <-h.events:
		return e
	case <-time.After(30 * time.Second): // generous: a loaded machine is slow, not broken
		t.Fatal("no event published")
		return event.Event{}
	}
}

// counter reads a metric's value for the given labels (0 when absent).
func (h *harness) counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := h.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func jsonOK(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

func kindOf(t *testing.T, err error) Kind {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	return KindOf(err)
}

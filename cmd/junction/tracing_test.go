package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP collector in the test: it keeps every export request
// and its raw bytes.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	raw      [][]byte
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("export to %s as %s, want /v1/traces as application/x-protobuf", r.URL.Path, r.Header.Get("Content-Type"))
		}
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			t.Errorf("export request: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		rcv.requests, rcv.raw = append(rcv.requests, req), append(rcv.raw, body)
		rcv.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

// spans returns the received spans' names and every attribute value, and the
// service.name of the resources.
func (rcv *otlpReceiver) spans() (names []string, values []string, services []string) {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, req := range rcv.requests {
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					services = append(services, kv.GetValue().GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					names = append(names, sp.Name)
					for _, kv := range sp.Attributes {
						values = append(values, kv.Key+"="+kv.GetValue().String())
					}
					for _, ev := range sp.Events {
						for _, kv := range ev.Attributes {
							values = append(values, kv.Key+"="+kv.GetValue().String())
						}
					}
				}
			}
		}
	}
	return names, values, services
}

// TestServeExportsTraces runs the built binary with OTEL_EXPORTER_OTLP_ENDPOINT set: a
// gateway call's spans (the API request, the call, its attempt, the upstream request)
// reach the collector over OTLP/HTTP by the time serve has stopped, the upstream gets a
// traceparent of the same trace, and the integration's bearer token is in no span.
func TestServeExportsTraces(t *testing.T) {
	const secret = "tok-e2e-7f3c9a"
	var mu sync.Mutex
	var upstreamTP string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		upstreamTP = r.Header.Get("Traceparent")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"7"}`)
	}))
	defer up.Close()
	rcv := newOTLPReceiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration Shop {
    base_url: "`+up.URL+`"
    auth: bearer(env(SHOP_TOKEN))
    operation get { method: GET path: "/items/{id}" }
}`)
	env := []string{"SHOP_TOKEN=" + secret, "OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL, "OTEL_SERVICE_NAME=junction-e2e"}
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)

	const traceID = "5b8efff798038103d269b633813fc60c"
	req, _ := http.NewRequest(http.MethodPost, s.base+"/integrations/Shop/operations/get", strings.NewReader(`{"id":"7"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-eee19b7ec3c1b174-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("call: %d\n%s", resp.StatusCode, s.log())
	}
	mu.Lock()
	if !strings.HasPrefix(upstreamTP, "00-"+traceID+"-") {
		t.Errorf("upstream traceparent %q, want one in trace %s", upstreamTP, traceID)
	}
	mu.Unlock()

	// Stopping flushes the spans the batch processor still holds.
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.log())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		names, _, _ := rcv.spans()
		if len(names) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	names, values, services := rcv.spans()
	for _, want := range []string{"POST /integrations/{name}/operations/{op}", "integration.call", "HTTP GET"} {
		if !strings.Contains(strings.Join(names, "\n"), want) {
			t.Errorf("no %q span among %q\n%s", want, names, s.log())
		}
	}
	if len(services) == 0 || services[0] != "junction-e2e" {
		t.Errorf("service.name %q, want junction-e2e", services)
	}
	if !strings.Contains(strings.Join(values, "\n"), `junction.integration=string_value:"Shop"`) {
		t.Errorf("no junction.integration attribute among %q", values)
	}
	for _, v := range values {
		if strings.Contains(v, secret) || strings.Contains(v, token) {
			t.Errorf("span attribute %s carries a secret", v)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, raw := range rcv.raw {
		if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(token)) {
			t.Error("an export request carries the bearer token or the API token")
		}
	}
}

// allSpans returns every received span.
func (rcv *otlpReceiver) allSpans() []*tracepb.Span {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var out []*tracepb.Span
	for _, req := range rcv.requests {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				out = append(out, ss.Spans...)
			}
		}
	}
	return out
}

// TestServeTracesRetries: a gateway call that the upstream fails twice is one trace: the
// API request, the call, and its three attempts as the call's children (each attempt is
// its upstream request's client span, junction.attempt 1 to 3); the upstream saw each
// attempt's traceparent, in the same trace, naming that attempt's span as parent.
func TestServeTracesRetries(t *testing.T) {
	var mu sync.Mutex
	var seen []string // traceparents, in order
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		n := len(seen)
		mu.Unlock()
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	defer up.Close()
	rcv := newOTLPReceiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `integration Shop {
    base_url: "`+up.URL+`"
    retry_delays: [10ms, 10ms]
    operation get { method: GET path: "/items/{id}" }
}`)
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL}
	a := api{t: t, token: adminToken(t, dir, env)}
	s := startServer(t, dir, env, "-c", cfg)
	a.base = s.base
	a.expect(200, "POST", "/integrations/Shop/operations/get", map[string]any{"id": "7"})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.log())
	}
	hexID := func(b []byte) string { return fmt.Sprintf("%x", b) }
	var spans []*tracepb.Span
	eventually(t, "the call's spans at the collector", func() bool {
		spans = rcv.allSpans()
		n := 0
		for _, sp := range spans {
			if sp.Name == "HTTP GET" {
				n++
			}
		}
		return n == 3
	})
	// Other requests (the test's health checks, its look at /openapi.json) are traces of
	// their own; the call's spans are all in one.
	byName := map[string][]*tracepb.Span{}
	traces := map[string]bool{}
	for _, sp := range spans {
		if strings.HasPrefix(sp.Name, "GET /") {
			continue
		}
		byName[sp.Name] = append(byName[sp.Name], sp)
		traces[hexID(sp.TraceId)] = true
	}
	if len(traces) != 1 {
		t.Fatalf("%d traces, want one: %v (spans %v)", len(traces), traces, keys(byName))
	}
	// Each attempt is its upstream request's client span (junction.attempt 1, 2, 3),
	// a child of the call.
	call := byName["integration.call"]
	if len(call) != 1 || len(byName["HTTP GET"]) != 3 || len(byName["POST /integrations/{name}/operations/{op}"]) != 1 {
		t.Fatalf("spans %v", keys(byName))
	}
	if req := byName["POST /integrations/{name}/operations/{op}"][0]; !bytes.Equal(call[0].ParentSpanId, req.SpanId) {
		t.Errorf("the call's parent is not the API request")
	}
	httpSpans := map[string]bool{}
	numbers := map[int64]bool{}
	for _, h := range byName["HTTP GET"] {
		httpSpans[hexID(h.SpanId)] = true
		if !bytes.Equal(h.ParentSpanId, call[0].SpanId) {
			t.Errorf("an attempt's parent is not the call")
		}
		for _, kv := range h.Attributes {
			if kv.Key == "junction.attempt" {
				numbers[kv.GetValue().GetIntValue()] = true
			}
		}
	}
	if len(numbers) != 3 || !numbers[1] || !numbers[2] || !numbers[3] {
		t.Errorf("attempt numbers %v, want 1, 2 and 3", numbers)
	}
	var traceID string
	for id := range traces {
		traceID = id
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("upstream saw %d requests", len(seen))
	}
	for _, tp := range seen {
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] != traceID || !httpSpans[parts[2]] {
			t.Errorf("upstream traceparent %q: want trace %s and one of the upstream request spans", tp, traceID)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReloadMovesTheCollector: a reload that changes a flow's `tracing { endpoint }`
// sends the spans to the new collector from then on; one that drops tracing says that
// takes a restart.
func TestReloadMovesTheCollector(t *testing.T) {
	t.Parallel()
	first, second := newOTLPReceiver(t), newOTLPReceiver(t)
	conf := `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }
connector in { type: http  path: "traced" }
connector out { type: webhook }
flow f {
    source: in
    sink s { connector: out  event_type: "traced.x"  id: "$.id" }
    %s
}`
	tracing := func(url string) string { return fmt.Sprintf(`monitoring: { tracing: { endpoint: %q } }`, url) }
	r := startReloader(t, fmt.Sprintf(conf, tracing(first.URL)))
	if !strings.Contains(r.s.log(), "tracing on") {
		t.Fatalf("tracing is not on:\n%s", r.s.log())
	}
	// The server answers before its flows have started.
	eventually(t, "the flow to run", func() bool { return r.a.expect(200, "GET", "/flows/f", nil)["state"] == "running" })
	r.a.expect(202, "POST", "/in/traced", map[string]any{"id": "m1"})
	r.reload(fmt.Sprintf(conf, tracing(second.URL)))
	eventually(t, "the collector to move", func() bool { return strings.Contains(r.s.log(), "spans now go to the new collector") })
	eventually(t, "the flow to run again", func() bool { return r.a.expect(200, "GET", "/flows/f", nil)["state"] == "running" })
	r.a.expect(202, "POST", "/in/traced", map[string]any{"id": "m2"})
	r.reload(fmt.Sprintf(conf, ""))
	eventually(t, "the restart warning", func() bool { return strings.Contains(r.s.log(), "takes effect at the next start") })
	if code := r.s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.s.log())
	}
	// Each message makes an ingest server span; the first one's may have left before
	// the move. Stopping flushed the rest to the second collector.
	count := func(rcv *otlpReceiver) int {
		names, _, _ := rcv.spans()
		return strings.Count(strings.Join(names, "\n"), "POST /in/{path...}")
	}
	if n1, n2 := count(first), count(second); n2 < 1 || n1+n2 != 2 {
		names1, _, _ := first.spans()
		names2, _, _ := second.spans()
		t.Errorf("ingest spans: %d at the first collector %q, %d at the second %q", n1, names1, n2, names2)
	}
}

// TestServeTracesJobsAndHandlers: a job's run and an event handler's execution are
// spans of their own, and what each does (here: publish an event) hangs under it.
func TestServeTracesJobsAndHandlers(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `job tick { schedule "every 1h"  emit "tick.happened" }
on "order.placed" do emit "order.noted"
`)
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.URL}
	a := api{t: t, token: adminToken(t, dir, env)}
	s := startServer(t, dir, env, "-c", cfg)
	a.base = s.base
	a.expect(202, "POST", "/jobs/tick/trigger", nil)
	a.expect(202, "POST", "/events", map[string]any{"type": "order.placed", "data": map[string]any{"id": "o1"}})
	eventually(t, "the job's run and the handler's execution", func() bool {
		_, runs := a.do("GET", "/jobs/tick/runs", nil)
		_, execs := a.do("GET", "/handlers/executions?status=done", nil)
		r, _ := runs["data"].([]any)
		x, _ := execs["data"].([]any)
		return len(r) == 1 && r[0].(map[string]any)["status"] == "succeeded" && len(x) == 1
	})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.log())
	}
	byName := map[string]*tracepb.Span{}
	var publishes []*tracepb.Span
	for _, sp := range rcv.allSpans() {
		byName[sp.Name] = sp
		if sp.Name == "event.publish" {
			publishes = append(publishes, sp)
		}
	}
	job, handler := byName["job.run"], byName["handler.execution"]
	if job == nil || handler == nil {
		t.Fatalf("spans %v: no job.run or handler.execution", slices.Collect(maps.Keys(byName)))
	}
	under := func(parent *tracepb.Span) bool {
		return slices.ContainsFunc(publishes, func(p *tracepb.Span) bool { return bytes.Equal(p.ParentSpanId, parent.SpanId) })
	}
	if !under(job) || !under(handler) {
		t.Errorf("the publishes %v are not under the job's run and the handler's execution", publishes)
	}
}

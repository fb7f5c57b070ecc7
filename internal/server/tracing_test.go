package server_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/telemetry/telemetrytest"
)

// An API request with a traceparent is a server span, named after its route, that is
// the child of the caller's span; the gateway call under it reaches the upstream with
// the same trace id; no span carries the token or the request's path values.
func TestTracingGatewayRequestHonoursTraceparent(t *testing.T) {
	spans := telemetrytest.Trace(t)
	var mu sync.Mutex
	var upstreamTP string
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamTP = r.Header.Get("Traceparent")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":1,"login":"octocat"}`))
	})
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, gatewayConfig, up, map[string]string{"USERS_TOKEN": "s3cret"})
	})
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := e.req("POST", "/integrations/Users/operations/get_user", e.user, `{"username":"octocat"}`,
		"Traceparent", "00-"+traceID+"-"+parentID+"-01")
	if resp.StatusCode != 200 {
		t.Fatalf("call: %d %s", resp.StatusCode, resp.body)
	}
	const route = "POST /integrations/{name}/operations/{op}"
	// The server span ends after the answer is written: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for len(spans.Named(route)) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var server, call = -1, -1
	ended := spans.Ended()
	for i, sp := range ended {
		switch sp.Name {
		case route:
			server = i
		case "integration.call":
			call = i
		}
	}
	if server < 0 || call < 0 {
		names := []string{}
		for _, sp := range ended {
			names = append(names, sp.Name)
		}
		t.Fatalf("spans %v: want the route's server span and integration.call", names)
	}
	srv := ended[server]
	if srv.SpanContext.TraceID().String() != traceID || srv.Parent.SpanID().String() != parentID || !srv.Parent.IsRemote() {
		t.Errorf("server span trace %s parent %s: not the child of the incoming traceparent", srv.SpanContext.TraceID(), srv.Parent.SpanID())
	}
	if telemetrytest.Attr(srv, "http.response.status_code") != "200" {
		t.Errorf("server span attributes %v", srv.Attributes)
	}
	if !telemetrytest.ChildOf(ended[call], srv) {
		t.Error("integration.call is not a child of the request's span")
	}
	mu.Lock()
	if len(upstreamTP) < 36 || upstreamTP[3:35] != traceID {
		t.Errorf("upstream traceparent %q is not in trace %s", upstreamTP, traceID)
	}
	mu.Unlock()
	for _, sp := range ended {
		for _, kv := range sp.Attributes {
			if v := kv.Value.String(); v == e.user || v == "s3cret" || v == "octocat" {
				t.Errorf("span %s carries %s=%q", sp.Name, kv.Key, v)
			}
		}
	}
}

package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
)

// runtimeFor builds a real integration runtime from configuration source; "UPSTREAM" in
// src is replaced by the fake upstream's URL.
func runtimeFor(t *testing.T, src, upstream string, env map[string]string) *integration.Runtime {
	t.Helper()
	cfg, diags := config.Decode("test.cai", []byte(strings.ReplaceAll(src, "UPSTREAM", upstream)))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	m, err := integration.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := integration.New(cfg, integration.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:   m,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt
}

func fakeUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

const gatewayConfig = `
integration Users {
    base_url: "UPSTREAM"
    auth: bearer(env(USERS_TOKEN))
    retry: 2 times
    circuit_breaker: { threshold: 3 consecutive failures, reset_after: 1m }
    default_cache_ttl: 1m
    operation get_user {
        method: GET
        path: "/users/{username}"
        query: { verbose: boolean, default(false) }
        returns: { id: integer, login: string }
    }
    operation create_user {
        method: POST
        path: "/users"
        body: { login: string, required, age: integer, optional }
    }
}
integration Broken { base_url: env(BROKEN_URL) }
`

func TestGatewayOperationCall(t *testing.T) {
	var calls int
	var mu sync.Mutex
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/users/octocat":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":1,"login":"octocat","verbose":"`+r.URL.Query().Get("verbose")+`"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/users":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	})
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, gatewayConfig, up, map[string]string{"USERS_TOKEN": "s3cret"})
	})

	resp := e.req("POST", "/integrations/Users/operations/get_user", e.user, `{"username":"octocat","verbose":true}`)
	if resp.StatusCode != 200 || !strings.Contains(string(resp.body), `"verbose":"true"`) {
		t.Fatalf("get_user: %d %s", resp.StatusCode, resp.body)
	}
	for h, want := range map[string]string{"X-Junction-Attempts": "1", "X-Junction-Cache": "miss", "X-Junction-Circuit": "closed", "Content-Type": "application/json"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	resp = e.req("POST", "/integrations/Users/operations/get_user", e.user, `{"username":"octocat","verbose":true}`)
	if resp.Header.Get("X-Junction-Cache") != "hit" || resp.Header.Get("X-Junction-Attempts") != "0" || calls != 1 {
		t.Errorf("second call: cache %q attempts %q upstream calls %d", resp.Header.Get("X-Junction-Cache"), resp.Header.Get("X-Junction-Attempts"), calls)
	}

	resp = e.req("POST", "/integrations/Users/operations/create_user", e.user, `{"login":"x","age":30}`)
	if resp.StatusCode != 201 || resp.Header.Get("X-Junction-Cache") != "bypass" || !strings.Contains(string(resp.body), `"age":30`) {
		t.Errorf("create_user: %d %s %v", resp.StatusCode, resp.body, resp.Header)
	}

	// Missing and mistyped parameters: 400 naming them, nothing sent upstream.
	before := calls
	resp = e.req("POST", "/integrations/Users/operations/create_user", e.user, `{"age":"old","nick":"y"}`)
	p := resp.json(t)
	if resp.StatusCode != 400 || p["type"] != "https://junction.dev/problems/invalid-request" || calls != before {
		t.Fatalf("invalid params: %d %s", resp.StatusCode, resp.body)
	}
	for _, want := range []string{`"field":"login","detail":"required (string)"`, `"field":"age","detail":"expected an integer, found \"old\""`, `"field":"nick"`} {
		if !strings.Contains(string(resp.body), want) {
			t.Errorf("400 body lacks %s: %s", want, resp.body)
		}
	}
	// Malformed and non-object bodies are the generic strict-decoding 400.
	if resp := e.req("POST", "/integrations/Users/operations/create_user", e.user, `[1]`); resp.StatusCode != 400 {
		t.Errorf("array body: %d", resp.StatusCode)
	}
	// Unknown names are 404 problems that say which name is unknown.
	for path, want := range map[string]string{
		"/integrations/Nope/operations/x":     `no integration named \"Nope\" is declared (declared: `,
		"/integrations/Users/operations/nope": `integration Users has no operation \"nope\"`,
	} {
		resp := e.req("POST", path, e.user, `{}`)
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(resp.body), want) {
			t.Errorf("%s: %d %s, want a detail with %s", path, resp.StatusCode, resp.body, want)
		}
	}
	// A misconfigured integration refuses calls with 503 and says why.
	resp = e.req("POST", "/integrations/Broken/operations/x", e.user, `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("Broken has no operation x: %d", resp.StatusCode)
	}
}

func TestGatewayStatusHealthAndReset(t *testing.T) {
	fail := true
	var mu sync.Mutex
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable) // retryable, and a failure for the breaker
			return
		}
		io.WriteString(w, `{"id":1,"login":"a"}`)
	})
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, gatewayConfig, up, map[string]string{"USERS_TOKEN": "s3cret"})
	})
	resp := e.req("GET", "/integrations/status", e.user, "")
	want := `{"integrations":[` +
		`{"name":"Broken","type":"rest","status":"misconfigured","circuit_state":"closed","error_rate":0,"last_success_at":null,"last_failure_at":null,"reason":"base_url: BROKEN_URL is not set"},` +
		`{"name":"Users","type":"rest","status":"healthy","circuit_state":"closed","error_rate":0,"last_success_at":null,"last_failure_at":null}]}`
	if got := strings.TrimSpace(string(resp.body)); got != want {
		t.Fatalf("status:\n got %s\nwant %s", got, want)
	}

	// One call, three failed attempts (2 retries): the circuit (3 consecutive) opens.
	resp = e.req("POST", "/integrations/Users/operations/get_user", e.user, `{"username":"a"}`)
	if resp.StatusCode != 503 || resp.Header.Get("X-Junction-Attempts") != "3" {
		t.Fatalf("failing call: %d attempts %s", resp.StatusCode, resp.Header.Get("X-Junction-Attempts"))
	}
	resp = e.req("POST", "/integrations/Users/operations/get_user", e.user, `{"username":"b"}`)
	if resp.StatusCode != 503 || resp.json(t)["type"] != "https://junction.dev/problems/circuit-open" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("open circuit: %d %s", resp.StatusCode, resp.body)
	}

	h := e.req("GET", "/integrations/Users/health", e.user, "").json(t)
	if h["status"] != "down" || h["circuit_state"] != "open" || h["success_rate"] != float64(0) || h["last_error"] == nil {
		t.Errorf("health: %v", h)
	}
	for _, k := range []string{"name", "latency_p50", "latency_p99"} {
		if _, ok := h[k]; !ok {
			t.Errorf("health lacks %s", k)
		}
	}
	if resp := e.req("GET", "/integrations/Nope/health", e.user, ""); resp.StatusCode != 404 {
		t.Errorf("unknown health: %d", resp.StatusCode)
	}

	// Reset is admin-only.
	if resp := e.req("POST", "/integrations/Users/circuit/reset", e.user, ""); resp.StatusCode != 403 {
		t.Errorf("user reset: %d", resp.StatusCode)
	}
	resp = e.req("POST", "/integrations/Users/circuit/reset", e.admin, "")
	if got := strings.TrimSpace(string(resp.body)); resp.StatusCode != 200 || got != `{"name":"Users","circuit_state":"closed"}` {
		t.Fatalf("reset: %d %s", resp.StatusCode, got)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if resp := e.req("POST", "/integrations/Users/operations/get_user", e.user, `{"username":"c"}`); resp.StatusCode != 200 {
		t.Errorf("after reset: %d %s", resp.StatusCode, resp.body)
	}
}

func TestGatewayProxy(t *testing.T) {
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Junction-Timeout") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body)+" "+r.Header.Get("X-Custom"))
	})
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, gatewayConfig, up, map[string]string{"USERS_TOKEN": "s3cret"})
	})
	resp := e.req("PUT", "/proxy/Users/a/b%20c?x=1&y=2", e.user, "payload", "X-Custom", "kept", "X-Junction-Timeout", "5s", "Content-Type", "text/plain")
	if resp.StatusCode != 202 || string(resp.body) != "PUT /a/b%20c?x=1&y=2 payload kept" || resp.Header.Get("X-Upstream") != "yes" {
		t.Fatalf("proxy: %d %q %v", resp.StatusCode, resp.body, resp.Header)
	}
	if resp.Header.Get("X-Junction-Attempts") != "1" || resp.Header.Get("X-Junction-Circuit") != "closed" {
		t.Errorf("junction headers: %v", resp.Header)
	}
	if resp := e.req("GET", "/proxy/Users/x", "", ""); resp.StatusCode != 401 {
		t.Errorf("unauthenticated proxy: %d", resp.StatusCode)
	}
	if resp := e.req("GET", "/proxy/Broken/x", e.user, ""); resp.StatusCode != 503 || resp.json(t)["type"] != "https://junction.dev/problems/integration-misconfigured" {
		t.Errorf("misconfigured proxy: %d %s", resp.StatusCode, resp.body)
	}
	if resp := e.req("GET", "/proxy/Users/x", e.user, "", "X-Junction-Timeout", "soon"); resp.StatusCode != 400 {
		t.Errorf("bad timeout header: %d", resp.StatusCode)
	}
}

// Swapping the runtime while requests run must be race-free (run with -race).
func TestSetGatewayConcurrent(t *testing.T) {
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	a := runtimeFor(t, gatewayConfig, up, nil)
	b := runtimeFor(t, `integration Other { base_url: "UPSTREAM" }`, up, nil)
	e := newEnv(t).start()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				e.srv.SetGateway(a)
			} else {
				e.srv.SetGateway(b)
			}
		}
	})
	for range 20 {
		if resp := e.req("GET", "/integrations/status", e.user, ""); resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	close(stop)
	wg.Wait()
	e.srv.SetGateway(nil)
	if resp := e.req("GET", "/integrations/status", e.user, ""); strings.TrimSpace(string(resp.body)) != `{"integrations":[]}` {
		t.Errorf("after SetGateway(nil): %s", resp.body)
	}
}

// TestAccessLogSaysWhyARequestFailed: a failed request's access log line carries its
// problem's detail, not only the status.
func TestAccessLogSaysWhyARequestFailed(t *testing.T) {
	e := newEnv(t).start()
	resp := e.req("POST", "/integrations/Nope/operations/x", e.user, `{}`)
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var line map[string]any
	for l := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"http request"`) && strings.Contains(l, `/integrations/Nope/operations/x`) {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if reason, _ := line["reason"].(string); !strings.Contains(reason, `no integration named "Nope"`) {
		t.Errorf("access log line %v has no reason", line)
	}
}

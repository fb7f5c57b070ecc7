package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/servicetest"
)

// recorder is an upstream that records the raw request target of every request.
type recorder struct {
	mu      sync.Mutex
	targets []string
	headers []http.Header
}

func (rc *recorder) handler(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.targets = append(rc.targets, r.RequestURI)
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.mu.Unlock()
	io.WriteString(w, "ok")
}

func (rc *recorder) seen() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.targets...)
}

func (rc *recorder) lastHeader() http.Header {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.headers) == 0 {
		return nil
	}
	return rc.headers[len(rc.headers)-1]
}

// rawRequest sends target exactly as written on the request line (no client-side
// cleaning or escaping) and returns the answer.
func rawRequest(t *testing.T, e *env, method, target, token string, header ...string) response {
	t.Helper()
	if e.ts == nil {
		e.start()
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: junction.test\r\nAuthorization: Bearer %s\r\nConnection: close\r\n", method, target, token)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp, body}
}

// TestProxyPathStaysUnderBaseURL: whatever the encoding, a proxied path is cleaned and
// stays under the integration's base path, encoded ? and # stay data, and what cannot be
// made safe is a 400 problem before anything is sent.
func TestProxyPathStaysUnderBaseURL(t *testing.T) {
	rec := &recorder{}
	up := fakeUpstream(t, rec.handler)
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, `integration Static { base_url: "UPSTREAM/v1" auth: api_key(env(KEY), "appid") }`, up, map[string]string{"KEY": "k3y-value"})
	})
	const key = "appid=k3y-value"
	for _, tc := range []struct {
		name, path string // path after /proxy/Static
		upstream   string // the request target the upstream must see; "" = nothing sent
		status     int    // the status junction must answer when nothing is sent
	}{
		{"plain", "/a/b?x=1", "/v1/a/b?x=1&" + key, 0},
		{"empty rest", "/", "/v1/?" + key, 0},
		{"trailing slash kept", "/a/b/", "/v1/a/b/?" + key, 0},
		{"encoded dot dot", "/%2e%2e/admin/secret.txt", "", 400},
		{"encoded dot dot, upper case", "/%2E%2E/admin/secret.txt", "", 400},
		{"half encoded dot dot", "/.%2e/admin/secret.txt", "", 400},
		{"dot dot with encoded slash", "/..%2fadmin/secret.txt", "", 400},
		{"dot dot with encoded slash, upper case", "/..%2Fadmin/secret.txt", "", 400},
		{"encoded slash hiding dot dot later", "/a%2F..%2F..%2Fadmin", "", 400},
		{"encoded dot dot inside, climbing out", "/a/%2e%2e/%2e%2e/admin", "", 400},
		{"encoded dot dot inside, staying under", "/a/%2e%2e/b", "/v1/b?" + key, 0},
		{"encoded single dot", "/a/%2e/b", "/v1/a/b?" + key, 0},
		{"double encoded dot dot", "/%252e%252e/admin", "", 400},
		{"double encoded slash and dots", "/..%252fadmin", "", 400},
		{"encoded backslash with dot dot", "/..%5Cadmin", "", 400},
		{"encoded backslash, no dots", "/a%5Cb", "/v1/a%5Cb?" + key, 0},
		{"encoded NUL", "/a%00b", "", 400},
		{"encoded CR LF", "/a%0d%0aX-Injected:%20yes", "", 400},
		{"encoded question mark stays data", "/a%3Fadmin=1", "/v1/a%3Fadmin=1?" + key, 0},
		{"encoded hash stays data", "/a%23frag/b", "/v1/a%23frag/b?" + key, 0},
		{"encoded slash is data", "/group%2Fproject/issues", "/v1/group%2Fproject/issues?" + key, 0},
		{"encoded percent is data", "/100%25/x", "/v1/100%25/x?" + key, 0},
		{"absolute URL as a path", "/http:%2F%2Fevil.example/x", "/v1/http:%2F%2Fevil.example/x?" + key, 0},
		{"network path encoded", "/%2F%2Fevil.example/x", "/v1/%2F%2Fevil.example/x?" + key, 0},
		{"caller's appid does not replace the key", "/a?appid=mine", "/v1/a?" + key, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.seen())
			target := "/proxy/Static" + tc.path
			resp := rawRequest(t, e, "GET", target, e.user)
			got := rec.seen()[before:]
			if tc.upstream == "" {
				if len(got) != 0 {
					t.Fatalf("GET %s reached the upstream as %q", target, got)
				}
				instance, _ := url.PathUnescape(strings.SplitN(target, "?", 2)[0]) // problems name r.URL.Path
				p := problem(t, resp, tc.status, server.KindInvalidRequest, instance)
				t.Logf("%s → %d %v", target, resp.StatusCode, p["detail"])
				return
			}
			if resp.StatusCode != 200 || len(got) != 1 || got[0] != tc.upstream {
				t.Fatalf("GET %s: %d %s; upstream saw %q, want %q", target, resp.StatusCode, resp.body, got, tc.upstream)
			}
		})
	}

	// Raw dot segments and empty segments never reach the proxy: the router cleans the
	// path and answers with a redirect to it (which stays under /proxy/Static) or, when
	// the cleaned path left the proxy, 404. (A malformed escape such as %zz is refused by
	// Go's HTTP server before any handler runs.)
	for _, target := range []string{"/proxy/Static/../admin", "/proxy/Static/a/../../../admin", "/proxy/Static//evil.example/x", "/proxy/Static/./a"} {
		before := len(rec.seen())
		resp := rawRequest(t, e, "GET", target, e.user)
		loc := resp.Header.Get("Location")
		if len(rec.seen()) != before || (resp.StatusCode/100 != 3 && resp.StatusCode != 404) || strings.Contains(loc, "..") || strings.Contains(loc, "//") {
			t.Errorf("GET %s: %d Location %q; upstream saw %q", target, resp.StatusCode, loc, rec.seen()[before:])
		}
	}

	// A raw # in the query would end the upstream's request target early.
	before := len(rec.seen())
	problem(t, rawRequest(t, e, "GET", "/proxy/Static/a?x=1#frag", e.user), 400, server.KindInvalidRequest, "/proxy/Static/a")
	if len(rec.seen()) != before {
		t.Errorf("a query with # reached the upstream: %q", rec.seen()[before:])
	}
}

// TestProxyForwardsOrdinaryMethodsOnly: TRACE, CONNECT and made-up methods are refused
// with 405 and an Allow header; the ordinary ones go through.
func TestProxyForwardsOrdinaryMethodsOnly(t *testing.T) {
	rec := &recorder{}
	up := fakeUpstream(t, rec.handler)
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, `integration Static { base_url: "UPSTREAM/v1" }`, up, nil)
	})
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		if resp := rawRequest(t, e, m, "/proxy/Static/x", e.user, "Content-Length", "0"); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", m, resp.StatusCode, resp.body)
		}
	}
	n := len(rec.seen())
	for _, m := range []string{"TRACE", "CONNECT", "PROPFIND", "FOO"} {
		resp := rawRequest(t, e, m, "/proxy/Static/x", e.user, "Content-Length", "0")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(resp.Header.Get("Allow"), "GET") {
			t.Errorf("%s: %d Allow %q %s", m, resp.StatusCode, resp.Header.Get("Allow"), resp.body)
		}
	}
	if got := rec.seen(); len(got) != n {
		t.Errorf("refused methods reached the upstream: %q", got[n:])
	}
}

// TestProxyCallerCannotReplaceConfiguredHeaders: credential headers and the integration's
// static headers win over the caller's; the caller's other headers pass.
func TestProxyCallerCannotReplaceConfiguredHeaders(t *testing.T) {
	rec := &recorder{}
	up := fakeUpstream(t, rec.handler)
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, `
integration HeaderKey { base_url: "UPSTREAM" auth: api_key(env(KEY), "X-Api-Key") headers: { "X-Tenant": "acme", "X-Static-Key": env(STATIC) } }
integration Bearer { base_url: "UPSTREAM" auth: bearer(env(TOKEN)) }
integration Basic { base_url: "UPSTREAM" auth: basic(env(USER), env(PASS)) }
integration Hmac { base_url: "UPSTREAM" auth: hmac { secret: env(KEY), header: "X-Signature" } }
`, up, map[string]string{"KEY": "configured-key", "STATIC": "static-secret", "TOKEN": "configured-token", "USER": "u", "PASS": "configured-pass"})
	})
	forged := []string{"X-Api-Key", "forged", "X-Tenant", "evil", "X-Static-Key", "forged", "X-Signature", "t=1,v1=00", "X-Custom", "kept", "Proxy-Authorization", "Basic forged"}
	for _, tc := range []struct {
		integration string
		want        map[string]string
	}{
		{"HeaderKey", map[string]string{"X-Api-Key": "configured-key", "X-Tenant": "acme", "X-Static-Key": "static-secret", "X-Custom": "kept", "Authorization": ""}},
		{"Bearer", map[string]string{"Authorization": "Bearer configured-token", "X-Custom": "kept", "X-Api-Key": "forged"}},
		{"Basic", map[string]string{"Authorization": "Basic dTpjb25maWd1cmVkLXBhc3M=", "X-Custom": "kept"}},
		{"Hmac", map[string]string{"X-Custom": "kept"}},
	} {
		// The caller's Authorization is junction's own token and is never forwarded.
		resp := e.req("GET", "/proxy/"+tc.integration+"/x", e.user, "", forged...)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.integration, resp.StatusCode, resp.body)
		}
		h := rec.lastHeader()
		for name, want := range tc.want {
			if got := h.Get(name); got != want {
				t.Errorf("%s: upstream got %s %q, want %q", tc.integration, name, got, want)
			}
		}
		// The caller's forged value exactly: Junction's own signature is v1= and 64 hex
		// digits, which may well start with 00.
		if tc.integration == "Hmac" && (h.Get("X-Signature") == "t=1,v1=00" || strings.HasPrefix(h.Get("X-Signature"), "t=1,")) {
			t.Errorf("Hmac: the caller's signature reached the upstream: %q", h.Get("X-Signature"))
		}
		if h.Get("Proxy-Authorization") != "" {
			t.Errorf("%s: Proxy-Authorization forwarded", tc.integration)
		}
	}
}

// deadlineGateway is a Gateway that records the deadline of each call's context.
type deadlineGateway struct {
	server.Gateway
	mu        sync.Mutex
	deadlines []time.Duration // from when the call arrived; -1 for none
}

func (g *deadlineGateway) record(ctx context.Context) {
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	g.mu.Lock()
	g.deadlines = append(g.deadlines, d)
	g.mu.Unlock()
}

func (g *deadlineGateway) Call(ctx context.Context, in, op string, p map[string]any, co integration.CallOptions) (*integration.Result, error) {
	g.record(ctx)
	return &integration.Result{Status: 200, Body: []byte("{}")}, nil
}

func (g *deadlineGateway) Forward(ctx context.Context, in string, fr integration.ForwardRequest) (*integration.Result, error) {
	g.record(ctx)
	return &integration.Result{Status: 200, Body: []byte("{}")}, nil
}

func (g *deadlineGateway) last() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deadlines[len(g.deadlines)-1]
}

// TestCallDeadlineStaysBelowWriteTimeout: a call's deadline — the default or the
// caller's X-Junction-Timeout — ends before the server's write timeout, so an answer
// the upstream gave (for a POST that happened) can still be written; a larger header
// value is refused with 400 naming the maximum.
func TestCallDeadlineStaysBelowWriteTimeout(t *testing.T) {
	if server.MaxCallTimeout >= server.WriteTimeout || server.WriteTimeout-server.MaxCallTimeout < time.Second {
		t.Fatalf("MaxCallTimeout %v leaves no time to answer within the write timeout %v", server.MaxCallTimeout, server.WriteTimeout)
	}
	if integration.DeadlineDefault > server.MaxCallTimeout {
		t.Fatalf("the default deadline %v is above the maximum %v", integration.DeadlineDefault, server.MaxCallTimeout)
	}
	real := runtimeFor(t, `integration A { base_url: "UPSTREAM" operation get { method: GET path: "/x" } }`, "http://127.0.0.1:1", nil)
	gw := &deadlineGateway{Gateway: real}
	e := newEnv(t, func(o *testOptions) { o.Gateway = gw })
	paths := map[string]string{"operation": "/integrations/A/operations/get", "proxy": "/proxy/A/x"}
	for name, path := range paths {
		method := "POST"
		if name == "proxy" {
			method = "GET"
		}
		// No header: the default, 30 s.
		if resp := e.req(method, path, e.user, ""); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, resp.body)
		}
		if d := gw.last(); d <= 0 || d > integration.DeadlineDefault || d < integration.DeadlineDefault-10*time.Second {
			t.Errorf("%s without %s: deadline in %v, want about %v", name, server.HeaderTimeout, d, integration.DeadlineDefault)
		}
		// The maximum is allowed.
		if resp := e.req(method, path, e.user, "", server.HeaderTimeout, server.MaxCallTimeout.String()); resp.StatusCode != 200 {
			t.Fatalf("%s with the maximum: %d %s", name, resp.StatusCode, resp.body)
		}
		if d := gw.last(); d <= 0 || d > server.MaxCallTimeout {
			t.Errorf("%s with the maximum: deadline in %v", name, d)
		}
		// Above it: 400 naming the maximum, nothing called.
		n := len(gw.deadlines)
		for _, v := range []string{(server.MaxCallTimeout + time.Second).String(), "10m", "60s"} {
			resp := e.req(method, path, e.user, "", server.HeaderTimeout, v)
			p := problem(t, resp, 400, server.KindInvalidRequest, path)
			if !strings.Contains(fmt.Sprint(p["detail"]), server.MaxCallTimeout.String()) {
				t.Errorf("%s %s: %s: detail does not name the maximum: %v", name, server.HeaderTimeout, v, p["detail"])
			}
		}
		if len(gw.deadlines) != n {
			t.Errorf("%s: a refused timeout reached the runtime", name)
		}
	}
}

// TestRateLimitedCallAnswersAtOnce: with `rate_limit: { requests: 5, window: 1m }` and
// `timeout: 2s`, the 6th call does not wait for the window: the wait is bounded by
// max_wait (default: the timeout), so it answers 429 rate-limited with Retry-After at
// once — on the operation path and on /proxy, with a local and a shared (Redis) limit,
// and also when the caller's deadline would leave room to wait for the slot.
func TestRateLimitedCallAnswersAtOnce(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "redis"}[shared], func(t *testing.T) {
			var rdb *redis.Client
			if shared {
				rdb = redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
				t.Cleanup(func() { rdb.Close() })
			}
			up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) })
			for _, tc := range []struct {
				window  time.Duration
				timeout string // X-Junction-Timeout; "" for none
			}{
				{time.Minute, ""},
				{30 * time.Second, server.MaxCallTimeout.String()}, // the slot would come within the deadline
			} {
				for _, path := range []string{"/integrations/NAME/operations/get", "/proxy/NAME/x"} {
					// A fresh runtime and key for each case: each gets the whole budget.
					name := fmt.Sprintf("Limited%d", time.Now().UnixNano())
					path := strings.Replace(path, "NAME", name, 1)
					var limiter redis.UniversalClient
					if rdb != nil {
						limiter = rdb
						t.Cleanup(func() {
							keys, _ := rdb.Keys(context.Background(), "junction:*"+name+"*").Result()
							if len(keys) > 0 {
								rdb.Del(context.Background(), keys...)
							}
						})
					}
					rt := runtimeWith(t, `integration `+name+` { base_url: "UPSTREAM" timeout: 2s
						rate_limit: { requests: 5, window: `+tc.window.String()+` }
						operation get { method: GET path: "/x" } }`, up, nil, limiter)
					e := newEnv(t, func(o *testOptions) { o.Gateway = rt })
					method := map[bool]string{true: "GET", false: "POST"}[strings.HasPrefix(path, "/proxy/")]
					var header []string
					if tc.timeout != "" {
						header = []string{server.HeaderTimeout, tc.timeout}
					}
					for i := range 5 {
						if resp := e.req(method, path, e.user, "", header...); resp.StatusCode != 200 {
							t.Fatalf("%s call %d: %d %s", path, i+1, resp.StatusCode, resp.body)
						}
					}
					began := time.Now()
					resp := e.req(method, path, e.user, "", header...)
					took := time.Since(began)
					t.Logf("window %v, %s %q: the 6th call answered %d in %v", tc.window, server.HeaderTimeout, tc.timeout, resp.StatusCode, took)
					problem(t, resp, http.StatusTooManyRequests, server.KindRateLimited, path)
					ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
					if w := int(tc.window.Seconds()); err != nil || ra < w-10 || ra > w {
						t.Errorf("%s: Retry-After %q, want the rest of the %v window", path, resp.Header.Get("Retry-After"), tc.window)
					}
					if resp.Header.Get("X-Junction-Attempts") != "0" {
						t.Errorf("%s: X-Junction-Attempts %q, want 0", path, resp.Header.Get("X-Junction-Attempts"))
					}
					// Generous: the old behaviour waited for the slot, most of the window.
					if took > 20*time.Second {
						t.Errorf("%s: the 6th call took %v; it must not wait for the window", path, took)
					}
				}
			}
		})
	}
}

// TestCircuitOpenAnswerCountsNoAttempts: an open circuit sends nothing upstream, and
// says so: X-Junction-Attempts: 0 (it said 1).
func TestCircuitOpenAnswerCountsNoAttempts(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	up := fakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	})
	e := newEnv(t, func(o *testOptions) {
		o.Gateway = runtimeFor(t, `integration A { base_url: "UPSTREAM"
			circuit_breaker: { threshold: 1 consecutive failures, reset_after: 1h }
			operation get { method: GET path: "/x" } }`, up, nil)
	})
	for _, path := range []string{"/integrations/A/operations/get", "/proxy/A/x"} {
		method := map[bool]string{true: "GET", false: "POST"}[strings.HasPrefix(path, "/proxy/")]
		e.req(method, path, e.user, "") // opens the circuit (a no-op once it is open)
		mu.Lock()
		before := calls
		mu.Unlock()
		resp := e.req(method, path, e.user, "")
		problem(t, resp, http.StatusServiceUnavailable, server.KindCircuitOpen, path)
		if got := resp.Header.Get("X-Junction-Attempts"); got != "0" {
			t.Errorf("%s: X-Junction-Attempts %q, want 0", path, got)
		}
		if p := resp.json(t); p["attempts"] != nil && p["attempts"] != float64(0) {
			t.Errorf("%s: attempts member %v, want 0 or absent", path, p["attempts"])
		}
		mu.Lock()
		if calls != before {
			t.Errorf("%s: the open circuit let a request through", path)
		}
		mu.Unlock()
	}
}

// runtimeWith is runtimeFor with an optional Redis for shared limits.
func runtimeWith(t *testing.T, src, upstream string, env map[string]string, rdb redis.UniversalClient) *integration.Runtime {
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
		Redis:     rdb,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt
}

package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/fixtures"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/testkit"
)

// The acceptance test of the reference configuration: every integration of
// fixtures/codeai/integrations.cai, with its base URLs pointed at local fakes of the real
// services (internal/fakeapi), is called through the gateway's HTTP API and does what its
// block says — credentials, static headers, defaults, cache, retries with idempotency
// keys, GraphQL errors, fallback, batching, binary bodies, the response contract — and
// upstream failures come back with the upstream's own status and body.
//
// Each subtest builds its own world (fakes, runtime, server) so that none depends on what
// another did to the clock, the caches or the circuit breakers.

// The secrets of the world, handed to the runtime through its LookupEnv only.
const (
	fxGitHubToken = "ghp_fixture0123456789abcdef"
	fxWeatherKey  = "owm-fixture-key"
	fxStripeKey   = "sk_test_fixture0123456789abcd"
	fxNotifyKey   = "notify-fixture-key"
	fxAWSKey      = "AKIAIOSFODNN7EXAMPLE"
	fxAWSSecret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	fxAWSRegion   = "eu-west-1"
	fxBucket      = "junction-test"
)

// world is the fixture's runtime served by the gateway, with the outside world faked.
type world struct {
	e       *env
	clk     *clock.Fake
	cov     *coverage
	github  *fakeapi.GitHub
	graphql *fakeapi.GitHubGraphQL
	weather *fakeapi.OpenWeather
	stripe  *fakeapi.Stripe
	notify  *fakeapi.Notifications
	s3      *fakeapi.S3
	hooks   *hookReceiver
}

type worldOptions struct {
	// start is where the fake clock starts; default the wall clock's now. The runtime
	// compares fake-clock times with the wall-clock deadlines of contexts (retry.Do will
	// not start a back-off that ends after the call's deadline), so a test that moves the
	// clock far ahead starts it in the past to keep retries possible.
	start time.Time
	env   map[string]string // overrides of the environment
}

func loadFixture(t *testing.T) *config.Config {
	t.Helper()
	cfg, diags := config.Load(fixtures.Path(t, "fixtures/codeai/integrations.cai"))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return cfg
}

func newWorld(t *testing.T, cov *coverage, opts worldOptions) *world {
	t.Helper()
	cov.subtest(t)
	cfg := loadFixture(t)
	start := opts.start
	if start.IsZero() {
		start = time.Now()
	}
	// One manual clock for the runtime and every fake: cache TTLs, breaker windows, rate
	// limit resets, batch delays and SigV4 dates all agree, and waits take no wall time
	// (world.call moves the clock over them).
	clk := clock.NewFake(start)
	w := &world{clk: clk, cov: cov,
		github:  fakeapi.NewGitHub(t, fakeapi.GitHubConfig{Token: fxGitHubToken, Clock: clk}),
		graphql: fakeapi.NewGitHubGraphQL(t, fakeapi.GitHubGraphQLConfig{Token: fxGitHubToken, Clock: clk}),
		weather: fakeapi.NewOpenWeather(t, fakeapi.OpenWeatherConfig{APIKey: fxWeatherKey, Clock: clk}),
		stripe:  fakeapi.NewStripe(t, fakeapi.StripeConfig{SecretKey: fxStripeKey, Clock: clk}),
		notify:  fakeapi.NewNotifications(t, fakeapi.NotificationsConfig{APIKey: fxNotifyKey, Clock: clk}),
		s3: fakeapi.NewS3(t, fakeapi.S3Config{AccessKeyID: fxAWSKey, SecretAccessKey: fxAWSSecret, Region: fxAWSRegion,
			Buckets: []string{fxBucket}, Clock: clk}),
		hooks: newHookReceiver(t),
	}
	env := map[string]string{
		"GITHUB_TOKEN":             fxGitHubToken,
		"OPENWEATHER_API_KEY":      fxWeatherKey,
		"STRIPE_API_URL":           w.stripe.URL() + "/v1",
		"STRIPE_SECRET_KEY":        fxStripeKey,
		"NOTIFICATION_SERVICE_URL": w.notify.URL(),
		"NOTIFICATION_API_KEY":     fxNotifyKey,
		"S3_ENDPOINT_URL":          w.s3.URL(),
		"AWS_ACCESS_KEY_ID":        fxAWSKey,
		"AWS_SECRET_ACCESS_KEY":    fxAWSSecret,
		"AWS_REGION":               fxAWSRegion,
	}
	maps.Copy(env, opts.env)

	client := integration.NewHTTPClient()
	transport := client.Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	client.Transport = &fakeDNS{t: t, next: transport,
		routes: []fakeRoute{
			// GitHub serves REST and GraphQL from one host name; each has its fake.
			{host: "api.github.com", pathPrefix: "/graphql", to: w.graphql.Host()},
			{host: "api.github.com", to: w.github.Host()},
			{host: "api.openweathermap.org", to: w.weather.Host()},
		},
		direct: []string{w.stripe.Host(), w.notify.Host(), w.s3.Host(), w.hooks.Host()},
	}
	metrics, err := integration.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := integration.New(cfg, integration.Options{
		LookupEnv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:    metrics,
		Clock:      clk,
		HTTPClient: client,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	w.e = newEnv(t, func(o *testOptions) { o.Gateway = rt }).start()
	return w
}

// fakeDNS is the runtime's transport: like a DNS override, it sends the real API hosts of
// the fixture's literal base URLs to their fakes on loopback (https becomes http; the
// Host header keeps the real name), lets requests to the fakes reached through env()
// base URLs pass, and fails the test on any other host, so nothing leaves the machine.
type fakeDNS struct {
	t      *testing.T
	next   http.RoundTripper
	routes []fakeRoute
	direct []string // host:port reached as is
}

type fakeRoute struct {
	host, pathPrefix string
	to               string // host:port of the fake
}

func (d *fakeDNS) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, r := range d.routes {
		if req.URL.Hostname() == r.host && strings.HasPrefix(req.URL.Path, r.pathPrefix) {
			out := req.Clone(req.Context())
			out.URL.Scheme, out.URL.Host, out.Host = "http", r.to, req.URL.Host
			return d.next.RoundTrip(out)
		}
	}
	if req.URL.Scheme == "http" && slices.Contains(d.direct, req.URL.Host) {
		return d.next.RoundTrip(req)
	}
	d.t.Errorf("the runtime called %s %s, which no fake serves", req.Method, req.URL)
	return nil, fmt.Errorf("fakeDNS: %s is not a faked host", req.URL.Host)
}

// hookReceiver is the endpoint WebhookDeliveryService.deliver posts to.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []receivedHook
	status int
}

type receivedHook struct {
	method, path string
	header       http.Header
	body         []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{status: http.StatusAccepted}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, receivedHook{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body})
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) URL() string  { return h.srv.URL }
func (h *hookReceiver) Host() string { return h.srv.Listener.Addr().String() }

func (h *hookReceiver) received() []receivedHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func (h *hookReceiver) answer(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = status
}

// coverage records which operations the test called, so it can prove it called them all,
// and which subtests ran (a -run filter may have skipped some).
type coverage struct {
	mu     sync.Mutex
	called map[string]bool
	ran    map[string]bool
}

func (c *coverage) add(integration, op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.called == nil {
		c.called = map[string]bool{}
	}
	c.called[integration+"."+op] = true
}

func (c *coverage) subtest(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ran == nil {
		c.ran = map[string]bool{}
	}
	c.ran[t.Name()[strings.LastIndex(t.Name(), "/")+1:]] = true
}

// op calls an operation with JSON parameters; header holds name, value pairs.
func (w *world) op(t *testing.T, integ, op, params string, header ...string) response {
	t.Helper()
	w.cov.add(integ, op)
	return w.call(t, "POST", "/integrations/"+integ+"/operations/"+op, []byte(params), append([]string{"Content-Type", "application/json"}, header...)...)
}

// call sends one request to the gateway as the user and, while it is in flight, moves the
// fake clock over every wait the runtime starts — retry back-off, batch max_delay — so
// the policies that wait take no wall time and the test needs no sleeps.
func (w *world) call(t *testing.T, method, path string, body []byte, header ...string) response {
	t.Helper()
	done := make(chan struct{})
	var resp response
	var err error
	// Taken before the request starts, so that a wait the runtime begins before drive
	// runs is not mistaken for an old one.
	seen := len(w.clk.Slept())
	go func() {
		defer close(done)
		resp, err = w.send(method, path, body, header...)
	}()
	w.drive(t, done, seen)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// send makes one request without driving the clock (safe to call from any goroutine).
func (w *world) send(method, path string, body []byte, header ...string) (response, error) {
	req, err := http.NewRequest(method, w.e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+w.e.user)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := w.e.ts.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{res, b}, err
}

// drive advances the fake clock by each new sleep's duration (those after the first seen
// of Slept) while someone sleeps on it, until done is closed. It polls — the runtime gives
// no signal when it starts waiting; the deadline only guards against a hang.
func (w *world) drive(t *testing.T, done <-chan struct{}, seen int) {
	t.Helper()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-deadline.C:
			t.Fatal("the call did not finish")
		case <-tick.C:
			slept := w.clk.Slept()
			if len(slept) > seen && w.clk.Sleepers() > 0 {
				w.clk.Advance(slices.Max(slept[seen:]))
			}
			seen = len(slept)
		}
	}
}

// waitFor polls cond until it holds, failing after a generous deadline.
func (w *world) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// concurrently sends n operation calls at once and waits for all; nothing moves the
// clock meanwhile.
func (w *world) concurrently(t *testing.T, n int, call func(i int) (integ, op, params string)) []response {
	t.Helper()
	out := make([]response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		integ, op, params := call(i)
		w.cov.add(integ, op)
		wg.Go(func() {
			out[i], errs[i] = w.send("POST", "/integrations/"+integ+"/operations/"+op, []byte(params), "Content-Type", "application/json")
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("concurrent calls did not finish")
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	return out
}

// Assertion helpers.

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", r.StatusCode, status, r.body)
	}
}

func wantHeaders(t *testing.T, h http.Header, pairs ...string) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if got := h.Get(pairs[i]); got != pairs[i+1] {
			t.Errorf("%s = %q, want %q", pairs[i], got, pairs[i+1])
		}
	}
}

func wantBody(t *testing.T, body []byte, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !bytes.Contains(body, []byte(f)) {
			t.Errorf("body lacks %s: %s", f, body)
		}
	}
}

// wantParamProblem checks a 400 invalid-request naming exactly these parameters.
func wantParamProblem(t *testing.T, r response, integ, op string, params ...string) {
	t.Helper()
	p := problem(t, r, http.StatusBadRequest, server.KindInvalidRequest, "/integrations/"+integ+"/operations/"+op)
	if got := fieldErrors(t, p); !slices.Equal(got, params) {
		t.Errorf("parameters named %v, want %v", got, params)
	}
}

// only returns the one request a fake received since before (its log length then).
func only(t *testing.T, reqs []fakeapi.Recorded, before int) fakeapi.Recorded {
	t.Helper()
	if len(reqs) != before+1 {
		t.Fatalf("the fake received %d requests, want 1", len(reqs)-before)
	}
	return reqs[before]
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%q is not JSON: %v", b, err)
	}
	return v
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFixtureIntegrationsThroughGateway(t *testing.T) {
	cov := &coverage{}

	t.Run("GitHubAPI", func(t *testing.T) {
		w := newWorld(t, cov, worldOptions{})
		const in = "GitHubAPI"

		// get_user: bearer token, the block's static headers, `cache: 5m`.
		r := w.op(t, in, "get_user", `{"username":"octocat"}`)
		wantStatus(t, r, 200)
		user := r.json(t)
		if user["login"] != "octocat" || user["id"] != float64(583231) || user["public_repos"] != float64(8) {
			t.Errorf("get_user: %s", r.body)
		}
		wantHeaders(t, r.Header, "X-Junction-Cache", "miss", "X-Junction-Attempts", "1", "X-Junction-Contract-Mismatches", "")
		got := w.github.RequestsTo("GET", "/users/octocat")
		if len(got) != 1 {
			t.Fatalf("GitHub saw %d requests for the user", len(got))
		}
		wantHeaders(t, got[0].Header, "Authorization", "Bearer "+fxGitHubToken, "Accept", "application/vnd.github.v3+json",
			"X-GitHub-Api-Version", "2022-11-28")
		if got[0].Host != "api.github.com" {
			t.Errorf("Host = %q: the fixture's literal base URL was not the one called", got[0].Host)
		}
		r = w.op(t, in, "get_user", `{"username":"octocat"}`)
		wantHeaders(t, r.Header, "X-Junction-Cache", "hit", "X-Junction-Attempts", "0")
		if n := len(w.github.RequestsTo("GET", "/users/octocat")); n != 1 || !bytes.Equal(decodeBodyKey(t, r.body), decodeBodyKey(t, mustJSON(user))) {
			t.Errorf("the cached answer: GitHub saw %d requests; body %s", n, r.body)
		}

		// Upstream 404 and a missing parameter.
		r = w.op(t, in, "get_user", `{"username":"no-such-user-x"}`)
		wantStatus(t, r, 404)
		wantBody(t, r.body, `"message":"Not Found"`)
		before := len(w.github.Requests())
		wantParamProblem(t, w.op(t, in, "get_user", `{}`), in, "get_user", "username")
		if len(w.github.Requests()) != before {
			t.Error("an invalid call reached GitHub")
		}

		// list_repos: the declared defaults per_page=30, page=1; then explicit filters.
		before = len(w.github.Requests())
		r = w.op(t, in, "list_repos", `{}`)
		wantStatus(t, r, 200)
		req := only(t, w.github.Requests(), before)
		if req.Path != "/user/repos" || req.Query.Encode() != "page=1&per_page=30" {
			t.Errorf("list_repos sent %s?%s", req.Path, req.RawQuery)
		}
		if repos, _ := decodeJSON(t, r.body).([]any); len(repos) != 30 || r.Header.Get("X-Junction-Contract-Mismatches") != "" {
			t.Errorf("list_repos: %d repositories, mismatches %q", len(repos), r.Header.Get("X-Junction-Contract-Mismatches"))
		}
		before = len(w.github.Requests())
		r = w.op(t, in, "list_repos", `{"type":"private","sort":"created","per_page":5,"page":1}`)
		wantStatus(t, r, 200)
		if q := only(t, w.github.Requests(), before).Query.Encode(); q != "page=1&per_page=5&sort=created&type=private" {
			t.Errorf("list_repos query %s", q)
		}
		for _, repo := range decodeJSON(t, r.body).([]any) {
			if testkit.Dig(repo, "private") != true {
				t.Errorf("type=private answered %v", testkit.Dig(repo, "full_name"))
			}
		}

		// create_issue: a JSON body; 201 passes through; GitHub's 422 too.
		before = len(w.github.Requests())
		r = w.op(t, in, "create_issue", `{"owner":"octocat","repo":"Hello-World","title":"Found a bug","body":"It breaks.","labels":["bug"],"assignees":["octocat"]}`)
		wantStatus(t, r, 201)
		issue := r.json(t)
		if issue["number"] != float64(1) || issue["state"] != "open" || issue["html_url"] != "https://github.com/octocat/Hello-World/issues/1" || issue["title"] != "Found a bug" {
			t.Errorf("create_issue: %s", r.body)
		}
		wantHeaders(t, r.Header, "X-Junction-Cache", "bypass", "X-Junction-Contract-Mismatches", "")
		req = only(t, w.github.Requests(), before)
		wantHeaders(t, req.Header, "Content-Type", "application/json", "Authorization", "Bearer "+fxGitHubToken)
		if testkit.Dig(decodeJSON(t, req.Body), "labels", 0) != "bug" || testkit.Dig(decodeJSON(t, req.Body), "title") != "Found a bug" {
			t.Errorf("issue body sent: %s", req.Body)
		}
		r = w.op(t, in, "create_issue", `{"owner":"octocat","repo":"Hello-World","title":""}`)
		wantStatus(t, r, 422)
		wantBody(t, r.body, `"message":"Validation Failed"`, `"code":"missing_field"`, `"field":"title"`)
		wantParamProblem(t, w.op(t, in, "create_issue", `{"owner":"octocat","repo":"Hello-World"}`), in, "create_issue", "title")
		r = w.op(t, in, "create_issue", `{"owner":"octocat","repo":"no-such-repo","title":"x"}`)
		wantStatus(t, r, 404)

		// get_rate_limit, and the quota GitHub announces on every answer.
		r = w.op(t, in, "get_rate_limit", `{}`)
		wantStatus(t, r, 200)
		if testkit.Dig(r.json(t), "resources", "core", "limit") != float64(5000) || r.Header.Get("X-Junction-Contract-Mismatches") != "" {
			t.Errorf("get_rate_limit: %s", r.body)
		}
		remaining := -1
		for _, rq := range w.github.Requests() {
			n, err := strconv.Atoi(rq.ResponseHeader.Get("X-RateLimit-Remaining"))
			if err != nil {
				t.Fatalf("an answer without X-RateLimit-Remaining: %v", rq.ResponseHeader)
			}
			if remaining >= 0 && n > remaining {
				t.Errorf("X-RateLimit-Remaining went up: %d after %d", n, remaining)
			}
			remaining = n
		}
		if remaining >= 5000 {
			t.Errorf("the quota was not used: %d left", remaining)
		}

		// `timeout`: GitHub not answering within the caller's X-Junction-Timeout is a 504
		// upstream-timeout, for a POST and for a cached GET alike.
		release := w.github.Hold()
		r = w.op(t, in, "create_issue", `{"owner":"octocat","repo":"Hello-World","title":"slow"}`, "X-Junction-Timeout", "200ms")
		problem(t, r, http.StatusGatewayTimeout, server.KindTimeout, "/integrations/GitHubAPI/operations/create_issue")
		// KNOWN RUNTIME BUG (this assertion fails until it is fixed): for a cacheable GET
		// the call runs inside cache.Group.Do, which returns the caller's bare ctx.Err()
		// when the deadline passes; the gateway cannot map it and answers 500 internal.
		// The abandoned call then writes `own` in (*client).pipeline while the caller has
		// already read it — a data race (-race reported it in this test's development).
		r = w.op(t, in, "get_user", `{"username":"hubot"}`, "X-Junction-Timeout", "200ms")
		release()
		if r.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(r.body), "/problems/upstream-timeout") {
			t.Errorf("cached GET past the caller's deadline: %d %s, want 504 upstream-timeout", r.StatusCode, r.body)
		}
		// The abandoned call completes once GitHub answers and fills the cache; wait for
		// that, so it does not run on into the rest of the test.
		w.waitFor(t, "the abandoned get_user to fill the cache", func() bool {
			return w.op(t, in, "get_user", `{"username":"hubot"}`).Header.Get("X-Junction-Cache") == "hit"
		})

		// Exhausted quota: GitHub's 403 passes through, and the block's
		// `rate_limit { header: "X-RateLimit-Remaining" }` makes Junction hold further calls
		// until the announced reset instead of spending them on more 403s.
		w.github.SetRateLimitRemaining(0)
		r = w.op(t, in, "list_repos", `{"page":2}`)
		wantStatus(t, r, 403)
		wantBody(t, r.body, "API rate limit exceeded")
		before = len(w.github.Requests())
		r = w.op(t, in, "get_rate_limit", `{}`)
		problem(t, r, http.StatusTooManyRequests, server.KindRateLimited, "/integrations/GitHubAPI/operations/get_rate_limit")
		if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 3600 {
			t.Errorf("Retry-After = %q, want the time to GitHub's reset", r.Header.Get("Retry-After"))
		}
		if len(w.github.Requests()) != before {
			t.Error("a call went to GitHub while its quota was exhausted")
		}
	})

	t.Run("GitHubGraphQL", func(t *testing.T) {
		w := newWorld(t, cov, worldOptions{})
		const in = "GitHubGraphQL"

		r := w.op(t, in, "get_user_repos", `{"login":"octocat"}`)
		wantStatus(t, r, 200)
		nodes, _ := testkit.Dig(r.json(t), "data", "user", "repositories", "nodes").([]any)
		if len(nodes) != 10 || testkit.Dig(nodes[0], "name") != "Spoon-Knife" || testkit.Dig(r.json(t), "data", "user", "login") != "octocat" {
			t.Errorf("get_user_repos (first 10 by stars): %s", r.body)
		}
		calls := w.graphql.Calls()
		if len(calls) != 1 || calls[0].RootField != "user" || calls[0].Operation != "GetUserRepos" ||
			calls[0].Variables["login"] != "octocat" || calls[0].Variables["first"] != float64(10) {
			t.Errorf("GraphQL request (default first: 10): %+v", calls)
		}
		req := w.graphql.Requests()[0]
		wantHeaders(t, req.Header, "Authorization", "Bearer "+fxGitHubToken, "Content-Type", "application/json")
		if req.Method != "POST" || req.Path != "/graphql" || req.Host != "api.github.com" {
			t.Errorf("sent %s %s to %s", req.Method, req.Path, req.Host)
		}

		r = w.op(t, in, "get_user_repos", `{"login":"octocat","first":3}`)
		if nodes, _ := testkit.Dig(r.json(t), "data", "user", "repositories", "nodes").([]any); len(nodes) != 3 {
			t.Errorf("first: 3 gave %d nodes", len(nodes))
		}

		// GraphQL reports failures with HTTP 200 and errors; the gateway makes them a 502.
		r = w.op(t, in, "get_user_repos", `{"login":"no-such-user-x"}`)
		p := problem(t, r, http.StatusBadGateway, server.KindGraphQL, "/integrations/GitHubGraphQL/operations/get_user_repos")
		if testkit.Dig(p, "graphql_errors", 0, "type") != "NOT_FOUND" || !strings.Contains(fmt.Sprint(testkit.Dig(p, "graphql_errors", 0, "message")), "no-such-user-x") {
			t.Errorf("graphql_errors: %s", r.body)
		}
		r = w.op(t, in, "get_user_repos", `{"login":"octocat","first":101}`)
		p = problem(t, r, http.StatusBadGateway, server.KindGraphQL, "/integrations/GitHubGraphQL/operations/get_user_repos")
		if testkit.Dig(p, "graphql_errors", 0, "type") != "EXCESSIVE_PAGINATION" {
			t.Errorf("first: 101: %s", r.body)
		}
		wantParamProblem(t, w.op(t, in, "get_user_repos", `{"first":5}`), in, "get_user_repos", "login")

		r = w.op(t, in, "search_repos", `{"query":"hello user:octocat"}`)
		wantStatus(t, r, 200)
		if testkit.Dig(r.json(t), "data", "search", "repositoryCount") != float64(2) ||
			testkit.Dig(r.json(t), "data", "search", "edges", 0, "node", "nameWithOwner") == nil {
			t.Errorf("search_repos: %s", r.body)
		}
		if c := w.graphql.Calls(); c[len(c)-1].RootField != "search" || c[len(c)-1].Variables["first"] != float64(10) {
			t.Errorf("search request: %+v", c[len(c)-1])
		}

		repoID := w.graphql.RepositoryID("octocat", "Hello-World")
		r = w.op(t, in, "create_issue", `{"repositoryId":"`+repoID+`","title":"Found a bug","body":"Steps to reproduce"}`)
		wantStatus(t, r, 200)
		if testkit.Dig(r.json(t), "data", "createIssue", "issue", "number") != float64(1) ||
			testkit.Dig(r.json(t), "data", "createIssue", "issue", "url") != "https://github.com/octocat/Hello-World/issues/1" {
			t.Errorf("create_issue: %s", r.body)
		}
		if is := w.graphql.Issues(); len(is) != 1 || is[0].Body != "Steps to reproduce" {
			t.Errorf("issues: %+v", is)
		}
		n := len(w.graphql.Requests())
		wantParamProblem(t, w.op(t, in, "create_issue", `{"repositoryId":"`+repoID+`"}`), in, "create_issue", "title")
		if len(w.graphql.Requests()) != n {
			t.Error("an invalid call reached GitHub")
		}
		r = w.op(t, in, "create_issue", `{"repositoryId":"R_nope","title":"x"}`)
		problem(t, r, http.StatusBadGateway, server.KindGraphQL, "/integrations/GitHubGraphQL/operations/create_issue")
		// A GraphQL POST carries no idempotency key, so it is never repeated.
		if len(w.graphql.Requests()) != n+1 {
			t.Errorf("GitHub saw %d requests for one call", len(w.graphql.Requests())-n)
		}
	})

	t.Run("WeatherAPI", func(t *testing.T) {
		// An hour in the past: the fallback step moves the clock 11 minutes on, and the
		// retries before the fallback must still fit the call's wall-clock deadline.
		w := newWorld(t, cov, worldOptions{start: time.Now().Add(-time.Hour)})
		const in = "WeatherAPI"

		r := w.op(t, in, "get_current", `{"q":"London"}`)
		wantStatus(t, r, 200)
		london := r.body
		m := r.json(t)
		if m["name"] != "London" || testkit.Dig(m, "main", "temp") != 12.0 || testkit.Dig(m, "weather", 0, "description") != "light rain" {
			t.Errorf("get_current: %s", r.body)
		}
		wantHeaders(t, r.Header, "X-Junction-Cache", "miss", "X-Junction-Contract-Mismatches", "")
		req := w.weather.Requests()[0]
		if req.Host != "api.openweathermap.org" || req.Path != "/data/2.5/weather" ||
			req.Query.Encode() != (url.Values{"appid": {fxWeatherKey}, "q": {"London"}, "units": {"metric"}}).Encode() {
			t.Errorf("sent %s %s?%s", req.Host, req.Path, req.RawQuery)
		}
		r = w.op(t, in, "get_current", `{"q":"London"}`)
		wantHeaders(t, r.Header, "X-Junction-Cache", "hit")
		if len(w.weather.Requests()) != 1 {
			t.Errorf("cache: 10m; OpenWeather saw %d requests", len(w.weather.Requests()))
		}

		r = w.op(t, in, "get_current", `{"lat":52.52,"lon":13.405}`)
		if r.json(t)["name"] != "Berlin" {
			t.Errorf("by coordinates: %s", r.body)
		}
		if q := w.weather.Requests()[1].Query; q.Get("lat") != "52.52" || q.Get("lon") != "13.405" || q.Get("units") != "metric" {
			t.Errorf("coordinates sent as %v", q)
		}
		r = w.op(t, in, "get_current", `{"q":"London","units":"imperial"}`)
		if testkit.Dig(r.json(t), "main", "temp") != 53.6 || r.Header.Get("X-Junction-Cache") != "miss" {
			t.Errorf("imperial: %s", r.body)
		}
		// OpenWeather's own 400 and 404 pass through with its status and body.
		r = w.op(t, in, "get_current", `{}`)
		wantStatus(t, r, 400)
		wantBody(t, r.body, `{"cod":"400","message":"Nothing to geocode"}`)
		r = w.op(t, in, "get_current", `{"q":"Atlantis"}`)
		wantStatus(t, r, 404)
		wantBody(t, r.body, `"message":"city not found"`)
		wantParamProblem(t, w.op(t, in, "get_current", `{"lat":"north","lon":1}`), in, "get_current", "lat")

		r = w.op(t, in, "get_forecast", `{"q":"London"}`)
		wantStatus(t, r, 200)
		if f := r.json(t); testkit.Dig(f, "city", "country") != "GB" || len(f["list"].([]any)) != 40 || r.Header.Get("X-Junction-Contract-Mismatches") != "" {
			t.Errorf("get_forecast: %s", r.body)
		}

		// `fallback: cache`: OpenWeather goes down after get_current's 10 minutes have
		// passed; the call tries three times (retry: 2) and answers the stale copy.
		w.weather.SetDown(true)
		w.clk.Advance(11 * time.Minute)
		before := len(w.weather.Requests())
		r = w.op(t, in, "get_current", `{"q":"London"}`)
		wantStatus(t, r, 200)
		wantHeaders(t, r.Header, "X-Junction-Cache", "stale", "X-Junction-Fallback", "cache", "X-Junction-Attempts", "3")
		if !bytes.Equal(r.body, london) {
			t.Errorf("the fallback is not the cached answer: %s", r.body)
		}
		for _, rq := range w.weather.Requests()[before:] {
			if rq.Status != 503 {
				t.Errorf("OpenWeather answered %d while down", rq.Status)
			}
		}
		if n := len(w.weather.Requests()) - before; n != 3 {
			t.Errorf("OpenWeather saw %d attempts, want 3", n)
		}
		// The forecast (cache: 30m) is still fresh and does not need OpenWeather.
		before = len(w.weather.Requests())
		r = w.op(t, in, "get_forecast", `{"q":"London"}`)
		wantHeaders(t, r.Header, "X-Junction-Cache", "hit")
		// Never cached: nothing to fall back on, and OpenWeather's 503 comes through.
		r = w.op(t, in, "get_current", `{"q":"Paris"}`)
		wantStatus(t, r, 503)
		wantHeaders(t, r.Header, "X-Junction-Attempts", "3")
		if n := len(w.weather.Requests()) - before; n != 3 {
			t.Errorf("OpenWeather saw %d requests, want the 3 attempts for Paris", n)
		}
	})

	t.Run("StripeAPI", func(t *testing.T) {
		w := newWorld(t, cov, worldOptions{})
		const in = "StripeAPI"

		r := w.op(t, in, "create_customer", `{"email":"jenny@example.com","name":"Jenny Rosen","metadata":{"plan":"pro"}}`)
		wantStatus(t, r, 200)
		customer, _ := r.json(t)["id"].(string)
		if !strings.HasPrefix(customer, "cus_") || r.Header.Get("X-Junction-Contract-Mismatches") != "" {
			t.Errorf("create_customer: %s", r.body)
		}
		req := w.stripe.Requests()[0]
		wantHeaders(t, req.Header, "Authorization", "Bearer "+fxStripeKey, "Stripe-Version", "2023-10-16", "Content-Type", "application/json")
		if req.Path != "/v1/customers" || !uuidV4.MatchString(req.Header.Get("Idempotency-Key")) {
			t.Errorf("sent %s with Idempotency-Key %q", req.Path, req.Header.Get("Idempotency-Key"))
		}
		wantParamProblem(t, w.op(t, in, "create_customer", `{"name":"No Email"}`), in, "create_customer", "email")

		// create_payment_intent: the defaults currency "usd" and payment_method_types ["card"].
		before := len(w.stripe.Requests())
		r = w.op(t, in, "create_payment_intent", `{"amount":2000,"customer":"`+customer+`"}`)
		wantStatus(t, r, 200)
		intent := r.json(t)
		pi, _ := intent["id"].(string)
		if intent["status"] != "requires_payment_method" || !strings.HasPrefix(fmt.Sprint(intent["client_secret"]), pi+"_secret_") {
			t.Errorf("create_payment_intent: %s", r.body)
		}
		sent := decodeJSON(t, only(t, w.stripe.Requests(), before).Body)
		if testkit.Dig(sent, "currency") != "usd" || testkit.Dig(sent, "payment_method_types", 0) != "card" || testkit.Dig(sent, "amount") != float64(2000) {
			t.Errorf("payment intent body sent: %v", sent)
		}
		// Stripe's own validation errors pass through in Stripe's shape.
		r = w.op(t, in, "create_payment_intent", `{"amount":-5}`)
		wantStatus(t, r, 400)
		wantBody(t, r.body, `"type":"invalid_request_error"`, `"param":"amount"`)
		r = w.op(t, in, "create_payment_intent", `{"amount":2000,"customer":"cus_nope"}`)
		wantStatus(t, r, 400)
		wantBody(t, r.body, `"code":"resource_missing"`, `"param":"customer"`)
		wantParamProblem(t, w.op(t, in, "create_payment_intent", `{"currency":"eur"}`), in, "create_payment_intent", "amount")

		// A 503 is retried with the same generated key.
		w.stripe.FailNext(1, 503)
		before = len(w.stripe.Requests())
		r = w.op(t, in, "confirm_payment", `{"id":"`+pi+`","payment_method":"pm_card_visa"}`)
		wantStatus(t, r, 200)
		wantHeaders(t, r.Header, "X-Junction-Attempts", "2")
		if c := r.json(t); c["status"] != "succeeded" || c["amount_received"] != float64(2000) || r.Header.Get("X-Junction-Contract-Mismatches") != "" {
			t.Errorf("confirm_payment: %s", r.body)
		}
		tries := w.stripe.Requests()[before:]
		if len(tries) != 2 || tries[0].Status != 503 || tries[1].Status != 200 || tries[0].Path != "/v1/payment_intents/"+pi+"/confirm" ||
			tries[0].Header.Get("Idempotency-Key") == "" || tries[0].Header.Get("Idempotency-Key") != tries[1].Header.Get("Idempotency-Key") {
			t.Errorf("attempts: %+v", tries)
		}

		// The answer is lost after Stripe confirmed: the retry carries the same key, so
		// Stripe replays the confirmation instead of refusing a second one.
		r = w.op(t, in, "create_payment_intent", `{"amount":1500}`)
		pi2, _ := r.json(t)["id"].(string)
		w.stripe.LoseNextResponses(1, 503)
		before = len(w.stripe.Requests())
		r = w.op(t, in, "confirm_payment", `{"id":"`+pi2+`","payment_method":"pm_card_visa"}`)
		wantStatus(t, r, 200)
		wantBody(t, r.body, `"status":"succeeded"`)
		tries = w.stripe.Requests()[before:]
		if len(tries) != 2 || tries[1].ResponseHeader.Get("Idempotent-Replayed") != "true" ||
			tries[0].Header.Get("Idempotency-Key") != tries[1].Header.Get("Idempotency-Key") {
			t.Errorf("the retry was not a replay: %+v", tries)
		}

		// A 500 is not retried (retry.DefaultStatuses: 429, 502, 503, 504) — it comes back
		// as Stripe sent it. Stripe would replay a saved 500 for the same key anyway.
		w.stripe.FailNext(1, 500)
		before = len(w.stripe.Requests())
		r = w.op(t, in, "create_refund", `{"payment_intent":"`+pi+`","amount":500}`)
		wantStatus(t, r, 500)
		wantBody(t, r.body, `"type":"api_error"`)
		wantHeaders(t, r.Header, "X-Junction-Attempts", "1")
		if len(w.stripe.Requests()) != before+1 || len(w.stripe.Refunds()) != 0 {
			t.Error("the 500 was retried or refunded")
		}

		// The caller's Idempotency-Key wins over a generated one, and repeating the call
		// with it is answered by Stripe's replay: one refund.
		r = w.op(t, in, "create_refund", `{"payment_intent":"`+pi+`","amount":500}`, "Idempotency-Key", "refund-"+pi)
		wantStatus(t, r, 200)
		refund := r.json(t)
		if refund["amount"] != float64(500) || refund["status"] != "succeeded" || r.Header.Get("X-Junction-Contract-Mismatches") != "" {
			t.Errorf("create_refund: %s", r.body)
		}
		again := w.op(t, in, "create_refund", `{"payment_intent":"`+pi+`","amount":500}`, "Idempotency-Key", "refund-"+pi)
		last := w.stripe.Requests()[len(w.stripe.Requests())-1]
		if again.StatusCode != 200 || again.json(t)["id"] != refund["id"] || last.Header.Get("Idempotency-Key") != "refund-"+pi ||
			last.ResponseHeader.Get("Idempotent-Replayed") != "true" || len(w.stripe.Refunds()) != 1 {
			t.Errorf("repeated refund: %d %s, %d refunds", again.StatusCode, again.body, len(w.stripe.Refunds()))
		}
		r = w.op(t, in, "create_refund", `{"payment_intent":"`+pi+`","amount":600}`, "Idempotency-Key", "refund-"+pi)
		wantStatus(t, r, 400)
		wantBody(t, r.body, `"type":"idempotency_error"`)
		r = w.op(t, in, "create_refund", `{"payment_intent":"`+pi+`","amount":99999}`)
		wantStatus(t, r, 400)
		wantBody(t, r.body, `"code":"amount_too_large"`)
		wantParamProblem(t, w.op(t, in, "create_refund", `{"amount":1}`), in, "create_refund", "payment_intent")

		// A declined card is Stripe's 402 card_error, passed through.
		r = w.op(t, in, "create_payment_intent", `{"amount":999}`)
		pi3, _ := r.json(t)["id"].(string)
		r = w.op(t, in, "confirm_payment", `{"id":"`+pi3+`","payment_method":"pm_card_chargeDeclined"}`)
		wantStatus(t, r, 402)
		wantBody(t, r.body, `"type":"card_error"`, `"code":"card_declined"`)
		wantParamProblem(t, w.op(t, in, "confirm_payment", `{"payment_method":"pm_card_visa"}`), in, "confirm_payment", "id")
	})

	t.Run("NotificationService", func(t *testing.T) {
		w := newWorld(t, cov, worldOptions{})
		const in = "NotificationService"

		// One call waits for max_delay (5s on the fake clock) and goes as a batch of one
		// to /batch; the single-call endpoint is never used.
		r := w.op(t, in, "send_email", `{"to":"ada@example.com","subject":"Welcome","body_html":"<p>Hi Ada</p>"}`)
		wantStatus(t, r, 202)
		if m := r.json(t); m["accepted"] != float64(1) || m["rejected"] != float64(0) || m["batch_id"] == nil {
			t.Errorf("send_email: %s", r.body)
		}
		if !slices.Contains(w.clk.Slept(), 5*time.Second) {
			t.Errorf("the batch did not wait max_delay: slept %v", w.clk.Slept())
		}
		batches := w.notify.RequestsTo("POST", "/batch")
		if len(batches) != 1 || len(w.notify.RequestsTo("POST", "/email")) != 0 {
			t.Fatalf("requests: %d to /batch, %d to /email", len(batches), len(w.notify.RequestsTo("POST", "/email")))
		}
		wantHeaders(t, batches[0].Header, "X-API-Key", fxNotifyKey, "Content-Type", "application/json")
		if item := testkit.Dig(decodeJSON(t, batches[0].Body), "notifications", 0); testkit.Dig(item, "operation") != "send_email" || testkit.Dig(item, "to") != "ada@example.com" {
			t.Errorf("batch body: %s", batches[0].Body)
		}
		wantParamProblem(t, w.op(t, in, "send_sms", `{"to":"+14155550123"}`), in, "send_sms", "message")

		// 100 concurrent calls fill max_batch_size: one /batch request carries them all,
		// without any clock movement.
		calls := func(i int) (string, string, string) {
			switch i % 3 {
			case 0:
				return in, "send_email", fmt.Sprintf(`{"to":"user%d@example.com","subject":"Hello","body_html":"<p>%d</p>"}`, i, i)
			case 1:
				return in, "send_sms", fmt.Sprintf(`{"to":"+1415555%04d","message":"Code %d"}`, i, i)
			}
			return in, "send_push", fmt.Sprintf(`{"user_id":"u%d","title":"Ping","body":"Hello %d","badge_count":1}`, i, i)
		}
		before := len(w.notify.RequestsTo("POST", "/batch"))
		results := w.concurrently(t, 100, calls)
		batches = w.notify.RequestsTo("POST", "/batch")[before:]
		if len(batches) != 1 {
			t.Fatalf("100 calls made %d batch requests, want 1", len(batches))
		}
		if items, _ := testkit.Dig(decodeJSON(t, batches[0].Body), "notifications").([]any); len(items) != 100 {
			t.Errorf("the batch carried %d items", len(items))
		}
		batchID := testkit.Dig(decodeJSON(t, results[0].body), "batch_id")
		for i, r := range results {
			if r.StatusCode != 202 || testkit.Dig(decodeJSON(t, r.body), "batch_id") != batchID || testkit.Dig(decodeJSON(t, r.body), "accepted") != float64(100) {
				t.Errorf("call %d: %d %s", i, r.StatusCode, r.body)
			}
		}

		// When the service answers one result per item, each caller gets its own.
		w.notify.SetBatchResults(true)
		results = w.concurrently(t, 100, calls)
		ids := map[any]bool{}
		for i, r := range results {
			m := decodeJSON(t, r.body)
			if r.StatusCode != 202 || testkit.Dig(m, "status") != "queued" || testkit.Dig(m, "message_id") == nil {
				t.Errorf("call %d: %d %s", i, r.StatusCode, r.body)
			}
			ids[testkit.Dig(m, "message_id")] = true
		}
		if len(ids) != 100 {
			t.Errorf("%d distinct message ids for 100 calls", len(ids))
		}

		// send_batch is the batch operation itself: a plain call.
		r = w.op(t, in, "send_batch", `{"notifications":[{"channel":"email","recipient":"a@example.com","content":{"subject":"S","body":"B"}},{"channel":"fax","recipient":"x","content":{}}]}`)
		wantStatus(t, r, 202)
		if m := r.json(t); m["accepted"] != float64(1) || m["rejected"] != float64(1) {
			t.Errorf("send_batch: %s", r.body)
		}

		// A failed batch fails its callers with the service's answer; a POST without an
		// idempotency key is not repeated.
		w.notify.FailNext(1, 503)
		before = len(w.notify.Requests())
		r = w.op(t, in, "send_push", `{"user_id":"u1","title":"T","body":"B"}`)
		wantStatus(t, r, 503)
		wantHeaders(t, r.Header, "X-Junction-Attempts", "1")
		if len(w.notify.Requests()) != before+1 {
			t.Errorf("the failed batch was sent %d times", len(w.notify.Requests())-before)
		}
		if n := len(w.notify.Messages()); n != 1+100+100+1 {
			t.Errorf("%d messages accepted", n)
		}
	})

	t.Run("StorageService", func(t *testing.T) {
		w := newWorld(t, cov, worldOptions{})
		const in = "StorageService"
		data := make([]byte, 4096)
		for i := range data {
			data[i] = byte(i*7 + i/256)
		}
		key := "reports/2026/q1 report.pdf"

		// upload, binary: the raw request body, the other parameters in the query string.
		q := url.Values{"bucket": {fxBucket}, "key": {key}, "content_type": {"application/pdf"}}
		w.cov.add(in, "upload")
		r := w.call(t, "POST", "/integrations/StorageService/operations/upload?"+q.Encode(), data, "Content-Type", "application/octet-stream")
		wantStatus(t, r, 200) // the fake verified the SigV4 signature, or this would be its 403
		obj, ok := w.s3.Object(fxBucket, key)
		if !ok || !bytes.Equal(obj.Data, data) || obj.ContentType != "application/pdf" {
			t.Fatalf("stored object: %v %q, %d bytes", ok, obj.ContentType, len(obj.Data))
		}
		put := w.s3.RequestsTo("PUT", "/"+fxBucket+"/"+key)[0]
		if !strings.HasPrefix(put.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+fxAWSKey+"/") ||
			!strings.Contains(put.Header.Get("Authorization"), "/"+fxAWSRegion+"/s3/aws4_request") || put.RawPath != "/junction-test/reports/2026/q1%20report.pdf" {
			t.Errorf("PUT %s with %s", put.RawPath, put.Header.Get("Authorization"))
		}
		// S3 answers a PUT with an empty body and the ETag in a header, not the JSON
		// {etag, version_id} the block declares: the contract check says so.
		wantHeaders(t, r.Header, "X-Junction-Contract-Mismatches", "1")

		// upload, JSON: the content base64-encoded in "body".
		r = w.op(t, in, "upload", `{"bucket":"`+fxBucket+`","key":"notes/hello.txt","content_type":"text/plain","body":"`+base64.StdEncoding.EncodeToString([]byte("hello, world"))+`"}`)
		wantStatus(t, r, 200)
		if o, _ := w.s3.Object(fxBucket, "notes/hello.txt"); string(o.Data) != "hello, world" || o.ContentType != "text/plain" {
			t.Errorf("JSON upload stored %q as %q", o.Data, o.ContentType)
		}
		wantParamProblem(t, w.op(t, in, "upload", `{"bucket":"`+fxBucket+`","key":"x","content_type":"text/plain","body":"not base64!"}`), in, "upload", "body")

		// download: the same bytes, with S3's Content-Type.
		r = w.op(t, in, "download", `{"bucket":"`+fxBucket+`","key":"`+key+`"}`)
		wantStatus(t, r, 200)
		if !bytes.Equal(r.body, data) || r.Header.Get("Content-Type") != "application/pdf" {
			t.Errorf("download: %d bytes as %q", len(r.body), r.Header.Get("Content-Type"))
		}
		r = w.op(t, in, "download", `{"bucket":"`+fxBucket+`","key":"missing.pdf"}`)
		wantStatus(t, r, 404)
		wantBody(t, r.body, "<Code>NoSuchKey</Code>")
		wantParamProblem(t, w.op(t, in, "download", `{"bucket":"`+fxBucket+`"}`), in, "download", "key")

		// list_objects: S3 answers XML, decoded into JSON because the block declares a
		// shape; the shape is not S3's (contents, next_continuation_token), so the
		// contract check reports the drift while the call still succeeds.
		before := len(w.s3.Requests())
		r = w.op(t, in, "list_objects", `{"bucket":"`+fxBucket+`","prefix":"reports/"}`)
		wantStatus(t, r, 200)
		wantHeaders(t, r.Header, "Content-Type", "application/json", "X-Junction-Contract-Mismatches", "2")
		wantBody(t, r.body, `{"ListBucketResult":{`, `"Key":"`+key+`"`, `"Size":"4096"`)
		if lq := only(t, w.s3.Requests(), before).Query; lq.Get("prefix") != "reports/" || lq.Get("max-keys") != "1000" {
			t.Errorf("list_objects sent %v", lq)
		}
		h := w.call(t, "GET", "/integrations/StorageService/health", nil).json(t)
		if h["contract_mismatches"] != float64(3) || !strings.Contains(fmt.Sprint(h["last_contract_mismatch"]), "$.contents: missing") {
			t.Errorf("health: %v", h)
		}

		// delete: 204, and the object is gone.
		r = w.op(t, in, "delete", `{"bucket":"`+fxBucket+`","key":"`+key+`"}`)
		wantStatus(t, r, 204)
		if len(r.body) != 0 {
			t.Errorf("204 with a body: %q", r.body)
		}
		if _, ok := w.s3.Object(fxBucket, key); ok {
			t.Error("the object survived delete")
		}
		wantStatus(t, w.op(t, in, "download", `{"bucket":"`+fxBucket+`","key":"`+key+`"}`), 404)

		// get_presigned_url is `method: internal`: a presigned URL computed by Junction,
		// without a request to S3, that S3 (the fake verifies it) then honours.
		w.s3.PutObject(fxBucket, "notes/presigned.txt", []byte("presigned"), "text/plain")
		before = len(w.s3.Requests())
		r = w.op(t, in, "get_presigned_url", `{"bucket":"`+fxBucket+`","key":"notes/presigned.txt","expires_in":"5m"}`)
		wantStatus(t, r, 200)
		if len(w.s3.Requests()) != before {
			t.Error("an internal operation reached S3")
		}
		presigned, _ := decodeJSON(t, r.body).(map[string]any)
		link, _ := presigned["url"].(string)
		if presigned["method"] != "GET" || !strings.Contains(link, "X-Amz-Expires=300") {
			t.Fatalf("get_presigned_url answered %s", r.body)
		}
		if resp, err := http.Get(link); err != nil || resp.StatusCode != 200 {
			t.Errorf("GET of the presigned URL: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		wantParamProblem(t, w.op(t, in, "get_presigned_url", `{}`), in, "get_presigned_url", "bucket", "key")
	})

	t.Run("WebhookDeliveryService", func(t *testing.T) {
		// The clock starts 10 minutes back, so that the caller's deadline (the largest
		// X-Junction-Timeout, on the wall clock) would leave room for the block's
		// retry_delays (1m, 5m, on the fake clock) below.
		w := newWorld(t, cov, worldOptions{start: time.Now().Add(-10 * time.Minute)})
		const in = "WebhookDeliveryService"
		secret := "whsec_fixture_secret"
		params := func(extra string) string {
			return `{"endpoint.url":"` + w.hooks.URL() + `/hooks/orders","endpoint.secret":"` + secret + `",` +
				`"event_type":"order.created","delivery_id":"dlv_0001","timestamp":"2026-03-01T12:00:00Z",` +
				`"event":"order.created","data":{"order_id":42,"total":"19.99"}` + extra + `}`
		}
		r := w.op(t, in, "deliver", params(""))
		wantStatus(t, r, 202) // the receiver's answer, one of success_codes
		got := w.hooks.received()
		if len(got) != 1 || got[0].method != "POST" || got[0].path != "/hooks/orders" {
			t.Fatalf("receiver got %+v", got)
		}
		hook := got[0]
		wantHeaders(t, hook.header, "Content-Type", "application/json", "X-Webhook-Event", "order.created",
			"X-Webhook-Delivery-ID", "dlv_0001", "X-Webhook-Timestamp", "2026-03-01T12:00:00Z")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(hook.body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); hook.header.Get("X-Webhook-Signature") != want {
			t.Errorf("X-Webhook-Signature = %q, want %q", hook.header.Get("X-Webhook-Signature"), want)
		}
		body, _ := decodeJSON(t, hook.body).(map[string]any)
		if len(body) != 3 || body["event"] != "order.created" || body["timestamp"] != "2026-03-01T12:00:00Z" || testkit.Dig(body, "data", "order_id") != float64(42) {
			t.Errorf("delivered body: %s", hook.body)
		}
		for name, vs := range hook.header {
			if strings.Contains(strings.Join(vs, ","), secret) {
				t.Errorf("the endpoint secret leaked in header %s", name)
			}
		}

		wantParamProblem(t, w.op(t, in, "deliver", `{"endpoint.url":"`+w.hooks.URL()+`","event_type":"e","delivery_id":"d","timestamp":"2026-03-01T12:00:00Z","event":"e","data":{}}`),
			in, "deliver", "endpoint.secret")
		wantParamProblem(t, w.op(t, in, "deliver", `{"endpoint.url":"ftp://example.com","endpoint.secret":"s","event_type":"e","delivery_id":"d","timestamp":"2026-03-01T12:00:00Z","event":"e","data":{}}`),
			in, "deliver", "endpoint.url")
		if len(w.hooks.received()) != 1 {
			t.Error("an invalid delivery reached the receiver")
		}

		// The receiver's failure is the answer, and a POST without an idempotency key is
		// sent once (B5) — with a caller's budget that would leave room for the block's
		// first retry_delays (1m, 5m) too. (Regression: with an explicit retry_delays
		// list the delivery used to be repeated without any idempotency key.)
		w.hooks.answer(http.StatusServiceUnavailable)
		before := len(w.hooks.received())
		r = w.op(t, in, "deliver", params(""), "X-Junction-Timeout", server.MaxCallTimeout.String())
		wantStatus(t, r, 503)
		if n := len(w.hooks.received()) - before; n != 1 || r.Header.Get("X-Junction-Attempts") != "1" {
			t.Errorf("a failed delivery (POST, no idempotency key) was sent %d times (X-Junction-Attempts %q), want once",
				n, r.Header.Get("X-Junction-Attempts"))
		}
	})

	t.Run("status and health", func(t *testing.T) {
		w := newWorld(t, cov, worldOptions{})
		r := w.call(t, "GET", "/integrations/status", nil)
		wantStatus(t, r, 200)
		var status struct {
			Integrations []struct {
				Name         string `json:"name"`
				Type         string `json:"type"`
				Status       string `json:"status"`
				CircuitState string `json:"circuit_state"`
				Reason       string `json:"reason"`
			} `json:"integrations"`
		}
		if err := json.Unmarshal(r.body, &status); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range status.Integrations {
			got = append(got, s.Name+":"+s.Type+":"+s.Status+":"+s.CircuitState+s.Reason)
		}
		want := []string{"GitHubAPI:rest:healthy:closed", "GitHubGraphQL:graphql:healthy:closed", "NotificationService:rest:healthy:closed",
			"StorageService:rest:healthy:closed", "StripeAPI:rest:healthy:closed", "WeatherAPI:rest:healthy:closed",
			"WebhookDeliveryService:webhook:healthy:closed"}
		if !slices.Equal(got, want) {
			t.Errorf("status:\n got %v\nwant %v", got, want)
		}

		wantStatus(t, w.op(t, "GitHubAPI", "get_user", `{"username":"octocat"}`), 200)
		wantStatus(t, w.op(t, "GitHubAPI", "get_user", `{"username":"octocat"}`), 200) // a cache hit
		wantStatus(t, w.op(t, "GitHubAPI", "get_user", `{"username":"no-such-user-x"}`), 404)
		wantParamProblem(t, w.op(t, "GitHubAPI", "get_user", `{}`), "GitHubAPI", "get_user", "username") // not the upstream's fault
		h := w.call(t, "GET", "/integrations/GitHubAPI/health", nil).json(t)
		if h["name"] != "GitHubAPI" || h["calls"] != float64(3) || h["success_rate"] != float64(1) || h["status"] != "healthy" ||
			h["circuit_state"] != "closed" || h["last_error"] != nil {
			t.Errorf("health: %v", h)
		}
		r = w.call(t, "GET", "/integrations/status", nil)
		if !strings.Contains(string(r.body), `"name":"GitHubAPI","type":"rest","status":"healthy","circuit_state":"closed","error_rate":0,"last_success_at":"`) {
			t.Errorf("status after calls: %s", r.body)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		// Each fake checks its credentials; with wrong ones the service's refusal comes
		// back with its status and body, and nothing falls back or retries it.
		w := newWorld(t, cov, worldOptions{env: map[string]string{
			"GITHUB_TOKEN": "ghp_wrong", "OPENWEATHER_API_KEY": "wrong", "STRIPE_SECRET_KEY": "sk_test_wrong_key_123456",
			"NOTIFICATION_API_KEY": "wrong", "AWS_SECRET_ACCESS_KEY": "wrong-secret",
		}})
		for _, tc := range []struct {
			integ, op, params string
			status            int
			fragment          string
		}{
			{"GitHubAPI", "get_user", `{"username":"octocat"}`, 401, `"message":"Bad credentials"`},
			{"GitHubGraphQL", "search_repos", `{"query":"hello"}`, 401, `"message":"Bad credentials"`},
			{"WeatherAPI", "get_current", `{"q":"London"}`, 401, `"cod":401`},
			{"StripeAPI", "create_customer", `{"email":"a@example.com"}`, 401, `"code":"api_key_invalid"`},
			{"NotificationService", "send_sms", `{"to":"+14155550123","message":"hi"}`, 401, "The provided authorization grant is invalid"},
			{"StorageService", "download", `{"bucket":"junction-test","key":"x"}`, 403, "<Code>SignatureDoesNotMatch</Code>"},
		} {
			t.Run(tc.integ, func(t *testing.T) {
				r := w.op(t, tc.integ, tc.op, tc.params)
				wantStatus(t, r, tc.status)
				wantBody(t, r.body, tc.fragment)
				wantHeaders(t, r.Header, "X-Junction-Attempts", "1", "X-Junction-Fallback", "")
			})
		}
	})

	t.Run("missing secrets", func(t *testing.T) {
		// An unset secret disables its integrations (misconfigured, never called); the
		// others work.
		w := newWorld(t, cov, worldOptions{env: map[string]string{"GITHUB_TOKEN": ""}})
		r := w.op(t, "GitHubAPI", "get_user", `{"username":"octocat"}`)
		p := problem(t, r, http.StatusServiceUnavailable, server.KindMisconfigured, "/integrations/GitHubAPI/operations/get_user")
		if !strings.Contains(fmt.Sprint(p["detail"]), "GITHUB_TOKEN") || len(w.github.Requests()) != 0 {
			t.Errorf("misconfigured: %s; GitHub saw %d requests", r.body, len(w.github.Requests()))
		}
		r = w.call(t, "GET", "/integrations/status", nil)
		wantBody(t, r.body, `"name":"GitHubGraphQL","type":"graphql","status":"misconfigured"`, "GITHUB_TOKEN", `"name":"WeatherAPI","type":"rest","status":"healthy"`)
		wantStatus(t, w.op(t, "WeatherAPI", "get_current", `{"q":"Tokyo"}`), 200)
	})

	// Every operation of the fixture was called above (when every subtest ran).
	cfg := loadFixture(t)
	for _, in := range cfg.Integrations {
		if !cov.ran[in.Name] {
			t.Logf("subtest %s did not run; operation coverage not checked", in.Name)
			return
		}
	}
	var missing []string
	for _, in := range cfg.Integrations {
		for _, op := range in.Operations {
			if !cov.called[in.Name+"."+op.Name] {
				missing = append(missing, in.Name+"."+op.Name)
			}
		}
	}
	if len(cov.called) != 23 || len(missing) > 0 {
		t.Errorf("operations called: %d of 23; never called: %v", len(cov.called), missing)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// decodeBodyKey re-encodes a JSON body canonically, to compare answers by content.
func decodeBodyKey(t *testing.T, b []byte) []byte {
	t.Helper()
	return mustJSON(decodeJSON(t, b))
}

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/servicetest"
)

func TestCacheHitsMissesAndKey(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.URL.Query().Get("q") == "bad" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		jsonOK(w, fmt.Sprintf(`{"n":%d}`, n))
	})
	clk := clock.NewFake(time.Now())
	h := newHarness(t, `integration W { base_url: "UPSTREAM" auth: api_key(env(KEY), "appid") default_cache_ttl: 1m
		operation get { method: GET path: "/w" query: { q: string } cache: 10m }
		operation other { method: GET path: "/o" }
		operation post { method: POST path: "/p" } }`, up.URL, map[string]string{"KEY": "k1"}, withClock(clk))

	first := h.mustCall(t, "W", "get", map[string]any{"q": "paris"})
	second := h.mustCall(t, "W", "get", map[string]any{"q": "paris"})
	if first.Cache != CacheMiss || second.Cache != CacheHit || string(second.Body) != `{"n":1}` || up.count() != 1 {
		t.Fatalf("first %s, second %s %s, upstream %d", first.Cache, second.Cache, second.Body, up.count())
	}
	if !strings.Contains(up.last().RawQuery, "appid=k1") {
		t.Errorf("api key not in the query: %s", up.last().RawQuery)
	}
	if h.mustCall(t, "W", "get", map[string]any{"q": "rome"}).Cache != CacheMiss {
		t.Error("other parameters hit the same entry")
	}
	clk.Advance(9 * time.Minute)
	if h.mustCall(t, "W", "get", map[string]any{"q": "paris"}).Cache != CacheHit {
		t.Error("the operation's cache: 10m did not win over default_cache_ttl: 1m")
	}
	clk.Advance(2 * time.Minute)
	if h.mustCall(t, "W", "get", map[string]any{"q": "paris"}).Cache != CacheMiss {
		t.Error("expired entry still served")
	}
	// Failures are not cached; non-GET calls bypass the cache.
	h.mustCall(t, "W", "get", map[string]any{"q": "bad"})
	if h.mustCall(t, "W", "get", map[string]any{"q": "bad"}).Cache != CacheMiss {
		t.Error("a 404 was cached")
	}
	if h.mustCall(t, "W", "post", nil).Cache != CacheBypass {
		t.Error("POST not marked bypass")
	}
	if hits := h.counter(t, "junction_integration_cache_total", map[string]string{"operation": "get", "result": "hit"}); hits != 2 {
		t.Errorf("cache hit metric = %v", hits)
	}
}

// TestCacheWithIdempotency: keys are for POST/PATCH; GETs of an integration with
// `idempotency { generate: true }` still hit the cache.
func TestCacheWithIdempotency(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { jsonOK(w, `{}`) })
	h := newHarness(t, `integration P { base_url: "UPSTREAM" default_cache_ttl: 1m
		idempotency: { header: "Idempotency-Key", generate: true }
		operation get { method: GET path: "/g" } }`, up.URL, nil)
	h.mustCall(t, "P", "get", nil)
	if res := h.mustCall(t, "P", "get", nil); res.Cache != CacheHit || up.count() != 1 {
		t.Fatalf("second GET: cache %s, upstream %d", res.Cache, up.count())
	}
	if up.last().Header.Get("Idempotency-Key") != "" {
		t.Error("a GET carried a generated idempotency key")
	}
}

func TestConcurrentMissesMakeOneUpstreamCall(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		<-release
		jsonOK(w, `{"v":1}`)
	})
	h := newHarness(t, `integration W { base_url: "UPSTREAM" default_cache_ttl: 1m
		operation get { method: GET path: "/w" } }`, up.URL, nil)
	// Every caller has joined the one call before the upstream answers: released only
	// then, a late caller cannot start a second call (no fixed sleep to guess with).
	var joined sync.WaitGroup
	joined.Add(20)
	h.rt.group.OnJoin = joined.Done
	var wg sync.WaitGroup
	results := make(chan *Result, 20)
	for range 20 {
		wg.Go(func() {
			res, err := h.call(t, "W", "get", nil)
			if err != nil {
				t.Error(err)
				return
			}
			results <- res
		})
	}
	joined.Wait()
	close(release)
	wg.Wait()
	close(results)
	for res := range results {
		if string(res.Body) != `{"v":1}` {
			t.Errorf("body %s", res.Body)
		}
	}
	if up.count() != 1 {
		t.Errorf("%d upstream calls for 20 concurrent misses", up.count())
	}
}

func TestFallbackCacheServesStale(t *testing.T) {
	var mu sync.Mutex
	down := false
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		jsonOK(w, `{"temp":21}`)
	})
	clk := clock.NewFake(time.Now())
	h := newHarness(t, `integration Weather { base_url: "UPSTREAM" default_cache_ttl: 15m fallback: cache
		circuit_breaker: { threshold: 2 consecutive failures, reset_after: 1m }
		operation current { method: GET path: "/weather" } }`, up.URL, nil, withClock(clk))
	h.mustCall(t, "Weather", "current", nil)
	clk.Advance(20 * time.Minute) // past the TTL: the copy is stale, kept for fallback
	mu.Lock()
	down = true
	mu.Unlock()

	res := h.mustCall(t, "Weather", "current", nil)
	if res.Status != 200 || string(res.Body) != `{"temp":21}` || res.Cache != CacheStale || res.Fallback != "cache" {
		t.Fatalf("upstream 503 → %d %s cache %s fallback %q", res.Status, res.Body, res.Cache, res.Fallback)
	}
	h.mustCall(t, "Weather", "current", nil) // second failure opens the circuit
	calls := up.count()
	res = h.mustCall(t, "Weather", "current", nil)
	if res.Cache != CacheStale || res.Circuit != "open" || up.count() != calls {
		t.Errorf("open circuit: cache %s circuit %s, upstream called", res.Cache, res.Circuit)
	}
	if hl, _ := h.rt.Health("Weather"); hl.LastError == "" || hl.SuccessRate == 1 {
		t.Errorf("fallbacks must show as failures in health: %+v", hl)
	}
}

func TestFallbackDefault(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {})
	dead := up.URL
	up.Close() // connection refused from now on
	h := newHarness(t, `integration S { base_url: "UPSTREAM" fallback: default({ status: "unavailable", items: [] })
		operation get { method: GET path: "/s" } }`, dead, nil)
	res := h.mustCall(t, "S", "get", nil)
	if res.Status != 200 || res.Fallback != "default" || string(res.Body) != `{"items":[],"status":"unavailable"}` {
		t.Fatalf("default fallback: %d %s %q", res.Status, res.Body, res.Fallback)
	}

	h2 := newHarness(t, `integration S { base_url: "UPSTREAM" operation get { method: GET path: "/s" } }`, dead, nil)
	_, err := h2.call(t, "S", "get", nil)
	if kindOf(t, err) != KindUnreachable {
		t.Fatalf("without fallback: %v", err)
	}
}

func TestGraphQLOperations(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var req struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if req.Variables["login"] == "ghost" {
			jsonOK(w, `{"data":{"user":null},"errors":[{"type":"NOT_FOUND","message":"Could not resolve to a User with the login of 'ghost'."}]}`)
			return
		}
		jsonOK(w, fmt.Sprintf(`{"data":{"user":{"login":%q,"first":%v}}}`, req.Variables["login"], req.Variables["first"]))
	})
	h := newHarness(t, `integration G { type: graphql base_url: "UPSTREAM"
		operation repos {
			query: """
				query Repos($login: String!, $first: Int!) { user(login: $login) { login } }
			"""
			variables: { login: string, required  first: integer, default(10) }
		} }`, up.URL, nil)
	res := h.mustCall(t, "G", "repos", map[string]any{"login": "octocat"})
	if string(res.Body) != `{"data":{"user":{"login":"octocat","first":10}}}` {
		t.Fatalf("body %s", res.Body)
	}
	if !strings.HasPrefix(strings.ReplaceAll(up.last().Body, `\n`, "\n"), `{"query":"query Repos($login: String!, $first: Int!)`) {
		t.Errorf("request %s", up.last().Body)
	}
	_, err := h.call(t, "G", "repos", map[string]any{"login": "ghost"})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindGraphQL || len(e.GraphQL) != 1 {
		t.Fatalf("GraphQL errors: %v", err)
	}
	if _, err := h.call(t, "G", "repos", map[string]any{}); kindOf(t, err) != KindInvalidParams {
		t.Errorf("missing required variable: %v", err)
	}
}

func TestResponseContract(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		jsonOK(w, `{"id":"not-a-number","name":null,"tags":["a",2]}`)
	})
	h := newHarness(t, `integration A { base_url: "UPSTREAM"
		operation get { method: GET path: "/a" returns: { id: integer, name: string, login: string, tags: list(string) } } }`, up.URL, nil)
	res := h.mustCall(t, "A", "get", nil)
	want := []string{`$.id: expected an integer, found "not-a-number"`, `$.login: missing`, `$.tags[1]: expected a string, found 2`}
	if res.Status != 200 || strings.Join(res.ContractMismatches, "|") != strings.Join(want, "|") {
		t.Fatalf("mismatches %q, want %q", res.ContractMismatches, want)
	}
	hl, _ := h.rt.Health("A")
	if hl.ContractMismatches != 1 || hl.Status != "degraded" || hl.LastContractProblem != want[0] {
		t.Errorf("health %+v", hl)
	}
	if got := h.counter(t, "junction_integration_contract_mismatches_total", map[string]string{"operation": "get"}); got != 1 {
		t.Errorf("metric = %v", got)
	}
}

func TestParametersReachUpstream(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { jsonOK(w, `{}`) })
	h := newHarness(t, `integration S { base_url: "UPSTREAM/base/"
		headers: { "X-Static": "$STATIC" }
		operation put {
			method: PUT
			path: "/{bucket}/{key}"
			query: { tag: list(string), optional  n: integer, default(5) }
			headers: { "Content-Type": "{content_type}" }
			body_type: binary
		}
		operation deliver { method: POST path: "{endpoint.url}" body: { event: string, required } }
	}`, up.URL, map[string]string{"STATIC": "s"})

	ctx := context.Background()
	res, err := h.rt.Call(ctx, "S", "put", map[string]any{"bucket": "b", "key": "reports/2026/q 1.pdf", "tag": []any{"x", "y"}, "content_type": "application/pdf"}, CallOptions{Body: []byte{0, 1, 2}})
	if err != nil || res.Status != 200 {
		t.Fatalf("put: %v", err)
	}
	got := up.last()
	if got.Path != "/base/b/reports/2026/q%201.pdf" || got.RawQuery != "n=5&tag=x&tag=y" || got.Body != "\x00\x01\x02" ||
		got.Header.Get("Content-Type") != "application/pdf" || got.Header.Get("X-Static") != "s" {
		t.Errorf("request %+v", got)
	}
	_, err = h.rt.Call(ctx, "S", "put", map[string]any{"bucket": "b", "key": "../etc", "content_type": "x", "body": "AAE="}, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalidParams || e.Params[0].Param != "key" {
		t.Errorf("dot segments: %v", err)
	}
	// A template that is only a parameter takes a whole URL ({endpoint.url}).
	if _, err := h.rt.Call(ctx, "S", "deliver", map[string]any{"endpoint.url": up.URL + "/hook", "event": "e"}, CallOptions{}); err != nil || up.last().Path != "/hook" {
		t.Errorf("deliver: %v %s", err, up.last().Path)
	}
	// Several problems at once, each named.
	_, err = h.rt.Call(ctx, "S", "put", map[string]any{"n": "many", "typo": 1}, CallOptions{})
	if !errors.As(err, &e) || len(e.Params) != 6 {
		t.Fatalf("problems: %v", err)
	}
	var names []string
	for _, p := range e.Params {
		names = append(names, p.Param)
	}
	if strings.Join(names, ",") != "body,bucket,content_type,key,n,typo" {
		t.Errorf("named %v", names)
	}
}

func TestBatchingCoalescesCalls(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		var req struct {
			Notifications []map[string]any `json:"notifications"`
		}
		if r.URL.Path != "/batch" || json.NewDecoder(strings.NewReader(readAll(r))).Decode(&req) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var results []string
		for _, n := range req.Notifications {
			results = append(results, fmt.Sprintf(`{"to":%q,"op":%q}`, n["to"], n["operation"]))
		}
		jsonOK(w, `{"batch_id":"b1","results":[`+strings.Join(results, ",")+`]}`)
	})
	h := newHarness(t, `integration N { base_url: "UPSTREAM"
		batching: { max_batch_size: 3, max_delay: 5s }
		operation send_email { method: POST path: "/email" body: { to: string, required } }
		operation send_batch { method: POST path: "/batch" body: { notifications: list(json) } } }`, up.URL, nil)
	var wg sync.WaitGroup
	bodies := make([]string, 3)
	for i := range 3 {
		wg.Go(func() {
			res, err := h.call(t, "N", "send_email", map[string]any{"to": fmt.Sprintf("u%d@x", i)})
			if err != nil {
				t.Error(err)
				return
			}
			bodies[i] = string(res.Body)
		})
	}
	wg.Wait()
	if up.count() != 1 {
		t.Fatalf("%d upstream calls, want one batch", up.count())
	}
	for i, b := range bodies {
		if b != fmt.Sprintf(`{"to":"u%d@x","op":"send_email"}`, i) {
			t.Errorf("caller %d got %s", i, b)
		}
	}
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// TestSharedThroughRedis runs two runtimes (as two Junction processes would) on one
// Redis: they share one rate-limit budget and one response cache, and the cache key
// leaves out the credentials (the two use different tokens and still share entries).
func TestSharedThroughRedis(t *testing.T) {
	addr := servicetest.RedisAddr(t)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { jsonOK(w, fmt.Sprintf(`{"n":%d}`, n)) })
	name := fmt.Sprintf("Shared%d", time.Now().UnixNano())
	src := `integration ` + name + ` { base_url: "UPSTREAM" auth: bearer(env(T))
		rate_limit: { requests: 3, window: 1m }
		operation get { method: GET path: "/x" query: { i: integer } }
		operation cached { method: GET path: "/c" cache: 1m } }`
	var runtimes []*harness
	for _, token := range []string{"token-a", "token-b"} {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rdb.Close() })
		runtimes = append(runtimes, newHarness(t, src, up.URL, map[string]string{"T": token},
			withOptions(func(o *Options) { o.Redis = rdb })))
	}
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		keys, _ := rdb.Keys(context.Background(), "junction:*"+name+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})

	a, b := runtimes[0], runtimes[1]
	first := a.mustCall(t, name, "cached", nil)
	second := b.mustCall(t, name, "cached", nil)
	if first.Cache != CacheMiss || second.Cache != CacheHit || string(second.Body) != string(first.Body) {
		t.Fatalf("shared cache: %s then %s (%s vs %s)", first.Cache, second.Cache, first.Body, second.Body)
	}

	// The cached call made one upstream request: two more fit the budget of 3 per minute,
	// wherever they come from.
	a.mustCall(t, name, "get", map[string]any{"i": 1})
	b.mustCall(t, name, "get", map[string]any{"i": 2})
	for _, h := range runtimes {
		// Refused at once (the slot is a minute away, max_wait is the 30 s timeout); the
		// deadline only has to outlast a slow machine's Redis round trip.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := h.rt.Call(ctx, name, "get", map[string]any{"i": 3}, CallOptions{})
		cancel()
		if KindOf(err) != KindRateLimited {
			t.Errorf("call over the shared budget: %v", err)
		}
	}
	if up.count() != 3 {
		t.Errorf("upstream saw %d requests, want 3", up.count())
	}
}

// TestOAuth2RefreshOn401: the upstream rejects a token it used to accept; the runtime
// fetches a new one once and repeats the request within the same attempt.
func TestOAuth2RefreshOn401(t *testing.T) {
	var mu sync.Mutex
	issued := 0
	tokens := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		issued++
		tok := fmt.Sprintf("tok-%d", issued)
		mu.Unlock()
		jsonOK(w, `{"access_token":"`+tok+`","token_type":"bearer","expires_in":3600}`)
	})
	api := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Authorization") != "Bearer tok-2" { // the first token was revoked upstream
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		jsonOK(w, `{"ok":true}`)
	})
	h := newHarness(t, `integration L { base_url: "UPSTREAM"
		auth: oauth2 { token_url: "`+tokens.URL+`/token", client_id: "id", client_secret: env(SECRET) }
		operation get { method: GET path: "/x" } }`, api.URL, map[string]string{"SECRET": "s"})
	res := h.mustCall(t, "L", "get", nil)
	if res.Status != 200 || res.Attempts != 1 || issued != 2 || api.count() != 2 {
		t.Fatalf("status %d attempts %d tokens issued %d upstream %d", res.Status, res.Attempts, issued, api.count())
	}
	h.mustCall(t, "L", "get", nil)
	if issued != 2 {
		t.Errorf("the refreshed token was not reused: %d issued", issued)
	}
}

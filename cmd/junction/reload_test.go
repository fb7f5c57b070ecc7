package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestReloadAppliesEverySetting changes one setting per case, sends SIGHUP and checks
// that the running server behaves by the new setting: integrations (timeouts, retries,
// base URL and headers, secrets read from files, rate limits, caches, fallbacks, added
// and removed), the webhook delivery block (retry_delays, timeout, signature), inbound
// sources, event routes, flows, declared webhooks and scheduled jobs (added, a changed
// target, removed). An integration whose settings did not change keeps its open circuit
// across the reload; one whose settings changed starts afresh.
func TestReloadAppliesEverySetting(t *testing.T) {
	t.Parallel()
	for _, c := range reloadCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

type reloadCase struct {
	name string
	run  func(t *testing.T)
}

var reloadCases = []reloadCase{
	{"integration timeout", func(t *testing.T) {
		up := newUpstream(t)
		up.delay = 300 * time.Millisecond
		r := startReloader(t, fmt.Sprintf(`integration A { base_url: %q  timeout: 10s  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		r.expectCall("A", "get", 200)
		r.reload(fmt.Sprintf(`integration A { base_url: %q  timeout: 50ms  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		r.expectCall("A", "get", 504)
	}},
	{"integration retry", func(t *testing.T) {
		up := newUpstream(t)
		up.status = 503
		r := startReloader(t, fmt.Sprintf(`integration A { base_url: %q  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		if h := r.expectCall("A", "get", 503); h.Get("X-Junction-Attempts") != "1" {
			t.Errorf("attempts before: %s", h.Get("X-Junction-Attempts"))
		}
		r.reload(fmt.Sprintf(`integration A { base_url: %q  retry: 2 times with constant_backoff
			
	operation get { method: GET  path: "/x" }
}`, up.URL))
		if h := r.expectCall("A", "get", 503); h.Get("X-Junction-Attempts") != "3" {
			t.Errorf("attempts after: %s, want 1 + 2 retries", h.Get("X-Junction-Attempts"))
		}
	}},
	{"integration base_url and headers", func(t *testing.T) {
		one, two := newUpstream(t), newUpstream(t)
		conf := `integration A { base_url: %q  headers: { "X-Env": %q }  
	operation get { method: GET  path: "/x" }
}`
		r := startReloader(t, fmt.Sprintf(conf, one.URL, "before"))
		r.expectCall("A", "get", 200)
		r.reload(fmt.Sprintf(conf, two.URL, "after"))
		r.expectCall("A", "get", 200)
		if one.count() != 1 || two.count() != 1 || two.lastHeader().Get("X-Env") != "after" {
			t.Errorf("requests: first upstream %d, second %d with X-Env %q", one.count(), two.count(), two.lastHeader().Get("X-Env"))
		}
	}},
	{"secret from a file", func(t *testing.T) {
		up := newUpstream(t)
		r := startReloader(t, "")
		key := filepath.Join(r.dir, "key")
		writeFile(t, key, "first-key")
		conf := fmt.Sprintf(`integration A { base_url: %q  auth: api_key(file(%q), "X-Api-Key")  
	operation get { method: GET  path: "/x" }
}`, up.URL, key)
		r.reload(conf)
		r.expectCall("A", "get", 200)
		writeFile(t, key, "second-key") // the configuration text is unchanged
		r.reload(conf)
		r.expectCall("A", "get", 200)
		if got := up.lastHeader().Get("X-Api-Key"); got != "second-key" {
			t.Errorf("the upstream got key %q after the file changed", got)
		}
	}},
	{"rate limit", func(t *testing.T) {
		up := newUpstream(t)
		conf := `integration A { base_url: %q  rate_limit: { requests: %d, window: 1h, max_wait: 10ms }  
	operation get { method: GET  path: "/x" }
}`
		r := startReloader(t, fmt.Sprintf(conf, up.URL, 1))
		r.expectCall("A", "get", 200)
		r.expectCall("A", "get", 429)
		r.reload(fmt.Sprintf(conf, up.URL, 100))
		r.expectCall("A", "get", 200)
		r.expectCall("A", "get", 200)
	}},
	{"cache", func(t *testing.T) {
		up := newUpstream(t)
		r := startReloader(t, fmt.Sprintf(`integration A { base_url: %q  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		r.expectCall("A", "get", 200)
		r.expectCall("A", "get", 200)
		r.reload(fmt.Sprintf(`integration A { base_url: %q  
	operation get { method: GET  path: "/x"  cache: 1h }
}`, up.URL))
		r.expectCall("A", "get", 200)
		if h := r.expectCall("A", "get", 200); h.Get("X-Junction-Cache") != "hit" {
			t.Errorf("second call after the reload: cache %q", h.Get("X-Junction-Cache"))
		}
		if up.count() != 3 {
			t.Errorf("upstream saw %d requests, want 2 uncached + 1 cached", up.count())
		}
	}},
	{"fallback", func(t *testing.T) {
		up := newUpstream(t)
		up.status = 500
		r := startReloader(t, fmt.Sprintf(`integration A { base_url: %q  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		r.expectCall("A", "get", 500)
		r.reload(fmt.Sprintf(`integration A { base_url: %q  fallback: { default: { ok: true } }  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		if h := r.expectCall("A", "get", 200); h.Get("X-Junction-Fallback") != "default" {
			t.Errorf("fallback header %q", h.Get("X-Junction-Fallback"))
		}
	}},
	{"integrations added and removed", func(t *testing.T) {
		up := newUpstream(t)
		r := startReloader(t, fmt.Sprintf(`integration A { base_url: %q  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		r.expectCall("A", "get", 200)
		r.reload(fmt.Sprintf(`integration B { base_url: %q  
	operation get { method: GET  path: "/x" }
}`, up.URL))
		r.expectCall("A", "get", 404)
		r.expectCall("B", "get", 200)
	}},
	{"unchanged integration keeps its open circuit", func(t *testing.T) {
		up := newUpstream(t)
		up.status = 500
		keep := fmt.Sprintf(`integration Keep { base_url: %q  circuit_breaker: { threshold: 2, reset_after: 1h }
			
	operation get { method: GET  path: "/x" }
}`, up.URL)
		other := `integration Other { base_url: "http://127.0.0.1:9"  timeout: %s }`
		r := startReloader(t, keep+"\n"+fmt.Sprintf(other, "1s"))
		r.expectCall("Keep", "get", 500)
		r.expectCall("Keep", "get", 500)
		r.expectCall("Keep", "get", 503) // circuit open
		r.reload(keep + "\n" + fmt.Sprintf(other, "2s"))
		if state := r.a.expect(200, "GET", "/integrations/Keep/health", nil)["circuit_state"]; state != "open" {
			t.Errorf("after a reload that left Keep alone its circuit is %v, want open", state)
		}
		r.expectCall("Keep", "get", 503)
		r.reload(strings.Replace(keep, "reset_after: 1h", "reset_after: 2h", 1) + "\n" + fmt.Sprintf(other, "2s"))
		if state := r.a.expect(200, "GET", "/integrations/Keep/health", nil)["circuit_state"]; state != "closed" {
			t.Errorf("after Keep's settings changed its circuit is %v, want closed (fresh state)", state)
		}
		if up.count() != 2 {
			t.Errorf("upstream saw %d requests; the open circuit should have kept it at 2", up.count())
		}
	}},
	{"webhook retry_delays", func(t *testing.T) {
		recv := newUpstream(t)
		recv.status = 500
		conf := `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"]  retry_delays: [%s] }`
		r := startReloader(t, fmt.Sprintf(conf, "1h"))
		r.endpoint(recv.URL, "order.*")
		r.publish("order.created", "e1")
		eventually(t, "the first attempt", func() bool { return recv.countEvent("e1") == 1 })
		r.reload(fmt.Sprintf(conf, "100ms"))
		r.publish("order.created", "e2")
		eventually(t, "the retry after 100ms", func() bool { return recv.countEvent("e2") == 2 })
		if n := recv.countEvent("e1"); n != 1 {
			t.Errorf("e1, due in an hour, was attempted %d times", n)
		}
	}},
	{"webhook timeout", func(t *testing.T) {
		recv := newUpstream(t)
		recv.delay = 400 * time.Millisecond
		conf := `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"]  timeout: %s  retry_delays: [1h] }`
		r := startReloader(t, fmt.Sprintf(conf, "10s"))
		ep := r.endpoint(recv.URL, "*")
		r.publish("order.created", "e1")
		eventually(t, "e1 delivered", func() bool { return r.deliveryStatus(ep, "e1") == "delivered" })
		r.reload(fmt.Sprintf(conf, "100ms"))
		r.publish("order.created", "e2")
		eventually(t, "e2 timed out", func() bool { return r.deliveryStatus(ep, "e2") == "retrying" })
	}},
	{"webhook signature header", func(t *testing.T) {
		recv := newUpstream(t)
		r := startReloader(t, `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }`)
		r.endpoint(recv.URL, "*")
		r.publish("order.created", "e1")
		eventually(t, "e1", func() bool { return recv.countEvent("e1") == 1 })
		r.reload(`integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"]  signature: { algorithm: "sha256", header: "X-Webhook-Signature" } }`)
		r.publish("order.created", "e2")
		eventually(t, "e2", func() bool { return recv.countEvent("e2") == 1 })
		if recv.eventHeader("e1").Get("X-Webhook-Signature") != "" || !strings.HasPrefix(recv.eventHeader("e2").Get("X-Webhook-Signature"), "sha256=") {
			t.Errorf("signature before %q, after %q", recv.eventHeader("e1").Get("X-Webhook-Signature"), recv.eventHeader("e2").Get("X-Webhook-Signature"))
		}
	}},
	{"declared webhooks", func(t *testing.T) {
		one, two := newUpstream(t), newUpstream(t)
		conf := `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }
webhook audit { event %q  url %q }`
		r := startReloader(t, fmt.Sprintf(conf, "order.*", one.URL))
		before := declaredByName(r.a)["audit"]
		r.publish("order.created", "e1")
		eventually(t, "e1 at the first url", func() bool { return one.countEvent("e1") == 1 })
		r.reload(fmt.Sprintf(conf, "invoice.*", two.URL))
		after := declaredByName(r.a)["audit"]
		if after["id"] != before["id"] || after["secret"] != before["secret"] || after["url"] != two.URL || after["managed"] != true {
			t.Errorf("after the reload: %v, before: %v", after, before)
		}
		r.publish("order.created", "e2")
		r.publish("invoice.paid", "e3")
		eventually(t, "e3 at the second url", func() bool { return two.countEvent("e3") == 1 })
		if one.countEvent("e2")+two.countEvent("e2")+one.countEvent("e3") != 0 {
			t.Errorf("deliveries did not follow the new url and events")
		}
		r.reload(`integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }`)
		if hooks := declaredByName(r.a); len(hooks) != 0 {
			t.Errorf("the removed declaration left %v", hooks)
		}
		r.a.expect(404, "GET", "/webhooks/"+before["id"].(string), nil)
	}},
	{"scheduled jobs", func(t *testing.T) {
		one, two := newUpstream(t), newUpstream(t)
		ints := fmt.Sprintf(`integration A { base_url: %q  operation get { method: GET  path: "/x" } }
integration B { base_url: %q  operation get { method: GET  path: "/x" } }
`, one.URL, two.URL)
		r := startReloader(t, ints)
		if jobs := jobByName(r.a); len(jobs) != 0 {
			t.Fatalf("jobs before any was declared: %v", jobs)
		}
		// Added by a reload: it runs.
		r.reload(ints + `job tick { every 1s  call "A.get" }`)
		eventually(t, "the added job's calls to A", func() bool { return one.count() >= 1 })
		// Its target changed by a reload: the next ticks call B, none calls A any more
		// (the old scheduler's runs ended before the reload was reported).
		r.reload(ints + `job tick { every 1s  call "B.get" }`)
		calledA := one.count()
		eventually(t, "the changed job's calls to B", func() bool { return two.count() >= 2 })
		if n := one.count(); n != calledA {
			t.Errorf("A was called %d times after the job moved to B", n-calledA)
		}
		if runs := jobByName(r.a)["tick"]["runs"]; runs != "call B.get" {
			t.Errorf("GET /jobs shows the job running %v", runs)
		}
		// Removed by a reload: the API no longer knows it.
		r.reload(ints)
		r.a.expect(404, "GET", "/jobs/tick", nil)
	}},
	{"inbound source secret", func(t *testing.T) {
		r := startReloader(t, "")
		secret := filepath.Join(r.dir, "secret")
		writeFile(t, secret, "first-secret")
		conf := fmt.Sprintf(`source shop { verify: hmac  secret: file(%q)  header: "X-Signature"  id_header: "X-Id"  event: "shop.order" }`, secret)
		r.reload(conf)
		if code := r.ingest("shop", "second-secret", "1"); code != 401 {
			t.Errorf("before: a body signed with the new secret answered %d", code)
		}
		writeFile(t, secret, "second-secret")
		r.reload(conf)
		if code := r.ingest("shop", "second-secret", "2"); code != 202 {
			t.Errorf("after: a body signed with the new secret answered %d", code)
		}
		if code := r.ingest("shop", "first-secret", "3"); code != 401 {
			t.Errorf("after: a body signed with the old secret answered %d", code)
		}
	}},
	{"event routes", func(t *testing.T) {
		recv := newUpstream(t)
		conf := `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }
event Ping { payload { n: integer }  publish_to: [webhook(%q)] }`
		r := startReloader(t, fmt.Sprintf(conf, "ping.first"))
		r.endpoint(recv.URL, "ping.*")
		r.publish("Ping", "p1")
		eventually(t, "the first route", func() bool { return recv.countType("ping.first") == 1 })
		r.reload(fmt.Sprintf(conf, "ping.second"))
		r.publish("Ping", "p2")
		eventually(t, "the second route", func() bool { return recv.countType("ping.second") == 1 })
		if n := recv.countType("ping.first"); n != 1 {
			t.Errorf("the old route still ran: %d", n)
		}
	}},
	{"flow steps", func(t *testing.T) {
		recv := newUpstream(t)
		conf := `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }
connector in { type: http  path: "orders" }
connector out { type: webhook }
flow f {
    source: in
    step shape { transform: { id: "$.id", stage: %q } }
    sink s { connector: out  event_type: "order.shaped"  id: "$.id" }
}`
		r := startReloader(t, fmt.Sprintf(conf, "first"))
		r.endpoint(recv.URL, "order.*")
		r.a.expect(202, "POST", "/in/orders", map[string]any{"id": "o1"})
		r.reload(fmt.Sprintf(conf, "second"))
		eventually(t, "the flow to run again", func() bool {
			code, _ := r.a.do("POST", "/in/orders", map[string]any{"id": "o2"})
			return code == 202
		})
		eventually(t, "both orders delivered", func() bool { return recv.countEvent("o1") == 1 && recv.countEvent("o2") >= 1 })
		if !strings.Contains(recv.eventBody("o1"), `"stage":"first"`) || !strings.Contains(recv.eventBody("o2"), `"stage":"second"`) {
			t.Errorf("bodies:\n%s\n%s", recv.eventBody("o1"), recv.eventBody("o2"))
		}
	}},
}

// reloader is a server whose configuration file a case rewrites and reloads.
type reloader struct {
	t        *testing.T
	dir, cfg string
	s        *process
	a        api
	reloads  int
}

func startReloader(t *testing.T, conf string) *reloader {
	t.Helper()
	dir := t.TempDir()
	r := &reloader{t: t, dir: dir, cfg: filepath.Join(dir, "c.cai")}
	writeFile(t, r.cfg, conf)
	token := adminToken(t, dir, nil)
	r.s = startServer(t, dir, nil, "-c", r.cfg)
	r.a = api{t: t, base: r.s.base, token: token}
	return r
}

// reload writes conf and sends SIGHUP, and returns once the server says it reloaded.
func (r *reloader) reload(conf string) {
	r.t.Helper()
	writeFile(r.t, r.cfg, conf)
	r.reloads++
	if err := r.s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		r.t.Fatal(err)
	}
	eventually(r.t, "the reload", func() bool {
		log := r.s.log()
		if strings.Contains(log, "configuration reload rejected") || strings.Contains(log, "configuration reload failed") {
			r.t.Fatalf("reload refused:\n%s", log)
		}
		return strings.Count(log, "configuration reloaded") == r.reloads
	})
}

// expectCall calls an operation and checks the status; it returns the answer's headers.
func (r *reloader) expectCall(in, op string, status int) http.Header {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.s.base+"/integrations/"+in+"/operations/"+op, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+r.a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		r.t.Fatalf("%s.%s answered %d, want %d: %s", in, op, resp.StatusCode, status, body)
	}
	return resp.Header
}

func (r *reloader) endpoint(url, events string) string {
	r.t.Helper()
	ep := r.a.expect(201, "POST", "/webhooks", map[string]any{"name": "receiver", "url": url, "events": []string{events}})
	return ep["id"].(string)
}

func (r *reloader) publish(typ, id string) {
	r.t.Helper()
	r.a.expect(202, "POST", "/events", map[string]any{"type": typ, "id": id, "data": map[string]any{"n": 1}})
}

// deliveryStatus is the status of the endpoint's delivery of an event, "" if none yet.
func (r *reloader) deliveryStatus(endpoint, eventID string) string {
	out := r.a.expect(200, "GET", "/webhooks/"+endpoint+"/deliveries", nil)
	list, _ := out["data"].([]any)
	for _, d := range list {
		if m, _ := d.(map[string]any); m["event_id"] == eventID {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// ingest posts a body to /ingest/NAME signed with secret and returns the status.
func (r *reloader) ingest(source, secret, id string) int {
	r.t.Helper()
	body := `{"order":` + id + `}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", r.s.base+"/ingest/"+source, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-Id", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// upstream is a local HTTP server standing in for an API or a webhook receiver; it
// records what it received.
type upstream struct {
	*httptest.Server
	status int
	delay  time.Duration

	mu       sync.Mutex
	headers  []http.Header
	byEvent  map[string]int
	byType   map[string]int
	evHeader map[string]http.Header
	evBody   map[string]string
	evMethod map[string]string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{status: 200, byEvent: map[string]int{}, byType: map[string]int{}, evHeader: map[string]http.Header{}, evBody: map[string]string{}, evMethod: map[string]string{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if u.delay > 0 {
			select {
			case <-time.After(u.delay):
			case <-req.Context().Done():
			}
		}
		var ev struct {
			ID, Type string
			Data     struct{ ID string }
		}
		_ = json.Unmarshal(body, &ev)
		if ev.Data.ID != "" {
			ev.ID = ev.Data.ID // a flow's message: the event id is its own
		}
		u.mu.Lock()
		u.headers = append(u.headers, req.Header.Clone())
		if ev.ID != "" {
			u.byEvent[ev.ID]++
			u.byType[ev.Type]++
			u.evHeader[ev.ID] = req.Header.Clone()
			u.evBody[ev.ID] = string(body)
			u.evMethod[ev.ID] = req.Method
		}
		status := u.status
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int { u.mu.Lock(); defer u.mu.Unlock(); return len(u.headers) }

func (u *upstream) lastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return http.Header{}
	}
	return u.headers[len(u.headers)-1]
}

func (u *upstream) countEvent(id string) int { u.mu.Lock(); defer u.mu.Unlock(); return u.byEvent[id] }

func (u *upstream) countType(typ string) int { u.mu.Lock(); defer u.mu.Unlock(); return u.byType[typ] }

func (u *upstream) eventHeader(id string) http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if h := u.evHeader[id]; h != nil {
		return h
	}
	return http.Header{}
}

func (u *upstream) eventBody(id string) string { u.mu.Lock(); defer u.mu.Unlock(); return u.evBody[id] }

func (u *upstream) eventMethod(id string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.evMethod[id]
}

func (u *upstream) setStatus(status int) { u.mu.Lock(); u.status = status; u.mu.Unlock() }

package main

import (
	"bytes"
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

	"github.com/junctionhq/junction/internal/servicetest"
)

// hookConfig lets deliveries reach loopback receivers and retries fast.
const hookConfig = `integration Hooks {
    type: webhook
    timeout: 2s
    retry_delays: [100ms, 200ms]
    circuit_breaker: { threshold: 50 consecutive failures, reset_after: 1s }
    dead_letter: { enabled: true, retention: 7d }
    allowed_networks: ["127.0.0.0/8"]
    workers: 16
}`

// hookReceiver records deliveries by webhook-id and event id.
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	byMsg    map[string]int    // webhook-id → times received
	byEvent  map[string]int    // event id → times received
	bodies   map[string]string // event id → last body received
	received int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{status: 200, byMsg: map[string]int{}, byEvent: map[string]int{}, bodies: map[string]string{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ ID string }
		_ = json.Unmarshal(body, &ev)
		h.mu.Lock()
		h.byMsg[r.Header.Get("webhook-id")]++
		h.byEvent[ev.ID]++
		h.bodies[ev.ID] = string(body)
		h.received++
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) setStatus(s int) { h.mu.Lock(); h.status = s; h.mu.Unlock() }

func (h *hookReceiver) distinctEvents() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.byEvent) }

// api is a client for a running server.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) do(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	var sent []byte // nil when the request has no body
	if body != nil {
		sent, _ = json.Marshal(body)
		rd = bytes.NewReader(sent)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkContract(a.t, a.base, method, path, sent, resp, raw)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

func (a api) expect(want int, method, path string, body any) map[string]any {
	a.t.Helper()
	status, out := a.do(method, path, body)
	if status != want {
		a.t.Fatalf("%s %s: %d, want %d: %v", method, path, status, want, out)
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookSampleRequests follows seed 003's "Sample Requests" against junction serve
// with local receivers, on SQLite and on PostgreSQL.
func TestWebhookSampleRequests(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { sampleRequests(t, nil) })
	t.Run("postgres", func(t *testing.T) { sampleRequests(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)}) })
}

func sampleRequests(t *testing.T, env []string) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hooks.cai")
	writeFile(t, cfg, hookConfig)
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	good, bad := newHookReceiver(t), newHookReceiver(t)
	bad.setStatus(500)

	// Create a webhook endpoint: the secret is generated.
	created := a.expect(201, "POST", "/webhooks", map[string]any{
		"name": "Order Notifications", "url": good.URL + "/webhooks/orders",
		"events": []string{"order.created", "order.shipped", "order.delivered"},
	})
	id := created["id"].(string)
	if !strings.HasPrefix(created["secret"].(string), "whsec_") || created["is_active"] != true || created["is_healthy"] != true {
		t.Fatalf("created endpoint %v", created)
	}
	failing := a.expect(201, "POST", "/webhooks", map[string]any{"name": "Broken", "url": bad.URL, "events": []string{"order.*"}})["id"].(string)
	for i := range 3 {
		a.expect(201, "POST", "/webhooks", map[string]any{"name": fmt.Sprintf("extra-%d", i), "url": good.URL, "events": []string{"invoice.paid"}})
	}

	// List, pagination and filter.
	list := a.expect(200, "GET", "/webhooks?page=1&limit=2", nil)
	pg := list["pagination"].(map[string]any)
	if len(list["data"].([]any)) != 2 || pg["total"] != float64(5) || pg["total_pages"] != float64(3) || pg["page"] != float64(1) || pg["limit"] != float64(2) {
		t.Fatalf("list page: %v", list)
	}
	a.expect(200, "GET", "/webhooks/"+id, nil)
	a.expect(400, "GET", "/webhooks?limit=1000", nil)
	a.expect(404, "GET", "/webhooks/no-such-id", nil)

	// Update (partial), deactivate, filter by is_active.
	upd := a.expect(200, "PUT", "/webhooks/"+id, map[string]any{"name": "Orders"})
	if upd["name"] != "Orders" || upd["url"] != good.URL+"/webhooks/orders" {
		t.Fatalf("update: %v", upd)
	}
	a.expect(200, "PUT", "/webhooks/"+failing, map[string]any{"is_active": false})
	inactive := a.expect(200, "GET", "/webhooks?is_active=false", nil)
	if inactive["pagination"].(map[string]any)["total"] != float64(1) {
		t.Fatalf("is_active=false: %v", inactive)
	}
	a.expect(200, "PUT", "/webhooks/"+failing, map[string]any{"is_active": true})
	a.expect(400, "PUT", "/webhooks/"+id, map[string]any{"url": "not a url"})
	a.expect(400, "PUT", "/webhooks/"+id, map[string]any{"colour": "blue"})

	// Test webhook: the answer is the delivery after its first attempt.
	test := a.expect(200, "POST", "/webhooks/"+id+"/test", nil)
	if test["event_type"] != "webhook.test" || test["status"] != "delivered" || test["response_status_code"] != float64(200) || test["duration_ms"] == nil {
		t.Fatalf("test delivery: %v", test)
	}
	failedTest := a.expect(200, "POST", "/webhooks/"+failing+"/test", nil)
	if failedTest["status"] != "retrying" || failedTest["response_status_code"] != float64(500) || failedTest["error_message"] == nil {
		t.Fatalf("failing test delivery: %v", failedTest)
	}

	// Publish: both order endpoints get it; the failing one ends in the dead-letter queue.
	pub := a.expect(202, "POST", "/events", map[string]any{"id": "evt-order-1", "type": "order.created", "data": map[string]any{"order_id": 1}})
	if pub["deliveries"] != float64(2) {
		t.Fatalf("publish: %v", pub)
	}
	eventually(t, "the good endpoint's delivery", func() bool { return good.distinctEvents() >= 2 })
	eventually(t, "the failing endpoint's deliveries to fail", func() bool {
		_, out := a.do("GET", "/webhooks/"+failing+"/deliveries?status=failed", nil)
		return out["pagination"].(map[string]any)["total"] == float64(2)
	})
	deliveries := a.expect(200, "GET", "/webhooks/"+failing+"/deliveries?status=failed&limit=1", nil)
	d := deliveries["data"].([]any)[0].(map[string]any)
	if d["attempt_count"] != float64(3) || d["max_attempts"] != float64(3) {
		t.Fatalf("failed delivery: %v", d)
	}
	dead := a.expect(200, "GET", "/dead-letters?endpoint_id="+failing, nil)
	if dead["pagination"].(map[string]any)["total"] != float64(2) {
		t.Fatalf("dead letters: %v", dead)
	}
	ep := a.expect(200, "GET", "/webhooks/"+failing, nil)
	if ep["consecutive_failures"].(float64) < 3 || ep["last_failure_at"] == nil {
		t.Fatalf("failing endpoint health: %v", ep)
	}

	// Manual retry once the receiver works again.
	bad.setStatus(200)
	retried := a.expect(202, "POST", "/webhooks/deliveries/"+d["id"].(string)+"/retry", nil)
	if retried["status"] != "pending" {
		t.Fatalf("retry: %v", retried)
	}
	eventually(t, "the retried delivery", func() bool {
		_, out := a.do("GET", "/webhooks/"+failing+"/deliveries?status=delivered", nil)
		return out["pagination"].(map[string]any)["total"] == float64(1)
	})
	replay := dead["data"].([]any)[0].(map[string]any)["id"].(string)
	if replay == d["id"] {
		replay = dead["data"].([]any)[1].(map[string]any)["id"].(string)
	}
	a.expect(202, "POST", "/dead-letters/"+replay+"/replay", nil)
	eventually(t, "the replayed dead letter", func() bool {
		_, out := a.do("GET", "/dead-letters?endpoint_id="+failing, nil)
		return out["pagination"].(map[string]any)["total"] == float64(0)
	})

	// Invalid input, and delete.
	a.expect(400, "POST", "/webhooks", map[string]any{"name": "x", "url": "ftp://x", "events": []string{}})
	a.expect(400, "POST", "/events", map[string]any{"type": "bad type"})
	a.expect(204, "DELETE", "/webhooks/"+id, nil)
	a.expect(404, "GET", "/webhooks/"+id, nil)
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestWebhookDeliveriesSurviveSIGKILL publishes 2,000 events to 4 receivers, kills the
// server with SIGKILL in the middle and restarts it: every accepted event reaches every
// receiver at least once, and duplicates carry the same webhook-id.
func TestWebhookDeliveriesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const events = 2000
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hooks.cai")
	writeFile(t, cfg, hookConfig)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	receivers := make([]*hookReceiver, 4)
	for i := range receivers {
		receivers[i] = newHookReceiver(t)
		a.expect(201, "POST", "/webhooks", map[string]any{"name": fmt.Sprint("r", i), "url": receivers[i].URL, "events": []string{"*"}})
	}

	// Publishers retry each event with the same id until it is accepted, as a real client
	// would; the kill happens while they are busy.
	var mu sync.Mutex
	base := s.base
	setBase := func(b string) { mu.Lock(); base = b; mu.Unlock() }
	getBase := func() string { mu.Lock(); defer mu.Unlock(); return base }
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"id":"evt-%04d","type":"crash.test","data":{"n":%d}}`, i, i)
				for {
					req, _ := http.NewRequest("POST", getBase()+"/events", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 202 {
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		eventually(t, "deliveries to be under way", func() bool { return receivers[0].distinctEvents() > 300 })
		if code := s.stop(t, syscall.SIGKILL); code == 0 {
			t.Errorf("SIGKILL did not kill")
		}
		s2 := startServer(t, dir, nil, "-c", cfg)
		setBase(s2.base)
	}()
	for i := range events {
		next <- i
	}
	close(next)
	wg.Wait()
	<-killed

	for i, r := range receivers {
		eventually(t, fmt.Sprintf("receiver %d to have every event", i), func() bool { return r.distinctEvents() == events })
	}
	dups := 0
	for _, r := range receivers {
		r.mu.Lock()
		for ev, n := range r.byEvent {
			if n > 1 {
				dups += n - 1
				_ = ev
			}
		}
		distinctMsgs := len(r.byMsg)
		r.mu.Unlock()
		if distinctMsgs != events {
			t.Errorf("a receiver saw %d distinct webhook-ids for %d events: duplicates must repeat their webhook-id", distinctMsgs, events)
		}
	}
	t.Logf("%d events × %d receivers delivered; %d duplicate deliveries after the kill, each recognisable by its webhook-id", events, len(receivers), dups)
}

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest"
)

// handlerConfig has events.cai's shape: user.created calls an integration,
// payment.received emits order.completed, which goes to a declared webhook; job.failed
// calls an operation that fails; ping and pong emit each other for ever.
const handlerConfig = `integration Hooks {
    type: webhook
    timeout: 2s
    retry_delays: [100ms, 200ms]
    allowed_networks: ["127.0.0.0/8"]
}

event user_created {
    schema {
        user_id uuid
        email string
        created_at timestamp
    }
}
event payment_received {
    schema {
        payment_id uuid
        amount decimal
    }
}
event order_completed {
    schema {
        payment_id uuid
        amount decimal
    }
}
event job_failed {
    schema {
        n integer
    }
}
event slow_job {
    schema {
        n integer
    }
}
event ping {
    schema {
        n integer
    }
}
event pong {
    schema {
        n integer
    }
}

integration analytics {
    base_url: "%s"
    idempotency: { header: "Idempotency-Key" }
    operation track { method: POST  path: "/track"  body: { user_id: uuid, email: string, created_at: timestamp } }
    operation fail { method: POST  path: "/fail"  body: { n: integer } }
    operation slow { method: POST  path: "/slow"  body: { n: integer } }
}

webhook warehouse {
    event "nothing.subscribed"
    url "%s"
}

on "user.created" do integration "analytics.track"
on "payment.received" do emit "order.completed"
on "order.completed" do webhook "warehouse" async
on "job.failed" do integration "analytics.fail"
on "ping" do emit "pong"
on "pong" do emit "ping"
on "slow.job" do integration "analytics.slow"
`

// fakeUpstream is the integration: it keeps what it received by idempotency key, and,
// as an upstream honouring Idempotency-Key does, completes each key once.
type fakeUpstream struct {
	*httptest.Server
	mu        sync.Mutex
	track     []map[string]any
	fails     int
	completed map[string]int    // key → completions
	keyOf     map[string]string // event n → key
	keysPer   map[string]map[string]bool
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	f := &fakeUpstream{completed: map[string]int{}, keyOf: map[string]string{}, keysPer: map[string]map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		key := r.Header.Get("Idempotency-Key")
		switch r.URL.Path {
		case "/track":
			f.mu.Lock()
			f.track = append(f.track, map[string]any{"body": body, "key": key})
			f.mu.Unlock()
		case "/fail":
			f.mu.Lock()
			f.fails++
			f.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
			return
		case "/slow":
			n := fmt.Sprint(body["n"])
			f.mu.Lock()
			if f.keysPer[n] == nil {
				f.keysPer[n] = map[string]bool{}
			}
			f.keysPer[n][key] = true
			done := f.completed[key] > 0
			f.mu.Unlock()
			if done { // a repeated key gets the stored answer, not a second completion
				return
			}
			select {
			case <-time.After(30 * time.Millisecond):
			case <-r.Context().Done():
				return // the caller went away (killed): not completed
			}
			f.mu.Lock()
			f.completed[key]++
			f.mu.Unlock()
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func TestEventHandlers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testEventHandlers(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		testEventHandlers(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)})
	})
}

func testEventHandlers(t *testing.T, env []string) {
	up := newFakeUpstream(t)
	rcv := newHookReceiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "events.cai")
	writeFile(t, cfg, fmt.Sprintf(handlerConfig, up.URL, rcv.URL))
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	if strings.Contains(s.log(), "not run yet") && strings.Contains(s.log(), "on … do handler") {
		t.Errorf("serve still says handlers are not run:\n%s", s.log())
	}

	// user.created → analytics.track, with the event's fields and a key per execution.
	const uid = "7d1f5e0a-8a55-4c57-9a0e-2a1b7a0c9d11"
	a.expect(202, "POST", "/events", map[string]any{"type": "user.created", "data": map[string]any{
		"user_id": uid, "email": "a@example.com", "created_at": "2025-01-02T03:04:05Z"}})
	eventually(t, "the integration call", func() bool { up.mu.Lock(); defer up.mu.Unlock(); return len(up.track) == 1 })
	up.mu.Lock()
	got := up.track[0]
	up.mu.Unlock()
	if body := got["body"].(map[string]any); body["user_id"] != uid || body["email"] != "a@example.com" {
		t.Errorf("track body = %v", body)
	}
	if key, _ := got["key"].(string); !strings.HasPrefix(key, "handler-") {
		t.Errorf("idempotency key = %q, want one derived from the execution", key)
	}

	// payment.received → emit order.completed → webhook warehouse (whose filter does not
	// name it).
	a.expect(202, "POST", "/events", map[string]any{"id": "pay-1", "type": "payment.received", "data": map[string]any{
		"payment_id": uid, "amount": 12.5}})
	eventually(t, "the webhook delivery", func() bool { return rcv.distinctEvents() == 1 })
	rcv.mu.Lock()
	for _, b := range rcv.bodies {
		if !strings.Contains(b, `"type":"order.completed"`) || !strings.Contains(b, `"amount":12.5`) {
			t.Errorf("warehouse got %s", b)
		}
	}
	rcv.mu.Unlock()

	// A failing integration is retried, then dead, listed, and retried by the API.
	a.expect(202, "POST", "/events", map[string]any{"type": "job.failed", "data": map[string]any{"n": 1}})
	var dead map[string]any
	eventually(t, "a dead execution", func() bool {
		out := a.expect(200, "GET", "/handlers/executions?status=dead&event=job.failed", nil)
		if data := out["data"].([]any); len(data) == 1 {
			dead = data[0].(map[string]any)
			return true
		}
		return false
	})
	if dead["attempts"] != 3.0 || !strings.Contains(fmt.Sprint(dead["last_error"]), "answered 502") {
		t.Errorf("dead execution = %v", dead)
	}
	up.mu.Lock()
	if up.fails != 3 {
		t.Errorf("the failing operation was called %d times, want 3", up.fails)
	}
	up.mu.Unlock()
	a.expect(202, "POST", "/handlers/executions/"+dead["id"].(string)+"/retry", nil)
	eventually(t, "the retried execution to die again", func() bool {
		up.mu.Lock()
		defer up.mu.Unlock()
		return up.fails == 6
	})
	eventually(t, "it to be dead again", func() bool {
		out := a.expect(200, "GET", "/handlers/executions?status=dead&event=job.failed", nil)
		return len(out["data"].([]any)) == 1
	})
	if st, out := a.do("POST", "/handlers/executions/nope/retry", nil); st != 404 || out["type"] == nil {
		t.Errorf("retry of nothing = %d %v", st, out)
	}

	// Handlers that emit each other end with a dead execution saying why.
	a.expect(202, "POST", "/events", map[string]any{"type": "ping", "data": map[string]any{"n": 1}})
	eventually(t, "the loop to end", func() bool {
		out := a.expect(200, "GET", "/handlers/executions?status=dead", nil)
		for _, x := range out["data"].([]any) {
			if strings.Contains(fmt.Sprint(x.(map[string]any)["last_error"]), "emits deep") {
				return true
			}
		}
		return false
	})

	// GET /handlers counts by status.
	out := a.expect(200, "GET", "/handlers", nil)
	counts := map[string]map[string]any{}
	for _, h := range out["data"].([]any) {
		m := h.(map[string]any)
		counts[m["name"].(string)] = m["executions"].(map[string]any)
	}
	if c := counts[`on "user.created" do integration "analytics.track"`]; c["done"] != 1.0 {
		t.Errorf("counts = %v", counts)
	}
	if c := counts[`on "job.failed" do integration "analytics.fail"`]; c["dead"] != 1.0 {
		t.Errorf("counts = %v", counts)
	}

	// Declared payloads are checked.
	for _, c := range []struct {
		data  map[string]any
		field string
	}{
		{map[string]any{"email": "a@example.com", "created_at": "2025-01-02T03:04:05Z"}, "data.user_id"},
		{map[string]any{"user_id": "not-a-uuid", "email": "a@example.com", "created_at": "2025-01-02T03:04:05Z"}, "data.user_id"},
		{map[string]any{"user_id": uid, "email": 5, "created_at": "2025-01-02T03:04:05Z"}, "data.email"},
		{map[string]any{"user_id": uid, "email": "a@example.com", "created_at": "yesterday"}, "data.created_at"},
	} {
		st, out := a.do("POST", "/events", map[string]any{"type": "user_created", "data": c.data})
		if st != 400 || !strings.Contains(fmt.Sprint(out["errors"]), c.field) {
			t.Errorf("POST /events %v = %d %v, want 400 naming %s", c.data, st, out, c.field)
		}
	}
	a.expect(202, "POST", "/events", map[string]any{"type": "undeclared.thing", "data": map[string]any{"x": 1}})
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestEventHandlersSurviveSIGKILL publishes 200 events whose handler calls a slow
// upstream, kills the server with SIGKILL mid-way and restarts it: every execution
// completes, and the upstream saw one idempotency key per event, completed once.
func TestEventHandlersSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	const events = 200
	up := newFakeUpstream(t)
	rcv := newHookReceiver(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "events.cai")
	writeFile(t, cfg, fmt.Sprintf(handlerConfig, up.URL, rcv.URL))
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	for i := range events {
		a.expect(202, "POST", "/events", map[string]any{"type": "slow.job", "data": map[string]any{"n": i}})
	}
	completed := func() int { up.mu.Lock(); defer up.mu.Unlock(); return len(up.completed) }
	eventually(t, "executions to be under way", func() bool { return completed() > 20 })
	if code := s.stop(t, syscall.SIGKILL); code == 0 {
		t.Errorf("SIGKILL did not kill")
	}
	if completed() == events {
		t.Fatalf("every execution finished before the kill: the test proves nothing")
	}
	s2 := startServer(t, dir, nil, "-c", cfg)
	a.base = s2.base
	eventually(t, "every execution to be done", func() bool {
		out := a.expect(200, "GET", "/handlers/executions?status=done&event=slow.job&limit=1", nil)
		return out["pagination"].(map[string]any)["total"] == float64(events)
	})
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.keysPer) != events {
		t.Errorf("the upstream saw %d events, want %d", len(up.keysPer), events)
	}
	for n, keys := range up.keysPer {
		if len(keys) != 1 {
			t.Errorf("event %s reached the upstream with %d idempotency keys, want 1", n, len(keys))
		}
	}
	for key, c := range up.completed {
		if c != 1 {
			t.Errorf("key %s completed %d times", key, c)
		}
	}
}

// TestReadmeEventHandlers runs the README's "Event handlers" example as written, but for
// its base_url (a local upstream): a user.created event reaches Analytics.track.
func TestReadmeEventHandlers(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Event handlers\n.*?```codeai\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no codeai example under ## Event handlers")
	}
	up := newFakeUpstream(t)
	conf := strings.Replace(string(m[1]), `"https://api.analytics.example.com"`, strconv.Quote(up.URL), 1)
	if !strings.Contains(conf, up.URL) {
		t.Fatalf("the example changed shape; update this test:\n%s", m[1])
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, conf)
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	a.expect(202, "POST", "/events", map[string]any{"type": "user.created", "data": map[string]any{
		"user_id": "7d1f5e0a-8a55-4c57-9a0e-2a1b7a0c9d11", "email": "a@example.com"}})
	eventually(t, "the call", func() bool { up.mu.Lock(); defer up.mu.Unlock(); return len(up.track) == 1 })
	if st, _ := a.do("POST", "/events", map[string]any{"type": "user.created", "data": map[string]any{"email": "a@example.com"}}); st != 400 {
		t.Errorf("a payload without user_id = %d, want 400", st)
	}
}

package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/webhook/signing"
)

// TestDeclaredWebhooks runs `webhook NAME { … }` blocks in junction serve, on SQLite and
// on PostgreSQL: a matching event reaches the receiver once, signed with the secret read
// from the environment, with the declared method and headers; the API shows the
// endpoints as managed and refuses to change them, while operational actions stay
// allowed; a declared retry of 1 (2 attempts) against a failing receiver makes exactly 2
// attempts and a dead letter; a generated secret and the ids survive a restart; no
// credential reaches the log.
func TestDeclaredWebhooks(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); declaredWebhooks(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		declaredWebhooks(t, []string{"DATABASE_URL=" + servicetest.PostgresDSN(t)})
	})
}

func newSigningSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return signing.SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

func declaredWebhooks(t *testing.T, env []string) {
	recv, failing := newUpstream(t), newUpstream(t)
	failing.setStatus(500)
	secret := newSigningSecret(t)
	env = append(env, "AUDIT_API_KEY=audit-key-4711", "AUDIT_SECRET="+secret)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, fmt.Sprintf(`integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }

webhook audit_log {
    event "user.created"
    url "%s/audit"
    method PUT
    headers {
        "Content-Type": "application/json"
        "X-Source": "junction-test"
        "X-API-Key": "$AUDIT_API_KEY"
    }
    secret env(AUDIT_SECRET)
    retry 5 initial_interval "1s" backoff 2.0
}

webhook warehouse {
    event "order.completed"
    url "%s/orders"
    retry 1 initial_interval "50ms" backoff 2.0
}
`, recv.URL, failing.URL))
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}

	hooks := declaredByName(a)
	audit, warehouse := hooks["audit_log"], hooks["warehouse"]
	if audit == nil || warehouse == nil || len(hooks) != 2 {
		t.Fatalf("GET /webhooks: %v", hooks)
	}
	if audit["managed"] != true || audit["declared_at"] != cfg+":3:1" || audit["secret"] != secret || audit["misconfigured"] != nil {
		t.Errorf("audit_log = %v", audit)
	}
	if !strings.HasPrefix(warehouse["secret"].(string), "whsec_") {
		t.Errorf("warehouse has no generated secret: %v", warehouse)
	}
	auditID, warehouseID := audit["id"].(string), warehouse["id"].(string)
	if got := a.expect(200, "GET", "/webhooks/"+auditID, nil); got["managed"] != true {
		t.Errorf("GET /webhooks/{id} = %v", got)
	}

	// A matching event: one signed delivery with the declared method and headers.
	a.expect(202, "POST", "/events", map[string]any{"type": "user.created", "id": "u1", "data": map[string]any{"user": 1}})
	a.expect(202, "POST", "/events", map[string]any{"type": "user.deleted", "id": "u2", "data": map[string]any{"user": 1}})
	eventually(t, "the delivery of u1", func() bool { return recv.countEvent("u1") == 1 })
	h := recv.eventHeader("u1")
	if m := recv.eventMethod("u1"); m != "PUT" {
		t.Errorf("method %s, want PUT", m)
	}
	if h.Get("X-API-Key") != "audit-key-4711" || h.Get("X-Source") != "junction-test" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", h)
	}
	if err := signing.Verify(h, []byte(recv.eventBody("u1")), time.Now(), 0, secret); err != nil {
		t.Errorf("the delivery is not signed with the secret from AUDIT_SECRET: %v", err)
	}

	// The API refuses to change them, naming the declaration; operations stay allowed.
	for _, c := range []struct{ method, path string }{
		{"PUT", "/webhooks/" + auditID}, {"DELETE", "/webhooks/" + auditID}, {"POST", "/webhooks/" + auditID + "/rotate-secret"},
	} {
		status, p := a.do(c.method, c.path, map[string]any{"url": recv.URL + "/elsewhere"})
		if status != 409 || p["type"] != "https://junction.dev/problems/endpoint-declared" || !strings.Contains(fmt.Sprint(p["detail"]), cfg+":3:1") {
			t.Errorf("%s %s = %d %v, want 409 endpoint-declared naming %s:3:1", c.method, c.path, status, p, cfg)
		}
	}
	if status, p := a.do("POST", "/webhooks", map[string]any{"name": "audit_log", "url": recv.URL, "events": []string{"*"}}); status != 409 {
		t.Errorf("POST /webhooks with a declared name = %d %v", status, p)
	}
	a.expect(200, "POST", "/webhooks/"+auditID+"/test", nil)
	a.expect(200, "POST", "/webhooks/"+auditID+"/circuit/reset", nil)
	a.expect(200, "GET", "/webhooks/"+auditID+"/deliveries", nil)
	if recv.countEvent("u2") != 0 {
		t.Errorf("user.deleted reached a webhook declared for user.created")
	}

	// retry 1: two attempts, then a dead letter.
	a.expect(202, "POST", "/events", map[string]any{"type": "order.completed", "id": "o1", "data": map[string]any{"order": 1}})
	var dead map[string]any
	eventually(t, "o1 dead-lettered", func() bool {
		list, _ := a.expect(200, "GET", "/dead-letters?endpoint_id="+warehouseID, nil)["data"].([]any)
		if len(list) == 1 {
			dead = list[0].(map[string]any)
		}
		return dead != nil
	})
	if dead["attempt_count"] != float64(2) || dead["max_attempts"] != float64(2) || failing.countEvent("o1") != 2 {
		t.Errorf("dead letter %v after %d attempts, want 2 of 2", dead, failing.countEvent("o1"))
	}

	// A restart keeps the ids and the generated secret.
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.log())
	}
	log := s.log()
	s = startServer(t, dir, env, "-c", cfg)
	a.base = s.base
	again := declaredByName(a)
	if again["audit_log"]["id"] != auditID || again["warehouse"]["id"] != warehouseID || again["warehouse"]["secret"] != warehouse["secret"] {
		t.Errorf("after a restart: %v, before: %v", again, hooks)
	}
	for _, leaked := range []string{"audit-key-4711", secret} {
		if strings.Contains(log+s.log(), leaked) {
			t.Errorf("the log holds a credential:\n%s", log)
		}
	}
}

// declaredByName lists the endpoints by name.
func declaredByName(a api) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := a.expect(200, "GET", "/webhooks?limit=100", nil)["data"].([]any)
	for _, e := range list {
		m := e.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

// A declared webhook whose credential header reads an unset variable sends nothing: the
// log and GET /webhooks say why, and the delivery fails without reaching the receiver.
func TestDeclaredWebhookMisconfigured(t *testing.T) {
	t.Parallel()
	recv := newUpstream(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, fmt.Sprintf(`integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }
webhook audit_log {
    event "user.created"
    url %q
    headers { "X-API-Key": "$AUDIT_API_KEY" }
    retry 1 initial_interval "50ms"
}`, recv.URL))
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	audit := declaredByName(a)["audit_log"]
	if reason, _ := audit["misconfigured"].(string); !strings.Contains(reason, "header X-API-Key: AUDIT_API_KEY is not set") {
		t.Errorf("GET /webhooks shows %v", audit)
	}
	if !strings.Contains(s.log(), "declared webhook misconfigured") || !strings.Contains(s.log(), "AUDIT_API_KEY is not set") {
		t.Errorf("the log does not say why:\n%s", s.log())
	}
	a.expect(202, "POST", "/events", map[string]any{"type": "user.created", "id": "u1", "data": map[string]any{}})
	var dead map[string]any
	eventually(t, "u1 dead-lettered", func() bool {
		list, _ := a.expect(200, "GET", "/dead-letters", nil)["data"].([]any)
		if len(list) == 1 {
			dead = list[0].(map[string]any)
		}
		return dead != nil
	})
	if msg, _ := dead["error_message"].(string); !strings.Contains(msg, "not sent: webhook audit_log is misconfigured") || recv.count() != 0 {
		t.Errorf("dead letter %v; the receiver got %d requests", dead, recv.count())
	}
}

// An endpoint made through the API with a declared webhook's name is not taken over:
// the reload that declares it fails, naming both, and the running configuration stays.
func TestDeclaredWebhookNameTakenByTheAPI(t *testing.T) {
	t.Parallel()
	recv := newUpstream(t)
	r := startReloader(t, `integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }`)
	id := r.a.expect(201, "POST", "/webhooks", map[string]any{"name": "audit_log", "url": recv.URL, "events": []string{"*"}})["id"].(string)
	writeFile(t, r.cfg, fmt.Sprintf(`integration Hooks { type: webhook  allowed_networks: ["127.0.0.0/8"] }
webhook audit_log { event "user.created"  url %q }`, recv.URL))
	if err := r.s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refused reload", func() bool { return strings.Contains(r.s.log(), "configuration reload failed") })
	log := r.s.log()
	if !strings.Contains(log, "webhook audit_log") || !strings.Contains(log, id) || !strings.Contains(log, r.cfg+":2:1") {
		t.Errorf("the log does not name both:\n%s", log)
	}
	list, _ := r.a.expect(200, "GET", "/webhooks", nil)["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["managed"] != false {
		t.Errorf("endpoints after the refused reload: %v", list)
	}
}

// TestReadmeDeclaredWebhook runs the README's "Declared webhooks" example as written, but
// for its url (a local receiver) and loopback allowed: a user.created event arrives by
// PUT, signed with the secret from AUDIT_WEBHOOK_SECRET and carrying X-API-Key.
func TestReadmeDeclaredWebhook(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### Declared webhooks\n.*?```codeai\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no codeai example under ### Declared webhooks")
	}
	example := string(m[1])
	recv := newUpstream(t)
	conf := strings.Replace(example, `"https://audit.example.com/events"`, strconv.Quote(recv.URL), 1)
	conf = strings.Replace(conf, "type: webhook ", `type: webhook  allowed_networks: ["127.0.0.0/8"] `, 1)
	if !strings.Contains(conf, recv.URL) || !strings.Contains(conf, "allowed_networks") {
		t.Fatalf("the example changed shape; update this test:\n%s", example)
	}
	secret := newSigningSecret(t)
	env := []string{"AUDIT_API_KEY=readme-key", "AUDIT_WEBHOOK_SECRET=" + secret}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, conf)
	token := adminToken(t, dir, env)
	s := startServer(t, dir, env, "-c", cfg)
	a := api{t: t, base: s.base, token: token}
	a.expect(202, "POST", "/events", map[string]any{"type": "user.created", "id": "r1", "data": map[string]any{"user": 7}})
	eventually(t, "the delivery", func() bool { return recv.countEvent("r1") == 1 })
	h := recv.eventHeader("r1")
	if recv.eventMethod("r1") != "PUT" || h.Get("X-API-Key") != "readme-key" || h.Get("X-Source") != "junction" {
		t.Errorf("delivery %s with headers %v", recv.eventMethod("r1"), h)
	}
	if err := signing.Verify(h, []byte(recv.eventBody("r1")), time.Now(), 0, secret); err != nil {
		t.Errorf("signature: %v", err)
	}
}

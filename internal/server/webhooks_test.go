package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/netguard"
	"github.com/junctionhq/junction/internal/policy/retry"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/store/postgres"
	"github.com/junctionhq/junction/internal/store/sqlite"
	"github.com/junctionhq/junction/internal/testkit"
	"github.com/junctionhq/junction/internal/webhook"
)

// withWebhooks gives the test server a real webhook service on its store, with one
// inbound source "gh" (GitHub signatures, secret "s3cret").
func withWebhooks(t *testing.T) func(*testOptions) {
	return func(o *testOptions) {
		m, err := webhook.NewMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		s := webhook.SettingsFrom(nil)
		s.MaxPayloadBytes = 1000
		svc, err := webhook.New(o.Store, s, webhook.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		svc.SetSources(webhook.Sources{"gh": &webhook.Source{Name: "gh", Event: "github.{header:X-GitHub-Event}",
			Verifier: inbound.Verifier{Scheme: inbound.GitHub, Secrets: []string{"s3cret"}}}})
		o.Webhooks = svc
	}
}

func TestWebhookAPIErrors(t *testing.T) {
	e := newEnv(t, withWebhooks(t))
	if resp := e.req("GET", "/webhooks", "", ""); resp.StatusCode != 401 {
		t.Errorf("unauthenticated list: %d", resp.StatusCode)
	}
	resp := e.req("POST", "/webhooks", e.user, `{"name":"","url":"ftp://x","events":["bad event!"],"secret":"nope"}`)
	body := string(resp.body)
	if resp.StatusCode != 400 {
		t.Fatalf("invalid endpoint: %d %s", resp.StatusCode, body)
	}
	for _, field := range []string{`"field":"events"`, `"field":"name"`, `"field":"secret"`, `"field":"url"`} {
		if !strings.Contains(body, field) {
			t.Errorf("400 does not name %s: %s", field, body)
		}
	}
	if resp := e.req("GET", "/webhooks?is_active=maybe&page=0", e.user, ""); resp.StatusCode != 400 || !strings.Contains(string(resp.body), `"field":"is_active"`) || !strings.Contains(string(resp.body), `"field":"page"`) {
		t.Errorf("bad filters: %d %s", resp.StatusCode, resp.body)
	}
	if resp := e.req("GET", "/webhooks/x/deliveries?status=lost", e.user, ""); resp.StatusCode != 400 {
		t.Errorf("bad status filter: %d", resp.StatusCode)
	}
	for _, path := range []string{"/webhooks/nope", "/webhooks/nope/deliveries"} {
		if resp := e.req("GET", path, e.user, ""); resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	if resp := e.req("POST", "/webhooks/deliveries/nope/retry", e.user, ""); resp.StatusCode != 404 {
		t.Errorf("retry unknown: %d", resp.StatusCode)
	}
	// An event over the payload limit is refused whole.
	big := `{"type":"a.b","data":"` + strings.Repeat("x", 2000) + `"}`
	if resp := e.req("POST", "/events", e.user, big); resp.StatusCode != 413 {
		t.Errorf("oversized event: %d %s", resp.StatusCode, resp.body)
	}
	if resp := e.req("POST", "/events", e.user, `{"type":"a.b","data":{},"extra":1}`); resp.StatusCode != 400 || !strings.Contains(string(resp.body), "extra") {
		t.Errorf("unknown member: %d %s", resp.StatusCode, resp.body)
	}
	resp = e.req("POST", "/events", e.user, `{"id":"e1","type":"a.b","data":{"k":1}}`)
	if resp.StatusCode != 202 || strings.TrimSpace(string(resp.body)) != `{"deliveries":0,"duplicate":false,"id":"e1"}` {
		t.Errorf("publish: %d %s", resp.StatusCode, resp.body)
	}
}

func TestIngestIsPublicAndVerified(t *testing.T) {
	e := newEnv(t, withWebhooks(t)).start()
	body := `{"action":"opened"}`
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(body))
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	// No Junction token: providers authenticate with their signature.
	resp := e.req("POST", "/ingest/gh", "", body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", "d1", "X-GitHub-Event", "issues")
	if resp.StatusCode != 202 || !strings.Contains(string(resp.body), `"event_type":"github.issues"`) || !strings.Contains(string(resp.body), `"duplicate":false`) {
		t.Fatalf("good signature: %d %s", resp.StatusCode, resp.body)
	}
	first := resp.json(t)["id"]
	resp = e.req("POST", "/ingest/gh", "", body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", "d1", "X-GitHub-Event", "issues")
	if resp.StatusCode != 202 || !strings.Contains(string(resp.body), `"duplicate":true`) || resp.json(t)["id"] != first {
		t.Errorf("redelivery: %d %s; want duplicate with the first answer's id %v", resp.StatusCode, resp.body, first)
	}
	resp = e.req("POST", "/ingest/gh", "", body+" ", "X-Hub-Signature-256", sig, "X-GitHub-Delivery", "d2")
	if resp.StatusCode != 401 || resp.json(t)["type"] != "https://junction.dev/problems/invalid-signature" {
		t.Errorf("tampered body: %d %s", resp.StatusCode, resp.body)
	}
	if resp := e.req("POST", "/ingest/nope", "", body); resp.StatusCode != 404 {
		t.Errorf("unknown source: %d", resp.StatusCode)
	}
	if resp := e.req("POST", "/ingest/gh", "", strings.Repeat("x", server.MaxIngestBodyBytes+1)); resp.StatusCode != 413 {
		t.Errorf("oversized webhook: %d", resp.StatusCode)
	}
	// Only /ingest/ is public.
	if resp := e.req("POST", "/events", "", `{"type":"a"}`); resp.StatusCode != 401 {
		t.Errorf("/events without a token: %d", resp.StatusCode)
	}
}

// eachStore runs test on a fresh SQLite store and on one in a new PostgreSQL schema
// (skipped when PostgreSQL is not running, failed under JUNCTION_REQUIRE_SERVICES=1).
func eachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var (
				st  store.Store
				err error
			)
			if backend == "sqlite" {
				st, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "j.db"))
			} else {
				st, err = postgres.Open(context.Background(), servicetest.PostgresDSN(t))
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if _, err := st.MigrateUp(context.Background()); err != nil {
				t.Fatal(err)
			}
			test(t, st)
		})
	}
}

// hookServer is the API with a delivering webhook service on a given store, an admin
// and a user token, and one log for the server and the service.
type hookServer struct {
	t           *testing.T
	ts          *httptest.Server
	svc         *webhook.Service
	logs        *testkit.SyncBuffer
	admin, user string
}

func newHookServer(t *testing.T, st store.Store, s webhook.Settings) *hookServer {
	t.Helper()
	return newHookServerResolving(t, st, s, nil)
}

// newHookServerResolving is newHookServer whose webhook service looks endpoint hosts
// up with r.
func newHookServerResolving(t *testing.T, st store.Store, s webhook.Settings, r netguard.Resolver) *hookServer {
	t.Helper()
	h := &hookServer{t: t, logs: &testkit.SyncBuffer{}}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := webhook.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if h.svc, err = webhook.New(st, s, webhook.Options{Logger: logger, Metrics: m, Resolver: r}); err != nil {
		t.Fatal(err)
	}
	opts := serverOn(st, logger, nil)
	opts.Webhooks = h.svc
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if h.admin, _, err = auth.Issue(context.Background(), st, store.RoleAdmin, "admin", now); err != nil {
		t.Fatal(err)
	}
	if h.user, _, err = auth.Issue(context.Background(), st, store.RoleUser, "user", now); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(h.ts.Close)
	return h
}

func (h *hookServer) req(method, path, token, body string) response {
	h.t.Helper()
	r, err := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.ts.Client().Do(r)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{resp, b}
}

// expect sends a request and checks the status; it returns the JSON object answered.
func (h *hookServer) expect(status int, method, path, token, body string) map[string]any {
	h.t.Helper()
	resp := h.req(method, path, token, body)
	if resp.StatusCode != status {
		h.t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, status, resp.body)
	}
	return resp.json(h.t)
}

// failingReceiver answers every delivery with 500.
func failingReceiver(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestWebhookCircuitResetAndURLChange: an admin can close an endpoint's open circuit
// (a user cannot), and a PUT that changes the URL closes it too; other changes do not.
func TestWebhookCircuitResetAndURLChange(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := webhook.SettingsFrom(nil)
		s.AllowedNetworks, s.BreakerThreshold, s.BreakerResetAfter = []string{"127.0.0.0/8"}, 1, time.Hour
		h := newHookServer(t, st, s)
		bad := failingReceiver(t)
		ep := h.expect(201, "POST", "/webhooks", h.user, fmt.Sprintf(`{"name":"n","url":%q,"events":["*"]}`, bad.URL))
		id := ep["id"].(string)
		if ep["circuit_state"] != "closed" {
			t.Errorf("new endpoint: circuit_state %v", ep["circuit_state"])
		}
		open := func() {
			t.Helper()
			h.expect(200, "POST", "/webhooks/"+id+"/test", h.user, "")
			got := h.expect(200, "GET", "/webhooks/"+id, h.user, "")
			if got["circuit_state"] != "open" || got["is_healthy"] != false || got["circuit_open_until"] == nil {
				t.Fatalf("after a failure with threshold 1: %v", got)
			}
		}
		closed := func(what string, got map[string]any) {
			t.Helper()
			if got["circuit_state"] != "closed" || got["is_healthy"] != true || got["consecutive_failures"] != float64(0) || got["circuit_open_until"] != nil {
				t.Errorf("%s: %v", what, got)
			}
		}

		open()
		problem(t, h.req("POST", "/webhooks/"+id+"/circuit/reset", h.user, ""), 403, server.KindForbidden, "/webhooks/"+id+"/circuit/reset")
		closed("reset by an admin", h.expect(200, "POST", "/webhooks/"+id+"/circuit/reset", h.admin, ""))
		closed("read back after the reset", h.expect(200, "GET", "/webhooks/"+id, h.user, ""))
		problem(t, h.req("POST", "/webhooks/nope/circuit/reset", h.admin, ""), 404, server.KindNotFound, "/webhooks/nope/circuit/reset")

		open()
		for _, body := range []string{`{"name":"renamed"}`, fmt.Sprintf(`{"url":%q}`, bad.URL)} {
			if got := h.expect(200, "PUT", "/webhooks/"+id, h.user, body); got["circuit_state"] != "open" {
				t.Errorf("PUT %s closed the circuit: %v", body, got)
			}
		}
		closed("PUT with another URL", h.expect(200, "PUT", "/webhooks/"+id, h.user, fmt.Sprintf(`{"url":%q}`, bad.URL+"/v2")))
	})
}

// TestWebhookSecretsShownOnlyWhereMade: any user token may list endpoints; the signing
// secret is in the answers that make it (create, rotate) and in admins' reads only.
func TestWebhookSecretsShownOnlyWhereMade(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		h := newHookServer(t, st, webhook.SettingsFrom(nil))
		created := h.expect(201, "POST", "/webhooks", h.user, `{"name":"n","url":"https://example.com/h","events":["*"]}`)
		id, secret := created["id"].(string), created["secret"]
		if s, _ := secret.(string); !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("create answered secret %v", secret)
		}
		userReads := map[string]map[string]any{
			"GET /webhooks/{id}": h.expect(200, "GET", "/webhooks/"+id, h.user, ""),
			"GET /webhooks":      h.expect(200, "GET", "/webhooks", h.user, "")["data"].([]any)[0].(map[string]any),
			"PUT /webhooks/{id}": h.expect(200, "PUT", "/webhooks/"+id, h.user, `{"name":"m"}`),
		}
		for what, got := range userReads {
			if _, ok := got["secret"]; ok || got["id"] != id {
				t.Errorf("%s with a user token shows the secret: %v", what, got)
			}
		}
		if got := h.expect(200, "GET", "/webhooks/"+id, h.admin, ""); got["secret"] != secret {
			t.Errorf("GET /webhooks/{id} with an admin token: secret %v, want %v", got["secret"], secret)
		}
		if got := h.expect(200, "GET", "/webhooks", h.admin, "")["data"].([]any)[0].(map[string]any); got["secret"] != secret {
			t.Errorf("GET /webhooks with an admin token: secret %v, want %v", got["secret"], secret)
		}
		rotated := h.expect(200, "POST", "/webhooks/"+id+"/rotate-secret", h.user, "")
		if s, _ := rotated["secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
			t.Errorf("rotate answered secret %v", rotated["secret"])
		}
	})
}

// TestWebhookAnswersKeepURLSecretsOut: a credential in an endpoint's URL query does not
// come back in the delivery errors the API shows, nor in the server's logs.
func TestWebhookAnswersKeepURLSecretsOut(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		s := webhook.SettingsFrom(nil)
		s.AllowedNetworks, s.Retry, s.MaxAttempts = []string{"127.0.0.0/8"}, retry.Policy{}, 1
		h := newHookServer(t, st, s)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		const secret = "api-key-SECRET-77"
		id := h.expect(201, "POST", "/webhooks", h.user, fmt.Sprintf(`{"name":"n","url":"http://%s/in?key=%s","events":["*"]}`, addr, secret))["id"].(string)
		answers := []response{h.req("POST", "/webhooks/"+id+"/test", h.user, "")}
		h.expect(202, "POST", "/events", h.user, `{"type":"a.b","data":{}}`)
		deadline := time.Now().Add(15 * time.Second)
		for {
			resp := h.req("GET", "/dead-letters?endpoint_id="+id, h.user, "")
			if strings.Contains(string(resp.body), `"total":2`) {
				answers = append(answers, resp)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the deliveries did not fail: %s", resp.body)
			}
			time.Sleep(10 * time.Millisecond)
		}
		answers = append(answers, h.req("GET", "/webhooks/"+id+"/deliveries", h.user, ""),
			h.req("GET", "/webhooks/"+id, h.user, ""), h.req("GET", "/webhooks", h.user, ""))
		for _, a := range answers {
			if strings.Contains(string(a.body), secret) {
				t.Errorf("%s %s answered a secret: %s", a.Request.Method, a.Request.URL.Path, a.body)
			}
		}
		if !strings.Contains(string(answers[0].body), "refused") {
			t.Errorf("test answer does not say what failed: %s", answers[0].body)
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("logs hold a secret: %s", h.logs.String())
		}
		// The URL as configured is the admins' to see; a user token sees it redacted and
		// cannot store the redacted form back.
		if got := h.expect(200, "GET", "/webhooks/"+id, h.admin, "")["url"]; got != fmt.Sprintf("http://%s/in?key=%s", addr, secret) {
			t.Errorf("admin reads url %v", got)
		}
		redacted := h.expect(200, "GET", "/webhooks/"+id, h.user, "")["url"].(string)
		if want := fmt.Sprintf("http://%s/in?key=[REDACTED]", addr); redacted != want {
			t.Errorf("user reads url %s, want %s", redacted, want)
		}
		p := problem(t, h.req("PUT", "/webhooks/"+id, h.user, fmt.Sprintf(`{"url":%q}`, redacted)), 400, server.KindInvalidRequest, "/webhooks/"+id)
		if fields := fieldErrors(t, p); len(fields) != 1 || fields[0] != "url" {
			t.Errorf("PUT of the redacted URL: fields %v", fields)
		}
	})
}

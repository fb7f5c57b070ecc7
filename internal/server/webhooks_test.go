package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/inbound"
	"github.com/junctionhq/junction/internal/server"
	"github.com/junctionhq/junction/internal/webhook"
)

// withWebhooks gives the test server a real webhook service on its store, with one
// inbound source "gh" (GitHub signatures, secret "s3cret").
func withWebhooks(t *testing.T) func(*server.Options) {
	return func(o *server.Options) {
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
	resp = e.req("POST", "/ingest/gh", "", body, "X-Hub-Signature-256", sig, "X-GitHub-Delivery", "d1", "X-GitHub-Event", "issues")
	if resp.StatusCode != 202 || !strings.Contains(string(resp.body), `"duplicate":true`) {
		t.Errorf("redelivery: %d %s", resp.StatusCode, resp.body)
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

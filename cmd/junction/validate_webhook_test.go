package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateOneWebhookIntegration: `junction validate` refuses a second `type:
// webhook` integration, also across files, at its position, naming the first.
func TestValidateOneWebhookIntegration(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.cai"), filepath.Join(dir, "b.cai")
	writeFile(t, a, "integration Hooks {\n  type: webhook\n  circuit_breaker: { threshold: 5 failures in 1m }\n}\n")
	writeFile(t, b, "// more delivery settings\nintegration MoreHooks { type: webhook workers: 4 }\n")
	out, _, code := run(t, dir, nil, "validate", a, b)
	want := b + ":2:1: integration MoreHooks: only one integration may be type webhook (it holds the delivery settings of all endpoints); Hooks at " + a + ":1:1 already is"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("validate with two webhook integrations: exit %d\n%s\nwant a line %s", code, out, want)
	}
}

// TestValidateDeclaredWebhooks: `junction validate` checks webhook blocks as serve does:
// a bad event type is an error at its position, an unset secret or header variable a
// warning that serve starts the webhook misconfigured.
func TestValidateDeclaredWebhooks(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, `webhook audit {
    event "user.created"
    url "https://audit.example.com/events"
    headers { "X-API-Key": "$AUDIT_API_KEY" }
    secret env(AUDIT_SECRET)
}
webhook broken { event "not a type"  url "https://b.example.com" }
`)
	out, _, code := run(t, dir, nil, "validate", cfg)
	for _, want := range []string{
		cfg + `:7:1: webhook broken: "not a type" is not an event type`,
		cfg + ":4:28: warning: webhook audit header X-API-Key: AUDIT_API_KEY is not set (serve starts it as misconfigured)",
		cfg + ":5:12: warning: webhook audit secret: AUDIT_SECRET is not set (serve starts it as misconfigured)",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("validate: exit %d\n%s\nwant a line %s", code, out, want)
		}
	}
}

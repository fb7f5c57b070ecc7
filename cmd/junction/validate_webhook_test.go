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

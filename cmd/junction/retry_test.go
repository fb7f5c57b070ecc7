package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateOneRetryGrammar: `junction validate` takes the one retry grammar in every
// place a retry is written — an integration, the webhook delivery settings, a flow's
// on_error, the colon-less webhook — and reports a bad retry in each at its file:line:col.
func TestValidateOneRetryGrammar(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.cai")
	writeFile(t, good, `integration Api {
    base_url: "https://api.example.com"
    retry: 3 times with exponential_backoff(1s, max 30s)
}
integration WebhookDeliveryService {
    type: webhook
    retry: 3 times with exponential_backoff(1m, max 2h)
}
connector tick { type: schedule  every: 1m }
connector out { type: log }
flow f {
    source: tick
    sink log { connector: out }
    on_error: retry 3 times with constant_backoff(250ms) then dead_letter("failed")
}
`)
	out, _, code := run(t, dir, nil, "validate", good)
	// The delivery settings block is not an integration: it is not counted as one.
	if code != 0 || !strings.Contains(out, good+": ok: 1 integration, 0 operations,") || !strings.Contains(out, "1 flow, 0 blocks not run; webhook delivery settings from WebhookDeliveryService\n") {
		t.Fatalf("validate the one grammar: exit %d\n%s", code, out)
	}

	bad := filepath.Join(dir, "bad.cai")
	writeFile(t, bad, `integration Api { retry: 3 tries }
integration Hooks {
    type: webhook
    retry: 3 times with fibonacci_backoff
}
connector tick { type: schedule  every: 1m }
connector out { type: log }
flow f { source: tick  sink log { connector: out }  on_error: retry 3 times with constant_backoff(0s) then dead_letter("x") }
webhook w { event "a.b"  url "https://hooks.example.com"  retry 5 initial_interval "1s" backoff 20 }
`)
	out, _, code = run(t, dir, nil, "validate", bad)
	for _, want := range []string{
		bad + ":1:28: retry: expected times or with exponential_backoff, constant_backoff or linear_backoff after 3, found tries",
		bad + ":4:25: retry: expected exponential_backoff, constant_backoff or linear_backoff after with, found fibonacci_backoff",
		bad + ":8:99: on_error: constant_backoff: expected a duration greater than zero, found 0s",
		bad + ":9:97: backoff: expected exponential, constant, linear, or a growth factor from 1 to 10 (exponential), found 20",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("validate bad retries: exit %d, want the line\n%s\ngot:\n%s", code, want, out)
		}
	}
}

// TestWebhookBlockIsNotListedAsIntegration: the type: webhook block is the delivery
// settings, not an integration: /integrations/status lists only what can be called
// (seed 003's status example lists its rest integrations only).
func TestWebhookBlockIsNotListedAsIntegration(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.cai")
	writeFile(t, cfg, hookConfig+"\nintegration Api { base_url: \"http://127.0.0.1:9\" }\n")
	token := adminToken(t, dir, nil)
	s := startServer(t, dir, nil, "-c", cfg)
	_, body := s.get(t, "/integrations/status", token)
	var got struct {
		Integrations []struct{ Name, Type string }
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Integrations) != 1 || got.Integrations[0].Name != "Api" {
		t.Errorf("integrations in status = %+v, want only Api (not the webhook delivery settings)", got.Integrations)
	}
}

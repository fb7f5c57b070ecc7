package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// retryPlaces writes one retry text in every place a retry is written: an integration's
// retry, a flow's on_error (phrase, and the block's retry), and the type: webhook block
// (the delivery settings).
func retryPlaces(text string) string {
	return fmt.Sprintf(`
integration Api { base_url: "https://api.example.com"  retry: %[1]s }
integration Hooks { type: webhook  retry: %[1]s }
connector q { type: memory }
flow phrase { source: q  sink out { connector: q }  on_error: retry %[1]s then dead_letter("dl") }
flow block { source: q  sink out { connector: q }  on_error: { retry: %[1]q, dead_letter: "dl" } }
`, text)
}

// TestOneRetryGrammar: the same retry text means the same retry in an integration, in a
// flow's on_error (written as a phrase or as a block) and in the webhook delivery
// settings — one grammar, one decoder, one model.
func TestOneRetryGrammar(t *testing.T) {
	for _, c := range []struct {
		text string
		want Retry
	}{
		{"3 times", Retry{Attempts: 3, Backoff: BackoffExponential}},
		{"1 time with exponential_backoff", Retry{Attempts: 1, Backoff: BackoffExponential}},
		{"5 times with exponential_backoff(1s, max 30s)", Retry{Attempts: 5, Backoff: BackoffExponential, Initial: time.Second, Max: 30 * time.Second}},
		{"4 times with exponential_backoff(200ms, max 10s, multiplier 3)", Retry{Attempts: 4, Backoff: BackoffExponential, Initial: 200 * time.Millisecond, Max: 10 * time.Second, Multiplier: 3}},
		{"2 times with exponential_backoff(multiplier 1.5)", Retry{Attempts: 2, Backoff: BackoffExponential, Multiplier: 1.5}},
		{"2 times with constant_backoff", Retry{Attempts: 2, Backoff: BackoffConstant}},
		{"3 times with constant_backoff(250ms)", Retry{Attempts: 3, Backoff: BackoffConstant, Initial: 250 * time.Millisecond}},
		{"0 times", Retry{Backoff: BackoffExponential}},
	} {
		t.Run(c.text, func(t *testing.T) {
			cfg := decodeOK(t, retryPlaces(c.text))
			got := map[string]*Retry{
				"integration":      cfg.Integration("Api").Retry,
				"webhook delivery": cfg.WebhookDelivery.Retry,
				"on_error phrase":  cfg.Flow("phrase").OnError.Retry,
				"on_error block":   cfg.Flow("block").OnError.Retry,
			}
			for place, r := range got {
				if diff := cmp.Diff(&c.want, r, ignorePos); diff != "" {
					t.Errorf("%s (-want +got):\n%s", place, diff)
				}
			}
		})
	}
}

// TestRetryBlockAndBackoffWord: the block form, YAML, and the colon-less webhook's words
// write the same retries as the phrase; `backoff` names the back-off everywhere, and a
// number written as the back-off is an exponential one growing by that factor.
func TestRetryBlockAndBackoffWord(t *testing.T) {
	want := &Retry{Attempts: 5, Backoff: BackoffExponential, Initial: time.Second, Multiplier: 2}
	cfg := decodeOK(t, `
integration Phrase { retry: 5 times with exponential_backoff(1s, multiplier 2) }
integration Block { retry: { attempts: 5, backoff: exponential, initial: 1s, multiplier: 2 } }
integration Factor { retry: { attempts: 5, backoff: 2.0, initial: 1s } }
integration Bare { retry { attempts 5 backoff exponential_backoff initial "1s" multiplier 2 } }
connector q { type: memory }
flow f { source: q  sink out { connector: q }  on_error: { retry: 5, initial: 1s, multiplier: 2 } }
webhook w {
    event "order.completed"
    url "https://hooks.example.com/w"
    retry 5 initial_interval "1s" backoff 2.0
}
`)
	for _, name := range []string{"Phrase", "Block", "Factor", "Bare"} {
		if diff := cmp.Diff(want, cfg.Integration(name).Retry, ignorePos); diff != "" {
			t.Errorf("integration %s (-want +got):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(want, cfg.Flow("f").OnError.Retry, ignorePos); diff != "" {
		t.Errorf("on_error block with settings beside retry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, cfg.Webhooks[0].Retry, ignorePos); diff != "" {
		t.Errorf("colon-less webhook (-want +got):\n%s", diff)
	}

	yml, diags := Decode("r.yaml", []byte(`
integrations:
  Api:
    retry: "5 times with exponential_backoff(1s, multiplier 2)"
  Hooks:
    type: webhook
    retry: { attempts: 5, backoff: 2, initial: 1s }
`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if diff := cmp.Diff(want, yml.Integration("Api").Retry, ignorePos); diff != "" {
		t.Errorf("YAML phrase (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, yml.WebhookDelivery.Retry, ignorePos); diff != "" {
		t.Errorf("YAML block (-want +got):\n%s", diff)
	}
}

// TestRetryDelaysBesideRetry: retry_delays is an exact schedule beside retry, in an
// integration, the webhook block and a flow's on_error block alike.
func TestRetryDelaysBesideRetry(t *testing.T) {
	cfg := decodeOK(t, `
integration Api { retry: 3 times  retry_delays: [1s, 5s, 30s] }
integration Hooks { type: webhook  retry_delays: [1s, 5s, 30s] }
connector q { type: memory }
flow f { source: q  sink out { connector: q }  on_error: { retry_delays: [1s, 5s, 30s], dead_letter: "dl" } }
`)
	want := &Retry{Attempts: 3, Backoff: BackoffExponential, Delays: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}}
	for place, r := range map[string]*Retry{
		"integration": cfg.Integration("Api").Retry, "webhook block": cfg.WebhookDelivery.Retry, "on_error": cfg.Flow("f").OnError.Retry,
	} {
		if diff := cmp.Diff(want, r, ignorePos); diff != "" {
			t.Errorf("%s (-want +got):\n%s", place, diff)
		}
	}
}

// TestOnErrorParts: each part of on_error is optional; without retry the message goes to
// the queue at once (Retry nil), and without on_error the flow's defaults apply (OnError
// nil).
func TestOnErrorParts(t *testing.T) {
	cfg := decodeOK(t, `
connector q { type: memory }
flow none { source: q  sink out { connector: q } }
flow queue { source: q  sink out { connector: q }  on_error: dead_letter("dl") }
flow retries { source: q  sink out { connector: q }  on_error: retry 2 times }
flow both { source: q  sink out { connector: q }  on_error: retry 2 times dead_letter("dl") }
`)
	if oe := cfg.Flow("none").OnError; oe != nil {
		t.Errorf("no on_error: %+v", oe)
	}
	if oe := cfg.Flow("queue").OnError; oe.Retry != nil || oe.DeadLetter != "dl" {
		t.Errorf("dead_letter alone: %+v", oe)
	}
	if oe := cfg.Flow("retries").OnError; oe.Retry.Attempts != 2 || oe.DeadLetter != "" {
		t.Errorf("retry alone: %+v", oe)
	}
	if oe := cfg.Flow("both").OnError; oe.Retry.Attempts != 2 || oe.DeadLetter != "dl" {
		t.Errorf("retry and dead_letter without then: %+v", oe)
	}
}

// TestWebhookBlockIsDeliverySettings: a type: webhook block is the delivery settings
// (Config.WebhookDelivery), not an integration; it is listed among the integrations, and
// counted as one, only when it declares operations, which can be called.
func TestWebhookBlockIsDeliverySettings(t *testing.T) {
	cfg := decodeOK(t, `
integration Api { base_url: "https://api.example.com" }
integration WebhookDeliveryService {
    type: webhook
    timeout: 10s
    retry: 5 times with exponential_backoff
    retry_delays: [1m, 5m, 30m, 2h, 8h]
    signature: { algorithm: "sha256", header: "X-Webhook-Signature" }
    dead_letter: { enabled: true, retention: 3d }
    workers: 8
}`)
	if s := cfg.Summary(); s.Integrations != 1 || cfg.Integration("WebhookDeliveryService") != nil {
		t.Errorf("summary %s, integrations %v: the settings block must not be an integration", s, cfg.Integrations)
	}
	wd := cfg.WebhookDelivery
	if wd == nil || wd.Name != "WebhookDeliveryService" || wd.Timeout != 10*time.Second || wd.Retry.Attempts != 5 || len(wd.Retry.Delays) != 5 ||
		wd.Signature.Header != "X-Webhook-Signature" || wd.DeadLetter.Retention != 72*time.Hour || wd.Workers != 8 {
		t.Errorf("delivery settings = %+v", wd)
	}

	withOps := decodeOK(t, `integration Hooks {
    type: webhook
    operation deliver { method: POST  path: "{endpoint.url}"  success_codes: [200, 202] }
}`)
	if in := withOps.Integration("Hooks"); in == nil || in.Type != TypeWebhook || withOps.Summary().Integrations != 1 {
		t.Errorf("a webhook block with operations must stay callable: %+v", withOps.Integrations)
	}
	if codes := withOps.WebhookDelivery.SuccessCodes; len(codes) != 2 || codes[1] != 202 {
		t.Errorf("success codes of deliveries = %v, want the deliver operation's", codes)
	}

	// Its name is an integration's name all the same.
	_, diags := Decode("t.cai", []byte("integration Hooks { type: webhook }\nintegration Hooks { base_url: \"https://x.example.com\" }\n"))
	if err := diags.Err(); err == nil || !strings.Contains(err.Error(), "t.cai:2:1: integration Hooks is declared twice (first at t.cai:1:1)") {
		t.Errorf("a rest integration named like the webhook block: %v", err)
	}
	// dead_letter outside the webhook block does nothing, and says so.
	_, diags = Decode("t.cai", []byte("integration Api {\n  dead_letter: { enabled: true }\n}\n"))
	if w := diags.Filter(SeverityWarning); len(w) != 1 || w[0].Pos.Line != 2 || !strings.Contains(w[0].Message, "belongs in the type: webhook block") {
		t.Errorf("warnings = %v", w)
	}
}

// TestRetryRulesReportedOnce: the rules between a retry's settings are checked once per
// retry, wherever it is written.
func TestRetryRulesReportedOnce(t *testing.T) {
	_, diags := Decode("t.cai", []byte(`integration A { retry: { attempts: 2, backoff: constant, multiplier: 3 } }
webhook w { event "a.b"  url "https://hooks.example.com"  retry 2 backoff constant }
`))
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	want := []string{
		"t.cai:1:17: warning: retry: a multiplier has no effect on a constant back-off",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}

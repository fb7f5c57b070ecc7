package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Constructs of the public CodeAI examples: each new piece of grammar, how what is not
// run is reported, and the references that must name something declared.

func diagsOf(t *testing.T, src string) []string {
	t.Helper()
	_, diags := Decode("t.cai", []byte(src))
	return diagStrings(diags)
}

func TestDottedEventNames(t *testing.T) {
	cfg := decodeOK(t, `event user.created { schema { user_id: string } }
on "user.created" do emit "user_created"
`)
	if len(cfg.Events) != 1 || cfg.Events[0].Name != "user.created" {
		t.Fatalf("events = %+v", cfg.Events)
	}
	// Other declarations keep plain names.
	got := diagsOf(t, `integration a.b { base_url: "https://x.example.com" }`)
	if len(got) != 1 || !strings.HasPrefix(got[0], "t.cai:1:13: integration name: expected a name") {
		t.Errorf("dotted integration name: %q", got)
	}
}

func TestLinearBackoffAndRetryBlockNames(t *testing.T) {
	for _, c := range []struct {
		text string
		want Retry
	}{
		{"3 times with linear_backoff", Retry{Attempts: 3, Backoff: BackoffLinear}},
		{"3 times with linear_backoff(2s, max 5s)", Retry{Attempts: 3, Backoff: BackoffLinear, Initial: 2 * time.Second, Max: 5 * time.Second}},
	} {
		t.Run(c.text, func(t *testing.T) {
			cfg := decodeOK(t, retryPlaces(c.text))
			for place, r := range map[string]*Retry{
				"integration": cfg.Integration("Api").Retry, "webhook delivery": cfg.WebhookDelivery.Retry,
				"on_error phrase": cfg.Flow("phrase").OnError.Retry, "on_error block": cfg.Flow("block").OnError.Retry,
			} {
				if diff := cmp.Diff(&c.want, r, ignorePos); diff != "" {
					t.Errorf("%s (-want +got):\n%s", place, diff)
				}
			}
		})
	}
	// The block form, with CodeAI's names for attempts, initial and multiplier.
	for text, want := range map[string]*Retry{
		"{ attempts: 2, backoff: linear, initial: 1s }":                        {Attempts: 2, Backoff: BackoffLinear, Initial: time.Second},
		`{ max_attempts: 3, initial_interval: "1s", backoff_multiplier: 2.0 }`: {Attempts: 3, Backoff: BackoffExponential, Initial: time.Second, Multiplier: 2},
	} {
		cfg := decodeOK(t, `integration Api { base_url: "https://api.example.com"  retry: `+text+` }
connector q { type: memory }
flow f { source: q  sink out { connector: q }  on_error { retry: `+text+` } }`)
		for place, r := range map[string]*Retry{"integration": cfg.Integration("Api").Retry, "on_error": cfg.Flow("f").OnError.Retry} {
			if diff := cmp.Diff(want, r, ignorePos); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", text, place, diff)
			}
		}
	}
	// The colon-less spelling of 12-codegen-api_app.cai, in a webhook.
	cfg := decodeOK(t, `webhook w {
    event "a.b"
    url "https://hooks.example.com"
    retry {
        max_attempts 5
        initial_interval "2s"
        backoff_multiplier 1.5
    }
}`)
	want := &Retry{Attempts: 5, Backoff: BackoffExponential, Initial: 2 * time.Second, Multiplier: 1.5}
	if diff := cmp.Diff(want, cfg.Webhooks[0].Retry, ignorePos); diff != "" {
		t.Errorf("webhook retry block (-want +got):\n%s", diff)
	}
}

func TestAnnotations(t *testing.T) {
	src := `@deprecated
@auth("admin")
endpoint DELETE "/users/:id" {
    response Empty status 204
}

@internal
integration Api {
    base_url: "https://api.example.com"
    @cached(5)
    timeout: 5s
}
`
	cfg, diags := Decode("t.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("errors: %v", diags.Err())
	}
	if len(cfg.Ignored) != 1 || !slices.Equal(cfg.Ignored[0].Annotations, []string{"@deprecated", `@auth("admin")`}) {
		t.Errorf("ignored = %+v", cfg.Ignored)
	}
	want := []string{
		`t.cai:3:1: warning: 1 endpoint block (DELETE "/users/:id") is not run: generated API endpoints belong to CodeAI's code generation; Junction's HTTP API is built in; their annotations (@deprecated, @auth("admin")) go with them`,
		"t.cai:7:1: warning: annotation @internal on integration Api has no effect: Junction reads no annotations (they mark CodeAI's generated endpoints)",
		"t.cai:10:5: warning: annotation @cached(5) on timeout in integration Api has no effect: Junction reads no annotations (they mark CodeAI's generated endpoints)",
	}
	if diff := cmp.Diff(want, diagStrings(diags)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	// An annotation must mark something, on the next line.
	got := diagsOf(t, "integration A { base_url: \"https://a.example.com\" }\n@deprecated\n")
	if len(got) != 1 || got[0] != "t.cai:2:1: annotation @deprecated: expected the entry it marks on the next line, found end of file" {
		t.Errorf("dangling annotation: %q", got)
	}
	got = diagsOf(t, "@ deprecated\nintegration A { base_url: \"https://a.example.com\" }\n")
	if len(got) != 1 || !strings.HasPrefix(got[0], "t.cai:1:1: expected an annotation name right after '@'") {
		t.Errorf("bad annotation: %q", got)
	}
}

func TestTopLevelAuthProviders(t *testing.T) {
	cfg, diags := Decode("t.cai", []byte(`auth jwt_provider {
    method jwt
    issuer "https://auth.example.com"
}
auth jwt_auth jwt {
    jwks { url: "https://example.com/jwks.json" }
}
`))
	if diags.HasErrors() || len(cfg.Ignored) != 2 || cfg.Ignored[0].Kind != "auth" {
		t.Fatalf("ignored = %+v, diags = %v", cfg.Ignored, diags)
	}
	want := []string{"t.cai:1:1: warning: 2 auth provider blocks (jwt_provider, jwt_auth jwt) are not run: auth providers of generated APIs belong to CodeAI's code generation (an integration's auth goes inside integration NAME { … })"}
	if diff := cmp.Diff(want, diagStrings(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// An integration's auth written at top level stays an error.
	for _, src := range []string{`auth: bearer(env(X))`, `auth bearer { token: env(X) }`} {
		got := diagsOf(t, src)
		if len(got) != 1 || got[0] != "t.cai:1:1: auth is a setting of an integration: put it inside integration NAME { … }" {
			t.Errorf("%s: %q", src, got)
		}
	}
}

func TestCallArgumentsWithColons(t *testing.T) {
	// A job step of 03-ecommerce: `key: value` and `c ? a : b` inside a call's parentheses.
	cfg := decodeOK(t, `job refresh {
    step {
        action: update(status: "done", total = a == b ? "x" : "y")
    }
}`)
	if len(cfg.Ignored) != 1 || cfg.Ignored[0].Kind != "job steps" {
		t.Errorf("ignored = %+v", cfg.Ignored)
	}
	// In Junction's own calls a colon is still refused, and inside [ ] it is an error.
	if got := diagsOf(t, `integration A { base_url: "https://a.example.com"  retry: 2 times with exponential_backoff(initial: 1s) }`); len(got) != 1 || !strings.Contains(got[0], "exponential_backoff: expected the first delay") {
		t.Errorf("colon in exponential_backoff: %q", got)
	}
	if got := diagsOf(t, `event E { publish_to: [a: 1] }`); len(got) == 0 || !strings.Contains(got[0], "unexpected ':' inside [") {
		t.Errorf("colon in a list: %q", got)
	}
}

func TestEntityTrigger(t *testing.T) {
	cfg, diags := Decode("t.cai", []byte(`event LowStockAlert {
    payload { sku: string }
    trigger: when Product.quantity < Product.low_stock_threshold
}`))
	if diags.HasErrors() || len(cfg.Events) != 1 || cfg.Events[0].Name != "LowStockAlert" {
		t.Fatalf("events = %+v, diags = %v", cfg.Events, diags)
	}
	want := []string{"t.cai:3:5: warning: 1 entity trigger (LowStockAlert) is not run: event triggers watch entities of a generated application: CodeAI's code generation, not Junction (the event itself is declared)"}
	if diff := cmp.Diff(want, diagStrings(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCodeGenerationBlocksAreWarnings(t *testing.T) {
	got := diagsOf(t, `database postgres { users { id uuid } }
role admin { permissions ["a"] }
role guest { permissions [] }
middleware cors { type cors }
function total { returns decimal }
`)
	want := []string{
		"t.cai:1:1: warning: 1 database block (postgres) is not run: databases and their models belong to CodeAI's code generation, not to Junction",
		"t.cai:2:1: warning: 2 role blocks (admin, guest) are not run: roles of generated APIs belong to CodeAI's code generation, not to Junction",
		"t.cai:4:1: warning: 1 middleware block (cors) is not run: middleware of generated APIs belongs to CodeAI's code generation, not to Junction",
		"t.cai:5:1: warning: 1 function block (total) is not run: functions of generated applications belong to CodeAI's code generation, not to Junction",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestNotRunYet: what Junction is to run but does not yet is reported once per kind, and
// the summary does not present it as running. Workflows, the jobs and handlers that
// start them, and their triggers run.
func TestNotRunYet(t *testing.T) {
	src := `event order.placed { payload { id: string } publish_to: [slack("#a"), slack("#b"), kafka("orders"), webhook("x")] }
workflow one { steps { tell { emit "order.placed"  data { id: "{{input.id}}" } } } }
workflow two { trigger event "order.placed"  trigger schedule "0 6 * * *"  steps { pause { sleep 1m } } }
job nightly { schedule "0 0 * * *"  workflow "one" }
webhook hook { event "order.placed"  url "https://hooks.example.com" }
on "order.placed" do workflow "one"
on "order_placed" do webhook "hook" async
`
	cfg, diags := Decode("t.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("errors: %v", diags.Err())
	}
	want := []string{
		`t.cai:1:58: warning: 2 publish_to slack(…) targets ("#a", "#b") are not run: ` + slackUnsent.reason,
		`t.cai:1:84: warning: 1 publish_to kafka(…) target ("orders") is declared but not run yet by this version`,
	}
	if diff := cmp.Diff(want, diagStrings(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The handler and job of workflow two's triggers are counted with it.
	s := cfg.Summary().String()
	if len(cfg.Handlers) != 3 || len(cfg.Jobs) != 2 || !strings.Contains(s, "1 webhook, 2 handlers") || !strings.HasSuffix(s, "1 job, 2 workflows, 0 blocks not run") {
		t.Errorf("summary = %s", s)
	}
	// Load reports once per kind across files, at the first one.
	if got := notRunMessage("entity", []notRunItem{{name: "A"}, {name: "B"}, {name: "C"}, {name: "D"}}); got != "4 entity blocks (A, B, C, …) are not run: data models belong to CodeAI's code generation, not to Junction" {
		t.Errorf("message = %s", got)
	}
}

func TestUnknownReferences(t *testing.T) {
	decls := `integration Pay { base_url: "https://pay.example.com"  operation charge { method: POST  path: "/c"  body: { id: string } }  operation ping { method: GET  path: "/p" } }
event user_created { payload { id: string } }
webhook hook { event "user.created"  url "https://hooks.example.com" }
workflow onboarding { steps { welcome { emit "user_created" } } }
`
	for _, c := range []struct{ line, want string }{
		{`on "user.created" do integration "Pay.charge"`, ""},
		{`on "user.created" do integration "Pax.charge"`, `t.cai:5:34: on "user.created" do integration: integration "Pax" is not declared; did you mean "Pay"?`},
		{`on "user.created" do integration "Pay.chrage"`, `t.cai:5:34: on "user.created" do integration: integration Pay has no operation "chrage"; did you mean "charge"?`},
		{`on "user.created" do integration "Pay"`, `t.cai:5:34: on "user.created" do integration: expected "Integration.operation", found "Pay"`},
		{`on "user.created" do integration "Pay.ping"`, `t.cai:5:34: on "user.created" do integration: Pay.ping takes no parameter "id", so every call would fail (it takes none)`},
		{`event E { payload { id: string, idd: string } publish_to: [integration("Pay.charge")] }`, `t.cai:5:60: event E publish_to integration(…): Pay.charge takes no parameter "idd", so every call would fail (it takes: id); did you mean "id"?`},
		{`on "user.created" do webhook "hook"`, ""},
		{`on "user.created" do webhook "hooks"`, `t.cai:5:30: on "user.created" do webhook: webhook "hooks" is not declared (webhook hooks { … }); did you mean "hook"?`},
		{`on "user.created" do workflow "onboarding"`, ""},
		{`on "user.created" do workflow "onboardin"`, `t.cai:5:31: on "user.created" do workflow: workflow "onboardin" is not declared (workflow onboardin { … }); did you mean "onboarding"?`},
		{`on "user.created" do emit "user_created"`, ""},
		{`on "user.created" do emit "user.deleted"`, `t.cai:5:27: on "user.created" do emit: event "user.deleted" is not declared`},
		{`on "user.craeted" do emit "user.created"`, `t.cai:5:4: on "user.craeted": event "user.craeted" is not declared; did you mean "user_created"?`},
		{`event E { publish_to: [integration("Pay.charge"), webhook("anything"), slack("#x")] }`, ""},
		{`event E { publish_to: [integration("Pay.refund")] }`, `t.cai:5:24: event E publish_to integration(…): integration Pay has no operation "refund"`},
		{`integration Slack { base_url: "https://slack.example.com" }
event F { publish_to: [slack("#x")] }`, `t.cai:6:24: event F publish_to slack(…): integration Slack has no operation "post_message"`},
		{`integration Slack { base_url: "https://slack.example.com"  operation post_message { method: POST  path: "/m"  body: { channel: string } } }
event F { publish_to: [slack("#x")] }`, `t.cai:6:24: event F publish_to slack(…): Slack.post_message takes no parameter "text", so every call would fail (it takes: channel)`},
		{`event E { publish_to: [slak("#x")] }`, `t.cai:5:24: event E publish_to: unknown target slak(…): expected webhook(…), integration(…), slack(…), kafka(…); did you mean "slack"?`},
	} {
		t.Run(c.line, func(t *testing.T) {
			var errs []string
			_, diags := Decode("t.cai", []byte(decls+c.line+"\n"))
			errs = diagStrings(diags.Filter(SeverityError))
			want := []string{}
			if c.want != "" {
				want = append(want, c.want)
			}
			if !slices.Equal(errs, want) && !(len(errs) == 0 && len(want) == 0) {
				t.Errorf("errors = %q\nwant %q", errs, want)
			}
		})
	}
	// Without any event declaration, any event type is accepted (as POST /events does).
	decodeOK(t, `on "anything.at.all" do emit "something.else"`)
}

// TestReferencesAcrossFiles: a reference may name what another file declares.
func TestReferencesAcrossFiles(t *testing.T) {
	a, _ := Decode("a.cai", []byte(`workflow w { steps { pause { sleep 1s } } }`))
	b, _ := Decode("b.cai", []byte(`on "x" do workflow "w"`))
	if _, diags := Merge(a, b); diags.HasErrors() {
		t.Errorf("merged: %v", diags.Err())
	}
}

package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignorePos compares models by meaning, not by where things were written.
var ignorePos = cmpopts.IgnoreTypes(Pos{})

func decodeOK(t *testing.T, src string) *Config {
	t.Helper()
	cfg, diags := Decode("test.cai", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%v\nsource:\n%s", diags.Err(), src)
	}
	return cfg
}

// TestNaturalWritingVariants checks A1: the ways a person naturally writes the same thing
// all decode to the same model.
func TestNaturalWritingVariants(t *testing.T) {
	canonical := `
integration Api {
    base_url: "https://api.example.com"
    timeout: 30s
    dead_letter: {
        enabled: true
        retention: 3d
    }
    operation get {
        method: GET
        path: "/items/{id}"
        query: {
            limit: integer, default(10)
            tag: string, required
        }
    }
}`
	variants := map[string]string{
		"one-line object with spaces": `
integration Api {
    base_url: "https://api.example.com"
    timeout: 30s
    dead_letter: { enabled: true  retention: 3d }
    operation get { method: GET  path: "/items/{id}"  query: { limit: integer, default(10)  tag: string, required } }
}`,
		"everything on one line": `integration Api { base_url: "https://api.example.com" timeout: 30s dead_letter: { enabled: true retention: 3d } operation get { method: GET path: "/items/{id}" query: { limit: integer, default(10) tag: string, required } } }`,
		"one-line object with commas and trailing comma": `
integration Api {
    base_url: "https://api.example.com", timeout: 30s,
    dead_letter: { enabled: true, retention: 3d, },
    operation get {
        method: GET, path: "/items/{id}",
        query: { limit: integer, default(10), tag: string, required, },
    }
}`,
		"comments everywhere": `
// leading comment
integration /* inline */ Api { // trailing
    base_url: "https://api.example.com" // url
    timeout: /* before value */ 30s
    dead_letter: {
        /* block
           comment */
        enabled: true // yes
        retention: 3d
    }
    operation get {
        method: GET
        path: "/items/{id}"
        query: {
            limit: integer, /* c */ default(10)
            tag: string, required // c
        }
    }
}
// end`,
		"colon-less dialect": `
integration Api {
    base_url "https://api.example.com"
    timeout "30s"
    dead_letter { enabled true  retention "3d" }
    operation get {
        method GET
        path "/items/{id}"
        query {
            limit: integer, default(10)
            tag: string, required
        }
    }
}`,
	}
	want := decodeOK(t, canonical)
	for name, src := range variants {
		t.Run(name, func(t *testing.T) {
			got := decodeOK(t, src)
			if diff := cmp.Diff(want, got, ignorePos); diff != "" {
				t.Errorf("model differs from the canonical form (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPhrases(t *testing.T) {
	cfg := decodeOK(t, `
integration A {
    retry: 3 times with exponential_backoff
    circuit_breaker: { threshold: 5 failures in 1m, reset_after: 30s, half_open_probes: 2 }
}
integration B {
    retry: 1 time
    circuit_breaker: { threshold: 5 consecutive failures  reset_after: 1h }
}
integration C {
    retry: 2 times with constant_backoff
    circuit_breaker { threshold 3 timeout "60s" max_concurrent 50 }
}
integration D {
    retry: { attempts: 4, backoff: exponential, initial: 200ms, max: 10s, multiplier: 3 }
}`)
	tests := []struct {
		name  string
		retry Retry
		cb    *CircuitBreaker
	}{
		{"A", Retry{Attempts: 3, Backoff: BackoffExponential}, &CircuitBreaker{Failures: 5, Window: time.Minute, ResetAfter: 30 * time.Second, HalfOpenProbes: 2}},
		{"B", Retry{Attempts: 1, Backoff: BackoffExponential}, &CircuitBreaker{Failures: 5, Consecutive: true, ResetAfter: time.Hour}},
		{"C", Retry{Attempts: 2, Backoff: BackoffConstant}, &CircuitBreaker{Failures: 3, Consecutive: true, ResetAfter: time.Minute, MaxConcurrent: 50}},
		{"D", Retry{Attempts: 4, Backoff: BackoffExponential, Initial: 200 * time.Millisecond, Max: 10 * time.Second, Multiplier: 3}, nil},
	}
	for _, tt := range tests {
		in := cfg.Integration(tt.name)
		if diff := cmp.Diff(&tt.retry, in.Retry, ignorePos); diff != "" {
			t.Errorf("%s retry (-want +got):\n%s", tt.name, diff)
		}
		if diff := cmp.Diff(tt.cb, in.CircuitBreaker, ignorePos); diff != "" {
			t.Errorf("%s circuit_breaker (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestAuthForms(t *testing.T) {
	cfg := decodeOK(t, `
integration Bearer { auth: bearer(env(TOKEN)) }
integration KeyQuery { auth: api_key(env(KEY), "appid") }
integration KeyHeader { auth: api_key(env(KEY), "X-API-Key") }
integration KeyForced { auth: api_key(env(KEY), "apikey", header) }
integration Basic { auth: basic(env(U), env(P)) }
integration BasicBlock { auth basic { username: "$U" password: "${P}" } }
integration OAuth { auth: oauth2 { token_url: "https://auth.example.com/token", client_id: env(ID), client_secret: env(SECRET), scopes: ["read", "write"] } }
integration Sig { auth: aws_signature_v4 { access_key: env(AK) secret_key: env(SK) region: "eu-west-1" service: "s3" } }
integration Hmac { auth: hmac { secret: file("/run/secrets/hmac") header: "X-Signature" } }
`)
	tests := []struct {
		name string
		want Auth
	}{
		{"Bearer", Auth{Kind: AuthBearer, Token: envValue("TOKEN")}},
		{"KeyQuery", Auth{Kind: AuthAPIKey, Key: envValue("KEY"), KeyName: "appid", KeyIn: KeyInQuery}},
		{"KeyHeader", Auth{Kind: AuthAPIKey, Key: envValue("KEY"), KeyName: "X-API-Key", KeyIn: KeyInHeader}},
		{"KeyForced", Auth{Kind: AuthAPIKey, Key: envValue("KEY"), KeyName: "apikey", KeyIn: KeyInHeader}},
		{"Basic", Auth{Kind: AuthBasic, Username: envValue("U"), Password: envValue("P")}},
		{"BasicBlock", Auth{Kind: AuthBasic, Username: envValue("U"), Password: envValue("P")}},
		{"OAuth", Auth{Kind: AuthOAuth2, TokenURL: LiteralValue("https://auth.example.com/token"), ClientID: envValue("ID"), ClientSecret: envValue("SECRET"), Scopes: []string{"read", "write"}}},
		{"Sig", Auth{Kind: AuthAWSSigV4, AccessKey: envValue("AK"), SecretKey: envValue("SK"), Region: LiteralValue("eu-west-1"), Service: "s3"}},
		{"Hmac", Auth{Kind: AuthHMAC, Secret: Value{Parts: []ValuePart{{File: "/run/secrets/hmac"}}}, Header: "X-Signature", Algorithm: "sha256"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(&tt.want, cfg.Integration(tt.name).Auth, ignorePos); diff != "" {
			t.Errorf("%s auth (-want +got):\n%s", tt.name, diff)
		}
	}
}

func envValue(name string) Value { return Value{Parts: []ValuePart{{Env: name}}} }

func TestFallbackAndTypes(t *testing.T) {
	cfg := decodeOK(t, `
integration A {
    fallback: default({ status: "unavailable", retry: true, codes: [1, 2.5], none: null })
    operation op {
        method: POST
        path: "/x"
        body: {
            kind: enum(small, "large")
            tags: list(string), default([])
            items: list({ id: uuid, n: int })
            meta: json, optional
        }
        returns: list({ id: uuid })
        success_codes: [200, 202]
        timeout: 2s
    }
}`)
	in := cfg.Integration("A")
	wantDefault := map[string]any{"status": "unavailable", "retry": true, "codes": []any{int64(1), 2.5}, "none": nil}
	if diff := cmp.Diff(wantDefault, in.Fallback.Default); diff != "" {
		t.Errorf("fallback default (-want +got):\n%s", diff)
	}
	op := in.Operation("op")
	wantBody := []*Field{
		{Name: "kind", Type: &Type{Kind: KindEnum, Enum: []string{"small", "large"}}},
		{Name: "tags", Type: &Type{Kind: KindList, Elem: &Type{Kind: KindScalar, Name: "string"}}, HasDefault: true, Default: []any{}},
		{Name: "items", Type: &Type{Kind: KindList, Elem: &Type{Kind: KindObject, Fields: []*Field{
			{Name: "id", Type: &Type{Kind: KindScalar, Name: "uuid"}},
			{Name: "n", Type: &Type{Kind: KindScalar, Name: "integer"}},
		}}}},
		{Name: "meta", Type: &Type{Kind: KindScalar, Name: "json"}, Optional: true},
	}
	if diff := cmp.Diff(wantBody, op.Body, ignorePos); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if op.Timeout != 2*time.Second || len(op.SuccessCodes) != 2 || op.Returns.Kind != KindList {
		t.Errorf("operation = %+v", op)
	}
}

func TestDurations(t *testing.T) {
	tests := map[string]time.Duration{
		"500ms": 500 * time.Millisecond, "30s": 30 * time.Second, "1m": time.Minute, "2h": 2 * time.Hour,
		"7d": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute, "1.5s": 1500 * time.Millisecond, "2w": 14 * 24 * time.Hour,
	}
	for text, want := range tests {
		cfg := decodeOK(t, "integration A { timeout: "+text+" }")
		if got := cfg.Integration("A").Timeout; got != want {
			t.Errorf("%s = %v, want %v", text, got, want)
		}
	}
}

func TestTripleStringIsDedented(t *testing.T) {
	cfg := decodeOK(t, "integration G {\n    type: graphql\n    base_url: \"https://g.example.com\"\n    operation q {\n        query: \"\"\"\n            query Q {\n              a\n            }\n        \"\"\"\n    }\n}")
	if got := cfg.Integration("G").Operation("q").GraphQL.Document; got != "query Q {\n  a\n}" {
		t.Errorf("document = %q", got)
	}
}

func TestTopLevelHandling(t *testing.T) {
	cfg, diags := Decode("t.cai", []byte(`
config { name: "x" }
widget p { anything goes = here }
`))
	if diags.HasErrors() {
		t.Fatalf("unexpected errors: %v", diags.Err())
	}
	// Both kept per block; each kind reported once, as not run.
	want := []string{
		"t.cai:2:1: warning: 1 config block is not run: settings of a generated application belong to CodeAI's code generation; Junction is configured by flags and environment",
		"t.cai:3:1: warning: 1 widget block (p) is not run: not a block Junction knows (expected integration, event, webhook, source, connector, flow, job, workflow, plugin, on)",
	}
	var got []string
	for _, d := range diags {
		got = append(got, d.String())
	}
	if len(cfg.Ignored) != 2 || !slices.Equal(got, want) {
		t.Errorf("ignored = %+v; diags = %q", cfg.Ignored, got)
	}
}

func TestEnvProblems(t *testing.T) {
	cfg := decodeOK(t, `
integration A {
    base_url: env(A_URL)
    auth: bearer(env(A_TOKEN))
    headers: { "X-Tenant": "$TENANT" }
}
integration B { base_url: "https://b.example.com" }
webhook w { event "e" url "https://h.example.com/$PATH_PART" }
`)
	env := map[string]string{"A_URL": "https://a.example.com", "A_TOKEN": "", "PATH_PART": "x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var got []string
	for _, p := range cfg.EnvProblems(lookup) {
		got = append(got, p.Owner+" / "+p.Setting+" / "+p.Err.Error())
	}
	want := []string{
		"integration A / header X-Tenant / TENANT is not set",
		"integration A / auth token / A_TOKEN is empty",
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("env problems (-want +got):\n%s", diff)
	}
	if len(cfg.Integration("B").EnvProblems(lookup)) != 0 {
		t.Errorf("integration without references reported problems")
	}
}

func TestValueInterpolation(t *testing.T) {
	env := map[string]string{"A": "1", "B_2": "two"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := map[string]string{
		"plain":          "plain",
		"$A":             "1",
		"x${B_2}y":       "xtwoy",
		"Bearer $A-$B_2": "Bearer 1-two",
		"cost $$5":       "cost $5",
		"50$":            "50$",
		"a $ b":          "a $ b",
		// ${NAME:-default}: the default when the variable is unset or empty.
		"${A:-x}":                        "1",
		"${UNSET:-https://h.example/v1}": "https://h.example/v1",
		"${EMPTY:-fallback}":             "fallback",
		"${UNSET:-}z":                    "z",
		"${UNSET:-a$$b}":                 "a$b",
	}
	env["EMPTY"] = ""
	for in, want := range tests {
		parts, err := interpolate(in)
		if err != nil {
			t.Fatalf("interpolate(%q): %v", in, err)
		}
		got, err := Value{Parts: parts}.Resolve(lookup)
		if err != nil || got != want {
			t.Errorf("%q resolved to %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"${", "${1X}", "${}", "${:-x}"} {
		if _, err := interpolate(bad); err == nil {
			t.Errorf("interpolate(%q) accepted", bad)
		}
	}
	// String never shows a resolved value.
	parts, _ := interpolate("Bearer $A")
	if s := (Value{Parts: parts}).String(); s != "Bearer ${A}" || strings.Contains(s, "1") {
		t.Errorf("String() = %q", s)
	}
	parts, _ = interpolate("${U:-http://x}")
	if s := (Value{Parts: parts}).String(); s != "${U:-http://x}" {
		t.Errorf("String() = %q", s)
	}
}

// TestSecretsRefuseDefaults: a default would put the secret in the file after all.
func TestSecretsRefuseDefaults(t *testing.T) {
	for _, src := range []string{
		`integration A { base_url: "https://a.example.com" auth: bearer("${TOKEN:-abc}") }`,
		`source s { verify: github secret: "${S:-abc}" }`,
		`webhook w { event "e" url "https://h.example.com" secret "${S:-abc}" }`,
	} {
		if _, diags := Decode("t.cai", []byte(src)); !diags.HasErrors() || !strings.Contains(diags.Err().Error(), "nor as a ${NAME:-default}") {
			t.Errorf("%s: err = %v", src, diags.Err())
		}
	}
	cfg := decodeOK(t, `integration A { base_url: "${A_URL:-https://a.example.com}" }`)
	if p := cfg.EnvProblems(func(string) (string, bool) { return "", false }); len(p) != 0 {
		t.Errorf("a default is not a problem: %v", p)
	}
}

func TestWebhookSettingsAndSources(t *testing.T) {
	cfg := decodeOK(t, `
integration Hooks {
    type: webhook
    retry_delays: [1s, 5s]
    allowed_networks: ["127.0.0.0/8", "::1/128"]
    secret_overlap: 12h
    workers: 8
    per_endpoint_concurrency: 2
}
source github { verify: github  secret: env(GH_SECRET)  event: "github.{header:X-GitHub-Event}" }
source partner { verify: hmac  secret: file("/run/secrets/p")  header: "X-Signature"  algorithm: sha512  id_header: "X-Request-Id" }
`)
	in := cfg.WebhookDelivery
	if in == nil || len(in.AllowedNetworks) != 2 || in.SecretOverlap != 12*time.Hour || in.Workers != 8 || in.PerEndpointConcurrency != 2 {
		t.Errorf("webhook settings = %+v", in)
	}
	want := []*Source{
		{Name: "github", Verify: "github", Secret: envValue("GH_SECRET"), Event: "github.{header:X-GitHub-Event}"},
		{Name: "partner", Verify: "hmac", Secret: Value{Parts: []ValuePart{{File: "/run/secrets/p"}}}, Event: "partner.received", Header: "X-Signature", Algorithm: "sha512", IDHeader: "X-Request-Id"},
	}
	if diff := cmp.Diff(want, cfg.Sources, ignorePos); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}

	for src, wantErr := range map[string]string{
		`integration A { allowed_networks: ["10.0.0.0/8"] }`:                "set type: webhook",
		`integration A { type: webhook allowed_networks: ["10.0.0.0/33"] }`: "is not a network in CIDR form",
		`source s { verify: github secret: "literal" }`:                     "secrets must come from env(NAME)",
		`source s { verify: carrier_pigeon secret: env(X) }`:                "expected standard_webhooks, github, stripe, hmac",
		`source s { verify: hmac secret: env(X) }`:                          "verify hmac needs header",
		"integration A { type: webhook }\nintegration B { type: webhook }":  "only one integration may be type webhook",
	} {
		_, diags := Decode("t.cai", []byte(src))
		if err := diags.Err(); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", src, err, wantErr)
		}
	}
}

// max_wait bounds a rate-limited call's wait, in both dialects (YAML and JSON are in
// testdata/equivalent).
func TestRateLimitMaxWait(t *testing.T) {
	cfg := decodeOK(t, `
integration Colon { rate_limit: { requests: 5, window: 1m, max_wait: 2s } }
integration Bare { rate_limit { requests 5 window "1m" max_wait "2s" } }
integration Default { rate_limit: { requests: 5, window: 1m } }
`)
	for name, want := range map[string]time.Duration{"Colon": 2 * time.Second, "Bare": 2 * time.Second, "Default": 0} {
		rl := cfg.Integration(name).RateLimit
		if rl == nil || rl.Requests != 5 || rl.Window != time.Minute || rl.MaxWait != want {
			t.Errorf("%s: rate_limit = %+v, want max_wait %v", name, rl, want)
		}
	}
}

// TestOneWebhookIntegration: the delivery settings come from one `type: webhook` block;
// every further one is an error at its own position that names the first.
func TestOneWebhookIntegration(t *testing.T) {
	src := "integration A { type: webhook }\nintegration R { base_url: \"https://r.example.com\" }\n" +
		"integration B { type: webhook }\nintegration C {\n  type: webhook\n}\n"
	_, diags := Decode("t.cai", []byte(src))
	var got []string
	for _, d := range diags.Filter(SeverityError) {
		got = append(got, d.String())
	}
	want := []string{
		"t.cai:3:1: integration B: only one integration may be type webhook (it holds the delivery settings of all endpoints); A at t.cai:1:1 already is",
		"t.cai:4:1: integration C: only one integration may be type webhook (it holds the delivery settings of all endpoints); A at t.cai:1:1 already is",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestWebhookCircuitBreakerSettings: a webhook block's breaker takes the window and
// half-open settings of the common grammar; the settings only calls have are flagged.
func TestWebhookCircuitBreakerSettings(t *testing.T) {
	cfg, diags := Decode("t.cai", []byte(`integration H {
  type: webhook
  circuit_breaker: { threshold: 5 failures in 1m, reset_after: 30s, half_open_probes: 2, max_concurrent: 10 }
}`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	cb := cfg.WebhookDelivery.CircuitBreaker
	if cb.Failures != 5 || cb.Window != time.Minute || cb.Consecutive || cb.ResetAfter != 30*time.Second || cb.HalfOpenProbes != 2 {
		t.Errorf("circuit breaker %+v", cb)
	}
	warnings := diags.Filter(SeverityWarning)
	if len(warnings) != 1 || warnings[0].Pos.Line != 3 || !strings.Contains(warnings[0].Message, "max_concurrent and notify_on_open do not apply to webhook deliveries") {
		t.Errorf("warnings %v", warnings)
	}
}

// A typo equally close to two names gets the same suggestion on every run, whatever
// order the names come in.
func TestSuggestIsStable(t *testing.T) {
	for range 50 {
		if got := suggest("integ", []string{"integer", "int"}); got != "int" {
			t.Fatalf("suggest = %q", got)
		}
		if got := suggest("integ", []string{"int", "integer"}); got != "int" {
			t.Fatalf("suggest = %q", got)
		}
	}
}

// A declared webhook's signing secret comes from the environment or a file, never the
// file itself, in every dialect; headers Junction sets on each delivery cannot be
// declared (Content-Type: application/json, which is what Junction sends, may).
func TestDeclaredWebhookSecretAndHeaders(t *testing.T) {
	for name, src := range map[string]string{
		"t.cai": `webhook audit {
    event "user.created"
    url "https://audit.example.com/events"
    headers { "Content-Type": "application/json"  "X-API-Key": "$AUDIT_API_KEY" }
    secret env(AUDIT_SECRET)
}`,
		"colon.cai": `webhook audit { event: "user.created"  url: "https://audit.example.com/events"
    headers: { "Content-Type": "application/json", "X-API-Key": "$AUDIT_API_KEY" }  secret: "$AUDIT_SECRET" }`,
		"t.yaml": `webhooks:
  audit:
    event: user.created
    url: https://audit.example.com/events
    headers: {"Content-Type": "application/json", "X-API-Key": "$AUDIT_API_KEY"}
    secret: $AUDIT_SECRET
`,
	} {
		cfg, diags := Decode(name, []byte(src))
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags.Err())
		}
		w := cfg.Webhooks[0]
		if refs := w.Secret.Refs(); len(refs) != 1 || refs[0] != "AUDIT_SECRET" {
			t.Errorf("%s: secret = %s", name, w.Secret)
		}
		lookup := func(k string) (string, bool) { return map[string]string{"AUDIT_API_KEY": "k"}[k], k == "AUDIT_API_KEY" }
		if ps := w.EnvProblems(lookup); len(ps) != 1 || ps[0].Setting != "secret" || !strings.Contains(ps[0].Err.Error(), "AUDIT_SECRET is not set") {
			t.Errorf("%s: env problems %v, want the unset secret", name, ps)
		}
	}
	for src, wantErr := range map[string]string{
		`webhook w { event "e" url "https://h.example.com" secret "whsec_abc" }`:                          "test.cai:1:58: webhook w secret: secrets must come from env(NAME)",
		`webhook w { event "e" url "https://h.example.com" headers { "Webhook-Signature": "v1,x" } }`:     "webhook w header Webhook-Signature: Junction sets this header",
		`webhook w { event "e" url "https://h.example.com" headers { "Content-Type": "text/plain" } }`:    "Junction sends application/json",
		`webhook w { event "e" url "https://h.example.com" headers { "Host": "elsewhere.example.com" } }`: "it comes from the url",
	} {
		_, diags := Decode("test.cai", []byte(src))
		if err := diags.Err(); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", src, err, wantErr)
		}
	}
}

// A source's publish: true (issue 12) is read in both dialects and in YAML; it is a
// boolean, needs an event type that can be published, and stays off unless given.
func TestSourcePublish(t *testing.T) {
	for name, src := range map[string]string{
		"colon.cai": `source github { verify: github  secret: env(GH_SECRET)  event: "github.{header:X-GitHub-Event}"  publish: true }`,
		"bare.cai": `source github {
    verify github
    secret env(GH_SECRET)
    event "github.{header:X-GitHub-Event}"
    publish true
}`,
		"t.yaml": `sources:
  github:
    verify: github
    secret: env(GH_SECRET)
    event: "github.{header:X-GitHub-Event}"
    publish: true
`,
	} {
		cfg, diags := Decode(name, []byte(src))
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags.Err())
		}
		if len(cfg.Sources) != 1 || !cfg.Sources[0].Publish {
			t.Errorf("%s: sources = %+v, want github with Publish", name, cfg.Sources)
		}
	}
	if cfg := decodeOK(t, `source s { verify: github  secret: env(X) }`); cfg.Sources[0].Publish {
		t.Error("publish is on without being given")
	}
	for src, wantErr := range map[string]string{
		`source s { verify: github  secret: env(X)  publish: yes }`:                           "test.cai:1:53: publish: expected true or false",
		`source s { verify: github  secret: env(X)  publish: true  event: "s received" }`:     `source s: publish: true needs an event type such as "s.{header:X-Event}"`,
		`source s { verify: github  secret: env(X)  publish: true  event: "s..{body:type}" }`: `found "s..{body:type}"`,
		`source s { verify: github  secret: env(X)  publish: true  event: "*" }`:              "publish: true needs an event type",
		`source s { verify: github  secret: env(X)  publsh: true }`:                           "publsh",
	} {
		_, diags := Decode("test.cai", []byte(src))
		if err := diags.Err(); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: got %v, want an error containing %q", src, err, wantErr)
		}
	}
	// Without publish, the event type is not checked: configurations that worked before
	// keep working.
	decodeOK(t, `source s { verify: github  secret: env(X)  event: "s received" }`)
}

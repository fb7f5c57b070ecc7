package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/fixtures"
)

// The fixture files are real-world files of the language (see ../shared/fixtures). These
// tests pin down that every construct in them reaches the model with the right meaning.

func loadFixture(t *testing.T, name string) (*Config, Diagnostics) {
	t.Helper()
	cfg, diags := Load(fixtures.Path(t, "fixtures/codeai/"+name))
	if errs := diags.Filter(SeverityError); len(errs) > 0 {
		t.Fatalf("%s does not load:\n%v", name, diags.Err())
	}
	return cfg, diags
}

func TestFixtureIntegrationsLoadsCompletely(t *testing.T) {
	cfg, diags := loadFixture(t, "integrations.cai")

	s := cfg.Summary()
	if s.Integrations != 7 || s.Operations != 23 || s.Events != 3 {
		t.Fatalf("summary = %s; want 7 integrations, 23 operations, 3 events", s)
	}
	// config, 4 entities and 10 endpoints: kept one by one, reported once per kind.
	kinds := map[string]int{}
	for _, ig := range cfg.Ignored {
		kinds[ig.Kind]++
	}
	if kinds["config"] != 1 || kinds["entity"] != 4 || kinds["endpoint"] != 10 || len(cfg.Ignored) != 15 {
		t.Errorf("ignored = %v; want config 1, entity 4, endpoint 10", kinds)
	}
	path := fixtures.Path(t, "fixtures/codeai/integrations.cai")
	for _, want := range []string{
		path + ":15:1: warning: 1 config block is not run: settings of a generated application belong to CodeAI's code generation; Junction is configured by flags and environment",
		path + ":35:1: warning: 4 entity blocks (WebhookEndpoint, WebhookDelivery, ExternalApiCache, …) are not run: data models belong to CodeAI's code generation, not to Junction",
		path + ":769:1: warning: 10 endpoint blocks (GET /webhooks, POST /webhooks, PUT /webhooks/{id}, …) are not run: generated API endpoints belong to CodeAI's code generation; Junction's HTTP API is built in",
		path + ":931:18: warning: 2 publish_to slack(…) targets (\"#webhook-alerts\", \"#integration-alerts\") are not run: no integration Slack is declared to send them through (integration Slack { base_url: \"https://slack.com/api\"  auth: bearer(env(SLACK_TOKEN))  operation post_message { method: POST  path: \"/chat.postMessage\"  body: { channel: string, text: string } } })",
	} {
		if !slices.Contains(diagStrings(diags), want) {
			t.Errorf("missing %s\nin %q", want, diagStrings(diags))
		}
	}
	if notes := diags.Filter(SeverityNote); len(notes) != 0 {
		t.Errorf("notes = %v; want none: what is not run is a warning per kind", notes)
	}
	for _, ig := range cfg.Ignored {
		if ig.Kind == "endpoint" && ig.Name == "GET /webhooks/{id}/deliveries" {
			goto foundEndpoint
		}
	}
	t.Errorf("endpoint GET /webhooks/{id}/deliveries not among ignored blocks: %+v", cfg.Ignored)
foundEndpoint:

	want := map[string][]string{
		"GitHubAPI":              {"get_user GET /users/{username}", "list_repos GET /user/repos", "create_issue POST /repos/{owner}/{repo}/issues", "get_rate_limit GET /rate_limit"},
		"WeatherAPI":             {"get_current GET /weather", "get_forecast GET /forecast"},
		"StripeAPI":              {"create_customer POST /customers", "create_payment_intent POST /payment_intents", "confirm_payment POST /payment_intents/{id}/confirm", "create_refund POST /refunds"},
		"GitHubGraphQL":          {"get_user_repos POST ", "search_repos POST ", "create_issue POST "},
		"WebhookDeliveryService": {"deliver POST {endpoint.url}"},
		"NotificationService":    {"send_email POST /email", "send_sms POST /sms", "send_push POST /push", "send_batch POST /batch"},
		"StorageService":         {"upload PUT /{bucket}/{key}", "download GET /{bucket}/{key}", "delete DELETE /{bucket}/{key}", "list_objects GET /{bucket}", "get_presigned_url INTERNAL /{bucket}/{key}"},
	}
	for name, ops := range want {
		in := cfg.Integration(name)
		if in == nil {
			t.Errorf("integration %s missing", name)
			continue
		}
		var got []string
		for _, op := range in.Operations {
			got = append(got, op.Name+" "+op.Method+" "+op.Path)
		}
		if strings.Join(got, "|") != strings.Join(ops, "|") {
			t.Errorf("%s operations:\n got %q\nwant %q", name, got, ops)
		}
	}
}

func TestFixtureIntegrationsPolicies(t *testing.T) {
	cfg, _ := loadFixture(t, "integrations.cai")

	gh := cfg.Integration("GitHubAPI")
	if gh.Type != TypeREST || gh.BaseURL.String() != "https://api.github.com" || gh.Timeout != 30*time.Second {
		t.Errorf("GitHubAPI basics: %+v", gh)
	}
	if gh.Auth.Kind != AuthBearer || gh.Auth.Token.String() != "${GITHUB_TOKEN}" {
		t.Errorf("GitHubAPI auth = %+v", gh.Auth)
	}
	if len(gh.Headers) != 2 || gh.Headers[1].Name != "X-GitHub-Api-Version" || gh.Headers[1].Value.String() != "2022-11-28" {
		t.Errorf("GitHubAPI headers = %+v", gh.Headers)
	}
	if r := gh.Retry; r.Attempts != 3 || r.Backoff != BackoffExponential {
		t.Errorf("GitHubAPI retry = %+v", r)
	}
	if cb := gh.CircuitBreaker; cb.Failures != 5 || cb.Window != time.Minute || cb.Consecutive || cb.ResetAfter != 30*time.Second {
		t.Errorf("GitHubAPI circuit breaker = %+v", cb)
	}
	if rl := gh.RateLimit; rl.Requests != 5000 || rl.Window != time.Hour || rl.Header != "X-RateLimit-Remaining" {
		t.Errorf("GitHubAPI rate limit = %+v", rl)
	}
	getUser := gh.Operation("get_user")
	if getUser.Cache != 5*time.Minute || len(getUser.PathParams) != 1 || getUser.PathParams[0] != "username" {
		t.Errorf("get_user = %+v", getUser)
	}
	if ret := getUser.Returns; ret.Kind != KindObject || len(ret.Fields) != 6 || ret.Fields[0].Name != "id" || ret.Fields[0].Type.Name != "integer" {
		t.Errorf("get_user returns = %+v", ret)
	}
	listRepos := gh.Operation("list_repos")
	if q := listRepos.Query; len(q) != 4 || q[2].Name != "per_page" || !q[2].HasDefault || q[2].Default != int64(30) || q[0].Required {
		t.Errorf("list_repos query = %+v", q)
	}
	if r := listRepos.Returns; r.Kind != KindList || r.Elem.Kind != KindObject || len(r.Elem.Fields) != 7 {
		t.Errorf("list_repos returns = %+v", r)
	}
	body := gh.Operation("create_issue").Body
	if len(body) != 4 || !body[0].Required || body[1].Type.Name != "text" || body[2].Type.Kind != KindList || body[2].Type.Elem.Name != "string" {
		t.Errorf("create_issue body = %+v", body)
	}
	rate := gh.Operation("get_rate_limit").Returns
	if core := rate.Fields[0].Type.Fields[0]; core.Name != "core" || len(core.Type.Fields) != 3 {
		t.Errorf("get_rate_limit nested returns = %+v", rate)
	}

	weather := cfg.Integration("WeatherAPI")
	if a := weather.Auth; a.Kind != AuthAPIKey || a.KeyName != "appid" || a.KeyIn != KeyInQuery || a.Key.String() != "${OPENWEATHER_API_KEY}" {
		t.Errorf("WeatherAPI auth = %+v", a)
	}
	if weather.DefaultCacheTTL != 15*time.Minute || weather.Fallback.Kind != FallbackCache || weather.Retry.Attempts != 2 {
		t.Errorf("WeatherAPI cache/fallback/retry = %v %+v %+v", weather.DefaultCacheTTL, weather.Fallback, weather.Retry)
	}
	if cb := weather.CircuitBreaker; cb.Failures != 10 || cb.Window != 5*time.Minute || cb.ResetAfter != 2*time.Minute {
		t.Errorf("WeatherAPI circuit breaker = %+v", cb)
	}
	cur := weather.Operation("get_current")
	if cur.Cache != 10*time.Minute || cur.Query[2].Type.Name != "decimal" || cur.Query[3].Default != "metric" {
		t.Errorf("get_current = %+v", cur)
	}
	if w := cur.Returns.Fields[2]; w.Name != "weather" || w.Type.Kind != KindList || len(w.Type.Elem.Fields) != 2 {
		t.Errorf("get_current returns weather = %+v", w)
	}

	stripe := cfg.Integration("StripeAPI")
	if stripe.BaseURL.String() != "${STRIPE_API_URL}" || stripe.Idempotency.Header != "Idempotency-Key" || !stripe.Idempotency.Generate {
		t.Errorf("StripeAPI = %+v", stripe)
	}
	pi := stripe.Operation("create_payment_intent").Body
	if pi[1].Default != "usd" || pi[3].Type.Kind != KindList || len(pi[3].Default.([]any)) != 1 || pi[3].Default.([]any)[0] != "card" || pi[4].Type.Name != "json" {
		t.Errorf("create_payment_intent body = %+v", pi)
	}

	gql := cfg.Integration("GitHubGraphQL")
	repos := gql.Operation("get_user_repos")
	if gql.Type != TypeGraphQL || repos.GraphQL.Kind != "query" || !strings.HasPrefix(repos.GraphQL.Document, "query GetUserRepos($login: String!, $first: Int!) {\n    user(login: $login) {") {
		t.Errorf("get_user_repos graphql = %+v", repos.GraphQL)
	}
	if v := repos.GraphQL.Variables; len(v) != 2 || !v[0].Required || v[1].Default != int64(10) {
		t.Errorf("get_user_repos variables = %+v", v)
	}
	if create := gql.Operation("create_issue").GraphQL; create.Kind != "mutation" || !strings.Contains(create.Document, "createIssue(input:") || len(create.Variables) != 3 {
		t.Errorf("create_issue mutation = %+v", create)
	}

	wh := cfg.Integration("WebhookDeliveryService")
	if wh.Type != TypeWebhook || wh.Signature.Header != "X-Webhook-Signature" || wh.Signature.Algorithm != "sha256" || wh.Signature.SecretFrom != "endpoint.secret" {
		t.Errorf("webhook signature = %+v", wh.Signature)
	}
	wantDelays := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 8 * time.Hour}
	if r := wh.Retry; r.Attempts != 5 || len(r.Delays) != 5 || r.Delays[4] != wantDelays[4] || r.Delays[0] != wantDelays[0] {
		t.Errorf("webhook retry = %+v", r)
	}
	if cb := wh.CircuitBreaker; !cb.Consecutive || cb.Failures != 5 || cb.ResetAfter != time.Hour || !cb.NotifyOnOpen {
		t.Errorf("webhook circuit breaker = %+v", cb)
	}
	if cfg.WebhookDelivery == nil || cfg.WebhookDelivery.Name != "WebhookDeliveryService" {
		t.Fatalf("webhook delivery settings = %+v", cfg.WebhookDelivery)
	}
	if dl := cfg.WebhookDelivery.DeadLetter; !dl.Enabled || dl.Retention != 7*24*time.Hour {
		t.Errorf("dead letter = %+v", dl)
	}
	deliver := wh.Operation("deliver")
	if len(deliver.Headers) != 4 || deliver.Headers[1].Value.String() != "{event_type}" || len(deliver.SuccessCodes) != 4 || deliver.SuccessCodes[3] != 204 || deliver.Body[2].Type.Name != "timestamp" {
		t.Errorf("deliver = %+v", deliver)
	}

	notify := cfg.Integration("NotificationService")
	if a := notify.Auth; a.KeyName != "X-API-Key" || a.KeyIn != KeyInHeader {
		t.Errorf("NotificationService auth = %+v", a)
	}
	if b := notify.Batching; !b.Enabled || b.MaxBatchSize != 100 || b.MaxDelay != 5*time.Second {
		t.Errorf("batching = %+v", b)
	}
	if n := notify.Operation("send_batch").Body[0]; n.Type.Kind != KindList || len(n.Type.Elem.Fields) != 3 {
		t.Errorf("send_batch notifications = %+v", n)
	}

	s3 := cfg.Integration("StorageService")
	if a := s3.Auth; a.Kind != AuthAWSSigV4 || a.AccessKey.String() != "${AWS_ACCESS_KEY_ID}" || a.Region.String() != "${AWS_REGION}" || a.Service != "s3" {
		t.Errorf("StorageService auth = %+v", a)
	}
	if up := s3.Operation("upload"); up.BodyType != "binary" || up.Headers[0].Value.String() != "{content_type}" {
		t.Errorf("upload = %+v", up)
	}
	if s3.Operation("download").Returns.Kind != KindBinary || s3.Operation("delete").Returns.Kind != KindVoid {
		t.Errorf("download/delete returns wrong")
	}
	if q := s3.Operation("list_objects").Query; q[2].Name != "max-keys" || q[2].Default != int64(1000) {
		t.Errorf("list_objects query = %+v", q)
	}
}

func TestFixtureIntegrationsEvents(t *testing.T) {
	cfg, _ := loadFixture(t, "integrations.cai")
	got := map[string]*EventType{}
	for _, ev := range cfg.Events {
		got[ev.Name] = ev
	}
	failed := got["WebhookDeliveryFailed"]
	if failed == nil || len(failed.Payload) != 4 || failed.Payload[0].Name != "endpoint_id" || failed.Payload[0].Type.Name != "uuid" {
		t.Fatalf("WebhookDeliveryFailed = %+v", failed)
	}
	if len(failed.PublishTo) != 1 || failed.PublishTo[0] != (Target{Pos: failed.PublishTo[0].Pos, Kind: "slack", Name: "#webhook-alerts"}) {
		t.Errorf("WebhookDeliveryFailed publish_to = %+v", failed.PublishTo)
	}
	opened := got["IntegrationCircuitOpened"]
	if len(opened.PublishTo) != 2 || opened.PublishTo[1].Kind != "webhook" || opened.PublishTo[1].Name != "monitoring" {
		t.Errorf("IntegrationCircuitOpened publish_to = %+v", opened.PublishTo)
	}
	closed := got["IntegrationCircuitClosed"]
	if len(closed.Payload) != 3 || closed.Payload[2].Name != "open_duration_seconds" || len(closed.PublishTo) != 0 {
		t.Errorf("IntegrationCircuitClosed = %+v", closed)
	}
}

// loadEvents loads the fixture events.cai beside testdata/companions/events_workflows.cai,
// which declares the two workflows its handlers name. Its handler `do integration
// "analytics.track"` names an operation its integration analytics does not declare, and
// an integration cannot be completed from a second file (Merge reports it declared
// twice): that one error must remain, and nothing else.
func loadEvents(t *testing.T) *Config {
	t.Helper()
	path := fixtures.Path(t, "fixtures/codeai/events.cai")
	cfg, diags := Load(path, "testdata/companions/events_workflows.cai")
	errs := diagStrings(diags.Filter(SeverityError))
	want := []string{path + `:73:34: on "user.created" do integration: integration analytics has no operation "track"`}
	if !slices.Equal(errs, want) {
		t.Fatalf("errors = %q\nwant %q", errs, want)
	}
	return cfg
}

func diagStrings(ds Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func TestFixtureEventsAloneHasThreeUnknownReferences(t *testing.T) {
	path := fixtures.Path(t, "fixtures/codeai/events.cai")
	_, diags := Load(path)
	want := []string{
		path + `:70:31: on "user.created" do workflow: workflow "send_welcome_email" is not declared (workflow send_welcome_email { … })`,
		path + `:73:34: on "user.created" do integration: integration analytics has no operation "track"`,
		path + `:76:31: on "order.placed" do workflow: workflow "process_order" is not declared (workflow process_order { … })`,
	}
	if got := diagStrings(diags.Filter(SeverityError)); !slices.Equal(got, want) {
		t.Errorf("errors = %q\nwant %q", got, want)
	}
}

func TestFixtureEventsDialect(t *testing.T) {
	cfg := loadEvents(t)
	if s := cfg.Summary(); s.Integrations != 4 || s.Events != 5 || s.Webhooks != 3 || s.Handlers != 5 || s.Workflows != 2 {
		t.Fatalf("summary = %s", s)
	}

	analytics := cfg.Integration("analytics")
	if analytics.Type != TypeREST || analytics.Timeout != 10*time.Second || analytics.BaseURL.String() != "https://api.analytics.example.com/v2" {
		t.Errorf("analytics = %+v", analytics)
	}
	if a := analytics.Auth; a.Kind != AuthBearer || a.Token.String() != "${ANALYTICS_API_TOKEN}" {
		t.Errorf("analytics auth = %+v", a)
	}
	if cb := analytics.CircuitBreaker; cb.Failures != 5 || !cb.Consecutive || cb.ResetAfter != 30*time.Second || cb.MaxConcurrent != 100 {
		t.Errorf("analytics circuit breaker = %+v", cb)
	}
	pay := cfg.Integration("payment_gateway")
	if a := pay.Auth; a.Kind != AuthAPIKey || a.KeyName != "Authorization" || a.KeyIn != KeyInHeader || a.Key.String() != "Bearer ${STRIPE_SECRET_KEY}" {
		t.Errorf("payment_gateway auth = %+v", a)
	}
	if cfg.Integration("notification_service").Type != TypeGraphQL {
		t.Errorf("notification_service type wrong")
	}
	if a := cfg.Integration("warehouse_api").Auth; a.Kind != AuthBasic || a.Username.String() != "${WAREHOUSE_USER}" || a.Password.String() != "${WAREHOUSE_PASS}" {
		t.Errorf("warehouse_api auth = %+v", a)
	}

	wh := cfg.Webhooks[0]
	if wh.Name != "warehouse_notification" || wh.Events[0] != "order.completed" || wh.Method != "POST" || len(wh.Headers) != 2 {
		t.Errorf("webhook = %+v", wh)
	}
	if r := wh.Retry; r.Attempts != 5 || r.Initial != time.Second || r.Multiplier != 2.0 {
		t.Errorf("webhook retry = %+v", r)
	}
	if r := cfg.Webhooks[1].Retry; r.Attempts != 3 || r.Initial != 500*time.Millisecond || r.Multiplier != 1.5 {
		t.Errorf("slack_notification retry = %+v", r)
	}
	if h := cfg.Webhooks[2].Headers[1]; h.Name != "X-API-Key" || h.Value.String() != "${AUDIT_API_KEY}" {
		t.Errorf("audit_log header = %+v", h)
	}

	wantHandlers := []Handler{
		{Event: "user.created", Action: "workflow", Target: "send_welcome_email", Async: true},
		{Event: "user.created", Action: "integration", Target: "analytics.track"},
		{Event: "order.placed", Action: "workflow", Target: "process_order"},
		{Event: "order.completed", Action: "webhook", Target: "warehouse_notification"},
		{Event: "payment.received", Action: "emit", Target: "order.completed"},
	}
	for i, want := range wantHandlers {
		got := *cfg.Handlers[i]
		got.Pos, got.EventPos, got.TargetPos = Pos{}, Pos{}, Pos{}
		if got != want {
			t.Errorf("handler %d = %+v, want %+v", i, got, want)
		}
	}
	order := cfg.Events[2]
	if order.Name != "order_placed" || len(order.Payload) != 5 || order.Payload[2].Type.Name != "decimal" || order.Payload[3].Type.Kind != KindList {
		t.Errorf("order_placed = %+v", order)
	}
}

func TestFixturesWithUnsupportedBlocksNeverFail(t *testing.T) {
	// One warning for each kind present, naming the count: jobs that run a task or steps
	// and workflows whose activities name no declared integration are CodeAI's code
	// generation.
	for name, want := range map[string]map[string]string{
		"with_workflows.cai": {"workflow activities": "4 workflows of generated-application activities", "job task": "7 task jobs"},
		"scheduled-jobs.cai": {"job steps": "10 steps jobs"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, diags := loadFixture(t, name)
			kinds := map[string]int{}
			for _, ig := range cfg.Ignored {
				kinds[ig.Kind]++
			}
			for kind, prefix := range want {
				var found []string
				for _, d := range diags.Filter(SeverityWarning) {
					if strings.HasPrefix(d.Message, prefix+" (") && strings.Contains(d.Message, " not run: ") {
						found = append(found, d.Message)
					}
				}
				if len(found) != 1 {
					t.Errorf("%s: %d blocks, warnings %q; want one starting %q", kind, kinds[kind], found, prefix)
				}
			}
		})
	}
	cfg, _ := loadFixture(t, "scheduled-jobs.cai")
	if in := cfg.Integration("WarehouseAPI"); in == nil || in.Operation("get_inventory") == nil {
		t.Errorf("the integration inside scheduled-jobs.cai was not decoded")
	}
}

// TestSeedSnippetsLoadAsWritten loads every ```codeai block of seed 003 exactly as it is
// written. Blocks made of bare settings (documentation excerpts) load as settings.
func TestSeedSnippetsLoadAsWritten(t *testing.T) {
	src, err := os.ReadFile(fixtures.Path(t, "seeds/003_04b3ba9a836fd7b2.txt"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```codeai\n(.*?)```").FindAllStringSubmatch(string(src), -1)
	if len(blocks) != 15 {
		t.Fatalf("found %d codeai snippets in seed 003, want 15", len(blocks))
	}
	var all []*Integration
	for i, b := range blocks {
		settings, cfg, diags := DecodeSettings("seed003-snippet", []byte(b[1]))
		if diags.HasErrors() {
			t.Errorf("snippet %d does not load:\n%s\n%v", i+1, b[1], diags.Err())
		}
		if len(settings)+len(cfg.Integrations)+len(cfg.Events) == 0 && cfg.WebhookDelivery == nil {
			t.Errorf("snippet %d decoded to nothing", i+1)
		}
		all = append(all, settings...)
		all = append(all, cfg.Integrations...)
		if wd := cfg.WebhookDelivery; wd != nil {
			// The delivery settings block: its retry and signature, seen as an integration's.
			all = append(all, &Integration{Name: wd.Name, Retry: wd.Retry, Signature: wd.Signature})
		}
	}
	// Spot checks that the snippets mean what they say.
	var sawDefault, sawSignature, sawRetryDelays, sawGraphQL bool
	for _, in := range all {
		if in.Fallback != nil && in.Fallback.Kind == FallbackDefault {
			sawDefault = in.Fallback.Default.(map[string]any)["status"] == "unavailable"
		}
		if in.Signature != nil && in.Signature.SecretFrom == "endpoint.secret" {
			sawSignature = true
		}
		if in.Retry != nil && len(in.Retry.Delays) == 5 {
			sawRetryDelays = true
		}
		if in.Name == "GitHubGraphQL" && in.Operation("get_user_repos").GraphQL.Variables[1].Default == int64(10) {
			sawGraphQL = true
		}
	}
	if !sawDefault || !sawSignature || !sawRetryDelays || !sawGraphQL {
		t.Errorf("snippet meanings: default fallback %v, signature %v, retry_delays %v, graphql %v", sawDefault, sawSignature, sawRetryDelays, sawGraphQL)
	}
}
